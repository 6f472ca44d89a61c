/**
 * Typed errors of the MQTT decoder, each carrying the MQTT 5.0 reason code to answer with.
 *
 * @module
 */

import { ProtocolError } from "../../core/errors.ts";
import { ReasonCode } from "./reason_codes.ts";

/**
 * Base class of the MQTT decoder's errors. `reasonCode` is the MQTT 5.0 reason code the server
 * sends in its CONNACK (before the session is up) or DISCONNECT (after) before it closes; a
 * level 4 server just closes, except for the CONNECT errors that have a return code (see
 * {@linkcode connectReturnCodeFor}).
 *
 * @example Catching any MQTT error and reading the reason
 * ```ts
 * import { MqttError, MqttMalformedPacketError, ReasonCode } from "@speedo/speedo/mqtt";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error: MqttError = new MqttMalformedPacketError("Remaining length is too long");
 * assert(error instanceof MqttError);
 * assertEquals(error.reasonCode, ReasonCode.malformedPacket);
 * ```
 */
export class MqttError extends ProtocolError {
  /** The MQTT 5.0 reason code to answer with. */
  readonly reasonCode: number;

  /**
   * Makes the error.
   *
   * @param message What went wrong, in a sentence.
   * @param reasonCode The MQTT 5.0 reason code to answer with.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, reasonCode: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "MqttError";
    this.reasonCode = reasonCode;
  }
}

/**
 * A packet that does not parse as the specification says (reason 0x81): a reserved bit set, a
 * bad length, invalid UTF-8, QoS 3, an unknown property.
 *
 * @example
 * ```ts
 * import { MqttMalformedPacketError } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new MqttMalformedPacketError("QoS 3").reasonCode, 0x81);
 * ```
 */
export class MqttMalformedPacketError extends MqttError {
  /**
   * Makes the error.
   *
   * @param message What went wrong, in a sentence.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ReasonCode.malformedPacket, options);
    this.name = "MqttMalformedPacketError";
  }
}

/**
 * A packet that parses but breaks a rule of the protocol (reason 0x82): a property on a packet
 * that may not carry it, a property repeated, packet identifier 0, a second CONNECT.
 *
 * @example
 * ```ts
 * import { MqttProtocolViolationError } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new MqttProtocolViolationError("Packet identifier 0").reasonCode, 0x82);
 * ```
 */
export class MqttProtocolViolationError extends MqttError {
  /**
   * Makes the error.
   *
   * @param message What went wrong, in a sentence.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ReasonCode.protocolError, options);
    this.name = "MqttProtocolViolationError";
  }
}

/**
 * A packet larger than the decoder's `maxPacketSize` (reason 0x95), raised on its fixed header,
 * before any of its body is buffered.
 *
 * @example
 * ```ts
 * import { MqttPacketTooLargeError } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new MqttPacketTooLargeError(2_000_005, 1_048_576);
 * assertEquals([error.size, error.maxSize, error.reasonCode], [2_000_005, 1_048_576, 0x95]);
 * ```
 */
export class MqttPacketTooLargeError extends MqttError {
  /** Bytes of the whole packet, fixed header included, as its header announces. */
  readonly size: number;
  /** The limit it passes. */
  readonly maxSize: number;

  /**
   * Makes the error.
   *
   * @param size Bytes of the whole packet.
   * @param maxSize The decoder's limit.
   */
  constructor(size: number, maxSize: number) {
    super(
      `Packet of ${size} bytes exceeds the limit of ${maxSize} bytes`,
      ReasonCode.packetTooLarge,
    );
    this.name = "MqttPacketTooLargeError";
    this.size = size;
    this.maxSize = maxSize;
  }
}

/**
 * A CONNECT with a protocol name or level this decoder does not speak (reason 0x84; return
 * code 1 for a level 4 client). Levels 4 and 5 with the name "MQTT" are spoken.
 *
 * @example
 * ```ts
 * import { MqttUnsupportedProtocolVersionError } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new MqttUnsupportedProtocolVersionError("MQIsdp", 3);
 * assertEquals([error.protocolName, error.protocolLevel, error.reasonCode], ["MQIsdp", 3, 0x84]);
 * ```
 */
export class MqttUnsupportedProtocolVersionError extends MqttError {
  /** The protocol name the client sent. */
  readonly protocolName: string;
  /** The protocol level the client sent. */
  readonly protocolLevel: number;

  /**
   * Makes the error.
   *
   * @param protocolName The protocol name the client sent.
   * @param protocolLevel The protocol level the client sent.
   */
  constructor(protocolName: string, protocolLevel: number) {
    super(
      `Unsupported protocol "${protocolName}" level ${protocolLevel}`,
      ReasonCode.unsupportedProtocolVersion,
    );
    this.name = "MqttUnsupportedProtocolVersionError";
    this.protocolName = protocolName;
    this.protocolLevel = protocolLevel;
  }
}

/**
 * A CONNECT whose client identifier the protocol forbids (reason 0x85; return code 2 at
 * level 4): at level 4, an empty identifier without Clean Session.
 *
 * @example
 * ```ts
 * import { MqttClientIdentifierInvalidError } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new MqttClientIdentifierInvalidError("Empty").reasonCode, 0x85);
 * ```
 */
export class MqttClientIdentifierInvalidError extends MqttError {
  /**
   * Makes the error.
   *
   * @param message What went wrong, in a sentence.
   */
  constructor(message: string) {
    super(message, ReasonCode.clientIdentifierNotValid);
    this.name = "MqttClientIdentifierInvalidError";
  }
}

/**
 * A PUBLISH (or Will) topic name holding a wildcard, `+` or `#` (reason 0x90), which only
 * topic filters may hold.
 *
 * @example
 * ```ts
 * import { MqttTopicNameInvalidError } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new MqttTopicNameInvalidError("a/+");
 * assertEquals([error.topic, error.reasonCode], ["a/+", 0x90]);
 * ```
 */
export class MqttTopicNameInvalidError extends MqttError {
  /** The topic name refused. */
  readonly topic: string;

  /**
   * Makes the error.
   *
   * @param topic The topic name refused.
   */
  constructor(topic: string) {
    super(`Topic name "${topic}" holds a wildcard`, ReasonCode.topicNameInvalid);
    this.name = "MqttTopicNameInvalidError";
    this.topic = topic;
  }
}
