import {
  type Client,
  connect,
  type ConnectOptions,
  type UnixConnectOptions,
} from "../../core/client.ts";
import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { MalformedFrameError } from "../../core/framing/framing_errors.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import {
  CONTROL_TYPE,
  decodeRpcError,
  RPC_HEADER_SIZE,
  RpcFrameWriter,
  rpcId,
  RpcKind,
} from "./_rpc_frame.ts";
import { PendingCall, PendingCalls } from "./_pending_calls.ts";
import { ReplyCopies } from "./_reply_copies.ts";
import {
  RpcAuthenticationError,
  RpcConnectionError,
  RpcOverloadError,
  RpcRemoteError,
  RpcTimeoutError,
  RpcUnknownTypeError,
} from "./rpc_errors.ts";
import { describeError } from "../../core/_printable.ts";

/** Options of {@linkcode RpcClient}. */
export interface RpcClientOptions {
  /**
   * Time a call waits for its reply, in milliseconds, unless the call says otherwise.
   *
   * @default {15000}
   */
  timeout?: number;
  /**
   * Calls waiting for replies at most; the next call rejects with
   * {@linkcode RpcOverloadError}.
   *
   * @default {65536}
   */
  maxPendingCalls?: number;
  /**
   * Largest frame accepted and written, 24 to 65535 (the server's `maxFrameSize`).
   *
   * @default {65535}
   */
  maxFrameSize?: number;
  /**
   * Credentials for the server's authenticator (`ServerOptions.authenticate`), sent as the
   * first frame of every connection (a hello, type 0): `{ user, pass }`, `{ token }`, or any
   * object of strings, numbers and booleans the server's authenticator reads (it sees them as
   * the request's `credentials`, protocol `"rpc"`). The services see the identity it answers as
   * `request.identity`. Calls made meanwhile are sent after it. A refusal rejects
   * {@linkcode connectRpc} (and {@linkcode RpcClient.authenticated}) with
   * {@linkcode RpcAuthenticationError}, and the client closes for good. Send them over TLS
   * where the network is not trusted: the hello carries them as JSON.
   *
   * @default {undefined: none; a server with an authenticator refuses the calls}
   */
  credentials?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Called for errors that belong to no call: the server's error of id 0 (a malformed frame,
   * a failed one-way message, a goodbye), a malformed frame from the server. Without it they
   * are logged with `console.error`.
   */
  onError?(error: Error): void;
}

