/**
 * `ServerOptions.maxConnectionsPerAddress`: connections open per remote IP address, over all
 * loops, counted in buckets of a keyed hash of the address.
 *
 * Why buckets and not a map of addresses: the count is shared by the loops' threads, which
 * share only flat memory (a `SharedArrayBuffer`), and a map of every address seen would grow
 * with the addresses an attacker can use. Two addresses in one bucket share its bound, so the
 * error is always on the side of refusing; the hash is keyed with a random seed per server, so
 * a peer cannot pick an address that lands in another's bucket.
 *
 * Memory: row 0 holds the count over all loops (taken with `Atomics.add`, so two loops never
 * both take the last place), and each loop has a row of its own, so that the coordinating
 * thread can give back what a loop that died held.
 *
 * @module
 */

/** Buckets of the count: 64 KiB a row. */
export const ADDRESS_BUCKETS = 16_384;

/** Not counted: no bound, or not an IP peer (a Unix socket). */
export const UNCOUNTED = -1;
/** Over the bound: refuse. */
export const OVER_LIMIT = -2;

/** The shared memory of the count: rows of {@linkcode ADDRESS_BUCKETS}, total then per loop. */
export interface AddressCounts {
  counts: Int32Array<ArrayBufferLike>;
  seed: number;
}

/**
 * Makes the memory of a count for `loops` loops (shared when above 1).
 *
 * @param loops The loops that count.
 * @returns The rows and a random seed.
 */
export function addressCounts(loops: number): AddressCounts {
  const length = ADDRESS_BUCKETS * (loops > 1 ? loops + 1 : 1);
  const counts = loops > 1
    ? new Int32Array(new SharedArrayBuffer(length * 4))
    : new Int32Array(length);
  const seed = crypto.getRandomValues(new Uint32Array(1))[0];
  return { counts, seed };
}

/** One loop's side of the count. */
export class AddressLimit {
  readonly #limit: number;
  readonly #counts: Int32Array<ArrayBufferLike>;
  readonly #seed: number;
  /** Start of this loop's own row, or -1 for a server of one loop. */
  readonly #own: number;

  /**
   * @param limit Connections per address; 0 for none.
   * @param shared The memory (`addressCounts`).
   * @param loop This loop's index, or -1 on a server of one loop.
   */
  constructor(limit: number, shared: AddressCounts, loop = -1) {
    this.#limit = limit;
    this.#counts = shared.counts;
    this.#seed = shared.seed;
    this.#own = loop < 0 ? -1 : (loop + 1) * ADDRESS_BUCKETS;
  }

  /**
   * Takes a place for a peer.
   *
   * @param remote The peer's address.
   * @returns Its bucket, {@linkcode UNCOUNTED}, or {@linkcode OVER_LIMIT}.
   */
  take(remote: Deno.Addr | undefined): number {
    if (this.#limit === 0 || remote === undefined || !("hostname" in remote)) return UNCOUNTED;
    const bucket = bucketOf(remote.hostname, this.#seed);
    if (Atomics.add(this.#counts, bucket, 1) >= this.#limit) {
      Atomics.sub(this.#counts, bucket, 1);
      return OVER_LIMIT;
    }
    if (this.#own >= 0) Atomics.add(this.#counts, this.#own + bucket, 1);
    return bucket;
  }

  /**
   * Gives back a place taken by `take`.
   *
   * @param bucket What `take` returned.
   */
  give(bucket: number): void {
    if (bucket < 0) return;
    Atomics.sub(this.#counts, bucket, 1);
    if (this.#own >= 0) Atomics.sub(this.#counts, this.#own + bucket, 1);
  }
}

/**
 * Gives back every place loop `loop` held (its thread died with its sockets).
 *
 * @param shared The memory.
 * @param loop The loop.
 */
export function releaseLoop(shared: AddressCounts, loop: number): void {
  const counts = shared.counts;
  const own = (loop + 1) * ADDRESS_BUCKETS;
  if (counts.length < own + ADDRESS_BUCKETS) return;
  for (let bucket = 0; bucket < ADDRESS_BUCKETS; bucket++) {
    const held = Atomics.exchange(counts, own + bucket, 0);
    if (held !== 0) Atomics.sub(counts, bucket, held);
  }
}

/**
 * The bucket of an address: FNV-1a over its text, with the seed mixed in first and the result
 * mixed again, so that equal seeds are needed to predict a bucket.
 *
 * @param hostname The peer's IP address as text.
 * @param seed The server's random seed.
 * @returns A bucket, 0 to {@linkcode ADDRESS_BUCKETS} - 1.
 */
export function bucketOf(hostname: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < hostname.length; i++) {
    hash ^= hostname.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash ^ seed, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % ADDRESS_BUCKETS;
}
