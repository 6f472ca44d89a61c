/**
 * Decodes the variable header and payload of one whole packet, whose fixed header the framing
 * has read and checked.
 *
 * @module
 */

import {
  MqttClientIdentifierInvalidError,
  MqttMalformedPacketError,
  MqttProtocolViolationError,
  MqttTopicNameInvalidError,
  MqttUnsupportedProtocolVersionError,
} from "./mqtt_errors.ts";
import type {
  ConnectPacket,
  MqttPacket,
  ProtocolLevel,
  PublishAckPacket,
  PublishPacket,
  QoS,
  Subscription,
  Will,
} from "./mqtt_packets.ts";
import { PacketType } from "./mqtt_packets.ts";
import { readProperties, WILL } from "./_mqtt_properties.ts";
import type { MqttReader } from "./_mqtt_reader.ts";

const ACK_TYPES = ["puback", "pubrec", "pubrel", "pubcomp"] as const;

/**
 * Decodes the body in `reader` (bounded to the remaining length) of a packet of `type` with
 * fixed-header `flags`, at protocol `level` (ignored for CONNECT, which carries its own).
 */
export function decodeBody(
  type: number,
  flags: number,
  reader: MqttReader,
  level: ProtocolLevel,
): MqttPacket {
  switch (type) {
    case PacketType.connect:
      return decodeConnect(reader);
    case PacketType.connack: {
      const ackFlags = reader.u8();
      if ((ackFlags & 0xfe) !== 0) {
        throw new MqttMalformedPacketError("CONNACK reserved flag bits are set");
      }
      const reasonCode = reader.u8();
      const properties = level === 5 ? readProperties(reader, type) : undefined;
      ensureConsumed(reader, "CONNACK");
      return properties === undefined
        ? { type: "connack", sessionPresent: ackFlags === 1, reasonCode }
        : { type: "connack", sessionPresent: ackFlags === 1, reasonCode, properties };
    }
    case PacketType.publish:
      return decodePublish(flags, reader, level);
    case PacketType.puback:
    case PacketType.pubrec:
    case PacketType.pubrel:
    case PacketType.pubcomp: {
      const packetId = readPacketId(reader);
      let reasonCode = 0;
      let properties;
      // Level 5 lets the reason code and the properties be left out when they are 0 and none.
      if (level === 5 && reader.remaining > 0) {
        reasonCode = reader.u8();
        if (reader.remaining > 0) properties = readProperties(reader, type);
      }
      ensureConsumed(reader, ACK_TYPES[type - PacketType.puback].toUpperCase());
      const packet: PublishAckPacket = {
        type: ACK_TYPES[type - PacketType.puback],
        packetId,
        reasonCode,
      };
      if (properties !== undefined) packet.properties = properties;
      return packet;
    }
    case PacketType.subscribe:
      return decodeSubscribe(reader, level);
    case PacketType.suback:
    case PacketType.unsuback: {
      const packetId = readPacketId(reader);
      const properties = level === 5 ? readProperties(reader, type) : undefined;
      const reasonCodes: number[] = [];
      while (reader.remaining > 0) reasonCodes.push(reader.u8());
      const name = type === PacketType.suback ? "suback" : "unsuback";
      if (reasonCodes.length === 0 && (type === PacketType.suback || level === 5)) {
        throw new MqttProtocolViolationError(`${name.toUpperCase()} has no reason code`);
      }
      if (type === PacketType.unsuback && level === 4 && reasonCodes.length > 0) {
        throw new MqttMalformedPacketError("UNSUBACK at level 4 has a payload");
      }
      return properties === undefined
        ? { type: name, packetId, reasonCodes }
        : { type: name, packetId, reasonCodes, properties };
    }
    case PacketType.unsubscribe: {
      const packetId = readPacketId(reader);
      const properties = level === 5 ? readProperties(reader, type) : undefined;
      const topicFilters: string[] = [];
      while (reader.remaining > 0) topicFilters.push(reader.string());
      if (topicFilters.length === 0) {
        throw new MqttProtocolViolationError("UNSUBSCRIBE has no topic filter");
      }
      return properties === undefined
        ? { type: "unsubscribe", packetId, topicFilters }
        : { type: "unsubscribe", packetId, topicFilters, properties };
    }
    case PacketType.pingreq:
      ensureConsumed(reader, "PINGREQ");
      return { type: "pingreq" };
    case PacketType.pingresp:
      ensureConsumed(reader, "PINGRESP");
      return { type: "pingresp" };
    case PacketType.disconnect:
    case PacketType.auth: {
      let reasonCode = 0;
      let properties;
      if (level === 5 && reader.remaining > 0) {
        reasonCode = reader.u8();
        if (reader.remaining > 0) properties = readProperties(reader, type);
      }
      const name = type === PacketType.auth ? "auth" : "disconnect";
      ensureConsumed(reader, name.toUpperCase());
      return properties === undefined
        ? { type: name, reasonCode }
        : { type: name, reasonCode, properties };
    }
    default:
      throw new MqttMalformedPacketError(`Unknown packet type ${type}`);
  }
}

