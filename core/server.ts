import { ConnectionTable, isOpenAmong, loopOf, MAX_SLOTS } from "./_connection_table.ts";
import {
  Connection,
  type ConnectionHost,
  type ConnectionLimits,
  LocalConnectionHandle,
} from "./connection.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import {
  type AuthenticationResult,
  type Authenticator,
  checkedResult,
  isRefusal,
} from "./authentication.ts";
import { addressCounts, AddressLimit, OVER_LIMIT } from "./_address_limit.ts";
import type { NodeTlsOptions } from "./_node_tls.ts";
import {
  IdleTimeoutError,
  type MessageFailedError,
  ServerClosedError,
  SlowConsumerError,
} from "./errors.ts";
import type { MessageHandler } from "./message_handler.ts";
import type { ProtocolHandlerFactory } from "./protocol.ts";
import { type ReplySink, WorkerPool, type WorkerTransport } from "./worker_pool.ts";
import { DEFAULT_IN_FLIGHT_CAPACITY, InFlightCounter } from "./_in_flight_counter.ts";
import { nonNegativeInteger, positiveInteger } from "./_option_checks.ts";
import { linger } from "./_linger.ts";
import { checkTransport } from "./_transport_checks.ts";
import { describeError } from "./_printable.ts";
import {
  addressText,
  type ConnectionInfo,
  type ConnectionListOptions,
  type ConnectionPage,
  MAX_CONNECTION_LIST,
} from "./connection_info.ts";
import { resolveModule } from "./_resolve_module.ts";
import { threadRole } from "./_thread_role.ts";
import { Counter, COUNTER_COUNT, type CounterValues, readCounters } from "./_server_counters.ts";
import { LOOP_RUNTIME, type LoopRuntime } from "./_loop_runtime.ts";
import { singleLoopContext } from "./_loop_bus.ts";
import { RemoteConnectionHandle, type RemoteRoute } from "./_remote_handle.ts";
import { LoopGroup, loopGroups, resolveLoops } from "./_loop_group.ts";

/** A server's TLS identity, in PEM, and who its clients must be. */
export interface TlsOptions {
  /** The certificate chain, PEM-encoded. */
  cert: string;
  /** The private key, PEM-encoded. */
  key: string;
  /**
   * CA certificates (PEM) that every client's certificate must chain to: mutual TLS. A client
   * without one, or with another, fails the handshake and is closed; the verified certificate
   * reaches `authenticate` (`request.tls.peerCertificate`). `Deno.listenTls` cannot ask for
   * client certificates, so such a listener runs its TLS through `node:tls` on a plain
   * socket (a copy each way: measure before using it where throughput matters).
   *
   * @default {undefined: no client certificates asked}
   */
  clientCa?: string;
}

/** One more TCP address a {@linkcode Server} accepts on (`ServerOptions.listeners`). */
export interface ListenerOptions {
  /** Address to listen on. @default {the server's hostname} */
  hostname?: string;
  /** Port; 0 picks a free one. @default {0} */
  port?: number;
  /** Serve TLS on this address, with this certificate chain and key. @default {none} */
  tls?: TlsOptions;
}

/**
 * The kind of socket a {@linkcode Server} listens on or {@linkcode connect} dials: `"tcp"`
 * (with or without TLS) or `"unix"`, a Unix domain socket at a file path (not on Windows,
 * where Deno has none).
 */
export type SocketTransport = "tcp" | "unix";

/**
 * The address a server of transport `T` listens on: `Deno.NetAddr` for TCP and TLS,
 * `Deno.UnixAddr` for a Unix socket, either for `SocketTransport` itself.
 */
export type ServerAddress<T extends SocketTransport = SocketTransport> = T extends "unix"
  ? Deno.UnixAddr
  : Deno.NetAddr;

/**
 * Options of {@linkcode Server}: one object configures everything. `T` is the transport,
 * inferred from `transport` (TCP when it is left out): it types what `listen()` returns, and
 * makes the options of the other transport a compile error (`port` with `"unix"`, `path`
 * without it).
 */
