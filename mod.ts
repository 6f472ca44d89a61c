/**
 * Speedo: a modular TCP toolkit for Deno. An I/O loop reads each connection into a protocol
 * handler, which frames messages onto one bounded queue; a pool of Web Workers (or the I/O
 * thread itself) handles them and answers through connection handles usable from any thread.
 *
 * - {@linkcode Server}: listening, limits, hooks, graceful shutdown.
 * - {@linkcode ProtocolHandlerFactory} / {@linkcode ProtocolHandler}: framing per connection.
 * - {@linkcode MessageHandler}: the work, in workers or inline (`Server.resize` changes how many).
 * - {@linkcode LineDecoder}: a pure line framer.
 * - {@linkcode HeaderDecoder}, {@linkcode LengthPrefixedDecoder}: binary framing; {@linkcode connect}:
 *   the client side, with reconnects.
 * - Protocols: `@speedo/speedo/echo`, `/pubsub` (NATS), `/http`, `/websocket`, `/rpc`,
 *   `/session`; tests without sockets: `@speedo/speedo/testing`.
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

export * from "./core/client.ts";
export type { ConnectionHandle } from "./core/connection_handle.ts";
export * from "./core/errors.ts";
export * from "./core/framing/framing_errors.ts";
export * from "./core/framing/header_decoder.ts";
export * from "./core/framing/header_encoder.ts";
export * from "./core/framing/length_prefixed_decoder.ts";
export * from "./core/framing/length_prefixed_encoder.ts";
export * from "./core/framing/line_decoder.ts";
export * from "./core/framing/message_header.ts";
export type { Message } from "./core/message.ts";
export type { MessageHandler, MessageHandlerContext } from "./core/message_handler.ts";
export type {
  DispatchOptions,
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "./core/protocol.ts";
export * from "./core/server.ts";
export { defaultWorkerCount, type WorkerTransport } from "./core/worker_pool.ts";
