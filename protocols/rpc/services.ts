import type { ConnectionHandle } from "../../core/connection_handle.ts";
import type { Message } from "../../core/message.ts";
import type { MessageHandler, MessageHandlerContext } from "../../core/message_handler.ts";
import { EarlyCancels } from "./_early_cancels.ts";
import type { Identity } from "../../core/authentication.ts";
import { RPC_HEADER_SIZE, RpcFrameWriter, rpcId, RpcKind } from "./_rpc_frame.ts";
import { ConnectionIdentities, identityLength } from "./_rpc_identity.ts";

/** One request (or one-way message) as a service handler sees it. */
export interface RpcRequest {
  /** The message type, which chose the service. */
  readonly type: number;
  /** The request id, or 0 for a one-way message. */
  readonly id: number;
  /** The request's body: a view valid during the call, and until its promise settles. */
  readonly body: Uint8Array;
  /** The caller's connection, to write to it or close it. */
  readonly connection: ConnectionHandle;
  /** Where the handler runs (`workerIndex`), and handles to other connections. */
  readonly context: MessageHandlerContext;
  /**
   * Who the caller is, as the server's authenticator (`ServerOptions.authenticate`) answered
   * the connection's credentials (`connectRpc({ credentials })`): its `name` and `grants`, for
   * the service to decide what the caller may do. `undefined` when the server has no
   * authenticator. Plain data (it reaches workers as JSON), the same object for every request
   * of the connection in this thread.
   */
  readonly identity: Identity | undefined;
  /**
   * Aborts, with an `AbortError` `DOMException`, when the caller gives up on the call (its
   * abort signal, or its timeout: the client then sends a cancel). An async handler sees it
   * while its promise is pending; the reply of a cancelled call is not sent. Made when first
   * read, so handlers that never look cost nothing.
   */
  readonly signal: AbortSignal;
}

/** A request as {@linkcode Services} hands it to a handler, cancellable while it runs. */
class ServiceRequest implements RpcRequest {
  readonly type: number;
  readonly id: number;
  readonly body: Uint8Array;
  readonly connection: ConnectionHandle;
  readonly context: MessageHandlerContext;
  readonly identity: Identity | undefined;
  #controller: AbortController | undefined = undefined;
  #cancelled = false;

  constructor(
    type: number,
    id: number,
    body: Uint8Array,
    connection: ConnectionHandle,
    context: MessageHandlerContext,
    identity: Identity | undefined,
  ) {
    this.type = type;
    this.id = id;
    this.body = body;
    this.connection = connection;
    this.context = context;
    this.identity = identity;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(cancelReason());
    }
    return this.#controller.signal;
  }

  /** Whether the caller cancelled it. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#controller?.abort(cancelReason());
  }
}

function cancelReason(): DOMException {
  return new DOMException("The caller cancelled the call", "AbortError");
}

/** What a service handler answers: bytes, text (sent as UTF-8), or nothing (an empty body). */
export type RpcResult = Uint8Array | string | void;

/**
 * Handles the requests of one message type. Its result is the reply's body; a throw or a
 * rejection becomes an error reply with the error's name and message
 * ({@linkcode RpcRemoteError} at the caller).
 */
export type ServiceHandler = (request: RpcRequest) => RpcResult | Promise<RpcResult>;

/**
 * The services of an RPC server: one handler per message type, registered with
 * {@linkcode Services.service}. A `Services` object is a {@linkcode MessageHandler}: make it
 * the default export of a module and pass the module's URL as the server's `handler`, and it
 * runs in every worker of the pool; or pass the object itself to run it inline (`workers: 0`).
 *
 * Workers load code by URL and a function cannot be sent to them, so services that run in
 * workers are declared in their module; inline, the application makes the table, passes it
 * (`rpcServer({ handler: services })`) and may fill it before or after `listen()`.
 *
 * Async handlers of one connection run side by side, up to the server's `concurrency` (100 by
 * default with {@linkcode rpcServer}), and each reply leaves when its handler settles: a slow
 * call does not hold the calls behind it. With `concurrency: 1`, requests are handled one at
 * a time and replies keep the order of requests.
 *
 * - A request of a type with no service gets an error reply (`RpcUnknownTypeError`).
 * - A one-way message gets no reply, unless its type is unknown or its handler fails: then an
 *   error with id 0 tells the peer.
 * - A reply too long for a frame becomes an error reply saying so.
 * - A cancel that overtook its request (waiting for a place) is remembered, and that request
 *   never runs. Each connection has its own memory of at most 1,024 such cancels, its oldest
 *   forgotten first, so one peer's cancels never push out another's; it goes with the
 *   connection ({@linkcode Services.onClose}).
 *
 * @example A table of services, called without sockets
 * ```ts
 * import { Services } from "@speedo/speedo/rpc";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const services = new Services()
 *   .service(1, ({ body }) => body)
 *   .service(2, ({ body }) => new TextDecoder().decode(body).toUpperCase());
 * assertEquals(services.types, [1, 2]);
 *
 * // An RPC request: kind 1, id 7, body "hi".
 * const payload = new Uint8Array([1, 0, 0, 0, 7, 0, 0, 0, 0x68, 0x69]);
 * const transport = new MemoryTransport();
 * services.onMessage({ connectionId: 1, type: 2, payload }, transport.handle, transport.context);
 * const reply = transport.bytes();
 * assertEquals([reply[2], reply[8], reply[12]], [2, 2, 7]); // type 2, a reply, id 7
 * assertEquals(new TextDecoder().decode(reply.subarray(16, 18)), "HI");
 * ```
 */