export interface ServerOptions<T extends SocketTransport = "tcp"> {
  /** Makes the protocol handler of each connection. */
  protocol: ProtocolHandlerFactory;
  /**
   * `"tcp"`, or `"unix"` to listen on a Unix domain socket at `path` (Linux and macOS; not
   * on Windows, where Deno has none; not with `hostname`, `port` or `tls`). Over a Unix socket
   * every protocol runs unchanged and Nagle does not exist. Deno asks for `--allow-read`,
   * `--allow-write` and `--allow-net` (`--allow-net=unix:/path/to.sock`) for it; no unstable
   * flag.
   *
   * @default {"tcp"}
   */
  transport?: T;
  /**
   * The socket file of a `"unix"` server (needed there, refused otherwise). The server
   * creates it at `listen()` and removes it at `close()`. A socket file already at `path`
   * that no one accepts on (left by a process that died) is replaced; one a server still
   * accepts on, or a file that is not a socket, fails `listen()` with `AddrInUse`.
   */
  path?: T extends "unix" ? string : never;
  /**
   * Address to listen on. Use `"0.0.0.0"` to accept connections from other hosts. TCP only.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: T extends "unix" ? never : string;
  /**
   * Port to listen on; 0 picks a free port (read it from what `listen()` returns). TCP only.
   *
   * @default {0}
   */
  port?: T extends "unix" ? never : number;
  /**
   * Serve over TLS (`Deno.listenTls`) with this PEM certificate chain and private key; every
   * protocol runs over it unchanged. TLS sockets cannot turn Nagle off, which costs nothing
   * here: a connection's replies of one turn already leave in one write. TCP only.
   */
  tls?: T extends "unix" ? never : TlsOptions;
  /**
   * The message handler module, as a URL (`new URL("./handler.ts", import.meta.url)`), or a
   * path resolved against the working directory. Its default export is a
   * {@linkcode MessageHandler}. It runs in every worker, or on the I/O thread with `workers: 0`.
   * A {@linkcode MessageHandler} object runs on the I/O thread only (`workers: 0`), like
   * `onMessage`, with its options (`keepsPayload`).
   */
  handler?: string | URL | MessageHandler;
  /**
   * Startup data for the message handler: structured-clonable (checked at construction, a
   * `TypeError` if not), given as a clone to its {@linkcode MessageHandler.init} once per
   * worker (each replacement and each worker a resize starts too), and once on the I/O thread
   * when it runs inline, before its first message.
   *
   * @default {undefined}
   */
  handlerData?: unknown;
  /**
   * Handles messages on the I/O thread, instead of a `handler` module (needs `workers: 0`).
   */
  onMessage?: MessageHandler["onMessage"];
  /**
   * More TCP addresses to accept on, besides `hostname`/`port`: one protocol factory serves
   * them all, and each connection's {@linkcode ProtocolContext.listener} says which it came on
   * (0 the main address, `i + 1` the i-th of these): one server (one pub/sub router, one
   * session table) for NATS over TCP and over WebSocket, say. `hostname` defaults to the
   * server's, `port` to 0 (a free port: read it from `addresses`), `tls` to none. TCP only.
   * With `loops` each loop listens on each (`SO_REUSEPORT`).
   *
   * @default {[]}
   */
  listeners?: T extends "unix" ? never : ListenerOptions[];
  /**
   * I/O loops: each its own thread, with its own listener on the one port (`SO_REUSEPORT`, the
   * kernel spreads new connections), its own protocol factory (built from the factory's
   * {@linkcode ProtocolHandlerFactory.recipe}) and its own `workers`. `"auto"` is one per core
   * (`navigator.hardwareConcurrency`). Above 1 the thread that made the server coordinates:
   * its hooks run there (`onConnect` and `onClose` with the connection's loop), `stats()` sums
   * the loops (a row each in `loops`), a handle from any loop or worker writes to its
   * connection wherever it lives, and a loop that dies is replaced.
   *
   * Above 1 needs: Linux (elsewhere one loop runs, said once), Deno's `--unstable-net` (or
   * `"unstable": ["net"]` in deno.json; `Deno.listen`'s `reusePort` is unstable in Deno 2.9;
   * a `TypeError` here without it), TCP (not `"unix"`), a protocol with a `recipe`, and a
   * `handler` module if any (not `onMessage` or a handler object). `maxConnections` is global,
   * `queueCapacity` and `workers` are per loop. See docs/DESIGN.md, "I/O loops".
   *
   * @default {1}
   */
  loops?: number | "auto";
  /**
   * Web Workers that run the message handler; 0 runs it inline on the I/O thread, the fastest
   * path for handlers that do little. Per loop (`loops`).
   *
   * @default {0}
   */
  workers?: number;
  /**
   * How message batches cross to the workers and back: `"ring"` (shared-memory rings woken by
   * atomics, large batches transferred by `postMessage` in their place; faster for small
   * messages) or `"batch"` (one transferred buffer per worker per turn in `postMessage`).
   * The ring is faster for small messages and even for large ones (README's benchmarks have
   * the figures).
   *
   * @default {"ring"}
   */
  workerTransport?: WorkerTransport;
  /**
   * Messages of one connection the message handler may handle at once. 1 keeps a
   * connection's messages in order: a handler's promise holds the next one (in a worker, the
   * worker's next message). Above 1, replies leave as handlers finish, in any order: for
   * protocols whose replies name their request, such as RPC. A message counts against
   * `queueCapacity` until its promise settles, and a connection that ends waits for all of
   * them.
   *
   * @default {1}
   */
  concurrency?: number;
  /**
   * Most connections open at once, over all loops; the next one is told (see
   * {@linkcode ProtocolHandlerFactory.refusal}) and closed. At most 1,048,576.
   *
   * @default {16384}
   */
  maxConnections?: number;
  /**
   * Messages accepted and not yet handled at which every connection stops reading until half
   * of them are done. Per loop (`loops`).
   *
   * @default {8192}
   */
  queueCapacity?: number;
  /**
   * Largest read buffer of a connection. Each starts at 64 bytes, doubles while reads fill
   * it and halves after a run of small reads, so idle connections cost little memory.
   *
   * @default {65536}
   */
  readBufferSize?: number;
  /**
   * Unflushed output of a connection above which it stops reading (its replies wait for the
   * peer to read).
   *
   * @default {4194304}
   */
  writeHighWater?: number;
  /**
   * Unflushed output of a connection above which it is closed as a slow consumer.
   *
   * @default {16777216}
   */
  maxWriteBuffer?: number;
  /**
   * Answers to one chunk read, in bytes, at which a connection's write starts at once; 0
   * turns it off. A turn's writes to a connection are coalesced into one socket write at the
   * turn's end; once the protocol handler has answered the chunk it is handling with this
   * much, the write starts now and the rest follows at the end (two writes at most), so a peer
   * that sent a batch of requests starts on the answers while the rest are made (many RPC
   * callers on one connection gain most; `deno task bench:rpc`). Writes made outside the
   * handler's `data` (fan-out to other connections, a worker's replies) keep one write per
   * turn: there an extra write costs a CPU-bound server throughput (pub/sub fan-out lost when
   * they split too). Always off over TLS: there Nagle cannot
   * be turned off, and a second small write would wait for the peer's delayed ACK.
   *
   * @default {1024}
   */
  earlyFlushBytes?: number;
  /**
   * Time a write may wait for the peer to read before the connection is closed as a slow
   * consumer, in milliseconds.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * Time a connection the server closes (a protocol's `close()`, a goodbye, shutdown) may
   * linger, in milliseconds: once its output is flushed its write side is shut, and the
   * peer's input is read and dropped until the peer closes too or this time passes. Closing a
   * socket with unread input makes the kernel reset it and destroy the answers still on their
   * way; 0 closes at once, as before. `close()` waits for lingering sockets.
   *
   * @default {2000}
   */
  lingerTimeout?: number;
  /**
   * Time a connection may stay silent (nothing read or written) before it is closed, in
   * milliseconds; 0 never closes idle connections.
   *
   * @default {300000}
   */
  idleTimeout?: number;
  /**
   * Period of `onTick`, in milliseconds.
   *
   * @default {1000}
   */
  tickInterval?: number;
  /**
   * Time `close()` gives accepted messages to be answered and flushed, in milliseconds.
   *
   * @default {10000}
   */
  shutdownTimeout?: number;
  /**
   * Checks the credentials a protocol's peers present (NATS `CONNECT`, a session login, ...):
   * the protocol asks it through {@linkcode ProtocolContext.authenticate} and refuses on its
   * wire what it refuses. With it, protocols that can tell their peers (NATS `auth_required`)
   * require credentials. With `loops` above 1 it runs on this thread for every loop, so
   * `grants` must be plain data. See {@linkcode Authenticator}.
   *
   * @default {undefined: no checks, every peer is accepted as `{ name: "" }`}
   */
  authenticate?: Authenticator;
  /**
   * Time `authenticate` has to answer one request, in milliseconds; later is a refusal.
   *
   * @default {5000}
   */
  authenticationTimeout?: number;
  /**
   * Most connections open at once from one remote IP address (over all loops); the next one
   * is refused as over `maxConnections`. 0: no bound but `maxConnections`, the default,
   * because one address often stands for many clients (a NAT gateway, a proxy, every
   * loopback client). Counted in 65,536 buckets by a keyed hash of the address: two
   * addresses that share a bucket share its bound (refusing early, never late), and a peer
   * cannot choose whose bucket it falls in.
   *
   * @default {0}
   */
  maxConnectionsPerAddress?: number;
  /** Called once listening, with the bound address. */
  onStart?(address: ServerAddress<T>): void;
  /**
   * Called for each connection accepted, before its handler's `open` (with `loops` above 1,
   * on the coordinating thread, as the loop goes on: its handler may have started already).
   */
  onConnect?(connection: ConnectionHandle, loop: number): void;
  /**
   * Called when a connection closed; `reason` tells why when the server closed it (a
   * {@linkcode LoopDiedError} when its loop died).
   */
  onClose?(connection: ConnectionHandle, reason: Error | undefined, loop: number): void;
  /**
   * Called for unexpected errors: a protocol handler or hook that threw, a failed message, a
   * dead worker, a socket error other than the peer's reset. Closes the server decides (idle
   * timeout, slow consumer, shutdown) are not errors: `onClose` gets them as its `reason`.
   * Without `onError`, errors are logged with `console.error`.
   */
  onError?(error: Error, connection?: ConnectionHandle): void;
  /** Called every `tickInterval` while the server runs. */
  onTick?(server: Server<T>): void;
}

