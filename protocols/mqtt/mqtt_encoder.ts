/**
 * Encoding of every MQTT 3.1.1 / 5.0 control packet, one allocation per packet: each function
 * measures the packet, allocates its bytes once, then writes them.
 *
 * @module
 */

import type {
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  MqttPacket,
  ProtocolLevel,
  PublishAckPacket,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from "./mqtt_packets.ts";
import { PacketType } from "./mqtt_packets.ts";
import { propertiesLength, writeProperties } from "./_mqtt_properties.ts";
import { ACK_FIRST, writeShortAck } from "./_publish_ack.ts";
import { checkedStringLength, MqttWriter, utf8Length, varintLength } from "./_mqtt_writer.ts";

/** The largest remaining length the four-byte encoding can carry. */
const MAX_REMAINING = 268_435_455;
const PINGREQ = new Uint8Array([PacketType.pingreq << 4, 0]);
const PINGRESP = new Uint8Array([PacketType.pingresp << 4, 0]);

function checkLevel(level: number): void {
  if (level !== 4 && level !== 5) {
    throw new RangeError(`Protocol level must be 4 or 5, got ${level}`);
  }
}

function checkPacketId(id: number | undefined): number {
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) {
    throw new RangeError(`Packet identifier must be 1 to 65535, got ${id}`);
  }
  return id;
}

function checkQos(qos: number): number {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`QoS must be 0, 1 or 2, got ${qos}`);
  }
  return qos;
}

/** Bytes of a property list with its length prefix; 0 at level 4, which has none. */
function propertiesSize(level: ProtocolLevel, length: number): number {
  return level === 5 ? varintLength(length) + length : 0;
}

/** Allocates a packet of `remaining` body bytes and writes its fixed header. */
function begin(first: number, remaining: number): MqttWriter {
  if (remaining > MAX_REMAINING) {
    throw new RangeError(`Packet body must be at most ${MAX_REMAINING} bytes, got ${remaining}`);
  }
  const writer = new MqttWriter(new Uint8Array(1 + varintLength(remaining) + remaining));
  writer.u8(first);
  writer.varint(remaining);
  return writer;
}

/**
 * Encodes a CONNECT at the level it names (`protocolLevel`).
 *
 * @param packet The CONNECT.
 * @returns Its bytes.
 * @throws {RangeError} When a field is out of range (level, keep-alive, Will QoS, a string
 * over 65,535 bytes).
 *
 * @example A level 4 CONNECT, clean session, keep-alive 60
 * ```ts
 * import { encodeConnect } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeConnect({
 *   type: "connect",
 *   protocolName: "MQTT",
 *   protocolLevel: 4,
 *   cleanStart: true,
 *   keepAlive: 60,
 *   clientId: "a",
 * });
 * assertEquals(bytes.length, 15);
 * ```
 */
export function encodeConnect(packet: ConnectPacket): Uint8Array {
  const level = packet.protocolLevel;
  checkLevel(level);
  if (!Number.isInteger(packet.keepAlive) || packet.keepAlive < 0 || packet.keepAlive > 0xffff) {
    throw new RangeError(`Keep-alive must be 0 to 65535, got ${packet.keepAlive}`);
  }
  const nameLength = checkedStringLength("Protocol name", packet.protocolName);
  const clientIdLength = checkedStringLength("Client identifier", packet.clientId);
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  let remaining = 2 + nameLength + 1 + 1 + 2 + propertiesSize(level, propsLength) + 2 +
    clientIdLength;
  let flags = packet.cleanStart ? 0x02 : 0;
  const will = packet.will;
  let willPropsLength = 0;
  let willTopicLength = 0;
  if (will !== undefined) {
    flags |= 0x04 | (checkQos(will.qos) << 3) | (will.retain ? 0x20 : 0);
    willPropsLength = level === 5 ? propertiesLength(will.properties) : 0;
    willTopicLength = checkedStringLength("Will topic", will.topic);
    if (will.payload.length > 0xffff) {
      throw new RangeError(`Will payload must be at most 65535 bytes, got ${will.payload.length}`);
    }
    remaining += propertiesSize(level, willPropsLength) + 2 + willTopicLength + 2 +
      will.payload.length;
  }
  let usernameLength = 0;
  if (packet.username !== undefined) {
    flags |= 0x80;
    usernameLength = checkedStringLength("User name", packet.username);
    remaining += 2 + usernameLength;
  }
  if (packet.password !== undefined) {
    flags |= 0x40;
    if (packet.password.length > 0xffff) {
      throw new RangeError(`Password must be at most 65535 bytes, got ${packet.password.length}`);
    }
    remaining += 2 + packet.password.length;
  }
  const writer = begin(PacketType.connect << 4, remaining);
  writer.string(packet.protocolName, nameLength);
  writer.u8(level);
  writer.u8(flags);
  writer.u16(packet.keepAlive);
  if (level === 5) writeProperties(writer, packet.properties, propsLength);
  writer.string(packet.clientId, clientIdLength);
  if (will !== undefined) {
    if (level === 5) writeProperties(writer, will.properties, willPropsLength);
    writer.string(will.topic, willTopicLength);
    writer.binary(will.payload);
  }
  if (packet.username !== undefined) writer.string(packet.username, usernameLength);
  if (packet.password !== undefined) writer.binary(packet.password);
  return writer.bytes;
}

