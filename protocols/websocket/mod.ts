/**
 * WebSocket (RFC 6455) for Speedo: the handshake on the HTTP module, a pure frame codec, and a
 * protocol that lets any Speedo message handler (echo, pub/sub...) run over WebSocket, so that
 * a browser page can talk to it.
 *
 * - {@linkcode websocketProtocol} + {@linkcode websocketHandler}: a WebSocket server on its own
 *   port, per message or with an inner stream protocol.
 * - {@linkcode websocketUpgrade}: the same on an HTTP server's path (`httpServer`'s `websocket`
 *   option uses it).
 * - {@linkcode WebSocketDecoder}, {@linkcode encodeFrame}: the codec; {@linkcode websocketAccept}:
 *   the handshake's key.
 *
 * @example Echo per message over WebSocket
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { websocketHandler, websocketProtocol } from "@speedo/speedo/websocket";
 *
 * const server = new Server({
 *   protocol: websocketProtocol({ maxMessageSize: 64 * 1024 }),
 *   onMessage: websocketHandler(echoHandler).onMessage,
 * });
 * await server.listen();
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./frame_codec.ts";
export * from "./websocket_errors.ts";
export * from "./websocket_handler.ts";
export * from "./websocket_message.ts";
export * from "./websocket_protocol.ts";
export type { WebSocketOptions } from "./websocket_session.ts";
export * from "./websocket_upgrade.ts";
