/**
 * The MQTT 5.0 properties (spec §2.2.2): which identifier, which data type, which packets may
 * carry each one; and their decoding and encoding.
 *
 * ```
 *  ┌ property length (varint) ┬ id (varint) ┬ value ┬ id ┬ value ┬ … ┐
 * ```
 *
 * @module
 */

import { MqttError, MqttMalformedPacketError, MqttProtocolViolationError } from "./mqtt_errors.ts";
import type { Properties } from "./mqtt_packets.ts";
import { PacketType } from "./mqtt_packets.ts";
import type { MqttReader } from "./_mqtt_reader.ts";
import { checkedStringLength, type MqttWriter, utf8Length, varintLength } from "./_mqtt_writer.ts";
import { ReasonCode } from "./reason_codes.ts";

/** Where properties sit: a packet type (1..15), or 16 for the Will of a CONNECT. */
export const WILL = 16;

const enum Kind {
  /** A byte that may only be 0 or 1, kept as a number. */
  ZeroOne,
  /** A byte that may only be 0 or 1, kept as a boolean. */
  Flag,
  U16,
  U32,
  Varint,
  Utf8,
  Binary,
  Pair,
}

interface PropertySpec {
  readonly id: number;
  readonly name: keyof Properties;
  readonly kind: Kind;
  /** Bit `1 << t` for each packet type `t` (or {@linkcode WILL}) that may carry it. */
  readonly where: number;
}

const bit = (...types: number[]) => types.reduce((mask, type) => mask | (1 << type), 0);
const T = PacketType;
const ACKS = [T.puback, T.pubrec, T.pubrel, T.pubcomp];
const ALL = [
  T.connect,
  T.connack,
  T.publish,
  ...ACKS,
  T.subscribe,
  T.suback,
  T.unsubscribe,
  T.unsuback,
  T.disconnect,
  T.auth,
  WILL,
];

const SPECS: PropertySpec[] = [
  { id: 0x01, name: "payloadFormatIndicator", kind: Kind.ZeroOne, where: bit(T.publish, WILL) },
  { id: 0x02, name: "messageExpiryInterval", kind: Kind.U32, where: bit(T.publish, WILL) },
  { id: 0x03, name: "contentType", kind: Kind.Utf8, where: bit(T.publish, WILL) },
  { id: 0x08, name: "responseTopic", kind: Kind.Utf8, where: bit(T.publish, WILL) },
  { id: 0x09, name: "correlationData", kind: Kind.Binary, where: bit(T.publish, WILL) },
  {
    id: 0x0b,
    name: "subscriptionIdentifiers",
    kind: Kind.Varint,
    where: bit(T.publish, T.subscribe),
  },
  {
    id: 0x11,
    name: "sessionExpiryInterval",
    kind: Kind.U32,
    where: bit(T.connect, T.connack, T.disconnect),
  },
  { id: 0x12, name: "assignedClientIdentifier", kind: Kind.Utf8, where: bit(T.connack) },
  { id: 0x13, name: "serverKeepAlive", kind: Kind.U16, where: bit(T.connack) },
  {
    id: 0x15,
    name: "authenticationMethod",
    kind: Kind.Utf8,
    where: bit(T.connect, T.connack, T.auth),
  },
  {
    id: 0x16,
    name: "authenticationData",
    kind: Kind.Binary,
    where: bit(T.connect, T.connack, T.auth),
  },
  { id: 0x17, name: "requestProblemInformation", kind: Kind.ZeroOne, where: bit(T.connect) },
  { id: 0x18, name: "willDelayInterval", kind: Kind.U32, where: bit(WILL) },
  { id: 0x19, name: "requestResponseInformation", kind: Kind.ZeroOne, where: bit(T.connect) },
  { id: 0x1a, name: "responseInformation", kind: Kind.Utf8, where: bit(T.connack) },
  { id: 0x1c, name: "serverReference", kind: Kind.Utf8, where: bit(T.connack, T.disconnect) },
  {
    id: 0x1f,
    name: "reasonString",
    kind: Kind.Utf8,
    where: bit(T.connack, ...ACKS, T.suback, T.unsuback, T.disconnect, T.auth),
  },
  { id: 0x21, name: "receiveMaximum", kind: Kind.U16, where: bit(T.connect, T.connack) },
  { id: 0x22, name: "topicAliasMaximum", kind: Kind.U16, where: bit(T.connect, T.connack) },
  { id: 0x23, name: "topicAlias", kind: Kind.U16, where: bit(T.publish) },
  { id: 0x24, name: "maximumQos", kind: Kind.ZeroOne, where: bit(T.connack) },
  { id: 0x25, name: "retainAvailable", kind: Kind.Flag, where: bit(T.connack) },
  { id: 0x26, name: "userProperties", kind: Kind.Pair, where: bit(...ALL) },
  { id: 0x27, name: "maximumPacketSize", kind: Kind.U32, where: bit(T.connect, T.connack) },
  { id: 0x28, name: "wildcardSubscriptionAvailable", kind: Kind.Flag, where: bit(T.connack) },
  { id: 0x29, name: "subscriptionIdentifiersAvailable", kind: Kind.Flag, where: bit(T.connack) },
  { id: 0x2a, name: "sharedSubscriptionAvailable", kind: Kind.Flag, where: bit(T.connack) },
];

