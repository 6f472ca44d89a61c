import {
  type LengthPrefixOptions,
  type ResolvedLengthPrefix,
  resolveLengthPrefix,
} from "./_length_prefix.ts";

/**
 * Writes length-prefixed frames, the inverse of {@linkcode LengthPrefixedDecoder}: a u16 or
 * u32 length (big or little endian), then the payload.
 *
 * ```
 *  ┌ length (lengthSize bytes) ┬ payload: length bytes … ┐
 * ```
 *
 * @example A u16 little-endian frame
 * ```ts
 * import { LengthPrefixedEncoder } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const encoder = new LengthPrefixedEncoder({ lengthSize: 2, endian: "little" });
 * assertEquals(encoder.encode(new Uint8Array([7, 8, 9])), new Uint8Array([3, 0, 7, 8, 9]));
 * ```
 */
export class LengthPrefixedEncoder {
  /** Bytes of the length prefix. */
  readonly lengthSize: 2 | 4;
  /** Longest payload written. */
  readonly maxFrameLength: number;
  readonly #format: ResolvedLengthPrefix;

  /**
   * Makes an encoder; use the same options as the peer's decoder.
   *
   * @param options The prefix's size and byte order, and the limit.
   */
  constructor(options: LengthPrefixOptions = {}) {
    this.#format = resolveLengthPrefix(options);
    this.lengthSize = this.#format.lengthSize;
    this.maxFrameLength = this.#format.maxFrameLength;
  }

  /**
   * Bytes the frame of a payload takes: prefix plus payload.
   *
   * @param payloadLength The payload's length.
   * @returns The frame's length.
   *
   * @example
   * ```ts
   * import { LengthPrefixedEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new LengthPrefixedEncoder().frameLength(10), 14);
   * ```
   */
  frameLength(payloadLength: number): number {
    return this.lengthSize + payloadLength;
  }

  /**
   * Encodes one frame into a new array.
   *
   * @param payload The payload, at most `maxFrameLength` bytes.
   * @returns The frame.
   * @throws {RangeError} When the payload is longer than `maxFrameLength`.
   *
   * @example
   * ```ts
   * import { LengthPrefixedEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new LengthPrefixedEncoder().encode(new Uint8Array([1])), new Uint8Array([0, 0, 0, 1, 1]));
   * ```
   */
  encode(payload: Uint8Array): Uint8Array {
    const frame = new Uint8Array(this.frameLength(payload.length));
    this.encodeInto(frame, 0, payload);
    return frame;
  }

  /**
   * Encodes one frame into `target` at `offset`.
   *
   * @param target Where to write; it needs {@linkcode LengthPrefixedEncoder.frameLength} bytes.
   * @param offset Where the frame starts in `target`.
   * @param payload The payload.
   * @returns Bytes written.
   * @throws {RangeError} When the payload is too long or `target` has no room.
   *
   * @example
   * ```ts
   * import { LengthPrefixedEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const target = new Uint8Array(6);
   * assertEquals(new LengthPrefixedEncoder({ lengthSize: 2 }).encodeInto(target, 1, new Uint8Array([5, 6])), 4);
   * assertEquals(target, new Uint8Array([0, 0, 2, 5, 6, 0]));
   * ```
   */
  encodeInto(target: Uint8Array, offset: number, payload: Uint8Array): number {
    const length = payload.length;
    if (length > this.maxFrameLength) {
      throw new RangeError(
        `Payload of ${length} bytes exceeds maxFrameLength (${this.maxFrameLength})`,
      );
    }
    const total = this.lengthSize + length;
    if (offset < 0 || offset + total > target.length) {
      throw new RangeError(
        `A frame of ${total} bytes does not fit at offset ${offset} of ${target.length} bytes`,
      );
    }
    const little = this.#format.littleEndian;
    if (this.lengthSize === 2) {
      target[offset + (little ? 0 : 1)] = length & 0xff;
      target[offset + (little ? 1 : 0)] = length >>> 8;
    } else {
      for (let i = 0; i < 4; i++) {
        target[offset + (little ? i : 3 - i)] = (length >>> (8 * i)) & 0xff;
      }
    }
    target.set(payload, offset + this.lengthSize);
    return total;
  }
}
