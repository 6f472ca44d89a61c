/**
 * Typed errors of the binary framing codecs (`HeaderDecoder`, `LengthPrefixedDecoder`). An
 * over-long length-prefixed frame raises the shared {@linkcode FrameTooLongError} of
 * `core/errors.ts`; a header that cannot start a frame raises {@linkcode MalformedFrameError}.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";

/**
 * Why a message header is malformed:
 *
 * | reason         | the header's `size` …                                             |
 * | -------------- | ----------------------------------------------------------------- |
 * | `"too-short"`  | is below 8, the size of the header itself                         |
 * | `"too-long"`   | is above the decoder's `maxFrameSize`                             |
 * | `"misaligned"` | is fine, but the padding that ends the frame at an 8-byte boundary is not zero: the peer does not pad, or the stream lost its alignment |
 */
export type MalformedFrameReason = "too-short" | "too-long" | "misaligned";

/**
 * A message header that cannot start a valid frame: its size is below the header's own size,
 * above the limit, or its padding is not zero. The stream cannot be framed past it, so the
 * decoder stops: every later call throws the same error, and the connection should close.
 *
 * @example Reading why
 * ```ts
 * import { MalformedFrameError } from "@speedo/speedo/framing";
 * import { ProtocolError } from "@speedo/speedo";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error = new MalformedFrameError("too-short", 4, 65535);
 * assert(error instanceof ProtocolError);
 * assertEquals([error.reason, error.size, error.maxSize], ["too-short", 4, 65535]);
 * assertEquals(error.message, "Malformed frame header: size 4 is below the 8-byte header");
 * ```
 */
export class MalformedFrameError extends ProtocolError {
  /** What is wrong with the header. */
  readonly reason: MalformedFrameReason;
  /** The `size` field read from the header. */
  readonly size: number;
  /** The decoder's `maxFrameSize`. */
  readonly maxSize: number;

  /**
   * Makes the error.
   *
   * @param reason What is wrong with the header.
   * @param size The `size` field read.
   * @param maxSize The decoder's limit.
   */
  constructor(reason: MalformedFrameReason, size: number, maxSize: number) {
    super(`Malformed frame header: ${describe(reason, size, maxSize)}`);
    this.name = "MalformedFrameError";
    this.reason = reason;
    this.size = size;
    this.maxSize = maxSize;
  }
}

function describe(reason: MalformedFrameReason, size: number, maxSize: number): string {
  switch (reason) {
    case "too-short":
      return `size ${size} is below the 8-byte header`;
    case "too-long":
      return `size ${size} exceeds the limit of ${maxSize} bytes`;
    case "misaligned":
      return `the padding after a frame of size ${size} is not zero (the stream is not 8-byte aligned)`;
  }
}
