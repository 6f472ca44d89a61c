/**
 * CRC-32 (IEEE 802.3, the checksum of zip, gzip and PNG), table-driven.
 *
 * @module
 */

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/**
 * The CRC-32 of `bytes` (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).
 *
 * @param bytes The data.
 * @param crc The CRC of the bytes before these, to checksum data in pieces.
 * @returns The checksum, an unsigned 32-bit integer.
 *
 * @example The standard check value, whole and in pieces
 * ```ts
 * import { crc32 } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new TextEncoder().encode("123456789");
 * assertEquals(crc32(bytes), 0xcbf43926);
 * assertEquals(crc32(bytes.subarray(4), crc32(bytes.subarray(0, 4))), 0xcbf43926);
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