/**
 * Encodes a CONNACK.
 *
 * @param packet The CONNACK; at level 4 its `reasonCode` is a v3.1.1 return code (0 to 5, see
 * {@linkcode connectReturnCodeFor}).
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When the level is not 4 or 5, or a level 4 return code is above 5.
 *
 * @example
 * ```ts
 * import { encodeConnack } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeConnack({ type: "connack", sessionPresent: false, reasonCode: 0 }, 4);
 * assertEquals(bytes, new Uint8Array([0x20, 0x02, 0x00, 0x00]));
 * ```
 */
export function encodeConnack(packet: ConnackPacket, level: ProtocolLevel): Uint8Array {
  checkLevel(level);
  if (level === 4 && packet.reasonCode > 5) {
    throw new RangeError(
      `A level 4 CONNACK return code must be 0 to 5, got ${packet.reasonCode}`,
    );
  }
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  const writer = begin(PacketType.connack << 4, 2 + propertiesSize(level, propsLength));
  writer.u8(packet.sessionPresent ? 1 : 0);
  writer.u8(packet.reasonCode);
  if (level === 5) writeProperties(writer, packet.properties, propsLength);
  return writer.bytes;
}

/** What {@linkcode publishSize} measured, for {@linkcode writePublish}. */
interface PublishLayout {
  remaining: number;
  topicLength: number;
  propsLength: number;
}

function layoutPublish(packet: PublishPacket, level: ProtocolLevel): PublishLayout {
  checkLevel(level);
  const qos = checkQos(packet.qos);
  if (qos > 0) checkPacketId(packet.packetId);
  const topicLength = checkedStringLength("Topic", packet.topic);
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + propertiesSize(level, propsLength) +
    packet.payload.length;
  if (remaining > MAX_REMAINING) {
    throw new RangeError(`Packet body must be at most ${MAX_REMAINING} bytes, got ${remaining}`);
  }
  return { remaining, topicLength, propsLength };
}

function writePublishLayout(
  packet: PublishPacket,
  level: ProtocolLevel,
  layout: PublishLayout,
  writer: MqttWriter,
): void {
  writer.u8(
    (PacketType.publish << 4) | (packet.dup ? 0x08 : 0) | (packet.qos << 1) |
      (packet.retain ? 0x01 : 0),
  );
  writer.varint(layout.remaining);
  writer.string(packet.topic, layout.topicLength);
  if (packet.qos > 0) writer.u16(packet.packetId!);
  if (level === 5) writeProperties(writer, packet.properties, layout.propsLength);
  writer.raw(packet.payload);
}

/**
 * Bytes {@linkcode encodePublish} would produce for a PUBLISH, so a caller can reserve room
 * and {@linkcode writePublish} into its own buffer.
 *
 * @param packet The PUBLISH.
 * @param level The protocol level of the connection it goes to.
 * @returns Its size in bytes, fixed header included.
 * @throws {RangeError} When a field is out of range.
 *
 * @example
 * ```ts
 * import { publishSize } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const packet = {
 *   type: "publish",
 *   dup: false,
 *   qos: 0,
 *   retain: false,
 *   topic: "t",
 *   payload: new Uint8Array(3),
 * } as const;
 * assertEquals(publishSize(packet, 4), 8);
 * ```
 */
export function publishSize(packet: PublishPacket, level: ProtocolLevel): number {
  const { remaining } = layoutPublish(packet, level);
  return 1 + varintLength(remaining) + remaining;
}

