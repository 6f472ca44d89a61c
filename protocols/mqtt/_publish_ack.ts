/**
 * The four acknowledgements of a PUBLISH (PUBACK, PUBREC, PUBREL, PUBCOMP) in their short form:
 * a fixed header and the packet id, the form of every success (MQTT 3.1.1 has no other).
 *
 * @module
 */

import { PacketType, type PublishAckPacket } from "./mqtt_packets.ts";

/** The first byte of each acknowledgement. */
export const ACK_FIRST: Readonly<Record<PublishAckPacket["type"], number>> = {
  puback: PacketType.puback << 4,
  pubrec: PacketType.pubrec << 4,
  // PUBREL's reserved flags are 0b0010 (§3.6.1).
  pubrel: (PacketType.pubrel << 4) | 0x02,
  pubcomp: PacketType.pubcomp << 4,
};

/**
 * Writes the short form into the first 4 bytes of `target`.
 *
 * @param target At least 4 bytes.
 * @param type The acknowledgement.
 * @param packetId Its packet id, already checked (1 to 65535).
 * @returns `target`.
 */
export function writeShortAck(
  target: Uint8Array,
  type: PublishAckPacket["type"],
  packetId: number,
): Uint8Array {
  target[0] = ACK_FIRST[type];
  target[1] = 2;
  target[2] = packetId >> 8;
  target[3] = packetId & 0xff;
  return target;
}