const BY_ID: (PropertySpec | undefined)[] = [];
for (const spec of SPECS) BY_ID[spec.id] = spec;

const SUBSCRIPTION_IDENTIFIER = 0x0b;
const USER_PROPERTY = 0x26;
const MAX_VARINT = 268_435_455;

/**
 * Reads a property list for packet type `where` (or {@linkcode WILL}). Returns `undefined` for
 * an empty list, so that packets without properties allocate nothing for them.
 */
export function readProperties(reader: MqttReader, where: number): Properties | undefined {
  const length = reader.varint();
  if (length === 0) return undefined;
  if (length > reader.remaining) {
    throw new MqttMalformedPacketError(
      `Property length ${length} exceeds the ${reader.remaining} bytes left in the packet`,
    );
  }
  const outerEnd = reader.end;
  reader.end = reader.pos + length;
  // deno-lint-ignore no-explicit-any
  const properties: Record<string, any> = {};
  // Identifiers run 1..42: two 32-bit masks record which were seen.
  let seenLow = 0;
  let seenHigh = 0;
  while (reader.pos < reader.end) {
    const id = reader.varint();
    const spec = BY_ID[id];
    if (spec === undefined) {
      throw new MqttMalformedPacketError(`Unknown property identifier 0x${id.toString(16)}`);
    }
    if ((spec.where & (1 << where)) === 0) {
      throw new MqttProtocolViolationError(
        `Property "${spec.name}" is not allowed in ${whereName(where)}`,
      );
    }
    const mask = 1 << (id & 31);
    const seen = id < 32 ? seenLow & mask : seenHigh & mask;
    const repeatable = id === USER_PROPERTY ||
      (id === SUBSCRIPTION_IDENTIFIER && where === PacketType.publish);
    if (seen !== 0 && !repeatable) {
      throw new MqttProtocolViolationError(`Property "${spec.name}" appears more than once`);
    }
    if (id < 32) seenLow |= mask;
    else seenHigh |= mask;
    const value = readValue(reader, spec);
    if (id === USER_PROPERTY || id === SUBSCRIPTION_IDENTIFIER) {
      (properties[spec.name] ??= []).push(value);
    } else {
      properties[spec.name] = value;
    }
  }
  reader.end = outerEnd;
  return properties as Properties;
}

