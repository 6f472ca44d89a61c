/**
 * The client half of a connection: {@linkcode connect} dials a server and runs the same
 * {@linkcode ProtocolHandler} model as the server on the outgoing socket, with the same
 * {@linkcode Connection} (read loop, coalesced and bounded writes), and reconnects with
 * exponential backoff and jitter when asked.
 *
 * States of a {@linkcode Client}:
 *
 * | state        | leaves when                                                                    |
 * | ------------ | ------------------------------------------------------------------------------ |
 * | `dialing`    | connected -> `open`; failed -> `waiting` (reconnect) or `closed`               |
 * | `open`       | the connection closed -> `waiting` (reconnect) or `closed`; `close()` -> `closed` |
 * | `waiting`    | the backoff delay passed -> `dialing`; `close()` -> `closed`                   |
 * | `closed`     | -                                                                              |
 *
 * Each connection gets a new protocol handler from the factory (`open -> data* -> eof? ->
 * close`, as on the server); state that must outlive a connection lives in the factory.
 *
 * @module
 */

import { Connection, type ConnectionHost, type ConnectionLimits } from "./connection.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { MessageFailedError, SlowConsumerError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { ProtocolHandlerFactory } from "./protocol.ts";
import { delay } from "./_delay.ts";
import { DispatchFlag } from "./_dispatch_flags.ts";
import { nonNegativeInteger, positiveInteger } from "./_option_checks.ts";
import { describeError } from "./_printable.ts";
import { checkTransport } from "./_transport_checks.ts";

/** How a {@linkcode Client} waits between connection attempts. */
export interface ReconnectOptions {
  /**
   * Delay before the first retry, in milliseconds; each retry multiplies it by `multiplier`.
   *
   * @default {100}
   */
  initialDelay?: number;
  /**
   * Longest delay between attempts, in milliseconds.
   *
   * @default {5000}
   */
  maxDelay?: number;
  /**
   * Growth of the delay per failed attempt.
   *
   * @default {2}
   */
  multiplier?: number;
  /**
   * Share of the delay drawn at random, from 0 (none) to 1 (anything from 0 to the delay), so
   * that clients cut off together do not come back together.
   *
   * @default {0.5}
   */
  jitter?: number;
  /**
   * Failed attempts in a row after which the client gives up and closes.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
}

/** TLS settings of a client: the server's certificate is checked against `caCerts`. */
export interface ClientTlsOptions {
  /**
   * PEM certificates of the authorities to trust, for a server whose certificate no system
   * root signs (a private CA in tests, say).
   *
   * @default {the system's roots}
   */
  caCerts?: string[];
}

/**
 * Options of {@linkcode connect} over TCP, with or without TLS; a Unix socket takes
 * {@linkcode UnixConnectOptions}.
 */
export interface ConnectOptions {
  /**
   * TCP, the default; `"unix"` takes {@linkcode UnixConnectOptions}.
   *
   * @default {"tcp"}
   */
  transport?: "tcp";
  /** Unix sockets only (see {@linkcode UnixConnectOptions}). */
  path?: never;
  /**
   * Connect over TLS (`Deno.connectTls`); the certificate must be valid for `hostname`. Every
   * protocol runs over it unchanged.
   */
  tls?: ClientTlsOptions;
  /**
   * The server's address.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** The server's port. */
  port: number;
  /** Makes the protocol handler of each connection. */
  protocol: ProtocolHandlerFactory;
  /**
   * Reconnect when the connection fails or closes, and retry the first connection: `true` for
   * the default backoff, or its settings. `false` makes one attempt and one connection.
   *
   * @default {false}
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Handles the messages the protocol handler dispatches, on the I/O thread. The payload is a
   * view of the read buffer (or a copy, for a frame assembled from several reads), valid
   * during the call and until a returned promise settles.
   * Without it, a dispatch throws.
   */
  onMessage?(message: Message, connection: ConnectionHandle): void | Promise<void>;
  /**
   * Time one connection attempt may take, in milliseconds.
   *
   * @default {10000}
   */
  connectTimeout?: number;
  /**
   * Largest read buffer, in bytes (it starts at 64 and doubles while reads fill it).
   *
   * @default {65536}
   */
  readBufferSize?: number;
  /**
   * Unflushed output above which the connection stops reading.
   *
   * @default {1048576}
   */
  writeHighWater?: number;
  /**
   * Unflushed output above which the connection is closed as a slow consumer.
   *
   * @default {16777216}
   */
  maxWriteBuffer?: number;
  /**
   * Time a write may wait for the server to read before the connection is closed, in ms.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * Time a connection the client closes may linger, in ms: once its output is flushed its
   * write side is shut and the server's input is read and dropped until the server closes too,
   * so that a reset cannot destroy the last requests on their way. 0 closes at once.
   * `close()` waits for it.
   *
   * @default {2000}
   */
  lingerTimeout?: number;
  /** Stops the client (and a `connect` still dialing, which rejects with the reason). */
  signal?: AbortSignal;
  /** Called each time a connection opens, after its handler's `open`. */
  onOpen?(connection: ConnectionHandle): void;
  /** Called each time a connection closes; `reason` says why when it was not a plain close. */
  onClose?(connection: ConnectionHandle, reason?: Error): void;
  /**
   * Called before waiting to reconnect.
   *
   * @param attempt The number of the coming attempt in this run of retries (1 for the first).
   * @param delay The wait before the next attempt, in milliseconds.
   * @param error Why the last attempt or connection ended.
   */
  onReconnect?(attempt: number, delay: number, error?: Error): void;
  /**
   * Called for unexpected errors: a protocol handler or hook that threw, a socket error other
   * than a reset. Without it, errors are logged with `console.error`.
   */
  onError?(error: Error): void;
}

/**
 * Options of {@linkcode connect} over a Unix domain socket: `path` instead of `hostname` and
 * `port`, and no TLS; the rest as in {@linkcode ConnectOptions}. Not on Windows, where Deno
 * has no Unix sockets.
 */
export interface UnixConnectOptions
  extends Omit<ConnectOptions, "transport" | "path" | "hostname" | "port" | "tls"> {
  /** A Unix domain socket. */
  transport: "unix";
  /** The server's socket file. */
  path: string;
  /** TCP only. */
  hostname?: never;
  /** TCP only. */
  port?: never;
  /** TCP only. */
  tls?: never;
}

/** Counters of a {@linkcode Client}, from {@linkcode Client.stats}. */
export interface ClientStats {
  /** Connections opened. */
  connects: number;
  /** Connection attempts that failed. */
  failedAttempts: number;
  /** Messages dispatched by protocol handlers. */
  messages: number;
  /** Bytes read. */
  bytesIn: number;
  /** Bytes written. */
  bytesOut: number;
}

/** Where a {@linkcode Client} is: see the state table in the module doc. */
export type ClientState = "dialing" | "open" | "waiting" | "closed";

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelay: 100,
  maxDelay: 5000,
  multiplier: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
};