export class Services implements MessageHandler {
  readonly #handlers = new Map<number, ServiceHandler>();
  /** The requests whose async handlers are running, by connection id, then request id. */
  readonly #running = new Map<number, Map<number, ServiceRequest>>();
  /**
   * Cancels of no running request: a cancel overtakes the requests waiting for a place, so its
   * request may start later (then it does not run). Bounded per connection, so that one peer's
   * flood of cancels cannot push out another's.
   */
  readonly #earlyCancels = new EarlyCancels();
  /** The callers' identities, parsed once per connection. */
  readonly #identities = new ConnectionIdentities();
  readonly #writer: RpcFrameWriter;
  /** The type last looked up, with its handler (-1 before the first). */
  #lastType = -1;
  #lastHandler: ServiceHandler | undefined;

  /**
   * Makes an empty table.
   *
   * @param options `maxFrameSize`: the largest frame written, as the peer's decoder accepts.
   */
  constructor(options: { maxFrameSize?: number } = {}) {
    this.#writer = new RpcFrameWriter(options.maxFrameSize);
    this.onMessage = this.onMessage.bind(this);
    this.onClose = this.onClose.bind(this);
  }

  /**
   * The message types registered, in ascending order.
   *
   * @example
   * ```ts
   * import { Services } from "@speedo/speedo/rpc";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new Services().service(9, () => {}).service(3, () => {}).types, [3, 9]);
   * ```
   */
  get types(): number[] {
    return [...this.#handlers.keys()].sort((a, b) => a - b);
  }

  /**
   * Registers the handler of a message type.
   *
   * @param type The message type, 1 to 65535 (0 is the RPC layer's own).
   * @param handler Answers the requests of that type.
   * @returns This table, to chain registrations.
   * @throws {RangeError} When the type is out of range.
   * @throws {TypeError} When the type has a handler already, or `handler` is no function.
   *
   * @example
   * ```ts
   * import { Services } from "@speedo/speedo/rpc";
   * import { assertThrows } from "@std/assert";
   *
   * const services = new Services().service(1, () => "one");
   * assertThrows(() => services.service(1, () => "again"), TypeError, "already");
   * assertThrows(() => services.service(0, () => {}), RangeError);
   * ```
   */
  service(type: number, handler: ServiceHandler): this {
    if (!Number.isInteger(type) || type < 1 || type > 0xffff) {
      throw new RangeError(`Service type must be an integer from 1 to 65535, got ${type}`);
    }
    if (typeof handler !== "function") {
      throw new TypeError(`The handler of service ${type} must be a function`);
    }
    if (this.#handlers.has(type)) {
      throw new TypeError(`Service ${type} has a handler already`);
    }
    this.#handlers.set(type, handler);
    return this;
  }

  /**
   * Handles one RPC message: finds its service, runs it, writes the reply.
   *
   * @param message The message (its type picks the service; its payload is an RPC payload).
   * @param connection The caller's connection.
   * @param context Where the handler runs.
   * @returns A promise when the service is async: the message is done when it settles.
   *
   * @example
   * ```ts
   * import { Services } from "@speedo/speedo/rpc";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const transport = new MemoryTransport();
   * const payload = new Uint8Array([1, 0, 0, 0, 5, 0, 0, 0]);
   * new Services().onMessage({ connectionId: 1, type: 4, payload }, transport.handle, transport.context);
   * assertEquals(transport.bytes()[8], 3); // an error reply: no service for type 4
   * ```
   */
  onMessage(
    message: Message,
    connection: ConnectionHandle,
    context: MessageHandlerContext,
  ): void | Promise<void> {
    const { type, payload } = message;
    if (payload.length < RPC_HEADER_SIZE) {
      connection.write(
        this.#writer.errorFrame(
          type,
          0,
          "RpcError",
          `RPC payload of ${payload.length} bytes is shorter than its header`,
        ),
      );
      return;
    }
    const kind = payload[0];
    if (kind === RpcKind.cancel) {
      this.#cancel(connection, rpcId(payload));
      return;
    }
    const id = kind === RpcKind.request ? rpcId(payload) : 0;
    // Cancelled before it started (it waited for a place): the caller gave up, nothing runs.
    if (
      id !== 0 && this.#earlyCancels.connections > 0 && this.#earlyCancels.take(connection.id, id)
    ) return;
    // Calls come in runs of one type: the last lookup answers most of them.
    let handler = this.#lastHandler;
    if (type !== this.#lastType) {
      handler = this.#handlers.get(type);
      if (handler !== undefined) {
        this.#lastType = type;
        this.#lastHandler = handler;
      }
    }
    if (handler === undefined) {
      connection.write(
        this.#writer.errorFrame(
          type,
          id,
          "RpcUnknownTypeError",
          `No service for message type ${type}`,
        ),
      );
      return;
    }
    // The protocol puts the caller's identity between the header and the body, when the
    // server has an authenticator (`_rpc_identity.ts`).
    const start = RPC_HEADER_SIZE + identityLength(payload);
    if (start > payload.length) {
      connection.write(
        this.#writer.errorFrame(type, id, "RpcError", "RPC payload shorter than its identity"),
      );
      return;
    }
    const request = new ServiceRequest(
      type,
      id,
      new Uint8Array(payload.buffer, payload.byteOffset + start, payload.length - start),
      connection,
      context,
      this.#identities.of(connection, payload),
    );
    let result: RpcResult | Promise<RpcResult>;
    try {
      result = handler(request);
    } catch (error) {
      this.#fail(connection, type, id, error);
      return;
    }
    if (result instanceof Promise) {
      if (kind !== RpcKind.request) {
        return result.then(undefined, (error) => this.#fail(connection, type, id, error));
      }
      this.#track(request);
      return result.then(
        (value) => {
          this.#untrack(request);
          if (!request.cancelled) this.#reply(connection, type, id, kind, value);
        },
        (error) => {
          this.#untrack(request);
          if (!request.cancelled) this.#fail(connection, type, id, error);
        },
      );
    }
    this.#reply(connection, type, id, kind, result);
  }

