import type { ConnectionHandle } from "../core/connection_handle.ts";
import {
  Connection,
  type ConnectionHost,
  type ConnectionLimits,
  LocalConnectionHandle,
  type Socket,
} from "../core/connection.ts";
import type { MessageFailedError } from "../core/errors.ts";
import type { MessageHandler } from "../core/message_handler.ts";
import type { ProtocolHandlerFactory } from "../core/protocol.ts";
import { InFlightCounter } from "../core/_in_flight_counter.ts";
import { type ReplySink, WorkerPool } from "../core/worker_pool.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options of {@linkcode embed}. */
export interface EmbedOptions {
  /**
   * The message handler, run inline as a server with `workers: 0` runs it: a handler object,
   * or the URL of a module whose default export is one.
   */
  handler?: string | URL | MessageHandler;
  /** A message handler function, as the server's `onMessage` (instead of `handler`). */
  onMessage?: MessageHandler["onMessage"];
  /** Startup data for the handler's `init`, as the server's `handlerData`. */
  handlerData?: unknown;
  /**
   * Messages of the connection handled at once, as the server's `concurrency`: at 1, a
   * handler's promise holds the connection's next message, so replies keep their order.
   *
   * @default {1}
   */
  concurrency?: number;
  /**
   * The most bytes one socket read returns: smaller values cut each `receive` into that many
   * reads, as a slow network would.
   *
   * @default {no limit but the read buffer}
   */
  chunkSize?: number;
  /**
   * The largest read buffer, as the server's `readBufferSize`.
   *
   * @default {65536}
   */
  readBufferSize?: number;
  /**
   * Unflushed output above which reading pauses, as the server's `writeHighWater`.
   *
   * @default {4194304}
   */
  writeHighWater?: number;
  /**
   * Unflushed output past which the peer is cut off as a slow consumer, as the server's
   * `maxWriteBuffer`.
   *
   * @default {16777216}
   */
  maxWriteBuffer?: number;
  /**
   * Output of one chunk's answers that starts a write at once, as the server's
   * `earlyFlushBytes` (0: at the turn's end).
   *
   * @default {1024}
   */
  earlyFlushBytes?: number;
  /**
   * Time a gracefully closed socket lingers, as the server's `lingerTimeout`. 0 closes the
   * socket at once; above 0 its write side is shut ({@linkcode EmbeddedConnection.writeShut})
   * and it closes when the peer does ({@linkcode EmbeddedConnection.peerClose}) or the time
   * passes.
   *
   * @default {0}
   */
  lingerTimeout?: number;
  /**
   * The connection's id.
   *
   * @default {1}
   */
  id?: number;
}

/**
 * Runs a protocol on the server's own connection over an in-memory socket, with its messages
 * handled inline as a server with `workers: 0` handles them: the real read loop, write
 * coalescing, reply order, `eof`, close and linger, goodbyes and failures, without sockets or
 * a server. The in-memory counterpart of Netty's `EmbeddedChannel`.
 *
 * The peer's side is driven by hand: {@linkcode EmbeddedConnection.receive} bytes,
 * {@linkcode EmbeddedConnection.peerClose}; then await
 * {@linkcode EmbeddedConnection.flushed} and read {@linkcode EmbeddedConnection.text}.
 *
 * @param protocol The protocol.
 * @param options The message handler and the connection's bounds.
 * @returns The connection, open and reading.
 * @throws {WorkerStartError} When the handler module cannot load, or its `init` fails.
 *
 * @example An echo conversation, one byte per read
 * ```ts
 * import { echoProtocol } from "@speedo/speedo/echo";
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { embed } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const channel = await embed(echoProtocol(), { handler: echoHandler, chunkSize: 1 });
 * channel.receive("hi\nyou\n");
 * await channel.flushed();
 * assertEquals(channel.text(), "hi\nyou\n");
 * channel.peerClose();
 * assertEquals(await channel.closed, undefined);
 * ```
 */
export async function embed(
  protocol: ProtocolHandlerFactory,
  options: EmbedOptions = {},
): Promise<EmbeddedConnection> {
  if (typeof protocol?.create !== "function") {
    throw new TypeError("embed needs a protocol with a create(context) method");
  }
  if (options.handler !== undefined && options.onMessage !== undefined) {
    throw new TypeError("Give either a handler or onMessage, not both");
  }
  const chunkSize = options.chunkSize ?? Infinity;
  if (chunkSize !== Infinity && (!Number.isInteger(chunkSize) || chunkSize < 1)) {
    throw new RangeError(`Chunk size must be a positive integer, got ${chunkSize}`);
  }
  const earlyFlushBytes = options.earlyFlushBytes ?? 1024;
  const limits: ConnectionLimits = {
    readBufferSize: options.readBufferSize ?? 64 * 1024,
    writeHighWater: options.writeHighWater ?? 4 * 1024 * 1024,
    maxWriteBuffer: options.maxWriteBuffer ?? 16 * 1024 * 1024,
    earlyFlushBytes: earlyFlushBytes === 0 ? Infinity : earlyFlushBytes,
    lingerTimeout: options.lingerTimeout ?? 0,
  };
  const channel = new Embedded(protocol, options, limits, chunkSize);
  await channel.start();
  return channel;
}