/**
 * The wait before reconnect attempt `attempt` (0 for the first retry): exponential, capped,
 * with a share drawn at random.
 *
 * ```
 * delay = min(maxDelay, initialDelay * multiplier ** attempt) * (1 - jitter * random())
 * ```
 *
 * @param attempt Failed attempts before this one, from 0.
 * @param options The backoff settings.
 * @param random A source of numbers in [0, 1).
 * @returns The delay in milliseconds.
 */
export function backoffDelay(
  attempt: number,
  options: ReconnectOptions = {},
  random: () => number = Math.random,
): number {
  const { initialDelay, maxDelay, multiplier, jitter } = { ...DEFAULT_RECONNECT, ...options };
  const exponential = Math.min(maxDelay, initialDelay * multiplier ** Math.min(attempt, 64));
  return Math.round(exponential * (1 - jitter * random()));
}

/**
 * A client: one outgoing connection at a time, its protocol handler, and the reconnect loop.
 * Make one with {@linkcode connect}.
 *
 * @example An echo round trip over a client
 * ```ts
 * import { connect, type ProtocolContext } from "@speedo/speedo";
 * import { LineDecoder } from "@speedo/speedo/framing";
 * import { echoServer } from "@speedo/speedo/echo";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = echoServer({ port: 0, workers: 0 });
 * const { port } = await server.listen();
 * const lines: string[] = [];
 * const { promise: answered, resolve } = Promise.withResolvers<void>();
 * await using client = await connect({
 *   port,
 *   protocol: {
 *     create(context: ProtocolContext) {
 *       const decoder = new LineDecoder();
 *       return {
 *         open: () => void context.handle.write("hello\n"),
 *         data(chunk: Uint8Array) {
 *           decoder.feed(chunk);
 *           for (let line = decoder.next(); line !== null; line = decoder.next()) {
 *             lines.push(new TextDecoder().decode(line));
 *             resolve();
 *           }
 *         },
 *       };
 *     },
 *   },
 * });
 * await answered;
 * assertEquals(lines, ["hello"]);
 * assertEquals(client.connected, true);
 * ```
 */
