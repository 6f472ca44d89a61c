/**
 * Speedo: a modular TCP toolkit for Deno. An I/O loop reads each connection into a protocol
 * handler, which frames bytes into messages; a pool of Web Workers (or the I/O thread itself)
 * handles them and answers through connection handles usable from any thread, even after close.
 * The design, as built, is in the repository's `docs/DESIGN.md`.
 *
 * This entry holds what a protocol author needs:
 * - {@linkcode Server}: listening, limits, hooks, `resize`, graceful shutdown; {@linkcode connect}
 *   and {@linkcode Client}: the client side, with reconnects.
 * - {@linkcode ProtocolHandlerFactory} / {@linkcode ProtocolHandler} / {@linkcode ProtocolContext}:
 *   framing per connection, and `dispatch` to the message handlers.
 * - {@linkcode MessageHandler}: the work, in workers or inline; {@linkcode ConnectionHandle}: the
 *   answer, by connection id.
 * - Typed errors, and {@linkcode defaultWorkerCount}.
 *
 * Codecs are in `@speedo/speedo/framing`; protocols in `@speedo/speedo/echo`, `/pubsub` (NATS),
 * `/http`, `/websocket`, `/rpc`, `/session`; tests without sockets in `@speedo/speedo/testing`.
 *
 * @example See {@linkcode Server} for a complete server in a few lines.
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import { echoProtocol } from "@speedo/speedo/echo";
 *
 * const server = new Server({ protocol: echoProtocol(), onMessage: (m, c) => void c.write(m.payload) });
 * await server.listen();
 * await server.close();
 * ```
 *
 * @module
 */

export {
  type AuthenticationRefusal,
  type AuthenticationRequest,
  type AuthenticationResult,
  type Authenticator,
  type Identity,
  isRefusal,
  type PeerCertificate,
  type TlsHandshakeFacts,
} from "./core/authentication.ts";
export {
  Client,
  type ClientState,
  type ClientStats,
  type ClientTlsOptions,
  connect,
  type ConnectOptions,
  type ReconnectOptions,
  type UnixConnectOptions,
} from "./core/client.ts";
export type { ConnectionHandle } from "./core/connection_handle.ts";
export * from "./core/errors.ts";
export type { LoopContext, ProtocolRecipe } from "./core/loop_context.ts";
export type { Message } from "./core/message.ts";
export type { MessageHandler, MessageHandlerContext } from "./core/message_handler.ts";
export type {
  DispatchOptions,
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "./core/protocol.ts";
export * from "./core/server.ts";
export {
  type ConnectionInfo,
  type ConnectionListOptions,
  type ConnectionPage,
  MAX_CONNECTION_LIST,
} from "./core/connection_info.ts";
export { defaultWorkerCount, type WorkerTransport } from "./core/worker_pool.ts";
