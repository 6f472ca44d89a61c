import type { AuthenticationResult } from "./authentication.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import type { MessageFailedError } from "./errors.ts";
import type { LoopContext, ProtocolRecipe } from "./loop_context.ts";

/** Options of one {@linkcode ProtocolContext.dispatch}. */
export interface DispatchOptions {
  /**
   * The message goes to its connection's message handler at once, ahead of the messages of
   * the connection that wait for a place (the server's `concurrency`): for control messages
   * about messages being handled, such as the cancel of a call. It cannot overtake a
   * message a worker is handling at concurrency 1 (the worker waits for that one), nor go to
   * a worker that is being replaced, nor go ahead when its `key` places it on another worker
   * than the connection's messages in flight.
   *
   * @default {false}
   */
  overtake?: boolean;
  /**
   * Affinity: every message dispatched with one key, from any connection, goes to one worker
   * (`hash(key) % workers`), so a handler that keeps state per worker sees all of a key's
   * messages (`SET foo` and a later `GET foo` from another connection, say). A number and a
   * string are different keys. Inline (`workers: 0`) there is one place anyway.
   *
   * The placement holds while the pool's size holds; a worker that dies is replaced in its
   * place. `Server.resize` places keys over the new size at once: a key's messages still in
   * flight finish on its old worker, and its state (kept per worker) does not move with it.
   *
   * A connection's replies keep their order with keys too: a message for another worker than
   * the one the connection's messages in flight are on waits until they are done. A connection
   * whose consecutive messages alternate between keys on different workers so runs them one
   * crossing at a time; without `key`, a connection's messages go to one worker, as before.
   *
   * @default {undefined: the connection's worker, picked round-robin at its first message}
   */
  key?: string | number;
}

/**
 * What a {@linkcode ProtocolHandler} sees of its connection: the handle to write and close,
 * and `dispatch` to hand a framed message to the message handlers.
 *
 * The server gives each handler one; tests use `MemoryTransport` from `@speedo/speedo/testing`.
 */
export interface ProtocolContext {
  /** The connection's id. */
  readonly id: number;
  /** The connection's handle, to write, close, or pass to others. */
  readonly handle: ConnectionHandle;
  /**
   * The server's listener the connection came on (`ServerOptions.listeners`): 0 (or absent,
   * in test harnesses) the main address, `i + 1` the i-th of `listeners`. One factory serving
   * several addresses makes each connection's handler by it.
   */
  readonly listener?: number;
  /**
   * The server's address the peer connected to (absent in test harnesses): what a protocol
   * that tells clients where they are (NATS `INFO`) reports, on any loop and any listener.
   */
  readonly localAddr?: Deno.Addr;
  /**
   * Whether the server checks credentials (it has `ServerOptions.authenticate`): a protocol
   * that tells its peers before they log in (NATS `INFO` `auth_required`) says so, and one
   * whose peers may skip credentials refuses those that do. Absent in test harnesses: none.
   */
  readonly authenticationRequired?: boolean;
  /**
   * Asks the server's authenticator (`ServerOptions.authenticate`) about the credentials the
   * peer presented, with its address, listener and TLS facts added. Never rejects: a hook
   * that throws, answers nonsense or takes longer than `authenticationTimeout` refuses. Without
   * a hook it accepts anyone as `{ name: "" }`. The protocol keeps the identity for the
   * connection and shows a refusal its own way (then closes); one request at a time per
   * connection is the protocol's to keep. Absent in test harnesses.
   *
   * @param protocol The protocol's name for the hook (`"nats"`, `"session"`, ...).
   * @param credentials What the peer presented, under the protocol's names.
   * @returns The identity, or a refusal.
   */
  authenticate?(
    protocol: string,
    credentials: Readonly<Record<string, unknown>>,
  ): Promise<AuthenticationResult>;
  /**
   * Starts TLS on this connection before its next read (call it from `open` or `data`): what
   * was written before leaves in plaintext, what is written after is encrypted, and a failed
   * handshake closes the connection. Only where the factory's `startsTls(listener)` is true and
   * the listener has `tls`; absent in test harnesses.
   *
   * @throws {TypeError} When the listener has no TLS to start, or TLS started already.
   */
  startTls?(): void;
  /**
   * Queues a message for the message handlers (in the worker pool, or inline). The payload
   * need only be valid during the call: a view of the chunk given to `data`, or of the
   * handler's own buffer, is safe to pass (it is copied where it must outlive the call).
   *
   * Replies to dispatched messages keep the order of dispatch per connection at `concurrency`
   * 1 (the default); above it they leave as handlers finish, in any order. A direct
   * `handle.write` does not wait for them: to answer in order with replies (an error line
   * after the lines before it, say), dispatch the answer too.
   *
   * @param payload The framed bytes.
   * @param type A protocol-defined kind, 0 to 65535.
   * @param options Whether it overtakes the messages waiting for their turn, and the key
   *   that places it on a worker.
   */
  dispatch(payload: Uint8Array, type?: number, options?: DispatchOptions): void;
}

