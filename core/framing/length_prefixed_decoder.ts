import { FrameTooLongError } from "../errors.ts";
import { type LengthPrefixOptions, resolveLengthPrefix } from "./_length_prefix.ts";
import type { Decoder } from "./decoder.ts";

export { DEFAULT_MAX_FRAME_LENGTH, type LengthPrefixOptions } from "./_length_prefix.ts";

const EMPTY = new Uint8Array(0);

/**
 * A pure framer for length-prefixed frames: bytes in, payloads out; no sockets, no timers.
 *
 * ```
 *  lengthSize 4:  ┌ length u32 (big or little endian) ┬ payload: length bytes … ┐
 *                 0                                    4                   4 + length
 *  lengthSize 2:  ┌ length u16 ┬ payload: length bytes … ┐
 *                 0            2                2 + length
 * ```
 *
 * The length counts the payload only. Use it as a pull parser:
 * {@linkcode LengthPrefixedDecoder.feed} a chunk, then call
 * {@linkcode LengthPrefixedDecoder.next} until it returns `null` ("need more bytes"). A payload
 * is a view into the chunk when the whole frame lies in it (no copy), or into the decoder's own
 * buffer when it was assembled from several chunks: either way it is valid only until the next
 * call. A frame longer than `maxFrameLength` raises {@linkcode FrameTooLongError} once, as soon
 * as its prefix is read; its payload is then skipped without being buffered, and the next
 * `next` calls go on with the frame after it.
 *
 * @example Big-endian u32 prefixes, split across chunks
 * ```ts
 * import { LengthPrefixedDecoder } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const decoder = new LengthPrefixedDecoder();
 * const payloads: number[][] = [];
 * for (const chunk of [[0, 0, 0], [2, 7, 8, 0, 0], [0, 0]]) {
 *   decoder.feed(new Uint8Array(chunk));
 *   for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
 *     payloads.push([...payload]);
 *   }
 * }
 * assertEquals(payloads, [[7, 8], []]);
 * ```
 *
 * @example A frame over the limit is skipped
 * ```ts
 * import { FrameTooLongError } from "@speedo/speedo";
 * import { LengthPrefixedDecoder } from "@speedo/speedo/framing";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const decoder = new LengthPrefixedDecoder({ lengthSize: 2, endian: "little", maxFrameLength: 2 });
 * decoder.feed(new Uint8Array([3, 0, 1, 2, 3, 1, 0, 9]));
 * const error = assertThrows(() => decoder.next(), FrameTooLongError);
 * assertEquals([error.length, error.maxLength], [3, 2]);
 * assertEquals(decoder.next(), new Uint8Array([9]));
 * ```
 */
export class LengthPrefixedDecoder implements Decoder<Uint8Array> {
  /** Bytes of the length prefix. */
  readonly lengthSize: 2 | 4;
  /** Longest payload accepted. */
  readonly maxFrameLength: number;
  readonly #littleEndian: boolean;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  /** Bytes of the frame begun in earlier chunks (prefix first). */
  #partial: Uint8Array = EMPTY;
  #partialLength = 0;
  /** Payload bytes still to skip of a frame over the limit. */
  #skip = 0;

  /**
   * Makes a decoder.
   *
   * @param options The prefix's size and byte order, and the limit.
   */
  constructor(options: LengthPrefixOptions = {}) {
    const resolved = resolveLengthPrefix(options);
    this.lengthSize = resolved.lengthSize;
    this.#littleEndian = resolved.littleEndian;
    this.maxFrameLength = resolved.maxFrameLength;
  }

  /**
   * Bytes held of a frame not yet complete.
   *
   * @example
   * ```ts
   * import { LengthPrefixedDecoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new LengthPrefixedDecoder();
   * decoder.feed(new Uint8Array([0, 0, 0, 9, 1]));
   * assertEquals(decoder.next(), null);
   * assertEquals(decoder.buffered, 5);
   * ```
   */
  get buffered(): number {
    return this.#partialLength;
  }