/** Counters of a {@linkcode Server}, or of one of its loops. */
export interface ServerCounters {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Connections refused because `maxConnections` were open. */
  refused: number;
  /** Messages dispatched by protocol handlers. */
  messagesIn: number;
  /** Messages the message handlers are done with (answered or failed). */
  messagesOut: number;
  /** Messages accepted and not yet done (waiting plus being handled). */
  queueDepth: number;
  /** Bytes read from connections. */
  bytesIn: number;
  /** Bytes written to connections. */
  bytesOut: number;
  /** Workers running in the pool now (0 when messages are handled inline). */
  workers: number;
  /** Connections closed as slow consumers (`SlowConsumerError`) since start. */
  slowConsumers: number;
  /** Errors reported (to `onError`, or logged without it) since start. */
  errors: number;
}

/**
 * Counters of a {@linkcode Server}, from {@linkcode Server.stats}: the sum over its loops,
 * and a row per loop. A loop's `queueDepth` and `workers` are sampled by the loop at least
 * once a second; the other counters are live.
 */
export interface ServerStats extends ServerCounters {
  /** Per loop, by index (one row for a server of one loop). */
  loops: ServerCounters[];
}

type ServerState = "new" | "starting" | "running" | "closing" | "closed";

/** Time a refused peer gets to read its refusal, in milliseconds. */
const REFUSAL_GRACE = 1000;

/** Time the goodbyes of a shutdown get to reach the peers, in milliseconds. */
const GOODBYE_GRACE = 1000;

/** Idle time after which a connection gives back its spare buffers, in milliseconds. */
const TRIM_AFTER_IDLE = 5000;

/**
 * A TCP (or Unix socket) server: accepts connections, frames their bytes with a protocol, and handles the
 * messages in a pool of workers (or inline), answering through connection handles.
 *
 * ```
 * accept ─▶ Connection ─bytes─▶ ProtocolHandler ─Message─▶ worker pool (or inline)
 *               ▲                                                     │
 *               └───── replies by connection id (ConnectionHandle) ◀──┘
 * ```
 *
 * Bounds: `maxConnections`; per connection a read buffer, `writeHighWater` (reads pause) and
 * `maxWriteBuffer`/`writeTimeout` (slow consumers are closed); `queueCapacity` (all reads pause
 * until the handlers catch up); `idleTimeout`. One connection's fault closes that connection
 * only. `close()` is graceful: it stops accepting and reading, lets every accepted message be
 * answered and flushed (up to `shutdownTimeout`), then closes sockets and workers.
 *
 * `T` is the transport (see {@linkcode ServerOptions.transport}), inferred from the options:
 * `Server` alone is a TCP server, whose `listen()` gives a `Deno.NetAddr`; a
 * `Server<"unix">`'s gives a `Deno.UnixAddr`; `Server<SocketTransport>` holds either.
 *
 * @example An upper-casing line server, inline
 * ```ts
 * import { type ProtocolContext, Server } from "@speedo/speedo";
 * import { LineDecoder } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const protocol = {
 *   create(context: ProtocolContext) {
 *     const lines = new LineDecoder({ keepEnding: true });
 *     return {
 *       data(chunk: Uint8Array) {
 *         lines.feed(chunk);
 *         for (let line = lines.next(); line !== null; line = lines.next()) {
 *           context.dispatch(line);
 *         }
 *       },
 *     };
 *   },
 * };
 * await using server = new Server({
 *   protocol,
 *   onMessage(message, connection) {
 *     connection.write(new TextDecoder().decode(message.payload).toUpperCase());
 *   },
 * });
 * const { port } = await server.listen();
 *
 * const client = await Deno.connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("hello\n"));
 * const reply = new Uint8Array(6);
 * let read = 0;
 * while (read < 6) read += (await client.read(reply.subarray(read))) ?? 6;
 * assertEquals(new TextDecoder().decode(reply), "HELLO\n");
 * client.close();
 * ```
 *
 * @example An echo server on a Unix domain socket
 * ```ts
 * import { echoServer } from "@speedo/speedo/echo";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const server = echoServer({ transport: "unix", path: `${dir}/echo.sock`, workers: 0 });
 * const { path } = await server.listen(); // a Deno.UnixAddr: no port here
 * const client = await Deno.connect({ transport: "unix", path });
 * await client.write(new TextEncoder().encode("ping\n"));
 * const reply = new Uint8Array(5);
 * let read = 0;
 * while (read < 5) read += (await client.read(reply.subarray(read))) ?? 5;
 * assertEquals(new TextDecoder().decode(reply), "ping\n");
 * client.close();
 * await server.close(); // removes the socket file
 * await Deno.remove(dir);
 * ```
 */
export class Server<T extends SocketTransport = "tcp"> implements AsyncDisposable {
  readonly #options: ServerOptions<T>;
  readonly #limits: ConnectionLimits;
  readonly #table: ConnectionTable<Connection>;
  readonly #inFlight: InFlightCounter;
  readonly #pool: WorkerPool | undefined;
  readonly #maxConnections: number;
  readonly #maxPerAddress: number;
  /** Per listener, the TLS its connections run themselves (`#nodeTlsOf`), once asked. */
  readonly #nodeTls = new Map<number, { options: NodeTlsOptions; atStart: boolean } | undefined>();
  readonly #authenticationTimeout: number;
  /** Connections per remote address (`maxConnectionsPerAddress`); made in the constructor. */
  #addressLimit!: AddressLimit;
  readonly #idleTimeout: number;
  readonly #writeTimeout: number;
  readonly #shutdownTimeout: number;
  readonly #reaperPeriod: number;
  #listener: Deno.Listener | Deno.TlsListener | undefined;
  /** The socket file a Unix server made, to remove at close (its inode tells it is ours). */
  #socketFile: { path: string; ino: number | null } | undefined;
  #state: ServerState = "new";
  /** A coarse clock for activity stamps, advanced by the reaper: no Date.now() per read. */
  #clock = Date.now();
  #draining = false;
  #reaper: ReturnType<typeof setInterval> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #acceptLoop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #quietWaiter: (() => void) | undefined;
  /** Resolves the wait for the goodbyes to flush at shutdown. */
  #allClosed: (() => void) | undefined;
  /** Sockets closed for their protocol but still lingering (and refused ones being told). */
  readonly #lingering = new Set<Promise<void>>();
  /** Counters (`_server_counters.ts`): a row shared with the coordinator on a loop. */
  readonly #counters: Float64Array<ArrayBufferLike>;
  /** On a loop thread of a server of several: its place among them. */
  readonly #runtime: LoopRuntime | undefined;
  /** On the thread that made a server of several loops: the loops. */
  readonly #group: LoopGroup | undefined;
  /** The test hook's listener of a loop's own (`LoopRuntime.pinnedListener`). */
  /** The `listeners`, bound: index i is listener i + 1. */
  #moreListeners: (Deno.Listener | Deno.TlsListener)[] = [];
  /** The test hook's listeners of a loop's own, by listener index (main first). */
  #pinnedListeners: (Deno.Listener | Deno.TlsListener)[] = [];
  /** On a loop: how handles to the other loops' connections reach them (their bus). */
  #peerRoute: RemoteRoute | undefined;
  /** The accept loops of the listeners besides the main one. */
  #moreAccepts: Promise<void>[] = [];
  readonly #host: ConnectionHost;
  readonly #sink: ReplySink;

