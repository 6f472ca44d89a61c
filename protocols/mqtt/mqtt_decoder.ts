/**
 * The streaming MQTT decoder.
 *
 * @module
 */

import { positiveInteger } from "../../core/_option_checks.ts";
import {
  MqttMalformedPacketError,
  MqttPacketTooLargeError,
  MqttProtocolViolationError,
} from "./mqtt_errors.ts";
import { type MqttPacket, PacketType, type ProtocolLevel } from "./mqtt_packets.ts";
import { decodeBody } from "./_mqtt_body_decoder.ts";
import { MqttReader } from "./_mqtt_reader.ts";

/** The default {@linkcode MqttDecoderOptions.maxPacketSize}: 1 MiB. */
export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;

/** Options of {@linkcode MqttDecoder}. */
export interface MqttDecoderOptions {
  /**
   * Largest packet accepted, in bytes, fixed header included (what MQTT 5's Maximum Packet Size
   * counts). A packet announcing more raises {@linkcode MqttPacketTooLargeError} on its fixed
   * header, before its body is buffered.
   *
   * @default {1048576}
   */
  maxPacketSize?: number;
  /**
   * The protocol level of the stream, when known in advance: a client decoding its server's
   * packets sets the level it sent in its CONNECT. Left out (a server), the first packet must
   * be a CONNECT, and its level becomes the stream's.
   */
  protocolLevel?: ProtocolLevel;
}

const EMPTY = new Uint8Array(0);
/** A partial-packet buffer larger than this is released when no packet needs it. */
const SHRINK_ABOVE = 64 * 1024;
/** Bytes of a fixed header at most: one type byte, four of remaining length. */
const MAX_HEADER = 5;

/**
 * Reserved flag bits of the fixed header (§2.1.3): PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry
 * 0b0010, PUBLISH carries DUP/QoS/RETAIN, every other packet 0.
 */
const REQUIRED_FLAGS = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/**
 * A pure MQTT 3.1.1 / 5.0 decoder: bytes in, whole packets out; no sockets, no timers. It
 * decodes every packet in both directions, so a server and a test client can use it alike.
 *
 * ```
 *  fixed header                                   variable header, payload
 * ┌──────────┬───────┬──────────────────────────┐┌───────────────────────────────────┐
 * │ type (4) │ flags │ remaining length: 1 to 4 ││ remaining length bytes: packet id,│
 * │  bits    │ (4)   │ bytes, 7 bits each, low  ││ properties (level 5), topic,      │
 * │          │       │ group first, bit 7 = more││ payload...                        │
 * └──────────┴───────┴──────────────────────────┘└───────────────────────────────────┘
 * ```
 *
 * Use it as a pull decoder: {@linkcode MqttDecoder.feed} a chunk, then call
 * {@linkcode MqttDecoder.next} until it returns `null` ("need more bytes"); any chunking works,
 * down to one byte at a time.
 *
 * Byte fields of a packet (payloads, password, binary properties) are views, not copies: of the
 * chunk fed when the packet lies in it, else of the decoder's own buffer. Either way they are
 * valid until the next `feed`; copy what must outlive it (a retained message, a queued QoS 1
 * publication, a Will). Strings are decoded (and checked) into JavaScript strings.
 *
 * A corrupt stream makes `next` throw an {@linkcode MqttError} subclass whose `reasonCode` is
 * the MQTT 5 reason to answer with (CONNACK before the session, DISCONNECT after, then close);
 * the stream cannot be resynchronised, so the decoder stays failed (`next` returns `null`).
 * Checked here: reserved flag bits, QoS 3, remaining length (at most 4 bytes, at most
 * `maxPacketSize`, and equal to what the fields use), UTF-8 strings (well formed, no U+0000),
 * wildcards in topic names, packet identifier 0, properties unknown, repeated or on the wrong
 * packet, the first packet being CONNECT and only the first. Left to the server: topic filter
 * syntax, topic alias ranges, packet identifiers in use, authentication.
 *
 * @example A CONNECT then a PUBLISH, one byte at a time
 * ```ts
 * import { encodeConnect, encodePublish, MqttDecoder } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = [
 *   ...encodeConnect({
 *     type: "connect",
 *     protocolName: "MQTT",
 *     protocolLevel: 4,
 *     cleanStart: true,
 *     keepAlive: 60,
 *     clientId: "c1",
 *   }),
 *   ...encodePublish({
 *     type: "publish",
 *     dup: false,
 *     qos: 0,
 *     retain: false,
 *     topic: "a/b",
 *     payload: new TextEncoder().encode("hi"),
 *   }, 4),
 * ];
 * const decoder = new MqttDecoder();
 * const seen: string[] = [];
 * for (const byte of bytes) {
 *   decoder.feed(new Uint8Array([byte]));
 *   for (let packet = decoder.next(); packet !== null; packet = decoder.next()) {
 *     seen.push(packet.type === "publish" ? `publish ${packet.topic}` : packet.type);
 *   }
 * }
 * assertEquals(seen, ["connect", "publish a/b"]);
 * assertEquals(decoder.protocolLevel, 4);
 * ```
 *
 * @example A packet over the limit is refused on its fixed header
 * ```ts
 * import { MqttDecoder, MqttPacketTooLargeError } from "@speedo/speedo/mqtt";
 * import { assertThrows } from "@std/assert";
 *
 * const decoder = new MqttDecoder({ maxPacketSize: 100, protocolLevel: 5 });
 * decoder.feed(new Uint8Array([0x30, 0xc8, 0x01])); // PUBLISH, remaining length 200
 * assertThrows(() => decoder.next(), MqttPacketTooLargeError);
 * ```
 */
