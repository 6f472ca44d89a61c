/**
 * Addresses and thread counts as `speedo` and the examples print them: `host:port`, with an
 * IPv6 host in brackets (`[::1]:9292`), as URLs and `telnet` take them.
 *
 * @module
 */

/**
 * `host:port`, with brackets around an IPv6 host.
 *
 * @param address A bound address.
 * @returns The address to print.
 */
export function hostPort(address: { hostname: string; port: number }): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/**
 * How many workers, in words: "inline", "1 worker", "2 workers".
 *
 * @param workers Workers running.
 * @returns The words to print.
 */
export function workerCount(workers: number): string {
  if (workers === 0) return "inline";
  return workers === 1 ? "1 worker" : `${workers} workers`;
}

/**
 * How many loops a server runs, for its start line: empty for one, `2 loops` otherwise.
 *
 * @param loops The loops running (`server.stats().loops.length`).
 * @returns The words to print.
 *
 * @example
 * ```ts
 * import { loopCount } from "./_address.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([loopCount(1), loopCount(2)], ["", "2 loops"]);
 * ```
 */
export function loopCount(loops: number): string {
  return loops === 1 ? "" : `${loops} loops`;
}

/**
 * A server's threads in words, for its start line: `inline`, `3 workers`, `2 loops, 3 workers
 * each` (workers are per loop).
 *
 * @param stats The server's counters: `server.stats()`.
 * @returns The words to print.
 *
 * @example
 * ```ts
 * import { threadCount } from "./_address.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(threadCount({ workers: 3, loops: [{}] }), "3 workers");
 * assertEquals(threadCount({ workers: 6, loops: [{}, {}] }), "2 loops, 3 workers each");
 * assertEquals(threadCount({ workers: 0, loops: [{}, {}] }), "2 loops, inline");
 * ```
 */
export function threadCount(stats: { workers: number; loops: readonly unknown[] }): string {
  const loops = stats.loops.length;
  if (loops === 1) return workerCount(stats.workers);
  return `${loopCount(loops)}, ${workerCount(stats.workers / loops)}${
    stats.workers > 0 ? " each" : ""
  }`;
}
