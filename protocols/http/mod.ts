/**
 * HTTP/1.1 for Speedo: a pure, bounded, incremental request parser; a protocol that frames
 * requests (pipelined, keep-alive, `100 Continue`, refusals with their status, timeouts,
 * upgrades); and a web-standard `Request` -> `Response` handler, as with `Deno.serve`.
 *
 * - {@linkcode httpServer}: a server in one call; WebSocket at a path with its `websocket` option.
 * - {@linkcode httpProtocol} + {@linkcode httpHandler}: the same parts, for `new Server`.
 * - {@linkcode serveDir}: static files, with content types and path traversal refused.
 * - {@linkcode RequestParser}: the codec; {@linkcode HttpError} and its subclasses: its errors.
 *
 * @example
 * ```ts
 * import { httpServer } from "@speedo/speedo/http";
 *
 * const server = httpServer({
 *   port: 0,
 *   handler: (request) => Response.json({ path: new URL(request.url).pathname }),
 * });
 * const { port } = await server.listen();
 * console.log(`curl http://127.0.0.1:${port}/`);
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./http_errors.ts";
export * from "./http_handler.ts";
export * from "./http_message.ts";
export * from "./http_protocol.ts";
export * from "./http_server.ts";
export * from "./request_parser.ts";
export * from "./serve_dir.ts";
