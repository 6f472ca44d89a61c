/**
 * Free output buffers shared by the connections of a thread, in power-of-two sizes from 256 B
 * to 1 MiB. A connection takes one when it writes and gives it back once the socket has it
 * all, so an idle connection holds no output buffer (a kept 256-byte buffer and its backing
 * store cost an idle connection about four times its size in RSS), while busy ones
 * reuse buffers instead of allocating. Bounded: at most {@linkcode MAX_POOLED_BYTES} are kept.
 *
 * @module
 */

/** Smallest buffer handed out. */
export const MIN_POOLED_SIZE = 256;
/** Largest buffer kept for reuse; larger ones are allocated for the write and dropped. */
// 1 MiB, not 64 KiB: a loop delivering another loop's batch of publishes writes ~100 KiB to
// each subscriber in a turn, and fresh (zeroed) buffers of that size were a tenth of its CPU.
export const MAX_POOLED_SIZE = 1024 * 1024;
/** Bytes the pool keeps at most, over all sizes. */
export const MAX_POOLED_BYTES = 8 * 1024 * 1024;

const MIN_SHIFT = Math.log2(MIN_POOLED_SIZE);
const free: Uint8Array[][] = Array.from(
  { length: Math.log2(MAX_POOLED_SIZE) - MIN_SHIFT + 1 },
  () => [],
);
let pooledBytes = 0;

/** The power of two at least `size` (and at least 256). */
function sizeFor(size: number): number {
  return size <= MIN_POOLED_SIZE ? MIN_POOLED_SIZE : 2 ** (32 - Math.clz32(size - 1));
}

/**
 * A buffer of at least `size` bytes, reused when one is free; its content is undefined.
 *
 * @param size Bytes needed.
 * @returns A buffer whose length is a power of two, at least 256.
 */
export function takeBuffer(size: number): Uint8Array {
  const length = sizeFor(size);
  if (length <= MAX_POOLED_SIZE) {
    const buffer = free[Math.log2(length) - MIN_SHIFT].pop();
    if (buffer !== undefined) {
      pooledBytes -= length;
      return buffer;
    }
  }
  return new Uint8Array(length);
}

/**
 * Gives a buffer from {@linkcode takeBuffer} back; nothing may use it afterwards. Buffers of
 * other sizes, and any beyond the pool's bound, are left to the garbage collector.
 *
 * @param buffer The buffer.
 */
export function giveBuffer(buffer: Uint8Array): void {
  const length = buffer.length;
  if (
    length < MIN_POOLED_SIZE || length > MAX_POOLED_SIZE || (length & (length - 1)) !== 0 ||
    pooledBytes + length > MAX_POOLED_BYTES || buffer.byteOffset !== 0 ||
    buffer.buffer.byteLength !== length
  ) return;
  free[Math.log2(length) - MIN_SHIFT].push(buffer);
  pooledBytes += length;
}

/** Bytes kept in the pool now (for tests). */
export function pooledBufferBytes(): number {
  return pooledBytes;
}