  /**
   * Forgets what the table holds for a connection that closed: the cancels it sent for
   * requests that had not started, and its caller's identity. {@linkcode rpcServer} calls it for inline services; pass it
   * as the `onClose` of a `Server` that runs a `Services` as its `onMessage`. Services in
   * workers have no such hook: they drop a closed connection's cancels at their next sweep.
   *
   * @param connection The connection that closed.
   *
   * @example A cancel sent before its request is forgotten when the connection closes
   * ```ts
   * import { Services } from "@speedo/speedo/rpc";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * let runs = 0;
   * const services = new Services().service(1, () => void runs++);
   * const transport = new MemoryTransport();
   * const message = (kind: number) => ({
   *   connectionId: transport.id,
   *   type: 1,
   *   payload: new Uint8Array([kind, 0, 0, 0, 7, 0, 0, 0]), // id 7
   * });
   * services.onMessage(message(5), transport.handle, transport.context); // cancel of 7
   * services.onMessage(message(1), transport.handle, transport.context); // request 7
   * assertEquals(runs, 0); // cancelled before it started: it never ran
   *
   * services.onMessage(message(5), transport.handle, transport.context);
   * services.onClose(transport.handle);
   * services.onMessage(message(1), transport.handle, transport.context);
   * assertEquals(runs, 1); // the cancel was forgotten with the connection
   * ```
   */
  onClose(connection: ConnectionHandle): void {
    this.#earlyCancels.forget(connection.id);
    this.#identities.forget(connection.id);
  }

  #cancel(connection: ConnectionHandle, id: number): void {
    const running = this.#running.get(connection.id)?.get(id);
    if (running !== undefined) {
      running.cancel();
      return;
    }
    this.#earlyCancels.remember(connection, id);
  }

  /** Keeps a running request where a cancel of its connection can find it. */
  #track(request: ServiceRequest): void {
    const connectionId = request.connection.id;
    let requests = this.#running.get(connectionId);
    if (requests === undefined) this.#running.set(connectionId, requests = new Map());
    requests.set(request.id, request);
  }

  #untrack(request: ServiceRequest): void {
    const connectionId = request.connection.id;
    const requests = this.#running.get(connectionId);
    if (requests === undefined || requests.get(request.id) !== request) return;
    requests.delete(request.id);
    if (requests.size === 0) this.#running.delete(connectionId);
  }

  #reply(
    connection: ConnectionHandle,
    type: number,
    id: number,
    kind: number,
    result: RpcResult,
  ): void {
    if (kind !== RpcKind.request) return;
    let frame: Uint8Array;
    try {
      frame = this.#writer.frame(type, RpcKind.reply, id, result ?? EMPTY);
    } catch (error) {
      this.#fail(connection, type, id, error);
      return;
    }
    connection.write(frame);
  }

  #fail(connection: ConnectionHandle, type: number, id: number, error: unknown): void {
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    connection.write(this.#writer.errorFrame(type, id, name, message));
  }
}

const EMPTY = new Uint8Array(0);
