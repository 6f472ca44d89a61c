import { alignedFrameLength, HEADER_SIZE, MAX_FRAME_SIZE } from "./message_header.ts";

/** Options of {@linkcode HeaderEncoder}. */
export interface HeaderEncoderOptions {
  /**
   * Largest `size` (header and payload, without padding) the encoder writes, from 8 to 65535.
   * Set it to the peer's {@linkcode HeaderDecoderOptions.maxFrameSize}.
   *
   * @default {65535}
   */
  maxFrameSize?: number;
}

/**
 * Writes frames with the 8-byte message header: header, payload, and zero padding up to the
 * next multiple of 8 bytes. The inverse of {@linkcode HeaderDecoder}.
 *
 * ```
 *  0          2          4                     8                    size   align8(size)
 *  ┌ size ────┬ type ────┬ ackSeq ─────────────┬ payload … ───────────┬ padding ┐
 *  │ u16 LE   │ u16 LE   │ u32 LE              │ size - 8 bytes       │ 0 to 7  │
 *  └──────────┴──────────┴─────────────────────┴──────────────────────┴ zeros ──┘
 * ```
 *
 * @example One frame, and several into one buffer
 * ```ts
 * import { HeaderEncoder } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const encoder = new HeaderEncoder();
 * assertEquals(
 *   encoder.encode(0x0102, new Uint8Array([0xaa]), 5),
 *   new Uint8Array([9, 0, 2, 1, 5, 0, 0, 0, 0xaa, 0, 0, 0, 0, 0, 0, 0]),
 * );
 * const batch = new Uint8Array(encoder.frameLength(1) + encoder.frameLength(0));
 * let at = encoder.encodeInto(batch, 0, 1, new Uint8Array([7]));
 * at += encoder.encodeInto(batch, at, 0, new Uint8Array(0), 3);
 * assertEquals(at, 24);
 * ```
 */
export class HeaderEncoder {
  /** Largest `size` written. */
  readonly maxFrameSize: number;

