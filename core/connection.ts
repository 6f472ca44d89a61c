/**
 * One accepted socket: its read loop, its write queue, and its protocol handler.
 *
 * States:
 *
 * | state     | reads | writes accepted | leaves when                                          |
 * | --------- | ----- | --------------- | ---------------------------------------------------- |
 * | `open`    | yes   | yes             | peer EOF -> `ending`; `close()` -> `closing`; error -> `closed` |
 * | `ending`  | no    | yes             | its messages are done and writes flushed -> `closed` |
 * | `closing` | no    | no              | writes flushed -> `closed` (lingering)               |
 * | `closed`  | no    | no              | -                                                    |
 *
 * Reading pauses (the loop parks, no read is pending) while the server's queue is full, while
 * this connection's unflushed output is above `writeHighWater`, and while the server drains.
 *
 * A close the server chose (`close()`, a goodbye, shutdown) lingers once the output is flushed:
 * the socket's write side is shut (the peer reads every byte, then end of stream), and input is
 * read and dropped until the peer closes too, or `lingerTimeout` passes, and only then is the
 * socket closed. Closing a socket whose peer's input sits unread makes the kernel send a reset,
 * which destroys the answers still in the kernel's send buffer: under load, a fifth of the
 * answers counted as sent never arrived, and a 20 MB response was cut by megabytes. Errors,
 * slow consumers and the reaper's cuts close at once (`destroy`).
 *
 * @module
 */