/**
 * One connection of {@linkcode embed}: the server's side runs for real, the peer's side is
 * this object's methods.
 */
export interface EmbeddedConnection {
  /** The server's handle on the connection: `close()` it as a message handler would. */
  readonly handle: ConnectionHandle;
  /** Resolves once the connection is closed, with the reason (`undefined`: a graceful close). */
  readonly closed: Promise<Error | undefined>;
  /** Resolves once the socket itself is closed (after lingering, if it lingers). */
  readonly socketClosed: Promise<void>;
  /** Errors the connection reported (a server passes them to `onError`), in order. */
  readonly errors: readonly unknown[];
  /** Whether the connection accepts writes (it is open, or ending after the peer's EOF). */
  readonly open: boolean;
  /** Whether the socket's write side was shut (a graceful close that lingers). */
  readonly writeShut: boolean;
  /**
   * The peer sends bytes: the connection reads them (in reads of at most `chunkSize` bytes;
   * each call's bytes in reads of their own).
   *
   * @param input The bytes, or text encoded as UTF-8.
   * @throws {TypeError} After {@linkcode EmbeddedConnection.peerClose} or
   *   {@linkcode EmbeddedConnection.peerReset}.
   */
  receive(input: Uint8Array | string): void;
  /** The peer ends its stream (TCP FIN): the connection's next read sees the end. */
  peerClose(): void;
  /** The peer resets the connection: the connection's next read fails. */
  peerReset(): void;
  /**
   * Closes the connection for a reason of the server's (idle, shutdown): output not yet
   * written is dropped, the protocol's `goodbye` bytes are sent if it has any, then it closes.
   *
   * @param reason Why, such as an `IdleTimeoutError` or a `ServerClosedError`.
   */
  closeFor(reason: Error): void;
  /**
   * Waits until the connection has read all it was sent, its messages are done and its
   * output is written, or it is closed. A handler that never settles keeps it waiting: wrap
   * it in `deadline` from `@std/async` where that may happen.
   *
   * @returns Resolves once the connection is quiet.
   */
  flushed(): Promise<void>;
  /**
   * Everything written to the socket, as one array.
   *
   * @returns The bytes.
   */
  output(): Uint8Array;
  /**
   * Everything written to the socket, decoded as UTF-8.
   *
   * @returns The text.
   */
  text(): string;
  /** Forgets the output so far: the next `output()` or `text()` starts from here. */
  clear(): void;
}

/** The connection {@linkcode embed} makes. */
class Embedded implements EmbeddedConnection {
  readonly handle: ConnectionHandle;
  readonly closed: Promise<Error | undefined>;
  readonly socketClosed: Promise<void>;
  readonly errors: unknown[] = [];
  readonly #protocol: ProtocolHandlerFactory;
  readonly #socket: MemorySocket;
  readonly #connection: Connection;
  readonly #pool: WorkerPool | undefined;
  #isClosed = false;
  #waiters: (() => void)[] = [];

  constructor(
    protocol: ProtocolHandlerFactory,
    options: EmbedOptions,
    limits: ConnectionLimits,
    chunkSize: number,
  ) {
    this.#protocol = protocol;
    let closed!: (reason: Error | undefined) => void;
    this.closed = new Promise((resolve) => closed = resolve);
    let socketClosed!: () => void;
    this.socketClosed = new Promise((resolve) => socketClosed = resolve);
    this.#socket = new MemorySocket(chunkSize, () => this.#check(), socketClosed);
    const counter = new InFlightCounter({ onDrain: () => this.#connection.resume() });
    const handler = options.onMessage !== undefined
      ? { onMessage: options.onMessage }
      : options.handler;
    // deno-lint-ignore no-this-alias
    const channel = this;
    const host: ConnectionHost = {
      get now() {
        return Date.now();
      },
      get readsPaused() {
        return counter.full;
      },
      dispatch(connection, payload, type, flags, key) {
        if (channel.#pool === undefined) {
          throw new TypeError("This connection has no message handler: give embed a handler");
        }
        return channel.#pool.submit(connection, payload, type, flags, key);
      },
      messageDone: () => this.#check(),
      closed: (_connection, reason) => {
        this.#isClosed = true;
        closed(reason);
        this.#check();
      },
      error: (error) => this.errors.push(error),
      countBytes: (_read, written) => {
        if (written > 0) this.#check();
      },
      lingering: () => {},
    };
    const id = options.id ?? 1;
    this.#connection = new Connection(this.#socket, id, host, limits);
    this.handle = this.#connection.handle;
    const connection = this.#connection;
    const sink: ReplySink = {
      handle: (wanted) => wanted === id ? connection.handle : new LocalConnectionHandle(wanted),
      write: (_id, bytes) => connection.write(bytes),
      close: () => connection.close(),
      failed: (error: MessageFailedError) => connection.messageFailed(error),
      error: (error) => this.errors.push(error),
    };
    this.#pool = handler === undefined ? undefined : new WorkerPool({
      handler,
      size: 0,
      inFlight: counter,
      sink,
      sequences: [new Int32Array(1)],
      data: options.handlerData,
      concurrency: options.concurrency,
    });
  }

