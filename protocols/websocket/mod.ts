/**
 * WebSocket (RFC 6455) for Speedo: the handshake on the HTTP module, a pure frame codec, and a
 * protocol that lets any Speedo message handler (echo, pub/sub...) run over WebSocket, so that
 * a browser page can talk to it.
 *
 * - {@linkcode websocketServer}: a WebSocket server on its own port in one call, per message or
 *   with an inner stream protocol, its options given once in `websocket`.
 * - {@linkcode websocketProtocol} + {@linkcode websocketHandler}: the same parts, for
 *   `new Server`.
 * - {@linkcode websocketUpgrade}: the same on an HTTP server's path (`httpServer`'s `websocket`
 *   option uses it).
 * - {@linkcode WebSocketDecoder}, {@linkcode encodeFrame}: the codec; {@linkcode websocketAccept}:
 *   the handshake's key.
 * - {@linkcode OriginPolicy}: which web pages may connect. Every endpoint refuses, with 403, a
 *   handshake from a page of another origin unless `allowedOrigins` lists it (the default is
 *   same-origin pages only; clients that send no `Origin`, which are not browsers, pass).
 *
 * @example Echo per message over WebSocket
 * ```ts
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { websocketServer } from "@speedo/speedo/websocket";
 *
 * const server = websocketServer({
 *   port: 0,
 *   handler: echoHandler,
 *   websocket: { maxMessageSize: 64 * 1024 },
 * });
 * await server.listen();
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./frame_codec.ts";
export * from "./origin_policy.ts";
export * from "./websocket_errors.ts";
export * from "./websocket_handler.ts";
export * from "./websocket_message.ts";
export * from "./websocket_protocol.ts";
export * from "./websocket_server.ts";
export type { WebSocketOptions } from "./websocket_session.ts";
export * from "./websocket_upgrade.ts";