/** Options of one {@linkcode RpcClient.call}. */
export interface RpcCallOptions {
  /**
   * Time to wait for the reply, in milliseconds.
   *
   * @default {the client's timeout, 15000}
   */
  timeout?: number;
  /**
   * Aborts the call: it rejects with the signal's reason, the server is told (its handler's
   * `request.signal` aborts; so it does when the call times out), and a later reply is dropped.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode connectRpc}: the client's, and the connection's. */
export interface ConnectRpcOptions
  extends RpcClientOptions, Omit<ConnectOptions, "protocol" | "onMessage" | "onError"> {}

/** Options of {@linkcode connectRpc} over a Unix domain socket: `path` instead of `port`. */
export interface UnixConnectRpcOptions
  extends RpcClientOptions, Omit<UnixConnectOptions, "protocol" | "onMessage" | "onError"> {}

const DEFAULT_TIMEOUT = 15_000;

/**
 * The caller's side of Speedo RPC: sends requests with ids, matches replies to calls by id
 * (in any order), and fails calls with typed errors: {@linkcode RpcTimeoutError},
 * {@linkcode RpcRemoteError} (the remote error's name and message),
 * {@linkcode RpcUnknownTypeError}, {@linkcode RpcConnectionError}, or the abort signal's reason.
 *
 * {@linkcode connectRpc} makes one connected over TCP (reconnecting if asked). A client made
 * with `new` exposes its {@linkcode RpcClient.protocol} to run over any connection, such as a
 * `MemoryTransport` in tests. Calls made while no connection is open reject at once; calls
 * pending when a connection closes reject, and are not sent again (the server may have run
 * them). A reply's body is a view that may share its `.buffer` with other replies (see
 * {@linkcode RpcClient.call}).
 *
 * @example A call over an in-memory connection
 * ```ts
 * import { RpcClient } from "@speedo/speedo/rpc";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const rpc = new RpcClient();
 * const transport = new MemoryTransport();
 * const handler = rpc.protocol.create(transport);
 * const reply = rpc.call(3, "hi");
 * const request = transport.bytes(); // the request frame: type 3, kind 1, id 1, "hi"
 * assertEquals([request[2], request[8], request[12]], [3, 1, 1]);
 * // The server's reply: type 3, kind 2, id 1, body "HI".
 * handler.data(new Uint8Array([18, 0, 3, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 72, 73, 0, 0, 0, 0, 0, 0]));
 * assertEquals(new TextDecoder().decode(await reply), "HI");
 * ```
 */
export class RpcClient implements AsyncDisposable {
  /** Runs the RPC client's side over a connection: one handler per connection. */
  readonly protocol: ProtocolHandlerFactory;
  readonly #timeout: number;
  readonly #maxPending: number;
  readonly #maxFrameSize: number;
  readonly #writer: RpcFrameWriter;
  readonly #calls = new PendingCalls();
  readonly #onError: ((error: Error) => void) | undefined;
  #handle: ConnectionHandle | undefined;
  #sweeper: ReturnType<typeof setTimeout> | undefined;
  /** Calls with the default timeout made in this turn, to date at its end. */
  #undated: (PendingCall | undefined)[] = [];
  #undatedCount = 0;
  #closed = false;
  readonly #replies = new ReplyCopies();
  readonly #credentials: string | undefined;
  #authenticated: Promise<string> = Promise.resolve("");

  /**
   * Makes a client; run its {@linkcode RpcClient.protocol} over a connection, or use
   * {@linkcode connectRpc}.
   *
   * @param options Timeouts and limits.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: RpcClientOptions = {}) {
    this.#timeout = checkTimeout(options.timeout ?? DEFAULT_TIMEOUT);
    const maxPending = options.maxPendingCalls ?? 65_536;
    if (!Number.isInteger(maxPending) || maxPending < 1 || maxPending > 0x7fffffff) {
      throw new RangeError(`maxPendingCalls must be a positive integer, got ${maxPending}`);
    }
    this.#maxPending = maxPending;
    const maxFrameSize = options.maxFrameSize ?? 0xffff;
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < 24 || maxFrameSize > 0xffff) {
      throw new RangeError(`maxFrameSize must be an integer from 24 to 65535, got ${maxFrameSize}`);
    }
    this.#maxFrameSize = maxFrameSize;
    this.#writer = new RpcFrameWriter(maxFrameSize);
    this.#onError = options.onError;
    const credentials = options.credentials;
    if (credentials !== undefined) {
      if (
        typeof credentials !== "object" || credentials === null ||
        Object.values(credentials).some((value) =>
          !["string", "number", "boolean"].includes(typeof value)
        )
      ) {
        throw new TypeError(
          `credentials must be an object of strings, numbers and booleans, got ${
            String(credentials)
          }`,
        );
      }
      this.#credentials = JSON.stringify(credentials);
    }
    this.protocol = { create: (context) => this.#attach(context) };
  }

  /** Whether a connection is open to send calls on. */
  get connected(): boolean {
    return this.#handle?.open ?? false;
  }

  /**
   * Settles once the server answered the credentials of the current connection: with the
   * identity's name (`""` from a server without an authenticator, or when the client has no
   * credentials), or rejects with {@linkcode RpcAuthenticationError}.
   */
  get authenticated(): Promise<string> {
    return this.#authenticated;
  }

  /** Calls waiting for their replies. */
  get pending(): number {
    return this.#calls.size;
  }

  /** The largest request body a call can send. */
  get maxBodyLength(): number {
    return this.#writer.maxBodyLength;
  }