/**
 * Turns one connection's bytes into messages, and may answer directly on the I/O thread when
 * a message needs no worker (a protocol-level PING, an error). One handler serves one
 * connection and holds that connection's state only.
 *
 * The server calls its methods in this order (all optional but `data`):
 *
 * ```
 * open -> data* -> eof? -> close
 * ```
 *
 * `failed` and `goodbye` may come any time between `open` and `close`. A method that throws closes its
 * connection (the error goes to the server's `onError`); it never harms another connection.
 *
 * @example A handler that counts bytes
 * ```ts
 * import type { ProtocolHandler } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * class ByteCounter implements ProtocolHandler {
 *   bytes = 0;
 *   data(chunk: Uint8Array): void {
 *     this.bytes += chunk.length;
 *   }
 * }
 * const counter = new ByteCounter();
 * counter.data(new Uint8Array(3));
 * assertEquals(counter.bytes, 3);
 * ```
 */
export interface ProtocolHandler {
  /** The connection is established; a greeting can be written here. */
  open?(): void;
  /**
   * Bytes arrived.
   *
   * @param chunk The bytes read. The buffer is reused after this returns: copy what you keep.
   */
  data(chunk: Uint8Array): void;
  /** The peer finished sending (its half-close or close). `close` follows. */
  eof?(): void;
  /**
   * A message of this connection failed in its message handler; tell the peer if the
   * protocol can. Without this method the connection is closed.
   *
   * @param error What failed.
   */
  failed?(error: MessageFailedError): void;
  /**
   * The server is about to close the connection for `reason` (an {@linkcode IdleTimeoutError},
   * a {@linkcode SlowConsumerError}, or a {@linkcode ServerClosedError} at shutdown, once every
   * accepted message is answered): return a last word for the peer, such as a protocol error.
   * Output not yet sent is dropped first, so the goodbye is not stuck behind it.
   *
   * @param reason Why the connection is closing.
   * @returns Bytes or text to send before closing, or `undefined` to close without a word.
   */
  goodbye?(reason: Error): Uint8Array | string | undefined;
  /**
   * The connection is closed, for any reason. Release what the handler holds.
   *
   * @param reason Why, when the server closed it: idle timeout, slow consumer, shutdown...
   */
  close?(reason?: Error): void;
}

/**
 * Makes one {@linkcode ProtocolHandler} per connection.
 *
 * @example
 * ```ts
 * import type { ProtocolContext, ProtocolHandlerFactory } from "@speedo/speedo";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const greeter: ProtocolHandlerFactory = {
 *   create: (context: ProtocolContext) => ({
 *     open: () => void context.handle.write("hello\n"),
 *     data: () => {},
 *   }),
 * };
 * const transport = new MemoryTransport();
 * greeter.create(transport).open?.();
 * assertEquals(transport.text(), "hello\n");
 * ```
 */
export interface ProtocolHandlerFactory {
  /**
   * Makes the handler of a new connection.
   *
   * @param context The connection as the handler sees it.
   * @returns The handler.
   */
  create(context: ProtocolContext): ProtocolHandler;
  /**
   * Bytes to send to a connection refused because the server is full, before it is closed.
   *
   * @param listener The server's listener it came on (`ServerOptions.listeners`; 0 the main).
   * @returns The bytes, or `undefined` to close without a word.
   */
  refusal?(listener?: number): Uint8Array | undefined;
  /**
   * Whether this protocol starts TLS itself on a listener that has `tls`, after a plaintext
   * greeting (NATS sends `INFO` with `tls_required`, then the client starts TLS): the server
   * then accepts in plaintext there, and each handler calls
   * {@linkcode ProtocolContext.startTls} when its wire says so. Absent or false: TLS starts
   * with the first byte, as most protocols expect.
   *
   * @param listener The server's listener (0 the main address, `i + 1` `listeners[i]`).
   * @returns Whether handlers start TLS themselves there.
   */
  startsTls?(listener: number): boolean;
  /**
   * How a loop thread builds this factory again (`ServerOptions.loops` above 1): the module,
   * its export and cloneable options. Without it the factory runs on one loop only, and a
   * server of several loops refuses it with a `TypeError`.
   */
  recipe?: ProtocolRecipe;
  /**
   * Called once on each loop, before it accepts a connection, with the loop it runs on (a
   * server of one loop calls it too, `count` 1): where a protocol whose connections meet
   * across loops (pub/sub) joins the other loops.
   *
   * @param loop This loop, and the channel to the same protocol on the others.
   */
  attach?(loop: LoopContext): void;
  /**
   * Releases what the factory's handlers share (timers, files, tables), once the server that
   * runs it is closed: called at the end of `Server.close()`, after every connection closed and
   * the workers ended (and by a server closed before it listened). A factory given to several
   * servers is called by each: make it idempotent. A promise returned (a connection to drain)
   * is awaited by `Server.close()`.
   */
  close?(): void | Promise<void>;
}