export class MqttDecoder {
  /** Largest packet accepted, in bytes, fixed header included. */
  readonly maxPacketSize: number;
  #level: ProtocolLevel | undefined;
  #sawConnect = false;
  #failed = false;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  /**
   * Two buffers for packets split across chunks: a packet completed in one may still be in use
   * (until the next feed) while the next split packet begins in the other.
   */
  readonly #buffers: Uint8Array[] = [EMPTY, EMPTY];
  /** Index of the buffer gathering a split packet. */
  #active = 0;
  /** Index of the buffer holding a packet returned since the last feed, or -1. */
  #lent = -1;
  #partialLength = 0;
  /** Bytes of the split packet, once its fixed header is complete; -1 before. */
  #partialTotal = -1;
  /** Set by #readHeader: bytes of the fixed header, and the remaining length. */
  #headerLength = 0;
  #remaining = 0;

  /**
   * Makes a decoder.
   *
   * @param options Limits and the protocol level, when known.
   * @throws {RangeError} When `maxPacketSize` is not a positive integer, or the level not 4 or 5.
   */
  constructor(options: MqttDecoderOptions = {}) {
    this.maxPacketSize = positiveInteger(
      "maxPacketSize",
      options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
    );
    if (options.protocolLevel !== undefined) this.protocolLevel = options.protocolLevel;
  }

  /**
   * The protocol level: 4 (MQTT 3.1.1) or 5 (MQTT 5.0); `undefined` until a CONNECT sets it,
   * unless given at construction.
   *
   * @returns The level, or `undefined` when not known yet.
   */
  get protocolLevel(): ProtocolLevel | undefined {
    return this.#level;
  }

  /**
   * Sets the protocol level, for a client that learns it only when its CONNECT is written.
   *
   * @param level 4 or 5.
   * @throws {RangeError} When the level is not 4 or 5.
   */
  set protocolLevel(level: ProtocolLevel | undefined) {
    if (level !== 4 && level !== 5) {
      throw new RangeError(`Protocol level must be 4 or 5, got ${level}`);
    }
    this.#level = level;
  }