export class Client implements AsyncDisposable {
  readonly #options: ConnectOptions | UnixConnectOptions;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  readonly #limits: ConnectionLimits;
  readonly #connectTimeout: number;
  readonly #writeTimeout: number;
  /** How often the watchdog checks the write under way and advances the clock, in ms. */
  readonly #watchPeriod: number;
  /**
   * The connection's coarse clock (ms), advanced by the watchdog: stamping activity with it
   * costs no clock reading per read and write.
   */
  #clock = 0;
  readonly #host: ConnectionHost;
  readonly #stop = new AbortController();
  readonly #firstOpen = Promise.withResolvers<void>();
  readonly #ended = Promise.withResolvers<Error | undefined>();
  #state: ClientState = "dialing";
  #connection: Connection | undefined;
  #connectionClosed: PromiseWithResolvers<Error | undefined> | undefined;
  /** The last connection's socket while it lingers after its close. */
  #lingering: Promise<void> | undefined;
  #nextId = 1;
  #run: Promise<void> | undefined;
  readonly #onAbort = (): void => this.#stop.abort(this.#options.signal?.reason);
  #stats: ClientStats = { connects: 0, failedAttempts: 0, messages: 0, bytesIn: 0, bytesOut: 0 };

  /**
   * Makes a client and starts dialing; prefer {@linkcode connect}, which waits for the first
   * connection.
   *
   * @param options Where to connect, the protocol, and how to reconnect.
   * @throws {TypeError} When the protocol is missing, or the transport options contradict
   *   each other (`"unix"` without `path`, or with `hostname`, `port` or `tls`).
   * @throws {RangeError} When a bound is out of range.
   */
  constructor(options: ConnectOptions | UnixConnectOptions) {
    if (typeof options?.protocol?.create !== "function") {
      throw new TypeError("connect options need a protocol with a create(context) method");
    }
    if (
      !checkTransport("connect", options) &&
      (!Number.isInteger(options.port) || options.port! < 1 || options.port! > 65535)
    ) {
      throw new RangeError(`port must be an integer from 1 to 65535, got ${options.port}`);
    }
    this.#options = options;
    this.#reconnect = resolveReconnect(options.reconnect);
    this.#limits = {
      readBufferSize: positiveInteger("readBufferSize", options.readBufferSize ?? 64 * 1024),
      writeHighWater: positiveInteger("writeHighWater", options.writeHighWater ?? 1024 * 1024),
      maxWriteBuffer: positiveInteger("maxWriteBuffer", options.maxWriteBuffer ?? 16 * 1024 * 1024),
      // A turn's writes leave as one at its end. Writing early (as servers do) measured slower
      // here: an RPC client with many callers is CPU-bound, and a second write costs it more
      // than the server gains by starting early.
      earlyFlushBytes: Infinity,
      lingerTimeout: nonNegativeInteger("lingerTimeout", options.lingerTimeout ?? 2000),
    };
    if (this.#limits.maxWriteBuffer < this.#limits.writeHighWater) {
      throw new RangeError(
        `maxWriteBuffer (${this.#limits.maxWriteBuffer}) must be at least writeHighWater (${this.#limits.writeHighWater})`,
      );
    }
    this.#connectTimeout = positiveInteger("connectTimeout", options.connectTimeout ?? 10_000);
    this.#writeTimeout = positiveInteger("writeTimeout", options.writeTimeout ?? 30_000);
    this.#watchPeriod = Math.max(10, Math.min(1000, this.#writeTimeout >> 2));
    this.#host = this.#makeHost();
    // connect() observes the first open; a client made directly must not reject unobserved.
    this.#firstOpen.promise.catch(() => {});
    this.#stop.signal.addEventListener("abort", () => this.#connection?.close(), { once: true });
    const signal = options.signal;
    if (signal?.aborted) this.#stop.abort(signal.reason);
    else signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#run = this.#loop();
  }

  /** Where the client is: dialing, open, waiting to reconnect, or closed. */
  get state(): ClientState {
    return this.#state;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.#connection?.open ?? false;
  }

  /** The handle of the connection open now, or `undefined` between connections. */
  get connection(): ConnectionHandle | undefined {
    return this.#connection?.open ? this.#connection.handle : undefined;
  }

  /**
   * Settles when the client has stopped for good: with `undefined` after
   * {@linkcode Client.close}, or with the error that ended it (the connection closed and
   * reconnecting is off, or `maxAttempts` failed attempts).
   */
  get ended(): Promise<Error | undefined> {
    return this.#ended.promise;
  }

  /** Resolves at the first connection; rejects when the client stops before it. */
  get opened(): Promise<void> {
    return this.#firstOpen.promise;
  }

  /**
   * Queues bytes to the connection open now.
   *
   * @param data Bytes, or text sent as UTF-8.
   * @returns `false` when no connection is open: nothing is queued for a later one.
   *
   * @example
   * ```ts
   * import { connect, type ProtocolHandler } from "@speedo/speedo";
   * import { echoServer } from "@speedo/speedo/echo";
   * import { assertEquals } from "@std/assert";
   *
   * await using server = echoServer({ port: 0, workers: 0 });
   * const { port } = await server.listen();
   * const client = await connect({ port, protocol: { create: (): ProtocolHandler => ({ data() {} }) } });
   * assertEquals(client.write("hi\n"), true);
   * await client.close();
   * assertEquals(client.write("late\n"), false);
   * ```
   */
  write(data: Uint8Array | string): boolean {
    return this.#connection?.write(data) ?? false;
  }

  /**
   * Counters, read now.
   *
   * @returns A fresh object.
   *
   * @example
   * ```ts
   * import { connect, type ProtocolHandler } from "@speedo/speedo";
   * import { echoServer } from "@speedo/speedo/echo";
   * import { assertEquals } from "@std/assert";
   *
   * await using server = echoServer({ port: 0, workers: 0 });
   * const { port } = await server.listen();
   * await using client = await connect({ port, protocol: { create: (): ProtocolHandler => ({ data() {} }) } });
   * assertEquals(client.stats().connects, 1);
   * ```
   */
  stats(): ClientStats {
    return { ...this.#stats };
  }

  /**
   * Stops reconnecting and closes the connection once its output is flushed (at most
   * `writeTimeout`). Calling it again returns the same promise.
   *
   * @returns Resolves once the socket is closed and no timer is left.
   *
   * @example
   * ```ts
   * import { connect, type ProtocolHandler } from "@speedo/speedo";
   * import { echoServer } from "@speedo/speedo/echo";
   * import { assertEquals } from "@std/assert";
   *
   * await using server = echoServer({ port: 0, workers: 0 });
   * const { port } = await server.listen();
   * const client = await connect({ port, reconnect: true, protocol: { create: (): ProtocolHandler => ({ data() {} }) } });
   * await client.close();
   * assertEquals(client.connected, false);
   * assertEquals(await client.ended, undefined);
   * ```
   */
  async close(): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort();
    this.#connection?.close();
    await this.#run;
  }

  /** Same as {@linkcode Client.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    let lastError: Error | undefined;
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      this.#state = "dialing";
      let conn: Deno.Conn;
      try {
        conn = await this.#dial();
      } catch (error) {
        lastError = asError(error);
        if (stop.aborted) break;
        this.#stats.failedAttempts++;
        failures++;
        if (this.#reconnect === undefined || failures >= this.#reconnect.maxAttempts) break;
        if (!await this.#wait(failures, lastError)) break;
        continue;
      }
      if (stop.aborted) {
        closeQuietly(conn);
        break;
      }
      failures = 0;
      lastError = (await this.#serve(conn)) ??
        new Deno.errors.ConnectionAborted("The server closed the connection");
      if (this.#reconnect === undefined || stop.aborted) break;
      if (!await this.#wait(0, lastError)) break;
    }
    this.#state = "closed";
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#firstOpen.reject(
      stop.aborted
        ? (this.#options.signal?.aborted
          ? this.#options.signal.reason
          : new Deno.errors.Interrupted(
            "The client was closed before it connected",
          ))
        : lastError,
    );
    this.#ended.resolve(stop.aborted ? undefined : lastError);
  }

  /** Dials once, under `connectTimeout` and the stop signal. */
  async #dial(): Promise<Deno.Conn> {
    const attempt = new AbortController();
    const onStop = () => attempt.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener("abort", onStop, { once: true });
    const timer = setTimeout(
      () =>
        attempt.abort(
          new Deno.errors.TimedOut(`Connect timed out after ${this.#connectTimeout} ms`),
        ),
      this.#connectTimeout,
    );
    try {
      const options = this.#options;
      let conn: Deno.Conn;
      if (options.transport === "unix") {
        conn = await abortable(
          Deno.connect({ transport: "unix", path: options.path }),
          attempt.signal,
        );
      } else {
        const hostname = options.hostname ?? "127.0.0.1";
        const port = options.port;
        const tls = options.tls;
        conn = tls === undefined
          ? await Deno.connect({ hostname, port, transport: "tcp", signal: attempt.signal })
          : await abortable(handshake(hostname, port, tls), attempt.signal);
      }
      if (attempt.signal.aborted) {
        closeQuietly(conn);
        throw attempt.signal.reason;
      }
      return conn;
    } catch (error) {
      throw attempt.signal.aborted ? attempt.signal.reason : error;
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", onStop);
    }
  }

  /** Runs one connection to its end; returns why it ended. */
  async #serve(conn: Deno.Conn): Promise<Error | undefined> {
    try {
      // Nagle would hold small writes back for the peer's delayed ACK.
      // (TLS connections have no such switch: a turn's writes already leave as one; Unix
      // sockets have no Nagle.)
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // The peer is gone already; the read loop will see it.
    }
    // The coarse clock starts now: the connection stamps its first activity with it.
    this.#clock = Date.now();
    const connection = new Connection(
      conn,
      this.#nextId++,
      this.#host,
      this.#limits,
      conn.remoteAddr,
    );
    const closed = Promise.withResolvers<Error | undefined>();
    this.#connection = connection;
    this.#connectionClosed = closed;
    this.#state = "open";
    this.#stats.connects++;
    const watchdog = setInterval(() => this.#watch(connection), this.#watchPeriod);
    connection.start(this.#options.protocol);
    if (connection.open) {
      this.#firstOpen.resolve();
      this.#hook(() => this.#options.onOpen?.(connection.handle));
      // close() may have come while the handler opened.
      if (this.#stop.signal.aborted) connection.close();
    }
    const reason = await closed.promise;
    clearInterval(watchdog);
    await this.#lingering;
    this.#lingering = undefined;
    this.#connection = undefined;
    this.#connectionClosed = undefined;
    this.#hook(() => this.#options.onClose?.(connection.handle, reason));
    return reason;
  }

  /** Closes a connection whose write waits past `writeTimeout`. */
  #watch(connection: Connection): void {
    const now = this.#clock = Date.now();
    const started = connection.writeStartedAt;
    // Stamped with the coarse clock, up to one period early: never cut a write early.
    if (started >= 0 && now - started > this.#writeTimeout + this.#watchPeriod) {
      connection.destroy(
        new SlowConsumerError(`A write waited more than writeTimeout (${this.#writeTimeout} ms)`),
      );
    }
  }

  /** Waits before the next attempt; `false` when the client stopped meanwhile. */
  async #wait(failures: number, error: Error | undefined): Promise<boolean> {
    this.#state = "waiting";
    const wait = backoffDelay(failures, this.#reconnect);
    this.#hook(() => this.#options.onReconnect?.(failures + 1, wait, error));
    try {
      await delay(wait, this.#stop.signal);
      return true;
    } catch {
      return false;
    }
  }

  #makeHost(): ConnectionHost {
    // deno-lint-ignore no-this-alias
    const client = this;
    return {
      get now() {
        return client.#clock;
      },
      readsPaused: false,
      dispatch(connection, payload, type, flags) {
        const onMessage = client.#options.onMessage;
        if (onMessage === undefined) {
          throw new TypeError("This client has no onMessage to handle dispatched messages");
        }
        client.#stats.messages++;
        // A view of a decoder's buffer (a frame assembled from several chunks) is overwritten by
        // later chunks, which a handler's pending promise could still be reading: copy it.
        const keepable = (flags & DispatchFlag.keepable) !== 0;
        if (!keepable) payload = payload.slice();
        let result: void | Promise<void>;
        try {
          result = onMessage({ connectionId: connection.id, type, payload }, connection.handle);
        } catch (error) {
          client.#messageFailed(connection, error);
          connection.messageDone();
          return false;
        }
        if (!(result instanceof Promise)) {
          connection.messageDone();
          return false;
        }
        result.then(
          () => connection.messageDone(),
          (error) => {
            client.#messageFailed(connection, error);
            connection.messageDone();
          },
        );
        return keepable;
      },
      messageDone() {},
      closed(_connection, reason) {
        client.#connectionClosed?.resolve(reason);
      },
      error(error) {
        client.#report(error);
      },
      lingering(done) {
        client.#lingering = done;
      },
      countBytes(read, written) {
        client.#stats.bytesIn += read;
        client.#stats.bytesOut += written;
      },
    };
  }

  #messageFailed(connection: Connection, error: unknown): void {
    const failure = new MessageFailedError(
      connection.id,
      `Message handler failed: ${asError(error).message}`,
      { cause: error },
    );
    this.#report(failure);
    connection.messageFailed(failure);
  }

  #report(error: unknown): void {
    const err = asError(error);
    const onError = this.#options.onError;
    if (onError === undefined) {
      console.error(`speedo client: ${describeError(err)}`);
      return;
    }
    try {
      onError(err);
    } catch (thrown) {
      console.error(`speedo client: onError threw ${describeError(thrown, true)}`);
    }
  }

  #hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#report(error);
    }
  }
}