  /**
   * Calls the service of `type` with `body` and waits for its reply.
   *
   * @param type The message type, 1 to 65535.
   * @param body The request's body: bytes, or text sent as UTF-8.
   * @param options A timeout, and a signal to abort the call.
   * @returns The reply's body, owned by the caller: no other reply shares its bytes, but bodies
   *   up to 1 KiB are copied side by side into shared 8 KiB buffers (one allocation for many
   *   replies), so its `.buffer` may hold other replies too. Read it through the view (`new
   *   DataView(body.buffer, body.byteOffset, body.length)`, not `new DataView(body.buffer)`).
   *   A small body kept long keeps its whole shared buffer: keep `body.slice()` instead, a
   *   buffer of its own.
   * @throws {RpcTimeoutError} When no reply comes in time.
   * @throws {RpcRemoteError} When the remote handler failed ({@linkcode RpcUnknownTypeError}
   *   when the server has no such service).
   * @throws {RpcConnectionError} When no connection is open, or it closes first.
   * @throws {RpcOverloadError} When `maxPendingCalls` calls are waiting already.
   * @throws {RangeError} When the type or the body's length is out of range.
   *
   * @example A call that times out
   * ```ts
   * import { RpcClient, RpcTimeoutError } from "@speedo/speedo/rpc";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertRejects } from "@std/assert";
   *
   * const rpc = new RpcClient();
   * rpc.protocol.create(new MemoryTransport());
   * await assertRejects(() => rpc.call(1, "no reply comes", { timeout: 10 }), RpcTimeoutError);
   * ```
   *
   * @example Reading a reply through its view
   * ```ts
   * import { RpcClient } from "@speedo/speedo/rpc";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const rpc = new RpcClient();
   * const handler = rpc.protocol.create(new MemoryTransport());
   * const [a, b] = [rpc.call(1), rpc.call(1)];
   * // Two replies in one chunk (type 1, kind 2, ids 1 and 2), bodies u32 7 and u32 9.
   * const frame = (id: number, value: number) => [20, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, id, 0, 0, 0, value, 0, 0, 0, 0, 0, 0, 0];
   * handler.data(new Uint8Array([...frame(1, 7), ...frame(2, 9)]));
   * const [first, second] = await Promise.all([a, b]);
   * assertEquals(new DataView(first.buffer, first.byteOffset, first.length).getUint32(0, true), 7);
   * assertEquals(new DataView(second.buffer, second.byteOffset, second.length).getUint32(0, true), 9);
   * ```
   */
  call(
    type: number,
    body: Uint8Array | string = EMPTY,
    options: RpcCallOptions = NO_OPTIONS,
  ): Promise<Uint8Array> {
    if (!Number.isInteger(type) || type < 1 || type > 0xffff) {
      return Promise.reject(
        new RangeError(`Service type must be an integer from 1 to 65535, got ${type}`),
      );
    }
    return this.#request(type, body, options);
  }

