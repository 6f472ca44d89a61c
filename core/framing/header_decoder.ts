import { MalformedFrameError } from "./framing_errors.ts";
import type { Decoder } from "./decoder.ts";
import { alignedFrameLength, HEADER_SIZE, MAX_FRAME_SIZE } from "./message_header.ts";

const EMPTY = new Uint8Array(0);

/** Options of {@linkcode HeaderDecoder}. */
export interface HeaderDecoderOptions {
  /**
   * Largest `size` accepted (header and payload, without padding), from 8 to 65535. A header
   * above it ends the stream with a {@linkcode MalformedFrameError}.
   *
   * @default {65535}
   */
  maxFrameSize?: number;
}

/**
 * A pure framer for the 8-byte message header: bytes in, frames out; no sockets, no timers.
 *
 * ```
 *  0          2          4                     8                    size   align8(size)
 *  ┌ size ────┬ type ────┬ ackSeq ─────────────┬ payload … ───────────┬ padding ┐
 *  │ u16 LE   │ u16 LE   │ u32 LE              │ size - 8 bytes       │ 0 to 7  │
 *  └──────────┴──────────┴─────────────────────┴──────────────────────┴ zeros ──┘
 * ```
 *
 * Use it as a pull parser: {@linkcode HeaderDecoder.feed} a chunk, then call
 * {@linkcode HeaderDecoder.next} until it returns `null` ("need more bytes"). `next` returns
 * the payload; the header of that frame is in {@linkcode HeaderDecoder.type},
 * {@linkcode HeaderDecoder.ackSeq} and {@linkcode HeaderDecoder.size}. The payload is a view
 * into the chunk when the whole frame lies in it (no copy), or into the decoder's own buffer
 * when it was assembled from several chunks: either way it is valid only until the next call.
 * {@linkcode HeaderDecoder.advance} frames without making that view, for loops that read a few
 * bytes of each payload: it gives the payload's length, and where it lies.
 *
 * A malformed header (size below 8, above `maxFrameSize`, or non-zero padding) cannot be
 * skipped, since the next frame's start is unknown: `next` throws
 * {@linkcode MalformedFrameError} as soon as the header is read, and again at every later
 * call. Close the connection then.
 *
 * @example Frames split across chunks
 * ```ts
 * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const encoder = new HeaderEncoder();
 * const wire = new Uint8Array([
 *   ...encoder.encode(7, new TextEncoder().encode("hello"), 41),
 *   ...encoder.encode(0, new Uint8Array(0), 42),
 * ]);
 * assertEquals(wire.length, 16 + 8);
 * const decoder = new HeaderDecoder();
 * const frames: string[] = [];
 * for (const chunk of [wire.subarray(0, 5), wire.subarray(5, 19), wire.subarray(19)]) {
 *   decoder.feed(chunk);
 *   for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
 *     frames.push(`${decoder.type}:${decoder.ackSeq}:${new TextDecoder().decode(payload)}`);
 *   }
 * }
 * assertEquals(frames, ["7:41:hello", "0:42:"]);
 * ```
 *
 * @example A malformed header ends the stream
 * ```ts
 * import { HeaderDecoder, MalformedFrameError } from "@speedo/speedo/framing";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const decoder = new HeaderDecoder();
 * decoder.feed(new Uint8Array([4, 0, 1, 0, 0, 0, 0, 0]));
 * const error = assertThrows(() => decoder.next(), MalformedFrameError);
 * assertEquals(error.reason, "too-short");
 * assertThrows(() => decoder.next(), MalformedFrameError);
 * ```
 */
export class HeaderDecoder implements Decoder<Uint8Array> {
  /** Largest `size` accepted. */
  readonly maxFrameSize: number;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  /** Bytes of a frame begun in earlier chunks (header first). */
  #partial: Uint8Array = EMPTY;
  #partialLength = 0;
  #error: MalformedFrameError | undefined;
  #size = 0;
  #type = 0;
  #ackSeq = 0;
  /** Where the payload last framed lies: the chunk, or `#partial`, from `#payloadStart`. */
  #source: Uint8Array = EMPTY;
  #payloadStart = 0;