/**
 * Connects to a server and runs `protocol` on the connection; with `reconnect`, keeps a
 * connection up until {@linkcode Client.close}.
 *
 * @param options Where to connect, the protocol, and how to reconnect.
 * @returns The client, once its first connection is open.
 * @throws {Deno.errors.ConnectionRefused} (and other dial errors) when the first connection
 *   fails and reconnecting is off, or `maxAttempts` attempts failed.
 *
 * @example Reconnecting after the server comes back
 * ```ts
 * import { connect, type ProtocolHandler } from "@speedo/speedo";
 * import { echoServer } from "@speedo/speedo/echo";
 * import { assertEquals } from "@std/assert";
 * import { deadline } from "@std/async/deadline";
 *
 * const first = echoServer({ port: 0, workers: 0 });
 * const { port } = await first.listen();
 * const opened: number[] = [];
 * const reopened = Promise.withResolvers<void>();
 * await using client = await connect({
 *   port,
 *   protocol: { create: (): ProtocolHandler => ({ data() {} }) },
 *   reconnect: { initialDelay: 10, maxDelay: 50 },
 *   onOpen: (connection) => {
 *     if (opened.push(connection.id) === 2) reopened.resolve();
 *   },
 * });
 * await first.close();
 * await using second = echoServer({ port, workers: 0 });
 * await second.listen();
 * await deadline(reopened.promise, 5000);
 * assertEquals(opened, [1, 2]);
 * ```
 */