  /**
   * Makes an encoder.
   *
   * @param options The frame size limit.
   */
  constructor(options: HeaderEncoderOptions = {}) {
    const max = options.maxFrameSize ?? MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < HEADER_SIZE || max > MAX_FRAME_SIZE) {
      throw new RangeError(`maxFrameSize must be an integer from 8 to 65535, got ${max}`);
    }
    this.maxFrameSize = max;
  }

  /**
   * Largest payload a frame can carry: `maxFrameSize - 8`.
   *
   * @example
   * ```ts
   * import { HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new HeaderEncoder().maxPayloadLength, 65527);
   * ```
   */
  get maxPayloadLength(): number {
    return this.maxFrameSize - HEADER_SIZE;
  }

  /**
   * Bytes the frame of a payload takes on the wire, padding included.
   *
   * @param payloadLength The payload's length.
   * @returns The frame's length, a multiple of 8.
   *
   * @example
   * ```ts
   * import { HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals([0, 1, 8, 9].map((n) => new HeaderEncoder().frameLength(n)), [8, 16, 16, 24]);
   * ```
   */
  frameLength(payloadLength: number): number {
    return alignedFrameLength(HEADER_SIZE + payloadLength);
  }

  /**
   * Encodes one frame into a new array.
   *
   * @param type The message type, 0 to 65535 (0 is the heartbeat type).
   * @param payload The payload, at most {@linkcode HeaderEncoder.maxPayloadLength} bytes.
   * @param ackSeq The acknowledged sequence number, 0 to 4294967295.
   * @returns The frame.
   * @throws {RangeError} When the payload is too long or a field is out of range.
   *
   * @example
   * ```ts
   * import { HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new HeaderEncoder().encode(0, new Uint8Array(0)), new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0]));
   * ```
   */
  encode(type: number, payload: Uint8Array, ackSeq = 0): Uint8Array {
    const frame = new Uint8Array(this.frameLength(payload.length));
    this.encodeInto(frame, 0, type, payload, ackSeq);
    return frame;
  }

  /**
   * Encodes one frame into `target` at `offset`, padding included (the padding is written as
   * zeros, so `target` may be a reused buffer).
   *
   * @param target Where to write; it needs {@linkcode HeaderEncoder.frameLength} bytes free.
   * @param offset Where the frame starts in `target`.
   * @param type The message type, 0 to 65535.
   * @param payload The payload.
   * @param ackSeq The acknowledged sequence number.
   * @returns Bytes written: the frame's length.
   * @throws {RangeError} When the payload is too long, a field is out of range, or `target`
   *   has no room.
   *
   * @example
   * ```ts
   * import { HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const target = new Uint8Array(32).fill(0xff);
   * assertEquals(new HeaderEncoder().encodeInto(target, 8, 1, new Uint8Array([1])), 16);
   * assertEquals(target.subarray(8, 24), new Uint8Array([9, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
   * ```
   */
  encodeInto(
    target: Uint8Array,
    offset: number,
    type: number,
    payload: Uint8Array,
    ackSeq = 0,
  ): number {
    const length = this.writeHeader(target, offset, type, payload.length, ackSeq);
    target.set(payload, offset + HEADER_SIZE);
    return length;
  }

  /**
   * Writes a frame's header and zero padding for a payload the caller writes itself at
   * `offset + 8`, so a payload built in place (behind a protocol's own header, say) needs no
   * copy into a separate array first.
   *
   * @param target Where to write; it needs {@linkcode HeaderEncoder.frameLength} bytes free.
   * @param offset Where the frame starts in `target`.
   * @param type The message type, 0 to 65535.
   * @param payloadLength Bytes of the payload.
   * @param ackSeq The acknowledged sequence number.
   * @returns The frame's length, padding included.
   * @throws {RangeError} When the payload is too long, a field is out of range, or `target`
   *   has no room.
   *
   * @example
   * ```ts
   * import { HeaderDecoder, HeaderEncoder } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const frame = new Uint8Array(16);
   * const length = new HeaderEncoder().writeHeader(frame, 0, 4, 2);
   * frame.set([0xca, 0xfe], 8);
   * const decoder = new HeaderDecoder();
   * decoder.feed(frame.subarray(0, length));
   * assertEquals(decoder.next(), new Uint8Array([0xca, 0xfe]));
   * ```
   */
  writeHeader(
    target: Uint8Array,
    offset: number,
    type: number,
    payloadLength: number,
    ackSeq = 0,
  ): number {
    const size = HEADER_SIZE + payloadLength;
    if (size > this.maxFrameSize) {
      throw new RangeError(
        `Payload of ${payloadLength} bytes exceeds the limit of ${this.maxPayloadLength} bytes`,
      );
    }
    if ((type & 0xffff) !== type) {
      throw new RangeError(`Message type must be an integer from 0 to 65535, got ${type}`);
    }
    // `>>> 0` keeps integers from 0 to 2^32 - 1 as they are, and changes anything else.
    if (ackSeq >>> 0 !== ackSeq) {
      throw new RangeError(`ackSeq must be an integer from 0 to 4294967295, got ${ackSeq}`);
    }
    const length = alignedFrameLength(size);
    if (offset < 0 || offset + length > target.length) {
      throw new RangeError(
        `A frame of ${length} bytes does not fit at offset ${offset} of ${target.length} bytes`,
      );
    }
    target[offset] = size & 0xff;
    target[offset + 1] = size >>> 8;
    target[offset + 2] = type & 0xff;
    target[offset + 3] = type >>> 8;
    target[offset + 4] = ackSeq & 0xff;
    target[offset + 5] = (ackSeq >>> 8) & 0xff;
    target[offset + 6] = (ackSeq >>> 16) & 0xff;
    target[offset + 7] = ackSeq >>> 24;
    // At most 7 bytes of padding: a loop costs less than a call to fill.
    for (let i = offset + size; i < offset + length; i++) target[i] = 0;
    return length;
  }
}
