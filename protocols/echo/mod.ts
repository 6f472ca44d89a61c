/**
 * The echo protocol: newline-framed lines echoed back with their own endings, through the
 * worker pool or inline. `telnet localhost 9292` against `examples/echo.ts` shows it.
 *
 * @example
 * ```ts
 * import { echoServer } from "@speedo/speedo/echo";
 *
 * const server = echoServer({ port: 0, workers: 0 });
 * const { port } = await server.listen();
 * console.log(`echo on ${port}`);
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./echo_protocol.ts";
export * from "./echo_server.ts";