  /**
   * Gives the decoder the next chunk of the stream. Packets returned before are invalid from
   * now on, as far as their byte fields go (see {@linkcode MqttDecoder}).
   *
   * @param chunk Bytes read; they must stay untouched until the next `feed`.
   * @throws {Error} When called before `next` returned `null` for the previous chunk.
   */
  feed(chunk: Uint8Array): void {
    if (this.#pos < this.#chunk.length && !this.#failed) {
      throw new Error("Feed called before next returned null for the previous chunk");
    }
    this.#chunk = chunk;
    this.#pos = 0;
    this.#lent = -1;
    for (let i = 0; i < 2; i++) {
      const idle = this.#partialLength === 0 || i !== this.#active;
      if (idle && this.#buffers[i].length > SHRINK_ABOVE) this.#buffers[i] = EMPTY;
    }
  }

  /**
   * Returns the next whole packet, or `null` when more bytes are needed.
   *
   * @returns A packet, or `null`.
   * @throws {MqttError} A subclass, with the reason code to answer with, when the stream is
   * corrupt; the decoder then stays failed.
   */
  next(): MqttPacket | null {
    if (this.#failed) return null;
    try {
      return this.#next();
    } catch (error) {
      this.#failed = true;
      this.#chunk = EMPTY;
      this.#pos = 0;
      this.#buffers[0] = this.#buffers[1] = EMPTY;
      throw error;
    }
  }

  #next(): MqttPacket | null {
    const chunk = this.#chunk;
    if (this.#partialLength > 0) return this.#continuePartial();
    if (this.#pos >= chunk.length) return null;
    const total = this.#readHeader(chunk, this.#pos, chunk.length);
    if (total >= 0 && chunk.length - this.#pos >= total) {
      const start = this.#pos;
      this.#pos += total;
      return this.#decode(chunk, start);
    }
    // Split: keep the rest of the chunk, in the buffer not holding the last packet returned.
    this.#active = this.#lent === 0 ? 1 : 0;
    const rest = chunk.length - this.#pos;
    const buffer = this.#reserve(Math.max(total, rest, 8), 0);
    buffer.set(chunk.subarray(this.#pos), 0);
    this.#partialLength = rest;
    this.#partialTotal = total;
    this.#pos = chunk.length;
    return null;
  }

  #continuePartial(): MqttPacket | null {
    const chunk = this.#chunk;
    let buffer = this.#buffers[this.#active];
    // The fixed header first, a byte at a time (five at most), so the size is checked before
    // the body is buffered.
    while (this.#partialTotal < 0 && this.#pos < chunk.length) {
      buffer[this.#partialLength++] = chunk[this.#pos++];
      this.#partialTotal = this.#readHeader(buffer, 0, this.#partialLength);
    }
    if (this.#partialTotal < 0) return null;
    buffer = this.#reserve(this.#partialTotal, this.#partialLength);
    const take = Math.min(this.#partialTotal - this.#partialLength, chunk.length - this.#pos);
    buffer.set(chunk.subarray(this.#pos, this.#pos + take), this.#partialLength);
    this.#pos += take;
    this.#partialLength += take;
    if (this.#partialLength < this.#partialTotal) return null;
    this.#partialLength = 0;
    this.#partialTotal = -1;
    this.#lent = this.#active;
    return this.#decode(buffer, 0);
  }

  /** The active buffer, grown to `capacity` bytes, keeping its first `keep` bytes. */
  #reserve(capacity: number, keep: number): Uint8Array {
    const old = this.#buffers[this.#active];
    if (old.length >= capacity) return old;
    const buffer = new Uint8Array(capacity);
    buffer.set(old.subarray(0, keep));
    this.#buffers[this.#active] = buffer;
    return buffer;
  }

  /**
   * Reads the fixed header at `start`: returns the packet's total size, or -1 when the header
   * is not complete before `end`. Checks the type and flags as soon as the first byte is there.
   */
  #readHeader(bytes: Uint8Array, start: number, end: number): number {
    this.#checkFirstByte(bytes[start]);
    let remaining = 0;
    for (let i = 1; i < MAX_HEADER; i++) {
      if (start + i >= end) return -1;
      const byte = bytes[start + i];
      remaining += (byte & 0x7f) * 2 ** (7 * (i - 1));
      if ((byte & 0x80) === 0) {
        const total = i + 1 + remaining;
        if (total > this.maxPacketSize) {
          throw new MqttPacketTooLargeError(total, this.maxPacketSize);
        }
        this.#headerLength = i + 1;
        this.#remaining = remaining;
        return total;
      }
    }
    throw new MqttMalformedPacketError("Remaining length is longer than 4 bytes");
  }

  #checkFirstByte(first: number): void {
    const type = first >> 4;
    const flags = first & 0x0f;
    if (type === 0) throw new MqttMalformedPacketError("Packet type 0 is reserved");
    if (type === PacketType.connect) {
      if (this.#sawConnect) throw new MqttProtocolViolationError("Second CONNECT on a connection");
    } else if (this.#level === undefined) {
      throw new MqttProtocolViolationError("First packet is not a CONNECT");
    } else if (type === PacketType.auth && this.#level === 4) {
      throw new MqttMalformedPacketError("AUTH does not exist at level 4");
    }
    const required = REQUIRED_FLAGS[type];
    if (required >= 0) {
      if (flags !== required) {
        throw new MqttMalformedPacketError(
          `Reserved flags of packet type ${type} are 0x${flags.toString(16)}`,
        );
      }
    } else {
      const qos = (flags >> 1) & 0x03;
      if (qos === 3) throw new MqttMalformedPacketError("PUBLISH has QoS 3");
      if (qos === 0 && (flags & 0x08) !== 0) {
        throw new MqttMalformedPacketError("PUBLISH has DUP set at QoS 0");
      }
    }
  }

  #decode(bytes: Uint8Array, start: number): MqttPacket {
    const first = bytes[start];
    const bodyStart = start + this.#headerLength;
    const reader = new MqttReader(bytes, bodyStart, bodyStart + this.#remaining);
    const packet = decodeBody(first >> 4, first & 0x0f, reader, this.#level ?? 5);
    if (packet.type === "connect") {
      this.#sawConnect = true;
      this.#level = packet.protocolLevel;
    }
    return packet;
  }
}
