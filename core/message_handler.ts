/**
 * The message handler: the work a server does with each message its protocol dispatches, in
 * the server's workers or inline on the I/O thread.
 *
 * ## State shared between messages
 *
 * A handler module is loaded once per worker: its module-level state (a `Map`, a cache) is per
 * worker, and a connection's messages go to the worker picked for it round-robin. With more
 * than one worker, two connections can see two different maps: a `SET foo bar` on one and a
 * `GET foo` on another may meet different workers. Three ways to share state:
 *
 * 1. State per worker, with affinity by key: dispatch each message with the key of the state
 *    it touches (`context.dispatch(payload, type, { key: "foo" })` in the protocol handler).
 *    Every message of a key goes to one worker, so that worker's map holds all of the key's
 *    state. Keys are placed over the workers by hash while the pool's size holds; a resize
 *    places them anew and does not move state, so keep the size fixed (or the state a cache).
 * 2. A single owner on the I/O thread: `workers: 0` (the handler inline), or the protocol
 *    handler answering from state held in its factory, as the pub/sub protocol keeps its
 *    subscriptions. Workers can still take work that needs no shared state.
 * 3. An external store (Redis, a database) that every worker talks to: the state outlives the
 *    process and any resize.
 *
 * Startup data (configuration, a snapshot to begin from) reaches every copy of the handler
 * through `ServerOptions.handlerData` and {@linkcode MessageHandler.init}.
 *
 * @module
 */

import type { ConnectionHandle } from "./connection_handle.ts";
import type { Message } from "./message.ts";

/**
 * What a {@linkcode MessageHandler} knows of where it runs.
 */
export interface MessageHandlerContext {
  /** Index of the worker running the handler, or -1 on the I/O thread (`workers: 0`). */
  readonly workerIndex: number;
  /**
   * A handle to any connection of the server, by id (to answer another peer, say).
   *
   * @param id The connection's id.
   * @returns Its handle; a closed or unknown id gives a handle whose writes return `false`.
   */
  handle(id: number): ConnectionHandle;
}

/**
 * Handles the messages that protocol handlers dispatch. Write it as a module whose default
 * export is the handler, and pass the module's URL as the server's `handler`: it then runs in
 * every worker of the pool, or on the I/O thread with `workers: 0`. Each copy gets the
 * server's `handlerData` through `init` before its first message.
 *
 * A worker handles its messages one at a time, in order: when `onMessage` returns a promise,
 * the worker waits for it before the next message. All messages of a connection go to the same
 * worker, so replies keep the connection's order. With the server's `concurrency` above 1, a
 * promise holds nothing: up to that many messages of a connection run at once and replies
 * leave as they finish. A handler that throws or rejects fails that message only (see
 * {@linkcode ProtocolHandler.failed}).
 *
 * @example An upper-casing handler module
 * ```ts
 * import type { MessageHandler } from "@speedo/speedo";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const upper: MessageHandler = {
 *   onMessage(message, connection) {
 *     connection.write(new TextDecoder().decode(message.payload).toUpperCase());
 *   },
 * };
 * export default upper;
 *
 * const transport = new MemoryTransport();
 * const payload = new TextEncoder().encode("hi\n");
 * upper.onMessage({ connectionId: transport.id, type: 0, payload }, transport.handle, transport.context);
 * assertEquals(transport.text(), "HI\n");
 * ```
 */
export interface MessageHandler<Data = unknown> {
  /**
   * Prepares the handler, once per worker (and once on the I/O thread when it runs inline),
   * before its first message: the server waits for its promise while it starts (or resizes),
   * and a throw or a rejection fails that start (`WorkerStartError`).
   *
   * @param data The server's `handlerData`: a structured clone, one per worker.
   * @param context Where the handler runs.
   *
   * @example Startup data for a greeting
   * ```ts
   * import type { MessageHandler } from "@speedo/speedo";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * let greeting = "";
   * const greeter: MessageHandler<{ greeting: string }> = {
   *   init(data) {
   *     greeting = data.greeting;
   *   },
   *   onMessage(_message, connection) {
   *     connection.write(`${greeting}\n`);
   *   },
   * };
   * export default greeter; // with `handler: <this module's URL>, handlerData: { greeting: "hi" }`
   *
   * const transport = new MemoryTransport();
   * await greeter.init?.({ greeting: "hi" }, transport.context);
   * greeter.onMessage({ connectionId: transport.id, type: 0, payload: new Uint8Array() }, transport.handle, transport.context);
   * assertEquals(transport.text(), "hi\n");
   * ```
   */
  init?(data: Data, context: MessageHandlerContext): void | Promise<void>;
  /**
   * Handles one message.
   *
   * @param message The message.
   * @param connection The handle of the connection it came from.
   * @param context Where the handler runs, and handles to other connections.
   */
  onMessage(
    message: Message,
    connection: ConnectionHandle,
    context: MessageHandlerContext,
  ): void | Promise<void>;
  /**
   * Whether `onMessage` may read `message.payload` after it returns (after an `await`, say).
   * Inline, the payload is a view of the connection's read buffer: while a handler's promise is
   * pending, the connection reads into a new buffer so the view stays intact. A frame the
   * protocol assembled from several reads lies in its decoder's buffer, which later reads
   * overwrite: such a payload is copied first. A handler that copies what it needs before it
   * returns sets `false`: the buffer is read into again at once, and nothing is copied (an
   * allocation less per message, a visible share of a small HTTP request's CPU). In workers the
   * payload is the handler's own either way.
   *
   * @default {true}
   */
  readonly keepsPayload?: boolean;
}
