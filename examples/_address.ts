/**
 * Addresses as the examples print them: `host:port`, with an IPv6 host in brackets
 * (`[::1]:9292`), as URLs and `telnet` take them.
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
