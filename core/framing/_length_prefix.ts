/**
 * The length-prefix format shared by `LengthPrefixedDecoder` and `LengthPrefixedEncoder`:
 * options, defaults and their checks.
 *
 * @module
 */

/** The default {@linkcode LengthPrefixOptions.maxFrameLength}: 1 MiB. */
export const DEFAULT_MAX_FRAME_LENGTH = 1024 * 1024;

/** The wire format of a length prefix, shared by the decoder and the encoder. */
export interface LengthPrefixOptions {
  /**
   * Bytes of the length prefix: 2 (u16, payloads up to 65535 bytes) or 4 (u32).
   *
   * @default {4}
   */
  lengthSize?: 2 | 4;
  /**
   * Byte order of the length prefix.
   *
   * @default {"big"}
   */
  endian?: "big" | "little";
  /**
   * Longest payload accepted, in bytes, not counting the prefix; with `lengthSize: 2` the
   * limit is also at most 65535. The decoder raises {@linkcode FrameTooLongError} past it and
   * skips the frame; the encoder throws a `RangeError`.
   *
   * @default {1048576}
   */
  maxFrameLength?: number;
}

/** Options read and checked once. */
export interface ResolvedLengthPrefix {
  lengthSize: 2 | 4;
  littleEndian: boolean;
  maxFrameLength: number;
}

/**
 * Checks length-prefix options and fills in the defaults.
 *
 * @throws {RangeError} When an option is out of range.
 */
export function resolveLengthPrefix(options: LengthPrefixOptions = {}): ResolvedLengthPrefix {
  const lengthSize = options.lengthSize ?? 4;
  if (lengthSize !== 2 && lengthSize !== 4) {
    throw new RangeError(`lengthSize must be 2 or 4, got ${lengthSize}`);
  }
  const endian = options.endian ?? "big";
  if (endian !== "big" && endian !== "little") {
    throw new RangeError(`endian must be "big" or "little", got "${endian}"`);
  }
  const max = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
  if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) {
    throw new RangeError(`maxFrameLength must be a positive integer, got ${max}`);
  }
  return {
    lengthSize,
    littleEndian: endian === "little",
    maxFrameLength: lengthSize === 2 ? Math.min(max, 0xffff) : max,
  };
}