  /**
   * Gives the decoder the next chunk of the stream. Call
   * {@linkcode LengthPrefixedDecoder.next} until it returns `null` before feeding again.
   *
   * @param chunk Bytes read; they must stay untouched until `next` returns `null`.
   *
   * @example
   * ```ts
   * import { LengthPrefixedDecoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new LengthPrefixedDecoder({ lengthSize: 2 });
   * decoder.feed(new Uint8Array([0, 1, 42]));
   * assertEquals(decoder.next(), new Uint8Array([42]));
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /**
   * Returns the next complete payload, or `null` when the chunk fed is used up.
   *
   * @returns A view of the payload, valid until the next call on this decoder, or `null`.
   * @throws {FrameTooLongError} When a frame's length passes `maxFrameLength`; call `next`
   *   again to go on after it.
   *
   * @example
   * ```ts
   * import { LengthPrefixedDecoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new LengthPrefixedDecoder({ endian: "little" });
   * decoder.feed(new Uint8Array([1, 0, 0, 0, 5]));
   * assertEquals(decoder.next(), new Uint8Array([5]));
   * assertEquals(decoder.next(), null);
   * ```
   */
  next(): Uint8Array | null {
    const chunk = this.#chunk;
    const prefix = this.lengthSize;
    while (true) {
      if (this.#skip > 0) {
        const skipped = Math.min(this.#skip, chunk.length - this.#pos);
        this.#skip -= skipped;
        this.#pos += skipped;
        if (this.#skip > 0) return null;
      }
      if (this.#partialLength > 0) return this.#continuePartial();
      const start = this.#pos;
      const available = chunk.length - start;
      if (available === 0) return null;
      if (available < prefix) {
        this.#append(chunk.subarray(start));
        this.#pos = chunk.length;
        return null;
      }
      const length = this.#readLength(chunk, start);
      if (length > this.maxFrameLength) {
        this.#pos = start + prefix;
        this.#skip = length;
        throw new FrameTooLongError(length, this.maxFrameLength);
      }
      if (available < prefix + length) {
        this.#append(chunk.subarray(start));
        this.#pos = chunk.length;
        return null;
      }
      this.#pos = start + prefix + length;
      return chunk.subarray(start + prefix, start + prefix + length);
    }
  }

  #continuePartial(): Uint8Array | null {
    const chunk = this.#chunk;
    const prefix = this.lengthSize;
    if (this.#partialLength < prefix) {
      const take = Math.min(prefix - this.#partialLength, chunk.length - this.#pos);
      this.#append(chunk.subarray(this.#pos, this.#pos + take));
      this.#pos += take;
      if (this.#partialLength < prefix) return null;
      const length = this.#readLength(this.#partial, 0);
      if (length > this.maxFrameLength) {
        this.#partialLength = 0;
        this.#skip = length;
        throw new FrameTooLongError(length, this.maxFrameLength);
      }
    }
    const length = this.#readLength(this.#partial, 0);
    const take = Math.min(prefix + length - this.#partialLength, chunk.length - this.#pos);
    this.#append(chunk.subarray(this.#pos, this.#pos + take));
    this.#pos += take;
    if (this.#partialLength < prefix + length) return null;
    this.#partialLength = 0;
    const payload = this.#partial.subarray(prefix, prefix + length);
    // Give back a buffer grown by a large frame; the view returned keeps it alive meanwhile.
    if (this.#partial.length > 64 * 1024) this.#partial = EMPTY;
    return payload;
  }

  #readLength(bytes: Uint8Array, at: number): number {
    if (this.lengthSize === 2) {
      return this.#littleEndian
        ? bytes[at] | (bytes[at + 1] << 8)
        : (bytes[at] << 8) | bytes[at + 1];
    }
    return (this.#littleEndian
      ? bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)
      : (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  }

  /** Appends to the partial frame, growing the buffer geometrically. */
  #append(bytes: Uint8Array): void {
    const needed = this.#partialLength + bytes.length;
    if (needed > this.#partial.length) {
      let size = Math.max(64, this.#partial.length);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#partial.subarray(0, this.#partialLength));
      this.#partial = grown;
    }
    this.#partial.set(bytes, this.#partialLength);
    this.#partialLength = needed;
  }
}