/**
 * Encodes a PUBLISH. The cost is one allocation of the packet's size and one copy of the
 * payload, plus UTF-8 encoding of the topic (and properties at level 5). A server forwarding a
 * message encodes it once per distinct (level, QoS, packet id, properties) and writes the same
 * bytes to every subscriber that shares them — QoS 0 fan-out at one level is a single encoding.
 * To write into a buffer of your own (a batch of packets for one socket write), use
 * {@linkcode publishSize} and {@linkcode writePublish}.
 *
 * @param packet The PUBLISH; `packetId` is required when `qos` > 0.
 * @param level The protocol level of the connection it goes to (properties are left out at 4).
 * @returns Its bytes.
 * @throws {RangeError} When a field is out of range.
 *
 * @example A QoS 0 PUBLISH at level 4
 * ```ts
 * import { encodePublish } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodePublish({
 *   type: "publish",
 *   dup: false,
 *   qos: 0,
 *   retain: false,
 *   topic: "a",
 *   payload: new Uint8Array([0x68, 0x69]),
 * }, 4);
 * assertEquals(bytes, new Uint8Array([0x30, 0x05, 0x00, 0x01, 0x61, 0x68, 0x69]));
 * ```
 */
export function encodePublish(packet: PublishPacket, level: ProtocolLevel): Uint8Array {
  const layout = layoutPublish(packet, level);
  const writer = new MqttWriter(
    new Uint8Array(1 + varintLength(layout.remaining) + layout.remaining),
  );
  writePublishLayout(packet, level, layout, writer);
  return writer.bytes;
}

/**
 * Writes a PUBLISH into a caller's buffer, allocating nothing for the packet itself.
 *
 * @param packet The PUBLISH; `packetId` is required when `qos` > 0.
 * @param level The protocol level of the connection it goes to.
 * @param target The buffer to write into.
 * @param offset Where in `target` the packet begins.
 * @returns Bytes written ({@linkcode publishSize}).
 * @throws {RangeError} When a field is out of range or `target` has too little room after
 * `offset`.
 *
 * @example Two packets in one buffer
 * ```ts
 * import { publishSize, writePublish } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const packet = {
 *   type: "publish",
 *   dup: false,
 *   qos: 0,
 *   retain: false,
 *   topic: "t",
 *   payload: new Uint8Array([1]),
 * } as const;
 * const size = publishSize(packet, 5);
 * const target = new Uint8Array(2 * size);
 * const first = writePublish(packet, 5, target, 0);
 * writePublish(packet, 5, target, first);
 * assertEquals(target.subarray(0, size), target.subarray(size));
 * ```
 */
export function writePublish(
  packet: PublishPacket,
  level: ProtocolLevel,
  target: Uint8Array,
  offset = 0,
): number {
  const layout = layoutPublish(packet, level);
  const size = 1 + varintLength(layout.remaining) + layout.remaining;
  if (!Number.isInteger(offset) || offset < 0 || target.length - offset < size) {
    throw new RangeError(
      `Target has ${
        target.length - offset
      } bytes after offset ${offset}, the PUBLISH needs ${size}`,
    );
  }
  writePublishLayout(packet, level, layout, new MqttWriter(target, offset));
  return size;
}

/**
 * Encodes a PUBACK, PUBREC, PUBREL or PUBCOMP. At level 5, a success without properties takes
 * the short form (no reason code, no property length), as the spec allows.
 *
 * @param packet The acknowledgement.
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When the packet identifier or level is out of range.
 *
 * @example
 * ```ts
 * import { encodePublishAck } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodePublishAck({ type: "pubrel", packetId: 10, reasonCode: 0 }, 5);
 * assertEquals(bytes, new Uint8Array([0x62, 0x02, 0x00, 0x0a]));
 * ```
 */
export function encodePublishAck(packet: PublishAckPacket, level: ProtocolLevel): Uint8Array {
  checkLevel(level);
  checkPacketId(packet.packetId);
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  if (level === 4 || (packet.reasonCode === 0 && propsLength === 0)) {
    // The common case, written directly: a broker sends one per QoS 1 or 2 message.
    return writeShortAck(new Uint8Array(4), packet.type, packet.packetId);
  }
  const writer = begin(ACK_FIRST[packet.type], 3 + propertiesSize(level, propsLength));
  writer.u16(packet.packetId);
  writer.u8(packet.reasonCode);
  writeProperties(writer, packet.properties, propsLength);
  return writer.bytes;
}

/**
 * Encodes a SUBSCRIBE. At level 4 only `qos` of each subscription's options is written.
 *
 * @param packet The SUBSCRIBE.
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When a field is out of range or there is no subscription.
 *
 * @example
 * ```ts
 * import { encodeSubscribe } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeSubscribe({
 *   type: "subscribe",
 *   packetId: 1,
 *   subscriptions: [
 *     { topicFilter: "a", qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
 *   ],
 * }, 4);
 * assertEquals(bytes, new Uint8Array([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01]));
 * ```
 */