  /**
   * Sends a one-way message: no reply, unless the server has no such service or its handler
   * fails (that error goes to `onError`).
   *
   * @param type The message type, 1 to 65535.
   * @param body The body: bytes, or text sent as UTF-8.
   * @returns `false` when no connection is open (nothing is sent later).
   * @throws {RangeError} When the type or the body's length is out of range.
   *
   * @example
   * ```ts
   * import { RpcClient } from "@speedo/speedo/rpc";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const rpc = new RpcClient();
   * assertEquals(rpc.notify(2, "lost"), false);
   * const transport = new MemoryTransport();
   * rpc.protocol.create(transport);
   * assertEquals(rpc.notify(2, "sent"), true);
   * assertEquals(transport.bytes()[8], 4); // kind: one-way
   * ```
   */
  notify(type: number, body: Uint8Array | string = EMPTY): boolean {
    if (!Number.isInteger(type) || type < 1 || type > 0xffff) {
      throw new RangeError(`Service type must be an integer from 1 to 65535, got ${type}`);
    }
    const handle = this.#handle;
    if (handle === undefined || !handle.open) return false;
    return handle.write(this.#writer.frame(type, RpcKind.notify, 0, body));
  }

  /**
   * A round trip to the server's I/O thread, with no worker involved.
   *
   * @param options A timeout, and a signal to abort.
   * @returns The round trip's time, in milliseconds.
   *
   * @example
   * ```ts
   * import { connectRpc, rpcServer, Services } from "@speedo/speedo/rpc";
   * import { assert } from "@std/assert";
   *
   * await using server = rpcServer({ handler: new Services() });
   * const { port } = await server.listen();
   * await using rpc = await connectRpc({ port });
   * assert(await rpc.ping() >= 0);
   * ```
   */
  async ping(options: RpcCallOptions = NO_OPTIONS): Promise<number> {
    const started = performance.now();
    await this.#request(CONTROL_TYPE, EMPTY, options);
    return performance.now() - started;
  }

  /**
   * Rejects the pending calls, stops reconnecting, and closes the connection made by
   * {@linkcode connectRpc}.
   *
   * @example
   * ```ts
   * import { RpcClient, RpcConnectionError } from "@speedo/speedo/rpc";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertRejects } from "@std/assert";
   *
   * const rpc = new RpcClient();
   * rpc.protocol.create(new MemoryTransport());
   * const call = rpc.call(1, "x");
   * await rpc.close();
   * await assertRejects(() => call, RpcConnectionError);
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#rejectAll(new RpcConnectionError("The RPC client was closed with the call pending"));
    this.#handle = undefined;
    await ownClients.get(this)?.close();
  }

  /** Same as {@linkcode RpcClient.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #request(
    type: number,
    body: Uint8Array | string,
    options: RpcCallOptions,
    kind: number = RpcKind.request,
  ): Promise<Uint8Array> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const handle = this.#handle;
    if (handle === undefined || !handle.open) {
      return Promise.reject(
        new RpcConnectionError(this.#closed ? "The RPC client is closed" : "Not connected"),
      );
    }
    const calls = this.#calls;
    if (calls.size >= this.#maxPending) {
      return Promise.reject(new RpcOverloadError(this.#maxPending));
    }
    let timeout = this.#timeout;
    let frame: Uint8Array;
    const id = calls.nextId();
    try {
      if (options.timeout !== undefined) timeout = checkTimeout(options.timeout);
      frame = this.#writer.frame(type, kind, id, body);
    } catch (error) {
      return Promise.reject(error);
    }
    const call = new PendingCall(id, type);
    const dated = timeout === this.#timeout;
    calls.add(call, dated);
    // The frame lives in a shared scratch buffer: write it (the write copies it) before anything
    // that could run other code, such as arming a timer, can reuse that buffer.
    if (!handle.write(frame)) {
      this.#settle(call);
      call.reject(new RpcConnectionError("The connection closed before the call was sent"));
      return call.promise;
    }
    // Calls with the default timeout expire in the order they were made: one timer, armed for
    // the oldest, serves them all (a timer per call costs more than the rest of the call).
    if (!dated) {
      call.timer = setTimeout(() => {
        if (!this.#settle(call)) return;
        this.#cancelRemote(call);
        call.reject(new RpcTimeoutError(type, id, timeout));
      }, timeout);
    } else {
      this.#undated[this.#undatedCount++] = call;
      if (this.#undatedCount === 1) queueMicrotask(this.#dateCalls);
      if (this.#sweeper === undefined) this.#armSweeper(timeout);
    }
    if (signal !== undefined) {
      call.signal = signal;
      call.onAbort = () => {
        if (!this.#settle(call)) return;
        this.#cancelRemote(call);
        call.reject(signal.reason);
      };
      signal.addEventListener("abort", call.onAbort, { once: true });
    }
    return call.promise;
  }

  /**
   * Dates the calls of the turn that just ran with one clock reading (a reading costs about as
   * much as the rest of a call's bookkeeping, and 50 callers woken together make 50 calls in
   * one turn). Read after the calls, it never makes a call expire early; their requests leave
   * with the turn's writes anyway.
   */
  readonly #dateCalls = (): void => {
    const deadline = performance.now() + this.#timeout;
    const undated = this.#undated;
    for (let i = 0; i < this.#undatedCount; i++) {
      undated[i]!.deadline = deadline;
      undated[i] = undefined;
    }
    this.#undatedCount = 0;
  };

