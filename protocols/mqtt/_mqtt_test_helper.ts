/**
 * Spec test vectors shared by the MQTT encoder and decoder tests: each packet with its bytes as
 * the MQTT specifications lay them out, so that one test encodes the packet to the bytes and
 * the other decodes the bytes to the packet.
 *
 * @module
 */

import type { ConnectPacket, PublishPacket } from "./mqtt_packets.ts";

/** A spec packet and its bytes. */
export interface SpecVector<P> {
  /** The packet. */
  readonly packet: P;
  /** Its bytes as hex pairs separated by spaces (`"10 0f 00 04"`). */
  readonly hex: string;
}

/** A level 4 CONNECT with clean session, keep-alive 60 and client id "abc". */
export const SPEC_CONNECT_4: SpecVector<ConnectPacket> = {
  packet: {
    type: "connect",
    protocolName: "MQTT",
    protocolLevel: 4,
    cleanStart: true,
    keepAlive: 60,
    clientId: "abc",
  },
  // Fixed header, "MQTT", level 4, flags 0x02, keep-alive 60, client id "abc".
  hex: "10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63",
};

/** A level 5 QoS 1 PUBLISH to "a/b", packet id 10, with two properties and payload "hi". */
export const SPEC_PUBLISH_5: SpecVector<PublishPacket> = {
  packet: {
    type: "publish",
    dup: false,
    qos: 1,
    retain: false,
    topic: "a/b",
    packetId: 10,
    properties: { payloadFormatIndicator: 1, messageExpiryInterval: 60 },
    payload: new Uint8Array([0x68, 0x69]),
  },
  // Fixed header, topic "a/b", packet id 10, properties (7 bytes: payload format indicator 1,
  // message expiry interval 60), payload "hi".
  hex: "32 11 00 03 61 2f 62 00 0a 07 01 01 02 00 00 00 3c 68 69",
};

/**
 * Bytes as hex pairs separated by spaces.
 *
 * @param bytes The bytes.
 * @returns Their hex (`"10 0f 00 04"`).
 */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

/**
 * The bytes written as hex pairs separated by spaces.
 *
 * @param text The hex (`"10 0f 00 04"`).
 * @returns The bytes.
 */
export function fromHex(text: string): number[] {
  return text.split(" ").map((pair) => parseInt(pair, 16));
}
