/**
 * Encodings into buffers that are reused: for writes that copy at once (`ConnectionHandle.write`
 * copies its bytes), so that the broker allocates no buffer per delivery or acknowledgement. The
 * bytes returned are valid until the next call of the same function; whoever keeps them (the
 * store's held writes) copies them.
 *
 * @module
 */

import type { ProtocolLevel, PublishAckPacket, PublishPacket } from "./mqtt_packets.ts";
import { encodePublishAck, publishSize, writePublish } from "./mqtt_encoder.ts";
import { writeShortAck } from "./_publish_ack.ts";

let publishBuffer = new Uint8Array(4096);
const ackBuffer = new Uint8Array(4);

/**
 * A PUBLISH's bytes in a reused buffer.
 *
 * @param packet The PUBLISH.
 * @param level The connection's protocol level.
 * @returns A view valid until the next call.
 */
export function transientPublish(packet: PublishPacket, level: ProtocolLevel): Uint8Array {
  const size = publishSize(packet, level);
  if (size > publishBuffer.length) {
    publishBuffer = new Uint8Array(Math.max(size, publishBuffer.length * 2));
  }
  return publishBuffer.subarray(0, writePublish(packet, level, publishBuffer, 0));
}

/**
 * A PUBACK, PUBREC, PUBREL or PUBCOMP: the short form (success, no properties) in a reused
 * buffer, any other encoded anew.
 *
 * @param type The acknowledgement.
 * @param packetId Its packet id.
 * @param reasonCode Its reason code (MQTT 5; 3.1.1 has none).
 * @param level The connection's protocol level.
 * @returns Its bytes; the short form is valid until the next call.
 */
export function transientAck(
  type: PublishAckPacket["type"],
  packetId: number,
  reasonCode: number,
  level: ProtocolLevel,
): Uint8Array {
  if (level === 5 && reasonCode !== 0) {
    return encodePublishAck({ type, packetId, reasonCode }, level);
  }
  if (!Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) {
    throw new RangeError(`Packet identifier must be 1 to 65535, got ${packetId}`);
  }
  return writeShortAck(ackBuffer, type, packetId);
}