  /**
   * Makes a decoder.
   *
   * @param options The frame size limit.
   */
  constructor(options: HeaderDecoderOptions = {}) {
    const max = options.maxFrameSize ?? MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < HEADER_SIZE || max > MAX_FRAME_SIZE) {
      throw new RangeError(`maxFrameSize must be an integer from 8 to 65535, got ${max}`);
    }
    this.maxFrameSize = max;
  }

  /**
   * The `type` of the frame last returned by {@linkcode HeaderDecoder.next}.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new HeaderEncoder().encode(9, new Uint8Array(1)));
   * decoder.next();
   * assertEquals(decoder.type, 9);
   * ```
   */
  get type(): number {
    return this.#type;
  }

  /**
   * The `ackSeq` of the frame last returned by {@linkcode HeaderDecoder.next}.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new HeaderEncoder().encode(1, new Uint8Array(0), 0xffffffff));
   * decoder.next();
   * assertEquals(decoder.ackSeq, 0xffffffff);
   * ```
   */
  get ackSeq(): number {
    return this.#ackSeq;
  }

  /**
   * The `size` (header plus payload, without padding) of the frame last returned.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new HeaderEncoder().encode(1, new Uint8Array(3)));
   * assertEquals(decoder.next()!.length, 3);
   * assertEquals(decoder.size, 11);
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Bytes held of a frame not yet complete.
   *
   * @example
   * ```ts
   * import { HeaderDecoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new Uint8Array([16, 0, 1, 0]));
   * assertEquals(decoder.next(), null);
   * assertEquals(decoder.buffered, 4);
   * ```
   */
  get buffered(): number {
    return this.#partialLength;
  }

  /**
   * Gives the decoder the next chunk of the stream. Call {@linkcode HeaderDecoder.next} until
   * it returns `null` before feeding again: bytes not yet framed are dropped by the next feed.
   *
   * @param chunk Bytes read; they must stay untouched until `next` returns `null`.
   *
   * @example
   * ```ts
   * import { HeaderDecoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0]));
   * assertEquals(decoder.next(), new Uint8Array(0));
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /**
   * Returns the payload of the next complete frame, or `null` when the chunk fed is used up.
   *
   * @returns A view of the payload, valid until the next call on this decoder, or `null`.
   * @throws {MalformedFrameError} When a header is malformed; the stream cannot go on.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new HeaderEncoder().encode(2, new Uint8Array([1, 2, 3])));
   * assertEquals(decoder.next(), new Uint8Array([1, 2, 3]));
   * assertEquals(decoder.next(), null);
   * ```
   */
  next(): Uint8Array | null {
    const length = this.advance();
    if (length < 0) return null;
    const source = this.#source;
    // The constructor makes a view faster than `subarray`, which looks up the species.
    return new Uint8Array(source.buffer, source.byteOffset + this.#payloadStart, length);
  }

  /**
   * Frames the next complete frame as {@linkcode HeaderDecoder.next} does, without making a
   * view of its payload (a view costs more than the rest of the framing): the payload is the
   * `length` bytes of {@linkcode HeaderDecoder.source} from
   * {@linkcode HeaderDecoder.payloadStart}, valid until the next call on this decoder.
   *
   * @returns The payload's length, or -1 when the chunk fed is used up.
   * @throws {MalformedFrameError} When a header is malformed; the stream cannot go on.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new HeaderDecoder();
   * decoder.feed(new HeaderEncoder().encode(2, new Uint8Array([1, 2, 3])));
   * const length = decoder.advance();
   * const start = decoder.payloadStart;
   * assertEquals(decoder.source.subarray(start, start + length), new Uint8Array([1, 2, 3]));
   * assertEquals(decoder.advance(), -1);
   * ```
   */
  advance(): number {
    if (this.#error !== undefined) throw this.#error;
    if (this.#partialLength > 0) return this.#continuePartial();
    const chunk = this.#chunk;
    const start = this.#pos;
    const available = chunk.length - start;
    if (available === 0) return -1;
    if (available < HEADER_SIZE) {
      this.#append(chunk.subarray(start));
      this.#pos = chunk.length;
      return -1;
    }
    const size = chunk[start] | (chunk[start + 1] << 8);
    this.#check(size);
    const length = alignedFrameLength(size);
    if (available < length) {
      this.#append(chunk.subarray(start));
      this.#pos = chunk.length;
      return -1;
    }
    this.#checkPadding(chunk, start + size, start + length, size);
    this.#size = size;
    this.#type = chunk[start + 2] | (chunk[start + 3] << 8);
    this.#ackSeq = (chunk[start + 4] | (chunk[start + 5] << 8) | (chunk[start + 6] << 16) |
      (chunk[start + 7] << 24)) >>> 0;
    this.#pos = start + length;
    this.#source = chunk;
    this.#payloadStart = start + HEADER_SIZE;
    return size - HEADER_SIZE;
  }

  /**
   * The bytes that hold the payload last framed by {@linkcode HeaderDecoder.advance}: the chunk
   * fed, or the decoder's own buffer for a frame assembled from several chunks.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const chunk = new HeaderEncoder().encode(1, new Uint8Array([5]));
   * const decoder = new HeaderDecoder();
   * decoder.feed(chunk);
   * decoder.advance();
   * assertEquals(decoder.source, chunk);
   * ```
   */
  get source(): Uint8Array {
    return this.#source;
  }

  /**
   * Where the payload last framed by {@linkcode HeaderDecoder.advance} starts in
   * {@linkcode HeaderDecoder.source}.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const encoder = new HeaderEncoder();
   * const decoder = new HeaderDecoder();
   * decoder.feed(new Uint8Array([...encoder.encode(1, new Uint8Array(1)), ...encoder.encode(1, new Uint8Array(1))]));
   * decoder.advance();
   * decoder.advance();
   * assertEquals(decoder.payloadStart, 24);
   * ```
   */
  get payloadStart(): number {
    return this.#payloadStart;
  }

  /** Completes the frame begun in earlier chunks from the current chunk. */
  #continuePartial(): number {
    const chunk = this.#chunk;
    if (this.#partialLength < HEADER_SIZE) {
      const take = Math.min(HEADER_SIZE - this.#partialLength, chunk.length - this.#pos);
      this.#append(chunk.subarray(this.#pos, this.#pos + take));
      this.#pos += take;
      if (this.#partialLength < HEADER_SIZE) return -1;
    }
    const partial = this.#partial;
    const size = partial[0] | (partial[1] << 8);
    this.#check(size);
    const length = alignedFrameLength(size);
    const take = Math.min(length - this.#partialLength, chunk.length - this.#pos);
    this.#append(chunk.subarray(this.#pos, this.#pos + take));
    this.#pos += take;
    if (this.#partialLength < length) return -1;
    const frame = this.#partial;
    this.#checkPadding(frame, size, length, size);
    this.#size = size;
    this.#type = frame[2] | (frame[3] << 8);
    this.#ackSeq = (frame[4] | (frame[5] << 8) | (frame[6] << 16) | (frame[7] << 24)) >>> 0;
    this.#partialLength = 0;
    this.#source = frame;
    this.#payloadStart = HEADER_SIZE;
    return size - HEADER_SIZE;
  }

  #check(size: number): void {
    if (size < HEADER_SIZE) this.#fail("too-short", size);
    if (size > this.maxFrameSize) this.#fail("too-long", size);
  }

  #checkPadding(bytes: Uint8Array, from: number, to: number, size: number): void {
    for (let i = from; i < to; i++) {
      if (bytes[i] !== 0) this.#fail("misaligned", size);
    }
  }

  #fail(reason: "too-short" | "too-long" | "misaligned", size: number): never {
    this.#error = new MalformedFrameError(reason, size, this.maxFrameSize);
    this.#partial = EMPTY;
    this.#partialLength = 0;
    this.#chunk = EMPTY;
    this.#pos = 0;
    throw this.#error;
  }

  /** Appends to the partial frame, growing the buffer geometrically (at most 64 KiB). */
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