  /** Tells the server that the call was given up on: its handler's signal aborts. */
  #cancelRemote(call: PendingCall): void {
    const handle = this.#handle;
    if (handle !== undefined && handle.open) {
      handle.write(this.#writer.frame(call.type, RpcKind.cancel, call.id, EMPTY));
    }
  }

  /** Arms the one timer of the calls with the default timeout. */
  #armSweeper(delay: number): void {
    this.#sweeper = setTimeout(this.#sweep, Math.max(0, Math.ceil(delay)));
  }

  /** Expires the calls with the default timeout whose deadline passed, oldest first. */
  readonly #sweep = (): void => {
    this.#sweeper = undefined;
    const now = performance.now();
    for (let call = this.#calls.oldest(); call !== undefined; call = this.#calls.oldest()) {
      if (call.deadline > now) {
        // A call not yet dated (made in a timer callback before this one) waits a timeout.
        this.#armSweeper(Math.min(call.deadline - now, this.#timeout));
        return;
      }
      this.#forget(call);
      this.#cancelRemote(call);
      call.reject(new RpcTimeoutError(call.type, call.id, this.#timeout));
    }
  };

  /**
   * Removes a pending call, its timer and its abort listener, and stops the sweeper when no
   * call is left; `false` when the call was settled already.
   */
  #settle(call: PendingCall): boolean {
    if (!this.#calls.delete(call)) return false;
    this.#release(call);
    this.#stopSweeperIfIdle();
    return true;
  }

  /** Removes the pending call of `id`, without the sweeper: replies stop it once per chunk. */
  #take(id: number): PendingCall | undefined {
    const call = this.#calls.take(id);
    if (call !== undefined && (call.timer !== undefined || call.onAbort !== undefined)) {
      this.#release(call);
    }
    return call;
  }