  /**
   * Makes a server; {@linkcode Server.listen} starts it.
   *
   * @param options The one options object.
   * @throws {TypeError} When the options contradict each other.
   * @throws {RangeError} When a bound is out of range.
   */
  constructor(options: ServerOptions<T>) {
    if (typeof options?.protocol?.create !== "function") {
      throw new TypeError("Server options need a protocol with a create(context) method");
    }
    checkTransport("Server", options);
    if (
      options.tls !== undefined &&
      (typeof options.tls.cert !== "string" || typeof options.tls.key !== "string")
    ) {
      throw new TypeError("tls needs cert and key, both PEM strings");
    }
    for (const tls of [options.tls, ...(options.listeners ?? []).map((more) => more.tls)]) {
      if (tls?.clientCa !== undefined && typeof tls.clientCa !== "string") {
        throw new TypeError("tls.clientCa must be PEM text (the CA certificates of clients)");
      }
    }
    if (options.listeners !== undefined) {
      if (options.transport === "unix") {
        throw new TypeError('listeners are TCP addresses: not with transport "unix"');
      }
      if (
        !Array.isArray(options.listeners) ||
        options.listeners.some((listener) => typeof listener !== "object" || listener === null)
      ) {
        throw new TypeError("listeners must be an array of { hostname?, port?, tls? }");
      }
    }
    if (options.handler !== undefined && options.onMessage !== undefined) {
      throw new TypeError("Give either a handler module or onMessage, not both");
    }
    const workers = options.workers ?? 0;
    const handlerObject = typeof options.handler === "object" && !(options.handler instanceof URL);
    if (workers > 0 && (options.handler === undefined || handlerObject)) {
      throw new TypeError(
        `workers: ${workers} needs a handler module (the URL of a module whose default export is a MessageHandler); onMessage and handler objects run inline only`,
      );
    }
    if (handlerObject && typeof (options.handler as MessageHandler).onMessage !== "function") {
      throw new TypeError("A handler object needs an onMessage function");
    }
    this.#options = options;
    this.#maxConnections = positiveInteger("maxConnections", options.maxConnections ?? 16_384);
    if (this.#maxConnections > MAX_SLOTS) {
      throw new RangeError(
        `maxConnections must be at most ${MAX_SLOTS}, got ${this.#maxConnections}`,
      );
    }
    this.#limits = {
      readBufferSize: positiveInteger("readBufferSize", options.readBufferSize ?? 64 * 1024),
      writeHighWater: positiveInteger("writeHighWater", options.writeHighWater ?? 4 * 1024 * 1024),
      maxWriteBuffer: positiveInteger("maxWriteBuffer", options.maxWriteBuffer ?? 16 * 1024 * 1024),
      earlyFlushBytes: earlyFlushLimit(options),
      lingerTimeout: nonNegativeInteger("lingerTimeout", options.lingerTimeout ?? 2000),
    };
    if (this.#limits.maxWriteBuffer < this.#limits.writeHighWater) {
      throw new RangeError(
        `maxWriteBuffer (${this.#limits.maxWriteBuffer}) must be at least writeHighWater (${this.#limits.writeHighWater})`,
      );
    }
    this.#idleTimeout = nonNegativeInteger("idleTimeout", options.idleTimeout ?? 300_000);
    if (options.authenticate !== undefined && typeof options.authenticate !== "function") {
      throw new TypeError("authenticate must be a function (an Authenticator)");
    }
    this.#authenticationTimeout = positiveInteger(
      "authenticationTimeout",
      options.authenticationTimeout ?? 5000,
    );
    this.#maxPerAddress = nonNegativeInteger(
      "maxConnectionsPerAddress",
      options.maxConnectionsPerAddress ?? 0,
    );
    this.#writeTimeout = positiveInteger("writeTimeout", options.writeTimeout ?? 30_000);
    this.#shutdownTimeout = nonNegativeInteger(
      "shutdownTimeout",
      options.shutdownTimeout ?? 10_000,
    );
    positiveInteger("tickInterval", options.tickInterval ?? 1000);
    this.#reaperPeriod = Math.max(
      10,
      Math.min(1000, Math.floor(Math.min(this.#idleTimeout || Infinity, this.#writeTimeout) / 4)),
    );
    const runtime = (options as { [LOOP_RUNTIME]?: LoopRuntime })[LOOP_RUNTIME];
    this.#runtime = runtime;
    this.#counters = runtime?.counters ?? new Float64Array(COUNTER_COUNT);
    this.#table = new ConnectionTable(
      this.#maxConnections,
      runtime === undefined ? {} : {
        loop: runtime.index,
        count: runtime.count,
        sequences: runtime.sequences[runtime.index],
      },
    );
    const loops = runtime === undefined ? resolveLoops(options) : 1;
    const role = threadRole();
    if (runtime === undefined && role !== undefined && (loops > 1 || workers > 0)) {
      // This module's top level runs again on every loop or worker that imports it: a server
      // that starts threads from there would start them from each of those, without end.
      throw new TypeError(
        `A server of ${
          loops > 1 ? `${loops} loops` : `${workers} workers`
        } was made at the top level of a module that a Speedo ${role} thread imported (a protocol's recipe or a handler module): put the program behind \`if (import.meta.main)\``,
      );
    }
    this.#inFlight = new InFlightCounter({
      capacity: positiveInteger(
        "queueCapacity",
        options.queueCapacity ?? DEFAULT_IN_FLIGHT_CAPACITY,
      ),
      onDrain: () => this.#resumeAll(),
    });
    this.#addressLimit = runtime?.addressCounts !== undefined
      ? new AddressLimit(this.#maxPerAddress, runtime.addressCounts, runtime.index)
      : new AddressLimit(this.#maxPerAddress, addressCounts(1));
    this.#host = this.#makeHost();
    this.#sink = this.#makeSink();
    const handler: string | URL | MessageHandler | undefined = options.handler !== undefined
      ? handlerObject
        ? options.handler as MessageHandler
        : resolveModule(options.handler as string | URL)
      : options.onMessage !== undefined
      ? { onMessage: options.onMessage }
      : undefined;
    this.#group = loops > 1
      ? new LoopGroup(options, loops, this.#maxConnections, {
        report: (error, connection) => this.#report(error, connection),
        hook: (run) => this.#hook(run),
      })
      : undefined;
    if (this.#group !== undefined) loopGroups.set(this, this.#group);
    // A loop whose bus was congested resumes its reads once the other loops caught up.
    runtime?.bus.onDrained(() => this.#resumeAll());
    this.#pool = handler === undefined || this.#group !== undefined ? undefined : new WorkerPool({
      handler,
      size: workers,
      inFlight: this.#inFlight,
      sink: this.#sink,
      sequences: runtime?.sequences ?? [this.#table.sequences],
      data: options.handlerData,
      transport: options.workerTransport,
      concurrency: options.concurrency,
    });
  }

  /**
   * Changes the number of workers at runtime. Growing waits for the new workers to be ready
   * (each gets the startup data); shrinking retires the newest workers, which end once the
   * messages they hold are done. 0 handles messages on the I/O thread from then on (the
   * handler module is loaded there); from 0, workers take over. A connection moves to its new
   * worker once its messages in flight are done, so its replies keep their order. Keys
   * (`DispatchOptions.key`) are placed over the new size at once: state a handler keeps per
   * worker does not move with them.
   *
   * @param workers The new number of workers, 0 to 1024.
   * @throws {TypeError} When the server has no message handler, or its handler runs inline
   *   only (`onMessage`, a handler object) and `workers` is above 0.
   * @throws {RangeError} When `workers` is out of range.
   * @throws {WorkerStartError} When a new worker cannot load the handler module.
   *
   * @example From inline to two workers and back
   * ```ts
   * import { Server } from "@speedo/speedo";
   * import { echoProtocol } from "@speedo/speedo/echo";
   * import { assertEquals } from "@std/assert";
   *
   * await using server = new Server({
   *   protocol: echoProtocol(),
   *   handler: import.meta.resolve("@speedo/speedo/echo/handler"),
   * });
   * await server.listen();
   * await server.resize(2);
   * assertEquals(server.stats().workers, 2);
   * await server.resize(0);
   * assertEquals(server.stats().workers, 0);
   * ```
   */
  async resize(workers: number): Promise<void> {
    if (this.#group !== undefined) return await this.#group.resize(workers);
    if (this.#pool === undefined) {
      throw new TypeError("This server has no message handler to resize: give it a handler");
    }
    if (this.#state === "closing" || this.#state === "closed") {
      throw new Error(`Server cannot resize: it is ${this.#state}`);
    }
    await this.#pool.resize(workers);
    this.#counters[Counter.workers] = this.#pool.running;
  }

  /** The bound address once listening: `Deno.NetAddr` over TCP, `Deno.UnixAddr` over Unix. */
  get address(): ServerAddress<T> | undefined {
    if (this.#group !== undefined) return this.#group.address as ServerAddress<T> | undefined;
    return this.#listener?.addr as ServerAddress<T> | undefined;
  }

  /**
   * Starts the workers, then listens.
   *
   * @returns The bound address: over TCP a `Deno.NetAddr` (its `port` is the real one when
   *   `port` was 0), over Unix a `Deno.UnixAddr` with the socket's `path`.
   * @throws {WorkerStartError} When the handler module cannot load.
   * @throws {Deno.errors.AddrInUse} When the port is taken, or a server accepts at `path`.
   */
  async listen(): Promise<ServerAddress<T>> {
    if (this.#state !== "new") throw new Error(`Server cannot listen: it is ${this.#state}`);
    this.#state = "starting";
    if (this.#group !== undefined) {
      try {
        const address = await this.#group.listen();
        this.#state = "running";
        this.#startTicker();
        this.#hook(() => this.#options.onStart?.(address as ServerAddress<T>));
        return address as ServerAddress<T>;
      } catch (error) {
        this.#state = "closed";
        await this.#closeProtocol();
        throw error;
      }
    }
    const runtime = this.#runtime;
    try {
      await this.#pool?.start();
      this.#options.protocol.attach?.(runtime?.bus.context() ?? singleLoopContext());
      if (this.#options.transport === "unix") {
        const path = this.#options.path as string;
        await removeStaleSocket(path);
        this.#listener = Deno.listen({ transport: "unix", path });
        this.#socketFile = { path, ino: inodeOf(path) };
      } else {
        const hostname = this.#options.hostname ?? "127.0.0.1";
        const port = this.#options.port ?? 0;
        const tls = this.#options.tls as TlsOptions | undefined;
        // A loop shares the port with the other loops: the kernel spreads the connections.
        const shared = runtime === undefined
          ? {}
          : { port: runtime.ports[0], reusePort: true } as { port: number };
        // A listener whose TLS runs through node:tls accepts in plaintext (_node_tls.ts).
        this.#listener = tls === undefined || this.#nodeTlsOf(0) !== undefined
          ? Deno.listen({ hostname, port, transport: "tcp", ...shared })
          : Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key, ...shared });
        const addresses = [
          { hostname, tls },
          ...(this.#options.listeners ?? []).map((more) => ({
            hostname: more.hostname ?? hostname,
            tls: more.tls,
          })),
        ];
        for (const [index, address] of addresses.entries()) {
          if (index > 0) {
            const more = this.#options.listeners![index - 1];
            const port = runtime?.ports[index] ?? more.port ?? 0;
            const tls = this.#nodeTlsOf(index) === undefined ? address.tls : undefined;
            this.#moreListeners.push(bind(address.hostname, port, tls, runtime !== undefined));
          }
          if (runtime?.pinnedListener) {
            const tls = this.#nodeTlsOf(index) === undefined ? address.tls : undefined;
            this.#pinnedListeners.push(bind(address.hostname, 0, tls, false));
          }
        }
      }
    } catch (error) {
      this.#state = "closed";
      for (const listener of [this.#listener, ...this.#moreListeners, ...this.#pinnedListeners]) {
        try {
          listener?.close();
        } catch {
          // Closed already.
        }
      }
      await this.#pool?.close();
      throw error;
    }
    this.#state = "running";
    this.#clock = Date.now();
    this.#counters[Counter.workers] = this.#pool?.running ?? 0;
    this.#reaper = setInterval(() => this.#reap(), this.#reaperPeriod);
    this.#startTicker();
    this.#acceptLoop = this.#accept(this.#listener, 0);
    for (const [index, listener] of this.#moreListeners.entries()) {
      this.#moreAccepts.push(this.#accept(listener, index + 1));
    }
    for (const [index, listener] of this.#pinnedListeners.entries()) {
      this.#moreAccepts.push(this.#accept(listener, index));
    }
    const address = this.#listener.addr as ServerAddress<T>;
    this.#hook(() => this.#options.onStart?.(address));
    return address;
  }

  #startTicker(): void {
    if (this.#options.onTick) {
      this.#ticker = setInterval(
        () => this.#hook(() => this.#options.onTick!(this)),
        this.#options.tickInterval ?? 1000,
      );
    }
  }

  /**
   * Counters, read now: the sum over the loops, and a row per loop.
   *
   * @returns A fresh object.
   */
  stats(): ServerStats {
    if (this.#group !== undefined) return this.#group.stats();
    const row: CounterValues = {
      ...readCounters(this.#counters),
      connections: this.#table.size,
      queueDepth: this.#inFlight.count,
      workers: this.#pool?.running ?? 0,
    };
    return { ...row, loops: [{ ...row }] };
  }

  /**
   * Open connections, a page at a time: address, bytes and messages so far, last activity.
   * The rows are read from counters each connection keeps anyway; nothing is sampled. On a
   * server of several loops the connections live on the loops' threads: the page has the
   * total and no rows (`stats().loops` has each loop's count).
   *
   * @param options Where the page starts (`offset`, default 0) and how long it is (`limit`,
   *   default 256, at most 1024).
   * @returns The page, with the total of open connections.
   * @throws {RangeError} When `offset` is not a non-negative integer, or `limit` not an
   *   integer from 1 to 1024.
   *
   * @example Two clients, listed one per page
   * ```ts
   * import { Server } from "@speedo/speedo";
   * import { echoProtocol } from "@speedo/speedo/echo";
   * import { assertEquals } from "@std/assert";
   *
   * await using server = new Server({ protocol: echoProtocol(), onMessage: () => {} });
   * const { port } = await server.listen();
   * const a = await Deno.connect({ port });
   * const b = await Deno.connect({ port });
   * while (server.stats().connections < 2) await new Promise((r) => setTimeout(r, 5));
   * const page = server.connections({ offset: 1, limit: 1 });
   * assertEquals([page.total, page.connections.length], [2, 1]);
   * assertEquals(page.connections[0].remoteAddress.startsWith("127.0.0.1:"), true);
   * a.close();
   * b.close();
   * ```
   */
  connections(options: ConnectionListOptions = {}): ConnectionPage {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 256;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CONNECTION_LIST) {
      throw new RangeError(
        `limit must be an integer from 1 to ${MAX_CONNECTION_LIST}, got ${limit}`,
      );
    }
    if (this.#group !== undefined) {
      return { total: this.#group.stats().connections, offset, limit, connections: [] };
    }
    const rows: ConnectionInfo[] = [];
    const loop = this.#runtime?.index ?? 0;
    let skipped = 0;
    for (const connection of this.#table.values()) {
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (rows.length === limit) break;
      rows.push({
        id: connection.id,
        loop,
        listener: connection.listener,
        remoteAddress: addressText(connection.remoteAddr),
        openedAt: connection.openedAt,
        lastActivity: connection.lastActivity,
        bytesIn: connection.bytesIn,
        bytesOut: connection.bytesOut,
        messagesIn: connection.messagesIn,
        pendingMessages: connection.pendingMessages,
        pendingOutput: connection.pendingOutput,
      });
    }
    return { total: this.#table.size, offset, limit, connections: rows };
  }

  /**
   * Times the message handler when it runs inline (`workers: 0`; a handler in workers is not
   * timed): `observer` gets each message's handling time in seconds, from the call of
   * `onMessage` until it returned or its promise settled. Untimed by default, which costs
   * nothing; timed, two `performance.now()` calls and the observer's per message. A monitor
   * (`@speedo/speedo/monitor`) with `handlerTime: true` uses it.
   *
   * @param observer Who gets the times; `undefined` stops timing.
   * @returns Whether handlers are timed now: `false` on a server without a message handler,
   *   or of several loops (each loop's handler runs on its own thread).
   *
   * @example Timing an inline handler
   * ```ts
   * import { Server } from "@speedo/speedo";
   * import { echoProtocol } from "@speedo/speedo/echo";
   * import { assert } from "@std/assert";
   *
   * const times: number[] = [];
   * await using server = new Server({
   *   protocol: echoProtocol(),
   *   onMessage: (message, connection) => void connection.write(message.payload),
   * });
   * const { port } = await server.listen();
   * assert(server.observeHandlerTime((seconds) => times.push(seconds)));
   * const client = await Deno.connect({ port });
   * await client.write(new TextEncoder().encode("hi\n"));
   * await client.read(new Uint8Array(3));
   * assert(times.length === 1 && times[0] >= 0);
   * client.close();
   * ```
   */
  observeHandlerTime(observer: ((seconds: number) => void) | undefined): boolean {
    if (this.#pool === undefined) return false;
    this.#pool.observeHandlerTime(observer);
    return observer !== undefined;
  }

  /** The addresses of a loop's own listeners (the test hook `LoopRuntime.pinnedListener`). */
  get pinnedAddresses(): Deno.NetAddr[] {
    return this.#pinnedListeners.map((listener) => listener.addr as Deno.NetAddr);
  }

  /**
   * Every bound address once listening: the main one (as `address`), then one per
   * `listeners` entry, in order; `[]` before `listen()`.
   */
  get addresses(): ServerAddress<T>[] {
    if (this.#group !== undefined) return this.#group.addresses as ServerAddress<T>[];
    if (this.#listener === undefined) return [];
    return [this.#listener, ...this.#moreListeners].map((listener) =>
      listener.addr as ServerAddress<T>
    );
  }

  /**
   * A handle to connection `id`, usable after it closes.
   *
   * @param id The connection's id.
   * @returns The handle.
   */
  handle(id: number): ConnectionHandle {
    if (this.#group !== undefined) return this.#group.handle(id);
    const local = this.#table.get(id)?.handle;
    if (local !== undefined) return local;
    const runtime = this.#runtime;
    if (runtime !== undefined && loopOf(id, runtime.count) !== runtime.index) {
      return new RemoteConnectionHandle(id, this.#peerRoute ??= peerRoute(runtime));
    }
    return new LocalConnectionHandle(id);
  }

  /**
   * Shuts down gracefully: stops accepting and reading, waits (up to `shutdownTimeout`) until
   * every message accepted is answered and every reply flushed, then closes the connections
   * and ends the workers. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#group !== undefined ? this.#closeGroup() : this.#shutdown();
    return this.#closing;
  }

  /** Same as {@linkcode Server.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #closeGroup(): Promise<void> {
    const state = this.#state;
    this.#state = "closing";
    clearInterval(this.#ticker);
    if (state !== "new") await this.#group!.close();
    await this.#closeProtocol();
    this.#state = "closed";
  }

  async #shutdown(): Promise<void> {
    if (this.#state === "new") {
      this.#state = "closed";
      await this.#closeProtocol();
      return;
    }
    this.#state = "closing";
    this.#draining = true;
    for (const listener of [this.#listener, ...this.#moreListeners, ...this.#pinnedListeners]) {
      try {
        listener?.close();
      } catch {
        // Closed already.
      }
    }
    await this.#acceptLoop;
    await Promise.all(this.#moreAccepts);
    if (!this.#isQuiet()) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#quietWaiter = resolve;
      const timer = setTimeout(resolve, this.#shutdownTimeout);
      await promise;
      clearTimeout(timer);
      this.#quietWaiter = undefined;
    }
    clearInterval(this.#reaper);
    clearInterval(this.#ticker);
    // A last word for each peer (the protocol's goodbye), flushed for a short grace, then close.
    const reason = new ServerClosedError();
    for (const connection of [...this.#table.values()]) connection.closeFor(reason);
    if (this.#table.size > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#allClosed = resolve;
      const timer = setTimeout(resolve, GOODBYE_GRACE);
      await promise;
      clearTimeout(timer);
      this.#allClosed = undefined;
    }
    for (const connection of [...this.#table.values()]) connection.destroy(reason);
    // Each lingers at most lingerTimeout.
    await Promise.all(this.#lingering);
    await this.#pool?.close();
    this.#removeSocketFile();
    await this.#closeProtocol();
    this.#runtime?.bus.shut();
    this.#state = "closed";
  }

  /**
   * The protocol factory lets go of what its handlers share (awaited when it returns a promise:
   * a connection it drains); a throw or a rejection is reported.
   */
  async #closeProtocol(): Promise<void> {
    let closing: void | Promise<void> = undefined;
    this.#hook(() => closing = this.#options.protocol.close?.());
    if (closing === undefined) return;
    try {
      await closing;
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * Removes the socket file this server made. Deno removes it when the listener closes; this
   * covers the rest, and leaves alone a file that another server has put there since.
   */
  #removeSocketFile(): void {
    const file = this.#socketFile;
    if (file === undefined) return;
    this.#socketFile = undefined;
    try {
      if (inodeOf(file.path) === file.ino) Deno.removeSync(file.path);
    } catch {
      // Gone already.
    }
  }

  #isQuiet(): boolean {
    if (this.#inFlight.count > 0) return false;
    for (const connection of this.#table.values()) {
      if (connection.pendingOutput > 0) return false;
    }
    return true;
  }

  #checkQuiet(): void {
    if (this.#quietWaiter !== undefined && this.#isQuiet()) this.#quietWaiter();
  }

  async #accept(listener: Deno.Listener | Deno.TlsListener, index: number): Promise<void> {
    while (true) {
      let socket: Deno.Conn;
      try {
        socket = await listener.accept();
      } catch (error) {
        if (this.#state !== "running") return;
        if (error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: report, breathe, go on.
        this.#report(error);
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (this.#state !== "running") {
        socket.close();
        return;
      }
      this.#admit(socket, index);
    }
  }

  #admit(socket: Deno.Conn, listener: number): void {
    let full = this.#table.size >= this.#maxConnections;
    const shared = this.#runtime?.openConnections;
    // maxConnections holds over every loop: a place is taken in the shared count first.
    if (!full && shared !== undefined && Atomics.add(shared, 0, 1) >= this.#maxConnections) {
      Atomics.sub(shared, 0, 1);
      full = true;
    }
    // Then the peer's address: a place there, or the place over all is given back.
    const bucket = full ? OVER_LIMIT : this.#addressLimit.take(socket.remoteAddr);
    if (!full && bucket === OVER_LIMIT) {
      if (shared !== undefined) Atomics.sub(shared, 0, 1);
      full = true;
    }
    if (full) {
      this.#counters[Counter.refused]++;
      this.#refuse(socket, listener);
      return;
    }
    try {
      // TCP only: TLS sockets cannot, and Unix sockets have no Nagle to turn off.
      (socket as Partial<Deno.TcpConn>).setNoDelay?.(true);
    } catch {
      // The peer is gone already; the read loop will see it.
    }
    const connection = this.#table.add((id) =>
      new Connection(
        socket,
        id,
        this.#host,
        this.#limits,
        socket.remoteAddr,
        listener,
        socket.localAddr,
        this.#nodeTlsOf(listener),
      )
    )!;
    connection.addressBucket = bucket;
    const handle = connection.handle;
    this.#counters[Counter.accepted]++;
    this.#counters[Counter.connections] = this.#table.size;
    this.#hook(() => this.#options.onConnect?.(handle, this.#runtime?.index ?? 0));
    connection.start(this.#options.protocol);
  }

  /** Tells a refused peer why, lingering so that the words arrive; tracked for shutdown. */
  #refuse(socket: Deno.Conn, listener: number): void {
    this.#track(this.#tellRefused(socket, listener));
  }

  /** Holds `close()` until a lingering socket is closed. */
  #track(done: Promise<void>): void {
    this.#lingering.add(done);
    done.finally(() => this.#lingering.delete(done));
  }

  async #tellRefused(socket: Deno.Conn, listener: number): Promise<void> {
    try {
      const bytes = this.#options.protocol.refusal?.(listener);
      if (bytes !== undefined && bytes.length > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        // A refused peer that does not read must not hold the socket open.
        await Promise.race([
          socket.write(bytes),
          new Promise((resolve) => timer = setTimeout(resolve, REFUSAL_GRACE)),
        ]).finally(() => clearTimeout(timer));
      }
    } catch {
      // The refused peer left first.
    }
    await linger(socket, Math.min(this.#limits.lingerTimeout, REFUSAL_GRACE));
  }

  /** Closes idle connections and connections whose write is stuck; advances the clock. */
  #reap(): void {
    const now = this.#clock = Date.now();
    this.#counters[Counter.queueDepth] = this.#inFlight.count;
    this.#counters[Counter.workers] = this.#pool?.running ?? 0;
    for (const connection of this.#table.values()) {
      if (connection.goodbyeSince >= 0 && now - connection.goodbyeSince > GOODBYE_GRACE) {
        // A peer that does not read its goodbye is not waited for: its socket closes now.
        connection.destroy();
      } else if (
        // Stamped with the coarse clock too: never cut a write early.
        connection.writeStartedAt >= 0 &&
        now - connection.writeStartedAt > this.#writeTimeout + this.#reaperPeriod
      ) {
        connection.destroy(
          new SlowConsumerError(`A write waited more than writeTimeout (${this.#writeTimeout} ms)`),
        );
      } else if (
        // Activity is stamped with the coarse clock, up to one period stale: never close early.
        this.#idleTimeout > 0 &&
        now - connection.lastActivity > this.#idleTimeout + this.#reaperPeriod &&
        connection.quiet
      ) {
        connection.closeFor(new IdleTimeoutError(this.#idleTimeout));
      } else if (now - connection.lastActivity > TRIM_AFTER_IDLE && connection.quiet) {
        connection.trim();
      }
    }
  }

  #resumeAll(): void {
    for (const connection of this.#table.values()) connection.resume();
  }

  #makeHost(): ConnectionHost {
    // deno-lint-ignore no-this-alias
    const server = this;
    return {
      get now() {
        return server.#clock;
      },
      get readsPaused() {
        return server.#draining || server.#inFlight.full || server.#runtime?.bus.congested === true;
      },
      dispatch(connection, payload, type, flags, key) {
        if (server.#pool === undefined) {
          throw new TypeError("This server has no message handler: give it a handler or onMessage");
        }
        server.#counters[Counter.messagesIn]++;
        return server.#pool.submit(connection, payload, type, flags, key);
      },
      messageDone() {
        server.#counters[Counter.messagesOut]++;
        // The pool completes the message in the counter after this call: check on a microtask.
        if (server.#quietWaiter !== undefined) queueMicrotask(() => server.#checkQuiet());
      },
      closed(connection, reason) {
        if (reason instanceof SlowConsumerError) server.#counters[Counter.slowConsumers]++;
        server.#table.remove(connection.id);
        server.#counters[Counter.connections] = server.#table.size;
        if (server.#runtime !== undefined) Atomics.sub(server.#runtime.openConnections, 0, 1);
        server.#addressLimit.give(connection.addressBucket);
        server.#hook(() =>
          server.#options.onClose?.(connection.handle, reason, server.#runtime?.index ?? 0)
        );
        server.#checkQuiet();
        if (server.#table.size === 0) server.#allClosed?.();
      },
      error(error, connection) {
        server.#report(error, connection.handle);
      },
      lingering(done) {
        server.#track(done);
      },
      get authenticationRequired() {
        return server.#options.authenticate !== undefined;
      },
      authenticate(connection, protocol, credentials) {
        return server.#authenticate(connection, protocol, credentials);
      },
      countBytes(read, written) {
        server.#counters[Counter.bytesIn] += read;
        server.#counters[Counter.bytesOut] += written;
        if (written > 0) server.#checkQuiet();
      },
    };
  }

  /**
   * The TLS a listener's connections run themselves through `node:tls` (`_node_tls.ts`):
   * where clients must present certificates (`clientCa`), or where the protocol starts TLS
   * after a plaintext greeting (`startsTls`); undefined where `Deno.listenTls` does it, or
   * where there is no TLS.
   */
  #nodeTlsOf(listener: number): { options: NodeTlsOptions; atStart: boolean } | undefined {
    if (this.#nodeTls.has(listener)) return this.#nodeTls.get(listener);
    const tls = listener === 0
      ? this.#options.tls as TlsOptions | undefined
      : (this.#options.listeners as ListenerOptions[] | undefined)?.[listener - 1]?.tls;
    let nodeTls: { options: NodeTlsOptions; atStart: boolean } | undefined;
    const startsTls = this.#options.protocol.startsTls?.(listener) === true;
    if (tls !== undefined && (startsTls || tls.clientCa !== undefined)) {
      nodeTls = {
        options: {
          cert: tls.cert,
          key: tls.key,
          ca: tls.clientCa,
          requireClientCert: tls.clientCa !== undefined,
        },
        atStart: !startsTls,
      };
    }
    this.#nodeTls.set(listener, nodeTls);
    return nodeTls;
  }

  /**
   * Asks `authenticate` about a peer's credentials: bounded in time, and never rejecting (a
   * hook that throws or answers nonsense refuses, and its error is reported).
   */
  async #authenticate(
    connection: Connection,
    protocol: string,
    credentials: Readonly<Record<string, unknown>>,
  ): Promise<AuthenticationResult> {
    const hook = this.#options.authenticate;
    if (hook === undefined) return { name: "" };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const tls = await connection.tlsFacts();
      const request = {
        protocol,
        credentials,
        remoteAddr: connection.remoteAddr,
        listener: connection.listener,
        ...(tls === undefined ? {} : { tls }),
      };
      const timeout = this.#authenticationTimeout;
      const answer = await Promise.race([
        Promise.resolve(hook(request)),
        new Promise<AuthenticationResult>((resolve) => {
          timer = setTimeout(
            () => resolve({ refused: `the authenticator did not answer in ${timeout} ms` }),
            timeout,
          );
        }),
      ]);
      const result = checkedResult(answer);
      if (isRefusal(result) && result.refused.startsWith("the authenticator ")) {
        this.#report(new Error(`authenticate: ${result.refused}`), connection.handle);
      }
      return result;
    } catch (error) {
      this.#report(error, connection.handle);
      return { refused: "the authenticator failed" };
    } finally {
      clearTimeout(timer);
    }
  }

  #makeSink(): ReplySink {
    // deno-lint-ignore no-this-alias
    const server = this;
    return {
      handle: (id) => server.handle(id),
      write(id, bytes) {
        const connection = server.#table.get(id);
        if (connection !== undefined) connection.write(bytes);
        else server.#toPeerLoop(id, bytes);
      },
      close(id) {
        const connection = server.#table.get(id);
        if (connection !== undefined) connection.close();
        else server.#toPeerLoop(id, undefined);
      },
      failed(error: MessageFailedError) {
        const connection = server.#table.get(error.connectionId);
        if (connection === undefined) server.#report(error);
        else connection.messageFailed(error);
      },
      error(error) {
        server.#report(error);
      },
    };
  }

  /** Bytes (or a close) for `id`, not open here: to its loop, when another loop owns it. */
  #toPeerLoop(id: number, bytes: Uint8Array | undefined): void {
    const runtime = this.#runtime;
    if (runtime === undefined || loopOf(id, runtime.count) === runtime.index) return;
    (this.#peerRoute ??= peerRoute(runtime)).send(id, bytes);
  }

  #report(error: unknown, connection?: ConnectionHandle): void {
    this.#counters[Counter.errors]++;
    const err = error instanceof Error ? error : new Error(String(error));
    const onError = this.#options.onError;
    if (onError === undefined) {
      console.error(
        `speedo: ${describeError(err)}${connection ? ` (connection ${connection.id})` : ""}`,
      );
      return;
    }
    try {
      onError(err, connection);
    } catch (thrown) {
      console.error(`speedo: onError threw ${describeError(thrown, true)}`);
    }
  }

  /** Runs a user hook; a hook that throws is reported, never fatal. */
  #hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#report(error);
    }
  }
}

/** The connections' early-flush size: `Infinity` when off (asked, or over TLS). */
function earlyFlushLimit(options: ServerOptions<SocketTransport>): number {
  const bytes = nonNegativeInteger("earlyFlushBytes", options.earlyFlushBytes ?? 1024);
  return bytes === 0 || options.tls !== undefined ? Infinity : bytes;
}

/** The route of handles, on a loop, to the connections of the other loops: the loops' bus. */
function peerRoute(runtime: LoopRuntime): RemoteRoute {
  return {
    isOpen: (id) => isOpenAmong(runtime.sequences, id),
    send(id, bytes) {
      if (!isOpenAmong(runtime.sequences, id)) return false;
      const loop = loopOf(id, runtime.count);
      if (bytes === undefined) runtime.bus.closeConnection(loop, id);
      else runtime.bus.write(loop, id, bytes);
      return true;
    },
  };
}

/** Listens on a TCP address, with TLS if given, sharing the port with other loops if asked. */
function bind(
  hostname: string,
  port: number,
  tls: TlsOptions | undefined,
  reusePort: boolean,
): Deno.Listener | Deno.TlsListener {
  const shared = reusePort ? { reusePort: true } as Record<string, unknown> : {};
  return tls === undefined
    ? Deno.listen({ hostname, port, transport: "tcp", ...shared })
    : Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key, ...shared });
}

/** The inode of the file at `path`, or null when there is none (or the platform has none). */
function inodeOf(path: string): number | null {
  try {
    return Deno.lstatSync(path).ino;
  } catch {
    return null;
  }
}

/**
 * Clears the way for a Unix server at `path`: a socket file that refuses connections was left
 * by a server that died, and is removed. A live socket and any other file are left for
 * `Deno.listen` to refuse with `AddrInUse`.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!stat.isSocket) return;
  try {
    const probe = await Deno.connect({ transport: "unix", path });
    probe.close();
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      await Deno.remove(path).catch(() => {});
    }
  }
}
