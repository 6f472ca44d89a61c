/**
 * Reads the data types of MQTT (spec §1.5) from a packet's body, bounded by the body's end.
 *
 * @module
 */

import { MqttMalformedPacketError } from "./mqtt_errors.ts";

// ignoreBOM: a leading U+FEFF is part of the string and must not be skipped (spec §1.5.4).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A cursor over one packet's body; every read past `end` is a malformed packet. */
export class MqttReader {
  bytes: Uint8Array;
  pos: number;
  end: number;

  constructor(bytes: Uint8Array, pos: number, end: number) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  #need(count: number): void {
    if (this.end - this.pos < count) {
      throw new MqttMalformedPacketError("Packet ends inside a field");
    }
  }

  u8(): number {
    this.#need(1);
    return this.bytes[this.pos++];
  }

  u16(): number {
    this.#need(2);
    const value = (this.bytes[this.pos] << 8) | this.bytes[this.pos + 1];
    this.pos += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** A Variable Byte Integer: at most four bytes, seven bits each, low group first. */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const byte = this.u8();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new MqttMalformedPacketError("Variable byte integer is longer than 4 bytes");
  }

  /** Binary Data: a two-byte length, then the bytes, as a view. */
  binary(): Uint8Array {
    const length = this.u16();
    this.#need(length);
    const view = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return view;
  }

  /**
   * A UTF-8 Encoded String: well-formed UTF-8 (no surrogates, no overlong forms) without
   * U+0000, which the spec makes a malformed packet (§1.5.4).
   */
  string(): string {
    const bytes = this.binary();
    // Short ASCII (topics, client ids): built here, no call out to the decoder. A byte of 0 or
    // above 0x7F goes the long way, which checks it.
    if (bytes.length <= 64) {
      let ascii = "";
      let i = 0;
      for (; i < bytes.length; i++) {
        const byte = bytes[i];
        if (byte === 0 || byte > 0x7f) break;
        ascii += String.fromCharCode(byte);
      }
      if (i === bytes.length) return ascii;
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch (cause) {
      throw new MqttMalformedPacketError("String is not valid UTF-8", { cause });
    }
    if (text.includes("\u0000")) {
      throw new MqttMalformedPacketError("String holds the null character U+0000");
    }
    return text;
  }
}