function ensureConsumed(reader: MqttReader, name: string): void {
  if (reader.remaining !== 0) {
    throw new MqttMalformedPacketError(
      `${name} has ${reader.remaining} bytes more than its fields`,
    );
  }
}

function readPacketId(reader: MqttReader): number {
  const id = reader.u16();
  if (id === 0) throw new MqttProtocolViolationError("Packet identifier must not be 0");
  return id;
}

/** A topic name may not hold the wildcards that only topic filters may hold (§4.7.1). */
function checkTopicName(topic: string): void {
  if (topic.includes("+") || topic.includes("#")) throw new MqttTopicNameInvalidError(topic);
}

function decodeConnect(reader: MqttReader): ConnectPacket {
  const protocolName = reader.string();
  const protocolLevel = reader.u8();
  if (protocolName !== "MQTT" || (protocolLevel !== 4 && protocolLevel !== 5)) {
    throw new MqttUnsupportedProtocolVersionError(protocolName, protocolLevel);
  }
  const level: ProtocolLevel = protocolLevel;
  const flags = reader.u8();
  if ((flags & 0x01) !== 0) {
    throw new MqttMalformedPacketError("CONNECT reserved flag bit is set");
  }
  const cleanStart = (flags & 0x02) !== 0;
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (willQos === 3) throw new MqttMalformedPacketError("CONNECT Will QoS is 3");
  if (!hasWill && (willQos !== 0 || willRetain)) {
    throw new MqttMalformedPacketError("CONNECT has Will QoS or Will Retain without a Will");
  }
  if (level === 4 && hasPassword && !hasUsername) {
    throw new MqttMalformedPacketError("CONNECT at level 4 has a password without a user name");
  }
  const keepAlive = reader.u16();
  const properties = level === 5 ? readProperties(reader, PacketType.connect) : undefined;
  const clientId = reader.string();
  if (level === 4 && clientId === "" && !cleanStart) {
    throw new MqttClientIdentifierInvalidError(
      "Empty client identifier requires Clean Session at level 4",
    );
  }
  const packet: ConnectPacket = {
    type: "connect",
    protocolName,
    protocolLevel: level,
    cleanStart,
    keepAlive,
    clientId,
  };
  if (hasWill) {
    const willProperties = level === 5 ? readProperties(reader, WILL) : undefined;
    const topic = reader.string();
    checkTopicName(topic);
    if (topic === "") throw new MqttProtocolViolationError("Will topic is empty");
    const will: Will = {
      topic,
      payload: reader.binary(),
      qos: willQos as QoS,
      retain: willRetain,
    };
    if (willProperties !== undefined) will.properties = willProperties;
    packet.will = will;
  }
  if (hasUsername) packet.username = reader.string();
  if (hasPassword) packet.password = reader.binary();
  if (properties !== undefined) packet.properties = properties;
  ensureConsumed(reader, "CONNECT");
  return packet;
}

function decodePublish(flags: number, reader: MqttReader, level: ProtocolLevel): MqttPacket {
  const qos = ((flags >> 1) & 0x03) as QoS;
  const topic = reader.string();
  checkTopicName(topic);
  const packetId = qos > 0 ? readPacketId(reader) : undefined;
  const properties = level === 5 ? readProperties(reader, PacketType.publish) : undefined;
  // An empty topic name is allowed only when a topic alias stands for it (level 5, §3.3.2.3.4).
  if (topic === "" && properties?.topicAlias === undefined) {
    throw new MqttProtocolViolationError("PUBLISH topic name is empty without a topic alias");
  }
  const packet: PublishPacket = {
    type: "publish",
    dup: (flags & 0x08) !== 0,
    qos,
    retain: (flags & 0x01) !== 0,
    topic,
    payload: reader.bytes.subarray(reader.pos, reader.end),
  };
  reader.pos = reader.end;
  if (packetId !== undefined) packet.packetId = packetId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeSubscribe(reader: MqttReader, level: ProtocolLevel): MqttPacket {
  const packetId = readPacketId(reader);
  const properties = level === 5 ? readProperties(reader, PacketType.subscribe) : undefined;
  const subscriptions: Subscription[] = [];
  const reserved = level === 5 ? 0xc0 : 0xfc;
  while (reader.remaining > 0) {
    const topicFilter = reader.string();
    const options = reader.u8();
    if ((options & reserved) !== 0) {
      throw new MqttMalformedPacketError("SUBSCRIBE options have reserved bits set");
    }
    const qos = options & 0x03;
    if (qos === 3) throw new MqttMalformedPacketError("SUBSCRIBE asks for QoS 3");
    const retainHandling = (options >> 4) & 0x03;
    if (retainHandling === 3) {
      throw new MqttProtocolViolationError("SUBSCRIBE retain handling is 3");
    }
    subscriptions.push({
      topicFilter,
      qos: qos as QoS,
      noLocal: (options & 0x04) !== 0,
      retainAsPublished: (options & 0x08) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
    });
  }
  if (subscriptions.length === 0) {
    throw new MqttProtocolViolationError("SUBSCRIBE has no topic filter");
  }
  return properties === undefined
    ? { type: "subscribe", packetId, subscriptions }
    : { type: "subscribe", packetId, subscriptions, properties };
}