export async function connect(options: ConnectOptions | UnixConnectOptions): Promise<Client> {
  const client = new Client(options);
  try {
    await client.opened;
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

function resolveReconnect(
  option: boolean | ReconnectOptions | undefined,
): Required<ReconnectOptions> | undefined {
  if (option === undefined || option === false) return undefined;
  const settings = { ...DEFAULT_RECONNECT, ...(option === true ? {} : option) };
  for (const name of ["initialDelay", "maxDelay", "multiplier"] as const) {
    if (!Number.isFinite(settings[name]) || settings[name] < 0) {
      throw new RangeError(
        `reconnect.${name} must be a non-negative number, got ${settings[name]}`,
      );
    }
  }
  if (!(settings.jitter >= 0 && settings.jitter <= 1)) {
    throw new RangeError(`reconnect.jitter must be from 0 to 1, got ${settings.jitter}`);
  }
  if (!(settings.maxAttempts >= 1)) {
    throw new RangeError(`reconnect.maxAttempts must be at least 1, got ${settings.maxAttempts}`);
  }
  return settings;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/**
 * Dials over TLS and completes the handshake, so a certificate the client does not trust fails
 * the connect itself, not the first read.
 */
async function handshake(
  hostname: string,
  port: number,
  tls: ClientTlsOptions,
): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({ hostname, port, caCerts: tls.caCerts });
  try {
    await conn.handshake();
  } catch (error) {
    closeQuietly(conn);
    throw error;
  }
  return conn;
}

/** Settles with `connecting`, or rejects when `signal` aborts first (closing a late connection). */
function abortable(connecting: Promise<Deno.Conn>, signal: AbortSignal): Promise<Deno.Conn> {
  if (signal.aborted) {
    connecting.then(closeQuietly, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      connecting.then(closeQuietly, () => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) closeQuietly(conn);
        else resolve(conn);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
