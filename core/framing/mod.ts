/**
 * Framing codecs: pure objects that turn a byte stream into frames and frames into bytes, with
 * no sockets and no timers. Each decoder has a bounded default and a typed error past it, and
 * follows one contract, {@linkcode Decoder}: `feed` a chunk, call `next` until it returns `null`
 * (need more bytes), and read `buffered` for the bytes held.
 *
 * - {@linkcode LineDecoder}: newline-framed lines (LF, CRLF, telnet's CR NUL).
 * - {@linkcode LengthPrefixedDecoder} / {@linkcode LengthPrefixedEncoder}: u16/u32 length
 *   prefixes, little or big endian.
 * - {@linkcode HeaderDecoder} / {@linkcode HeaderEncoder}: the 8-byte message header of the RPC
 *   and session protocols.
 * - {@linkcode ByteCursor}: one accumulated buffer read as lines and exact byte counts, for
 *   protocols that mix both (RESP, NATS payloads, SMTP DATA), without a copy per split.
 *
 * @example Lines, at any chunk boundary
 * ```ts
 * import { LineDecoder } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const lines = new LineDecoder();
 * const text = (bytes: Uint8Array | null) => bytes && new TextDecoder().decode(bytes);
 * lines.feed(new TextEncoder().encode("hel"));
 * assertEquals(lines.next(), null);
 * lines.feed(new TextEncoder().encode("lo\r\nbye\n"));
 * assertEquals(text(lines.next()), "hello");
 * assertEquals(text(lines.next()), "bye");
 * ```
 *
 * @module
 */

export { FrameTooLongError, ProtocolError } from "../errors.ts";
export * from "./byte_cursor.ts";
export type { Decoder } from "./decoder.ts";
export * from "./framing_errors.ts";
export * from "./header_decoder.ts";
export * from "./header_encoder.ts";
export * from "./length_prefixed_decoder.ts";
export * from "./length_prefixed_encoder.ts";
export * from "./line_decoder.ts";
export {
  alignedFrameLength,
  FRAME_ALIGNMENT,
  HEADER_SIZE,
  MAX_FRAME_SIZE,
  type MessageHeader,
} from "./message_header.ts";