import type { AuthenticationResult, TlsHandshakeFacts } from "./authentication.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { type MessageFailedError, SlowConsumerError } from "./errors.ts";
import type {
  DispatchOptions,
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "./protocol.ts";
import type { MessageSource, PoolRoute } from "./_pool_routing.ts";
import { DispatchFlag } from "./_dispatch_flags.ts";
import { giveBuffer, MAX_POOLED_SIZE, takeBuffer } from "./_buffer_pool.ts";
import { closeSocket, linger } from "./_linger.ts";
import { type NodeTlsOptions, NodeTlsSocket } from "./_node_tls.ts";

/** The part of a `Deno.Conn` a connection uses. */
export interface Socket {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  /** Shuts the write side (TCP FIN, TLS close_notify); sockets without it do not linger. */
  closeWrite?(): Promise<void>;
}

/** What the server provides to its connections. */
export interface ConnectionHost {
  /** A coarse clock (ms), advanced by the server's reaper. */
  readonly now: number;
  /** Whether every connection must stop reading (queue full, or draining). */
  readonly readsPaused: boolean;
  /**
   * Hands a message to the message handlers.
   *
   * @param flags `DispatchFlag` bits: `keepable` when `payload` lies in the connection's read
   *   buffer (which the connection replaces when the payload is kept; other views are copied
   *   before a handler keeps them), `overtake`.
   * @param key The key of `DispatchOptions.key`, if any.
   * @returns Whether `payload` is kept past this call as it is (the connection then reads
   *   into a new buffer, if `payload` is keepable).
   */
  dispatch(
    connection: Connection,
    payload: Uint8Array,
    type: number,
    flags: number,
    key: string | number | undefined,
  ): boolean;
  /** A message of this connection is done. */
  messageDone(): void;
  /** The connection is closed. */
  closed(connection: Connection, reason: Error | undefined): void;
  /** Whether the server has an authenticator (`ProtocolContext.authenticationRequired`). */
  readonly authenticationRequired?: boolean;
  /** Asks the server's authenticator (`ProtocolContext.authenticate`). */
  authenticate?(
    connection: Connection,
    protocol: string,
    credentials: Readonly<Record<string, unknown>>,
  ): Promise<AuthenticationResult>;
  /** A connection-level error to report. */
  error(error: unknown, connection: Connection): void;
  /** Counts bytes moved. */
  countBytes(read: number, written: number): void;
  /** A closed connection's socket lingers until `done` settles (the server waits for it). */
  lingering(done: Promise<void>): void;
}

/** Bounds of a connection. */
export interface ConnectionLimits {
  readBufferSize: number;
  writeHighWater: number;
  maxWriteBuffer: number;
  /** Output pending in a turn that starts its write at once (`Infinity`: at the turn's end). */
  earlyFlushBytes: number;
  /** Time a gracefully closed socket reads and drops input before it closes (0: no linger). */
  lingerTimeout: number;
}

type State = "open" | "ending" | "closing" | "closed";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
/** First read buffer of a connection; it grows while reads fill it. */
const INITIAL_READ_SIZE = 64;
/** Reads of at most 1/8 of the buffer in a row after which it halves. */
const SHRINK_AFTER_SMALL_READS = 16;
/** Time a TLS handshake run by the connection (`node:tls`) may take, in milliseconds. */
export const TLS_HANDSHAKE_TIMEOUT = 10_000;
/** The largest first output buffer a turn takes from the size of the last write. */
const MAX_OUTPUT_HINT = 16 * 1024;

/** The I/O-thread side of one socket. */
export class Connection implements ProtocolContext, MessageSource {
  readonly id: number;
  readonly handle: ConnectionHandle;
  readonly #handle: LocalConnectionHandle;
  readonly remoteAddr: Deno.Addr | undefined;
  /** The server's address the peer connected to. */
  readonly localAddr: Deno.Addr | undefined;
  /** The server's listener it came on (`ServerOptions.listeners`): 0 the main one. */
  readonly listener: number;
  /** Its place in `maxConnectionsPerAddress`'s count (`_address_limit.ts`), or -1. */
  addressBucket = -1;
  /** When the last byte was read or written, on the host's coarse clock. */
  lastActivity: number;
  /** When it was accepted, on the host's coarse clock. */
  readonly openedAt: number;
  /** Bytes read from its socket. */
  bytesIn = 0;
  /** Bytes written to its socket. */
  bytesOut = 0;
  /** Messages its protocol dispatched. */
  messagesIn = 0;
  /** When the write under way started, or -1. */
  writeStartedAt = -1;
  /** When `closeFor` queued a goodbye, or -1: the reaper ends a goodbye that cannot drain. */
  goodbyeSince = -1;
  /** The worker pool's route of this connection's messages. */
  route: PoolRoute | undefined = undefined;
  #socket: Socket;
  readonly #host: ConnectionHost;
  /** TLS this connection runs itself (`node:tls`), when its listener needs that path. */
  readonly #tls: NodeTlsOptions | undefined;
  /** Whether TLS starts before the first read: at once, or once `startTls` asked for it. */
  #tlsDue = false;
  /** Whether the handshake is under way: output waits for it. */
  #upgrading = false;
  /** The write under way, for the upgrade to wait on. */
  #flushing: Promise<void> | undefined;
  /** Output written before `startTls`: it leaves in plaintext, before the handshake. */
  #plaintext: Uint8Array | undefined;
  /** Aborts a handshake under way when the connection is closed meanwhile. */
  #handshake: AbortController | undefined;
  readonly #limits: ConnectionLimits;
  #handler: ProtocolHandler | undefined;
  #state: State = "open";
  #readBuffer: Uint8Array | undefined;
  /** The memory of the chunk the handler's `data` is handling: views of it need no copy. */
  #chunkBuffer: ArrayBufferLike | undefined;
  #readSize: number;
  #smallReads = 0;
  #parked = false;
  #reading = false;
  /** Output not yet handed to the socket: a buffer of the thread's pool, or EMPTY. */
  #out: Uint8Array = EMPTY;
  #outLength = 0;
  /** A buffer larger than the pool keeps, held while large writes are what this connection does. */
  #spare: Uint8Array = EMPTY;
  /** Bytes handed to the socket and not yet confirmed written. */
  #inWrite = 0;
  /** Bytes of the last socket write: the size of the next turn's first output buffer. */
  #lastWriteLength = 0;
  #flushScheduled = false;
  /** Whether the handler's `data` is running: its writes are answers to the chunk read. */
  #handlingData = false;
  #pendingMessages = 0;
  /** Why the server is closing this connection, once it said goodbye. */
  #closeReason: Error | undefined;

  constructor(
    socket: Socket,
    id: number,
    host: ConnectionHost,
    limits: ConnectionLimits,
    remoteAddr?: Deno.Addr,
    listener = 0,
    localAddr?: Deno.Addr,
    tls?: { options: NodeTlsOptions; atStart: boolean },
  ) {
    this.#socket = socket;
    this.#tls = tls?.options;
    this.#tlsDue = tls?.atStart === true;
    this.listener = listener;
    this.id = id;
    this.#host = host;
    this.#limits = limits;
    this.#handle = new LocalConnectionHandle(id, this);
    this.handle = this.#handle;
    this.remoteAddr = remoteAddr;
    this.localAddr = localAddr;
    this.lastActivity = this.openedAt = host.now;
    this.#readSize = Math.min(INITIAL_READ_SIZE, limits.readBufferSize);
  }

  /** Whether the server checks credentials: see `ProtocolContext.authenticationRequired`. */
  get authenticationRequired(): boolean {
    return this.#host.authenticationRequired === true;
  }

  /**
   * Asks the server's authenticator: see `ProtocolContext.authenticate`.
   *
   * @param protocol The protocol's name.
   * @param credentials What the peer presented.
   * @returns The identity, or a refusal.
   */
  authenticate(
    protocol: string,
    credentials: Readonly<Record<string, unknown>>,
  ): Promise<AuthenticationResult> {
    const host = this.#host;
    if (host.authenticate === undefined) return Promise.resolve({ name: "" });
    return host.authenticate(this, protocol, credentials);
  }

  /**
   * Starts TLS on this connection before its next read: see `ProtocolContext.startTls`.
   *
   * @throws {TypeError} When the listener has no TLS to start, or it started already.
   */
  startTls(): void {
    if (this.#tls === undefined || this.#tlsDue || this.#socket instanceof NodeTlsSocket) {
      throw new TypeError(
        this.#tls === undefined
          ? "startTls: this connection's listener has no tls, or its protocol does not start TLS itself"
          : "startTls: TLS is already started on this connection",
      );
    }
    this.#tlsDue = true;
    // What is queued now leaves in plaintext; what is written from here on waits for TLS.
    this.#upgrading = true;
    if (this.#outLength > 0) {
      this.#plaintext = this.#out.slice(0, this.#outLength);
      giveBuffer(this.#out);
      this.#out = EMPTY;
      this.#outLength = 0;
    }
  }

  /** What the TLS handshake established, once done; undefined off TLS. */
  async tlsFacts(): Promise<TlsHandshakeFacts | undefined> {
    if (this.#socket instanceof NodeTlsSocket) return this.#socket.facts();
    const socket = this.#socket as Partial<Deno.TlsConn>;
    if (typeof socket.handshake !== "function") return undefined;
    const { alpnProtocol } = await socket.handshake();
    return { alpnProtocol };
  }

  /** Whether the connection accepts writes. */
  get open(): boolean {
    return this.#state === "open" || this.#state === "ending";
  }

  /** Output not yet written to the socket, in bytes. */
  get pendingOutput(): number {
    return this.#outLength + this.#inWrite;
  }

  /** Messages dispatched and not yet done. */
  get pendingMessages(): number {
    return this.#pendingMessages;
  }

  /** Whether nothing remains to flush or to answer. */
  get quiet(): boolean {
    return this.#pendingMessages === 0 && this.pendingOutput === 0;
  }

  /** Makes the protocol handler, calls `open`, and starts reading (after TLS, if due). */
  start(factory: ProtocolHandlerFactory): void {
    if (this.#tlsDue) {
      this.#upgrade().then((secure) => secure && this.start(factory));
      return;
    }
    try {
      this.#handler = factory.create(this);
      this.#handler.open?.();
    } catch (error) {
      this.#host.error(error, this);
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#readLoop();
  }

  dispatch(payload: Uint8Array, type = 0, options?: DispatchOptions): void {
    if ((type & 0xffff) !== type) {
      throw new RangeError(`Message type must be an integer from 0 to 65535, got ${type}`);
    }
    let flags: number = payload.buffer === this.#chunkBuffer
      ? DispatchFlag.keepable
      : DispatchFlag.none;
    let key: string | number | undefined;
    if (options !== undefined) {
      if (options.overtake === true) flags |= DispatchFlag.overtake;
      key = options.key;
      if (key !== undefined && typeof key !== "string" && typeof key !== "number") {
        throw new TypeError(`A dispatch key must be a string or a number, got ${typeof key}`);
      }
    }
    this.#pendingMessages++;
    this.messagesIn++;
    // An inline handler still running on a view of the read buffer keeps that buffer: read
    // into a new one (rare: only handlers that return a promise do it).
    if (
      this.#host.dispatch(this, payload, type, flags, key) &&
      (flags & DispatchFlag.keepable) !== 0
    ) {
      this.#readBuffer = undefined;
    }
  }

  /** A dispatched message is done; an ending connection may now close. */
  messageDone(): void {
    this.#pendingMessages--;
    this.#host.messageDone();
    if (this.#state === "ending") this.#closeIfQuiet();
  }

  /**
   * A dispatched message failed: it is reported, and the handler tells its peer, or the
   * connection closes.
   */
  messageFailed(error: MessageFailedError): void {
    this.#host.error(error, this);
    if (!this.open) return;
    const handler = this.#handler;
    if (handler?.failed === undefined) {
      this.close();
      return;
    }
    try {
      handler.failed(error);
    } catch (thrown) {
      this.#fail(thrown);
    }
  }

  /**
   * Queues bytes to send; they are copied into the output buffer and flushed once per turn
   * (answers to the chunk being handled start at once past `earlyFlushBytes`).
   *
   * @returns `false` when the connection no longer accepts writes or is cut off as a slow consumer.
   */
  write(data: Uint8Array | string): boolean {
    if (!this.open) return false;
    const maxLength = typeof data === "string" ? data.length * 3 : data.length;
    if (this.pendingOutput + maxLength > this.#limits.maxWriteBuffer) {
      const length = typeof data === "string" ? encoder.encode(data).length : data.length;
      if (this.pendingOutput + length > this.#limits.maxWriteBuffer) {
        this.closeFor(
          new SlowConsumerError(
            `Pending output of ${
              this.pendingOutput + length
            } bytes exceeds maxWriteBuffer (${this.#limits.maxWriteBuffer})`,
          ),
        );
        return false;
      }
    }
    if (this.#outLength + maxLength > this.#out.length) this.#grow(maxLength);
    if (typeof data === "string") {
      this.#outLength += encoder.encodeInto(data, this.#out.subarray(this.#outLength)).written;
    } else {
      this.#out.set(data, this.#outLength);
      this.#outLength += maxLength;
    }
    if (this.#inWrite === 0) {
      if (this.#handlingData && this.#outLength >= this.#limits.earlyFlushBytes) {
        // Answers to the chunk being handled, enough for the peer to start on: write them
        // now, and the rest of the turn's output when this write returns (the flush loop
        // takes it), so two writes at most. Only answers: writes from elsewhere (fan-out to
        // subscribers, a worker's batch) wait for the turn's end, as throughput wants.
        this.#flush();
      } else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(this.#flushTask);
      }
    }
    return true;
  }

  /** Closes once the output is flushed; later writes return `false`. */
  close(): boolean {
    if (this.#state === "closing" || this.#state === "closed") return false;
    this.#state = "closing";
    this.#closeIfQuiet();
    return true;
  }

  /**
   * Closes for a reason of the server's (idle, shutdown, slow consumer): output not yet handed
   * to the socket is dropped, the handler's `goodbye` bytes are sent if it has any, then the
   * connection closes, lingering (a slow consumer's closes at once). A goodbye that cannot
   * drain is cut by the server's reaper.
   */
  closeFor(reason: Error): void {
    if (this.#state === "closed") return;
    let goodbye: Uint8Array | string | undefined;
    try {
      goodbye = this.#handler?.goodbye?.(reason);
    } catch (error) {
      this.#host.error(error, this);
    }
    const saysGoodbye = goodbye !== undefined && goodbye.length > 0;
    if (this.#state === "closing" || (!saysGoodbye && reason instanceof SlowConsumerError)) {
      // Nothing to tell a peer that does not read: its socket closes now, without lingering.
      this.destroy(reason);
      return;
    }
    // Drop what was not handed to the socket, and the buffers that held it (a slow consumer's
    // can be maxWriteBuffer large): the goodbye gets a small one of its own.
    this.#releaseOutput();
    this.#outLength = 0;
    if (saysGoodbye) {
      this.#state = "open";
      this.write(goodbye!);
    }
    this.#closeReason = reason;
    this.#state = "closing";
    this.goodbyeSince = this.#host.now;
    this.#closeIfQuiet();
  }

  /** Closes now: output not yet written is dropped. */
  destroy(reason: Error | undefined = this.#closeReason): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#handshake?.abort();
    closeSocket(this.#socket);
    this.#release(reason);
  }

  /**
   * Closes once all is flushed: at once when the peer ended its stream (nothing of it can sit
   * unread), else lingering (see the module doc).
   */
  #end(): void {
    const peerEnded = this.#state === "ending";
    this.#state = "closed";
    if (peerEnded) closeSocket(this.#socket);
    else this.#host.lingering(linger(this.#socket, this.#limits.lingerTimeout));
    this.#release(this.#closeReason);
  }

  /** Lets go of everything but the socket, and tells the handler and the host. */
  #release(reason: Error | undefined): void {
    this.#handshake?.abort();
    this.#releaseOutput();
    this.#readBuffer = undefined;
    this.#handle.detach();
    try {
      this.#handler?.close?.(reason);
    } catch (error) {
      this.#host.error(error, this);
    }
    this.#host.closed(this, reason);
  }

  /**
   * Gives back buffers an idle connection holds: a large output buffer kept for large writes,
   * and a large read buffer (the read under way keeps its buffer; the next read gets a small
   * one). The server's reaper calls it for connections idle a while.
   */
  trim(): void {
    if (this.#outLength === 0) this.#releaseOutput();
    this.#spare = EMPTY;
    this.#readSize = Math.min(INITIAL_READ_SIZE, this.#limits.readBufferSize);
    // Dropped, not kept: the halving rule never shrinks a buffer from the initial read size,
    // so a grown buffer kept here stayed for the connection's life.
    if ((this.#readBuffer?.length ?? 0) > this.#readSize) this.#readBuffer = undefined;
  }

  /** Restarts reading if it was paused and nothing holds it paused any more. */
  resume(): void {
    if (this.#parked && this.#state === "open" && !this.#mustPause()) {
      this.#parked = false;
      this.#readLoop();
    }
  }

  #mustPause(): boolean {
    return this.#host.readsPaused || this.pendingOutput > this.#limits.writeHighWater;
  }

  async #readLoop(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (this.#state === "open") {
        if (this.#mustPause()) {
          this.#parked = true;
          return;
        }
        if (this.#tlsDue && !(await this.#upgrade())) return;
        const buffer = this.#readBuffer ??= new Uint8Array(this.#readSize);
        let count: number | null;
        try {
          count = await this.#socket.read(buffer);
        } catch (error) {
          // Our own close interrupts the pending read: not an error.
          if (this.#state === "open") this.#fail(error, false);
          return;
        }
        if (this.#state !== "open") return;
        if (count === null) {
          this.#ending();
          return;
        }
        this.lastActivity = this.#host.now;
        this.bytesIn += count;
        this.#host.countBytes(count, 0);
        this.#handlingData = true;
        this.#chunkBuffer = buffer.buffer;
        try {
          this.#handler!.data(buffer.subarray(0, count));
        } finally {
          this.#handlingData = false;
          this.#chunkBuffer = undefined;
        }
        this.#fitReadBuffer(count);
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Geometric read buffers: start small (idle connections cost little), double while reads
   * fill the buffer, halve after a run of small reads.
   */
  #fitReadBuffer(count: number): void {
    const size = this.#readSize;
    if (count === size) {
      this.#smallReads = 0;
      if (size < this.#limits.readBufferSize) {
        this.#readSize = Math.min(size * 2, this.#limits.readBufferSize);
        this.#readBuffer = undefined;
      }
    } else if (count <= size >> 3 && size > INITIAL_READ_SIZE) {
      if (++this.#smallReads >= SHRINK_AFTER_SMALL_READS) {
        this.#smallReads = 0;
        this.#readSize = size >> 1;
        this.#readBuffer = undefined;
      }
    } else {
      this.#smallReads = 0;
    }
  }

  #ending(): void {
    this.#state = "ending";
    try {
      this.#handler!.eof?.();
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#closeIfQuiet();
  }

  #closeIfQuiet(): void {
    const waitForMessages = this.#state === "ending";
    if (this.pendingOutput === 0 && (!waitForMessages || this.#pendingMessages === 0)) {
      this.#end();
    }
  }

  /** Closes on an error; `report` is false for the peer's resets, which are routine. */
  #fail(error: unknown, report = true): void {
    if (report || !isRoutineDisconnect(error)) this.#host.error(error, this);
    this.destroy(error instanceof Error ? error : new Error(String(error)));
  }

  /**
   * Runs the TLS handshake over the plain socket: what was written before (a plaintext
   * greeting) leaves first, and what is written meanwhile waits for the secure socket.
   *
   * @returns Whether the connection is secure and open.
   */
  async #upgrade(): Promise<boolean> {
    this.#tlsDue = false;
    this.#upgrading = true;
    // A write under way finishes first (its loop stops at #upgrading), then the plaintext.
    await this.#flushing;
    const plaintext = this.#plaintext;
    this.#plaintext = undefined;
    try {
      let offset = 0;
      while (plaintext !== undefined && offset < plaintext.length) {
        offset += await this.#socket.write(plaintext.subarray(offset));
      }
      if (plaintext !== undefined) {
        this.bytesOut += plaintext.length;
        this.#host.countBytes(0, plaintext.length);
      }
    } catch (error) {
      this.#upgrading = false;
      if (this.#state !== "closed") this.#fail(error, false);
      return false;
    }
    if (this.#state === "closed") {
      this.#upgrading = false;
      return false;
    }
    try {
      this.#handshake = new AbortController();
      this.#socket = await NodeTlsSocket.accept(
        this.#socket,
        this.#tls!,
        TLS_HANDSHAKE_TIMEOUT,
        this.#handshake.signal,
      );
    } catch (error) {
      // A peer that fails its handshake (no certificate, a wrong one, plain text) is routine.
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      return false;
    } finally {
      this.#upgrading = false;
      this.#handshake = undefined;
    }
    // Closed during the handshake (shutdown, a reaper's cut): the state moved meanwhile.
    if ((this.#state as State) === "closed") {
      this.#socket.close();
      return false;
    }
    if (this.#outLength > 0 && this.#inWrite === 0) this.#flush();
    return true;
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    if (this.#inWrite === 0) this.#flush();
  };

  #flush(): Promise<void> {
    return this.#flushing = this.#writeOut();
  }

  async #writeOut(): Promise<void> {
    while (this.#outLength > 0 && this.#state !== "closed" && !this.#upgrading) {
      const buffer = this.#out;
      const length = this.#outLength;
      // Writes made while this one is under way go to another buffer.
      this.#out = EMPTY;
      this.#outLength = 0;
      this.#inWrite = length;
      this.#lastWriteLength = length;
      this.writeStartedAt = this.#host.now;
      try {
        let offset = 0;
        while (offset < length) {
          offset += await this.#socket.write(buffer.subarray(offset, length));
          this.#inWrite = length - offset;
        }
      } catch (error) {
        this.#inWrite = 0;
        this.writeStartedAt = -1;
        if ((this.#state as State) !== "closed") this.#fail(error, false);
        return;
      }
      this.writeStartedAt = -1;
      this.lastActivity = this.#host.now;
      this.bytesOut += length;
      this.#host.countBytes(0, length);
      // The socket has it all: a small buffer goes back to the pool (an idle connection holds
      // none); a large one stays while large writes are what this connection does (trim()
      // lets it go once the connection idles).
      if (buffer.length <= MAX_POOLED_SIZE) giveBuffer(buffer);
      else if (length >= buffer.length >> 2) this.#spare = buffer;
    }
    if (this.#state === "closing" || this.#state === "ending") this.#closeIfQuiet();
    else if (this.#parked) this.resume();
  }

  #grow(extra: number): void {
    // A turn's first write takes a buffer the size of the last socket write at once (up to
    // MAX_OUTPUT_HINT): 50 small replies would otherwise grow it four times from 256 bytes,
    // each a copy and a trip to the pool. Capped low, so a connection that once wrote much
    // does not take a large buffer for a small answer.
    const hint = this.#out === EMPTY ? Math.min(this.#lastWriteLength, MAX_OUTPUT_HINT) : 0;
    const size = Math.max(this.#outLength + extra, this.#out.length * 2, hint);
    let grown: Uint8Array;
    if (this.#spare.length >= size) {
      grown = this.#spare;
      this.#spare = EMPTY;
    } else {
      grown = takeBuffer(size);
    }
    if (this.#outLength > 0) grown.set(this.#out.subarray(0, this.#outLength));
    if (this.#out !== EMPTY) giveBuffer(this.#out);
    this.#out = grown;
  }

  /** Drops the output not yet handed to the socket; its buffers go back to the pool. */
  #releaseOutput(): void {
    this.#lastWriteLength = 0; // a goodbye after this gets a small buffer
    if (this.#out !== EMPTY) giveBuffer(this.#out);
    this.#out = EMPTY;
    this.#outLength = 0;
    this.#spare = EMPTY;
  }
}

function isRoutineDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    // TLS peers that close without close_notify (browsers, wrk) end this way.
    error instanceof Deno.errors.UnexpectedEof;
}

/**
 * A connection's handle on the I/O thread: it reaches the connection directly while it is
 * open, and lets go of it at close, so a kept handle never keeps a closed connection alive.
 */
export class LocalConnectionHandle implements ConnectionHandle {
  readonly id: number;
  #connection: Connection | undefined;

  constructor(id: number, connection?: Connection) {
    this.id = id;
    this.#connection = connection;
  }

  get open(): boolean {
    return this.#connection?.open ?? false;
  }

  write(data: Uint8Array | string): boolean {
    return this.#connection?.write(data) ?? false;
  }

  close(): boolean {
    return this.#connection?.close() ?? false;
  }

  /** The connection closed: from now on every call is a no-op. */
  detach(): void {
    this.#connection = undefined;
  }
}