  /** Removes a call known to be pending, without the sweeper. */
  #forget(call: PendingCall): void {
    this.#calls.delete(call);
    this.#release(call);
  }

  #release(call: PendingCall): void {
    if (call.timer !== undefined) clearTimeout(call.timer);
    if (call.onAbort !== undefined) call.signal!.removeEventListener("abort", call.onAbort);
  }

  readonly #stopSweeperIfIdle = (): void => {
    if (this.#calls.size === 0 && this.#sweeper !== undefined) {
      clearTimeout(this.#sweeper);
      this.#sweeper = undefined;
    }
  };

  #attach(context: ProtocolContext): ProtocolHandler {
    this.#handle = context.handle;
    if (this.#credentials !== undefined) {
      // First on the connection, so that the server reads it before any call.
      const hello = this.#request(CONTROL_TYPE, this.#credentials, NO_OPTIONS, RpcKind.hello)
        .then((name) => new TextDecoder().decode(name));
      hello.catch((error) => {
        // The same credentials cannot do better on the next connection: stop for good.
        if (error instanceof RpcAuthenticationError) void this.close();
      });
      this.#authenticated = hello;
    }
    const decoder = new HeaderDecoder({ maxFrameSize: this.#maxFrameSize });
    return {
      data: (chunk) => {
        decoder.feed(chunk);
        const replies = this.#replies;
        try {
          while (true) {
            let length: number;
            try {
              length = decoder.advance();
            } catch (error) {
              if (!(error instanceof MalformedFrameError)) throw error;
              this.#report(error);
              context.handle.close();
              return;
            }
            if (length < 0) return;
            if (length < RPC_HEADER_SIZE) continue;
            const source = decoder.source;
            const start = decoder.payloadStart;
            const kind = source[start];
            const id = rpcId(source, start);
            if (kind === RpcKind.reply) {
              // A reply to a call that timed out or was aborted finds nothing: dropped.
              this.#take(id)?.resolve(
                replies.copy(source, start + RPC_HEADER_SIZE, length - RPC_HEADER_SIZE),
              );
            } else if (kind === RpcKind.error) {
              this.#fail(
                decoder.type,
                id,
                source.subarray(start + RPC_HEADER_SIZE, start + length),
              );
            }
          }
        } finally {
          // The sweeper stops once no call is pending; checked after the callers that the
          // replies woke have run, since most of them call again at once (a timer cleared and
          // armed again per round trip would cost more than the rest of the call).
          if (this.#calls.size === 0 && this.#sweeper !== undefined) {
            queueMicrotask(this.#stopSweeperIfIdle);
          }
        }
      },
      close: () => {
        if (this.#handle === context.handle) this.#handle = undefined;
        this.#rejectAll(new RpcConnectionError("The connection closed with the call pending"));
      },
    };
  }

  /** Handles an error frame: for a call, or for no call (id 0). */
  #fail(type: number, id: number, body: Uint8Array): void {
    const { name, message } = decodeRpcError(body);
    const error = name === "RpcUnknownTypeError"
      ? new RpcUnknownTypeError(type, message)
      : name === "RpcAuthenticationError"
      ? new RpcAuthenticationError(type, message)
      : new RpcRemoteError(type, name, message);
    const call = id === 0 ? undefined : this.#take(id);
    if (call !== undefined) call.reject(error);
    else if (id === 0) this.#report(error);
  }

  #rejectAll(error: Error): void {
    const calls = this.#calls.takeAll();
    for (const call of calls) this.#release(call);
    this.#stopSweeperIfIdle();
    for (const call of calls) call.reject(error);
  }

  #report(error: Error): void {
    if (this.#onError === undefined) {
      console.error(`speedo rpc: ${describeError(error)}`);
      return;
    }
    try {
      this.#onError(error);
    } catch (thrown) {
      console.error(`speedo rpc: onError threw ${describeError(thrown, true)}`);
    }
  }
}

/**
 * Connects an {@linkcode RpcClient} to an RPC server over TCP, or over a Unix domain socket
 * with `transport: "unix"` and `path`.
 *
 * @param options Where to connect, how to reconnect, timeouts and limits.
 * @returns The client, once connected (and, with `credentials`, authenticated).
 * @throws {Deno.errors.ConnectionRefused} (and other dial errors) when the first connection
 *   fails and reconnecting is off.
 * @throws {RpcAuthenticationError} When the server refuses the `credentials`.
 *
 * @example
 * ```ts
 * import { connectRpc, rpcServer, Services } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = rpcServer({ handler: new Services().service(1, ({ body }) => body) });
 * const { port } = await server.listen();
 * await using rpc = await connectRpc({ port, timeout: 5000 });
 * assertEquals(await rpc.call(1, new Uint8Array([1, 2])), new Uint8Array([1, 2]));
 * ```
 */
export async function connectRpc(
  options: ConnectRpcOptions | UnixConnectRpcOptions,
): Promise<RpcClient> {
  const rpc = new RpcClient(options);
  const client = await connect({
    ...options,
    protocol: rpc.protocol,
    onError: options.onError,
  });
  ownClients.set(rpc, client);
  try {
    await rpc.authenticated;
  } catch (error) {
    await rpc.close();
    throw error;
  }
  return rpc;
}

/** The connections that {@linkcode connectRpc} made, closed with their RPC clients. */
const ownClients = new WeakMap<RpcClient, Client>();

const EMPTY = new Uint8Array(0);
const NO_OPTIONS: RpcCallOptions = Object.freeze({});

function checkTimeout(timeout: number): number {
  if (!Number.isFinite(timeout) || timeout < 1 || timeout > 0x7fffffff) {
    throw new RangeError(
      `timeout must be a number of milliseconds from 1 to 2147483647, got ${timeout}`,
    );
  }
  return timeout;
}
