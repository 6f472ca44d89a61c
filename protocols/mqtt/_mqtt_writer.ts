/**
 * Sizes and writes the data types of MQTT (spec §1.5), so an encoder can measure a packet,
 * allocate once, then fill it.
 *
 * @module
 */

const utf8 = new TextEncoder();

/** Bytes of `text` in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length += 4;
        i++;
      } else length += 3;
    } else length += 3;
  }
  return length;
}

/** Bytes of `value` as a Variable Byte Integer. */
export function varintLength(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  throw new RangeError(`Variable byte integer must be below 268435456, got ${value}`);
}

/** A cursor that writes into a buffer sized beforehand. */
export class MqttWriter {
  bytes: Uint8Array;
  pos: number;

  constructor(bytes: Uint8Array, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }

  u8(value: number): void {
    this.bytes[this.pos++] = value;
  }

  u16(value: number): void {
    this.bytes[this.pos++] = value >>> 8;
    this.bytes[this.pos++] = value & 0xff;
  }

  u32(value: number): void {
    this.bytes[this.pos++] = value >>> 24;
    this.bytes[this.pos++] = (value >>> 16) & 0xff;
    this.bytes[this.pos++] = (value >>> 8) & 0xff;
    this.bytes[this.pos++] = value & 0xff;
  }

  varint(value: number): void {
    do {
      let byte = value % 128;
      value = Math.floor(value / 128);
      if (value > 0) byte |= 0x80;
      this.bytes[this.pos++] = byte;
    } while (value > 0);
  }

  binary(value: Uint8Array): void {
    this.u16(value.length);
    this.bytes.set(value, this.pos);
    this.pos += value.length;
  }

  /** Writes the length then the text; `length` is its {@linkcode utf8Length}. */
  string(value: string, length: number): void {
    this.u16(length);
    if (length === value.length && length <= 64) {
      // Short ASCII (its UTF-8 length is its length): copied here, no call out to the encoder.
      const bytes = this.bytes;
      for (let i = 0; i < length; i++) bytes[this.pos + i] = value.charCodeAt(i);
    } else {
      utf8.encodeInto(value, this.bytes.subarray(this.pos, this.pos + length));
    }
    this.pos += length;
  }

  raw(value: Uint8Array): void {
    this.bytes.set(value, this.pos);
    this.pos += value.length;
  }
}

/** Throws unless `text` fits a two-byte length prefix; returns its UTF-8 length. */
export function checkedStringLength(name: string, text: string): number {
  const length = utf8Length(text);
  if (length > 0xffff) {
    throw new RangeError(`${name} must be at most 65535 bytes of UTF-8, got ${length}`);
  }
  return length;
}