  /** Loads the message handler and starts the connection. */
  async start(): Promise<void> {
    await this.#pool?.start();
    this.#connection.start(this.#protocol);
  }

  get open(): boolean {
    return this.#connection.open;
  }

  get writeShut(): boolean {
    return this.#socket.writeShut;
  }

  receive(input: Uint8Array | string): void {
    this.#socket.push(typeof input === "string" ? encoder.encode(input) : input.slice());
  }

  peerClose(): void {
    this.#socket.push(null);
  }

  peerReset(): void {
    this.#socket.push(new Deno.errors.ConnectionReset("Connection reset by peer"));
  }

  closeFor(reason: Error): void {
    this.#connection.closeFor(reason);
  }

  flushed(): Promise<void> {
    if (this.#quiet) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  output(): Uint8Array {
    return this.#socket.output();
  }

  text(): string {
    return decoder.decode(this.#socket.output());
  }

  clear(): void {
    this.#socket.writes.length = 0;
  }

  get #quiet(): boolean {
    return this.#isClosed || (this.#connection.quiet && this.#socket.waiting);
  }

  #check(): void {
    if (this.#waiters.length === 0 || !this.#quiet) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The peer's input as it queues: bytes, end of stream (`null`), or a reset. */
type Input = Uint8Array | null | Error;

/** An in-memory socket: reads take the queued input, writes are recorded. */
class MemorySocket implements Socket {
  readonly writes: Uint8Array[] = [];
  writeShut = false;
  readonly #input: Input[] = [];
  readonly #chunkSize: number;
  readonly #onWaiting: () => void;
  readonly #onClose: () => void;
  #read:
    | { buffer: Uint8Array; resolve(n: number | null): void; reject(e: Error): void }
    | undefined;
  #ended = false;
  #closed = false;

  constructor(chunkSize: number, onWaiting: () => void, onClose: () => void) {
    this.#chunkSize = chunkSize;
    this.#onWaiting = onWaiting;
    this.#onClose = onClose;
  }

  /** Whether a read waits for input and none is queued. */
  get waiting(): boolean {
    return this.#read !== undefined || this.#closed;
  }

  push(input: Input): void {
    if (this.#ended) throw new TypeError("The peer closed its side: it cannot send more");
    if (input === null || input instanceof Error) this.#ended = true;
    else if (input.length === 0) return;
    this.#input.push(input);
    const read = this.#read;
    if (read !== undefined) {
      this.#read = undefined;
      this.#take(read.buffer).then(read.resolve, read.reject);
    }
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Socket closed"));
    if (this.#input.length > 0) return this.#take(buffer);
    return new Promise((resolve, reject) => {
      this.#read = { buffer, resolve, reject };
      this.#onWaiting();
    });
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed || this.writeShut) {
      return Promise.reject(new Deno.errors.BadResource("Socket closed for writing"));
    }
    this.writes.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }

  closeWrite(): Promise<void> {
    this.writeShut = true;
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Socket closed already");
    this.#closed = true;
    this.#read?.reject(new Deno.errors.Interrupted("Operation canceled"));
    this.#read = undefined;
    this.#onClose();
  }

  output(): Uint8Array {
    let length = 0;
    for (const write of this.writes) length += write.length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const write of this.writes) {
      bytes.set(write, offset);
      offset += write.length;
    }
    return bytes;
  }

  #take(buffer: Uint8Array): Promise<number | null> {
    const next = this.#input[0];
    if (next === null) return Promise.resolve(null); // stays: later reads see the end too
    if (next instanceof Error) return Promise.reject(next);
    const count = Math.min(next.length, buffer.length, this.#chunkSize);
    buffer.set(next.subarray(0, count));
    if (count === next.length) this.#input.shift();
    else this.#input[0] = next.subarray(count);
    return Promise.resolve(count);
  }
}