function readValue(reader: MqttReader, spec: PropertySpec): unknown {
  switch (spec.kind) {
    case Kind.ZeroOne:
    case Kind.Flag: {
      const value = reader.u8();
      if (value > 1) {
        throw new MqttProtocolViolationError(
          `Property "${spec.name}" must be 0 or 1, got ${value}`,
        );
      }
      return spec.kind === Kind.Flag ? value === 1 : value;
    }
    case Kind.U16: {
      const value = reader.u16();
      if (value === 0 && spec.name === "receiveMaximum") {
        throw new MqttProtocolViolationError('Property "receiveMaximum" must not be 0');
      }
      if (value === 0 && spec.name === "topicAlias") {
        throw new MqttError("Topic alias must not be 0", ReasonCode.topicAliasInvalid);
      }
      return value;
    }
    case Kind.U32: {
      const value = reader.u32();
      if (value === 0 && spec.name === "maximumPacketSize") {
        throw new MqttProtocolViolationError('Property "maximumPacketSize" must not be 0');
      }
      return value;
    }
    case Kind.Varint: {
      const value = reader.varint();
      if (value === 0) {
        throw new MqttProtocolViolationError("Subscription identifier must not be 0");
      }
      return value;
    }
    case Kind.Utf8:
      return reader.string();
    case Kind.Binary:
      return reader.binary();
    case Kind.Pair:
      return [reader.string(), reader.string()];
  }
}

function whereName(where: number): string {
  if (where === WILL) return "a Will";
  for (const [name, type] of Object.entries(PacketType)) {
    if (type === where) return name.toUpperCase();
  }
  return `packet type ${where}`;
}

/** Bytes of the property list (not counting its own length prefix). */
export function propertiesLength(properties: Properties | undefined): number {
  if (properties === undefined) return 0;
  let length = 0;
  for (const spec of SPECS) {
    const value = properties[spec.name];
    if (value === undefined) continue;
    switch (spec.kind) {
      case Kind.ZeroOne:
      case Kind.Flag:
        length += 2;
        break;
      case Kind.U16:
        length += 3;
        break;
      case Kind.U32:
        length += 5;
        break;
      case Kind.Varint:
        for (const id of value as number[]) length += 1 + varintLength(checkVarint(id));
        break;
      case Kind.Utf8:
        length += 3 + checkedStringLength(spec.name, value as string);
        break;
      case Kind.Binary:
        length += 3 + checkBinary(spec.name, value as Uint8Array);
        break;
      case Kind.Pair:
        for (const [name, text] of value as [string, string][]) {
          length += 5 + checkedStringLength("User property name", name) +
            checkedStringLength("User property value", text);
        }
        break;
    }
  }
  return length;
}

function checkVarint(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_VARINT) {
    throw new RangeError(`Subscription identifier must be 1 to ${MAX_VARINT}, got ${value}`);
  }
  return value;
}

function checkBinary(name: string, value: Uint8Array): number {
  if (value.length > 0xffff) {
    throw new RangeError(`${name} must be at most 65535 bytes, got ${value.length}`);
  }
  return value.length;
}

/** Writes the length prefix and the property list measured as `length`. */
export function writeProperties(
  writer: MqttWriter,
  properties: Properties | undefined,
  length: number,
): void {
  writer.varint(length);
  if (properties === undefined) return;
  for (const spec of SPECS) {
    const value = properties[spec.name];
    if (value === undefined) continue;
    if (spec.kind === Kind.Varint) {
      for (const id of value as number[]) {
        writer.u8(spec.id);
        writer.varint(id);
      }
      continue;
    }
    if (spec.kind === Kind.Pair) {
      for (const [name, text] of value as [string, string][]) {
        writer.u8(spec.id);
        writer.string(name, utf8Length(name));
        writer.string(text, utf8Length(text));
      }
      continue;
    }
    writer.u8(spec.id);
    switch (spec.kind) {
      case Kind.ZeroOne:
        writer.u8(value as number);
        break;
      case Kind.Flag:
        writer.u8(value ? 1 : 0);
        break;
      case Kind.U16:
        writer.u16(value as number);
        break;
      case Kind.U32:
        writer.u32(value as number);
        break;
      case Kind.Utf8:
        writer.string(value as string, utf8Length(value as string));
        break;
      case Kind.Binary:
        writer.binary(value as Uint8Array);
        break;
    }
  }
}