export function encodeSubscribe(packet: SubscribePacket, level: ProtocolLevel): Uint8Array {
  checkLevel(level);
  checkPacketId(packet.packetId);
  if (packet.subscriptions.length === 0) {
    throw new RangeError("SUBSCRIBE needs at least one subscription");
  }
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  let remaining = 2 + propertiesSize(level, propsLength);
  for (const subscription of packet.subscriptions) {
    checkQos(subscription.qos);
    remaining += 3 + checkedStringLength("Topic filter", subscription.topicFilter);
  }
  const writer = begin((PacketType.subscribe << 4) | 0x02, remaining);
  writer.u16(packet.packetId);
  if (level === 5) writeProperties(writer, packet.properties, propsLength);
  for (const subscription of packet.subscriptions) {
    writer.string(subscription.topicFilter, utf8Length(subscription.topicFilter));
    let options = subscription.qos;
    if (level === 5) {
      options |= (subscription.noLocal ? 0x04 : 0) | (subscription.retainAsPublished ? 0x08 : 0) |
        (subscription.retainHandling << 4);
    }
    writer.u8(options);
  }
  return writer.bytes;
}

function encodeAckList(
  first: number,
  packet: SubackPacket | UnsubackPacket,
  level: ProtocolLevel,
  codes: number[],
): Uint8Array {
  checkLevel(level);
  checkPacketId(packet.packetId);
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  const writer = begin(first, 2 + propertiesSize(level, propsLength) + codes.length);
  writer.u16(packet.packetId);
  if (level === 5) writeProperties(writer, packet.properties, propsLength);
  for (const code of codes) writer.u8(code);
  return writer.bytes;
}

/**
 * Encodes a SUBACK. At level 4, any failure code (0x80 or above) is written as 0x80, the one
 * failure level 4 knows.
 *
 * @param packet The SUBACK.
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When the packet identifier or level is out of range.
 *
 * @example
 * ```ts
 * import { encodeSuback, ReasonCode } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeSuback({
 *   type: "suback",
 *   packetId: 1,
 *   reasonCodes: [1, ReasonCode.notAuthorized],
 * }, 4);
 * assertEquals(bytes, new Uint8Array([0x90, 0x04, 0x00, 0x01, 0x01, 0x80]));
 * ```
 */
export function encodeSuback(packet: SubackPacket, level: ProtocolLevel): Uint8Array {
  const codes = level === 4
    ? packet.reasonCodes.map((code) => code >= 0x80 ? 0x80 : code)
    : packet.reasonCodes;
  return encodeAckList(PacketType.suback << 4, packet, level, codes);
}

/**
 * Encodes an UNSUBSCRIBE.
 *
 * @param packet The UNSUBSCRIBE.
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When a field is out of range or there is no topic filter.
 *
 * @example
 * ```ts
 * import { encodeUnsubscribe } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeUnsubscribe({ type: "unsubscribe", packetId: 2, topicFilters: ["a"] }, 4);
 * assertEquals(bytes, new Uint8Array([0xa2, 0x05, 0x00, 0x02, 0x00, 0x01, 0x61]));
 * ```
 */
export function encodeUnsubscribe(packet: UnsubscribePacket, level: ProtocolLevel): Uint8Array {
  checkLevel(level);
  checkPacketId(packet.packetId);
  if (packet.topicFilters.length === 0) {
    throw new RangeError("UNSUBSCRIBE needs at least one topic filter");
  }
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  let remaining = 2 + propertiesSize(level, propsLength);
  for (const filter of packet.topicFilters) {
    remaining += 2 + checkedStringLength("Topic filter", filter);
  }
  const writer = begin((PacketType.unsubscribe << 4) | 0x02, remaining);
  writer.u16(packet.packetId);
  if (level === 5) writeProperties(writer, packet.properties, propsLength);
  for (const filter of packet.topicFilters) writer.string(filter, utf8Length(filter));
  return writer.bytes;
}

/**
 * Encodes an UNSUBACK; at level 4 the reason codes are left out (level 4 has none).
 *
 * @param packet The UNSUBACK.
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When the packet identifier or level is out of range.
 *
 * @example
 * ```ts
 * import { encodeUnsuback } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeUnsuback({ type: "unsuback", packetId: 2, reasonCodes: [0] }, 4);
 * assertEquals(bytes, new Uint8Array([0xb0, 0x02, 0x00, 0x02]));
 * ```
 */
