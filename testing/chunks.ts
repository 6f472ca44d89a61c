/**
 * Splits bytes into chunks of `size` bytes (the last may be shorter), as a socket could
 * deliver them.
 *
 * @param bytes The input.
 * @param size Bytes per chunk, at least 1.
 * @returns Views of `bytes`.
 *
 * @example
 * ```ts
 * import { chunks } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(chunks(new Uint8Array([1, 2, 3]), 2), [new Uint8Array([1, 2]), new Uint8Array([3])]);
 * ```
 */
export function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Chunk size must be a positive integer, got ${size}`);
  }
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

/**
 * Replays an input at every chunk size from its whole length down to one byte, so a test
 * checks that framing does not depend on how the bytes arrive.
 *
 * @param input The bytes, or text encoded as UTF-8.
 * @param run Called once per chunk size with the chunks; it must check the result itself.
 *
 * @example A line count that must not depend on chunking
 * ```ts
 * import { LineDecoder } from "@speedo/speedo/framing";
 * import { forEachChunkSize } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * forEachChunkSize("a\nbb\r\nccc\n", (parts, size) => {
 *   const decoder = new LineDecoder();
 *   let lines = 0;
 *   for (const part of parts) {
 *     decoder.feed(part);
 *     while (decoder.next() !== null) lines++;
 *   }
 *   assertEquals(lines, 3, `chunk size ${size}`);
 * });
 * ```
 */
export function forEachChunkSize(
  input: Uint8Array | string,
  run: (chunks: Uint8Array[], size: number) => void,
): void {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  for (let size = Math.max(1, bytes.length); size >= 1; size--) run(chunks(bytes, size), size);
}
