/**
 * The shape shared by Speedo's pull decoders: {@linkcode LineDecoder},
 * {@linkcode HeaderDecoder}, {@linkcode LengthPrefixedDecoder}, and decoders built on
 * {@linkcode ByteCursor}.
 *
 * @module
 */

/**
 * A pure pull decoder: bytes in, frames out; no sockets, no timers (tokio-util's `Decoder`,
 * Netty's `ByteToMessageDecoder`, turned into a pull parser).
 *
 * The contract, as a grammar of calls: `(feed next* next→null)*`, that is:
 *
 * - {@linkcode Decoder.feed} gives the next chunk of the stream, appended to the bytes the
 *   decoder holds of a frame not yet complete. Call `next` until it returns `null` before
 *   feeding again: a decoder may read the chunk in place, so it must stay untouched until then,
 *   and bytes of a chunk not yet framed may be dropped by the next feed.
 * - {@linkcode Decoder.next} returns the next complete frame, or `null` for "need more bytes".
 *   `null` is a normal answer, not an error: the bytes of the incomplete frame are kept (see
 *   `buffered`), and the frame comes out of a later `next`, after more feeds. A frame is often
 *   a view into the chunk or into the decoder's buffer: it is valid until the next call on the
 *   decoder; copy it to keep it.
 * - A stream the decoder cannot frame makes `next` throw a typed error, a subclass of
 *   {@linkcode ProtocolError}: {@linkcode FrameTooLongError} for a frame over the decoder's
 *   bounded limit (thrown as soon as the limit is passed, before the rest of the frame arrives;
 *   the decoder skips that frame and goes on), or an error of the format, after which the
 *   decoder may stay failed (then end the connection). `HeaderDecoder` refuses an over-size
 *   header with its format error, `MalformedFrameError` (`"too-long"`): it cannot skip a frame.
 * - {@linkcode Decoder.buffered} is the number of bytes held of a frame not yet complete: 0
 *   once a stream of complete frames has been read to `null`, and bounded by the decoder's limit.
 *
 * Implementations: {@linkcode LineDecoder} (lines), {@linkcode HeaderDecoder} (8-byte message
 * headers), {@linkcode LengthPrefixedDecoder} (u16/u32 length prefixes). A decoder for a format
 * that mixes lines and counted bytes (RESP, NATS, SMTP `DATA`, memcached) can be built on
 * {@linkcode ByteCursor} (its example reads RESP bulk strings).
 *
 * @typeParam T The frame: the bytes of a line or payload, or a parsed message.
 *
 * @example Draining any decoder
 * ```ts
 * import type { Decoder } from "@speedo/speedo/framing";
 * import { LengthPrefixedDecoder } from "./length_prefixed_decoder.ts";
 * import { LineDecoder } from "./line_decoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * function frames(decoder: Decoder<Uint8Array>, chunks: number[][]): number[][] {
 *   const out: number[][] = [];
 *   for (const chunk of chunks) {
 *     decoder.feed(new Uint8Array(chunk));
 *     for (let frame = decoder.next(); frame !== null; frame = decoder.next()) out.push([...frame]);
 *   }
 *   assertEquals(decoder.buffered, 0);
 *   return out;
 * }
 *
 * assertEquals(frames(new LineDecoder(), [[1, 10, 2], [10]]), [[1], [2]]);
 * assertEquals(frames(new LengthPrefixedDecoder({ lengthSize: 2 }), [[0, 1], [7]]), [[7]]);
 * ```
 */
export interface Decoder<T> {
  /**
   * Gives the decoder the next chunk of the stream, after `next` has returned `null`.
   *
   * @param chunk Bytes read; leave them untouched until `next` returns `null`.
   */
  feed(chunk: Uint8Array): void;
  /**
   * Returns the next complete frame, or `null` when more bytes are needed.
   *
   * @returns The frame, valid until the next call on the decoder, or `null`.
   * @throws {ProtocolError} A subclass, when the stream cannot be framed.
   */
  next(): T | null;
  /** Bytes held of a frame not yet complete. */
  readonly buffered: number;
}