export function encodeUnsuback(packet: UnsubackPacket, level: ProtocolLevel): Uint8Array {
  return encodeAckList(
    PacketType.unsuback << 4,
    packet,
    level,
    level === 4 ? [] : packet.reasonCodes,
  );
}

/**
 * Encodes a PINGREQ. The bytes are shared: do not modify them.
 *
 * @returns `C0 00`.
 *
 * @example
 * ```ts
 * import { encodePingreq } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(encodePingreq(), new Uint8Array([0xc0, 0x00]));
 * ```
 */
export function encodePingreq(): Uint8Array {
  return PINGREQ;
}

/**
 * Encodes a PINGRESP. The bytes are shared: do not modify them.
 *
 * @returns `D0 00`.
 *
 * @example
 * ```ts
 * import { encodePingresp } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(encodePingresp(), new Uint8Array([0xd0, 0x00]));
 * ```
 */
export function encodePingresp(): Uint8Array {
  return PINGRESP;
}

function encodeReasonOnly(
  type: number,
  reasonCode: number,
  packet: DisconnectPacket | AuthPacket,
  level: ProtocolLevel,
): Uint8Array {
  const propsLength = level === 5 ? propertiesLength(packet.properties) : 0;
  // Level 5 leaves out a 0 reason without properties (§3.14.2.1, §3.15.2.1); level 4 has none.
  if (level === 4 || (reasonCode === 0 && propsLength === 0)) return begin(type << 4, 0).bytes;
  const writer = begin(type << 4, 1 + propertiesSize(level, propsLength));
  writer.u8(reasonCode);
  writeProperties(writer, packet.properties, propsLength);
  return writer.bytes;
}

/**
 * Encodes a DISCONNECT; at level 4 it is two bytes, the reason and properties left out.
 *
 * @param packet The DISCONNECT.
 * @param level The connection's protocol level.
 * @returns Its bytes.
 * @throws {RangeError} When the level is not 4 or 5.
 *
 * @example
 * ```ts
 * import { encodeDisconnect, ReasonCode } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeDisconnect({
 *   type: "disconnect",
 *   reasonCode: ReasonCode.sessionTakenOver,
 * }, 5);
 * assertEquals(bytes, new Uint8Array([0xe0, 0x02, 0x8e, 0x00]));
 * ```
 */
export function encodeDisconnect(packet: DisconnectPacket, level: ProtocolLevel): Uint8Array {
  checkLevel(level);
  return encodeReasonOnly(PacketType.disconnect, packet.reasonCode, packet, level);
}

/**
 * Encodes an AUTH (level 5 only).
 *
 * @param packet The AUTH.
 * @returns Its bytes.
 *
 * @example
 * ```ts
 * import { encodeAuth } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(encodeAuth({ type: "auth", reasonCode: 0 }), new Uint8Array([0xf0, 0x00]));
 * ```
 */
export function encodeAuth(packet: AuthPacket): Uint8Array {
  return encodeReasonOnly(PacketType.auth, packet.reasonCode, packet, 5);
}

/**
 * Encodes any packet, dispatching on its `type`.
 *
 * @param packet The packet.
 * @param level The connection's protocol level (a CONNECT uses its own `protocolLevel`).
 * @returns Its bytes.
 * @throws {RangeError} When a field is out of range, or for an AUTH at level 4.
 *
 * @example
 * ```ts
 * import { encodePacket } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(encodePacket({ type: "pingreq" }, 5), new Uint8Array([0xc0, 0x00]));
 * ```
 */
export function encodePacket(packet: MqttPacket, level: ProtocolLevel): Uint8Array {
  switch (packet.type) {
    case "connect":
      return encodeConnect(packet);
    case "connack":
      return encodeConnack(packet, level);
    case "publish":
      return encodePublish(packet, level);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return encodePublishAck(packet, level);
    case "subscribe":
      return encodeSubscribe(packet, level);
    case "suback":
      return encodeSuback(packet, level);
    case "unsubscribe":
      return encodeUnsubscribe(packet, level);
    case "unsuback":
      return encodeUnsuback(packet, level);
    case "pingreq":
      return encodePingreq();
    case "pingresp":
      return encodePingresp();
    case "disconnect":
      return encodeDisconnect(packet, level);
    case "auth":
      if (level === 4) throw new RangeError("AUTH does not exist at level 4");
      return encodeAuth(packet);
  }
}
