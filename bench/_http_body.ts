/**
 * The response body every server of `http_load.ts` sends: small, as in the usual
 * "hello world" HTTP benchmarks, and the same bytes for all.
 *
 * @module
 */

/** The body of every response. */
export const HTTP_BENCH_BODY = "Hello, World!";
