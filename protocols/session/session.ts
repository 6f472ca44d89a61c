import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { FrameType, SEQ_SIZE } from "./_session_wire.ts";
import {
  SessionError,
  SessionFullError,
  type SessionSequences,
  SessionTimeoutError,
} from "./session_errors.ts";
import type { StoredMessage } from "./session_store.ts";
import {
  type ResolvedSessionOptions,
  resolveSessionOptions,
  type SessionOptions,
} from "./_session_options.ts";

export type { SessionOptions } from "./_session_options.ts";
import type { SessionStore } from "./session_store.ts";

/** A message delivered by a session, exactly once and in order. */
export interface SessionMessage {
  /** Its sequence number in the session: 1, 2, 3... with no gap. */
  readonly seq: number;
  /** Its message type, 1 to 65535. */
  readonly type: number;
  /** Its payload: a view valid during the call only (copy what you keep). */
  readonly payload: Uint8Array;
}

/**
 * Handles each message of a session, on the I/O thread. Messages sent from it (replies) are
 * stored in the same file write as the cursor that marks this message received, so a crash
 * cannot keep one without the other.
 */
export type SessionMessageHandler = (message: SessionMessage, session: Session) => void;

/** Counters of a {@linkcode Session}. */
export interface SessionStats {
  /** Messages delivered to the handler since the session opened here. */
  delivered: number;
  /** Messages received again and dropped (resends of what was delivered). */
  duplicates: number;
  /** Messages sent again on a new connection. */
  resent: number;
  /** Connections the session was attached to. */
  connections: number;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Messages received after which an acknowledgement goes out at once. */
const ACK_EVERY = 256;

/** Largest payload of a session message: a frame's 65535 bytes less header and seq. */
export const MAX_SESSION_PAYLOAD = 0xffff - 8 - SEQ_SIZE;

/**
 * A persistent session with one peer, on either side: numbered messages that survive
 * disconnects and restarts, delivered exactly once and in order.
 *
 * - `send` numbers a message, stores it in the session file (before it reaches the network)
 *   and sends it if connected. It stays in the file until the peer acknowledges it; after a
 *   reconnect everything the peer has not received is sent again.
 * - Received messages go to the handler in order; a message seen again (a resend) is dropped
 *   by its sequence number. The cursor of what was received is stored in the same write as
 *   the replies sent from the handler, before anything acknowledges it to the peer.
 * - Acknowledgements ride on every frame's `ackSeq`; with nothing to send, a heartbeat carries
 *   them after `ackDelay`, and every `heartbeatInterval` of silence. Nothing heard for
 *   `connectionTimeout` closes the connection.
 *
 * Sessions are made by {@linkcode sessionProtocol} (one per client name) and
 * {@linkcode connectSession}; both run them on the I/O thread, which owns their files.
 *
 * @example Sending while disconnected: the message waits in the file
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import { connectSession, sessionProtocol } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const received: string[] = [];
 * const protocol = sessionProtocol({
 *   dir: `${dir}/server`,
 *   onMessage: (message) => void received.push(new TextDecoder().decode(message.payload)),
 * });
 * await using server = new Server({ protocol });
 * const { port } = await server.listen();
 * await using client = await connectSession({
 *   port,
 *   session: { dir: `${dir}/client`, name: "c1", onMessage() {} },
 * });
 * const seq = client.session.send(1, new TextEncoder().encode("hello"));
 * await client.session.whenAcknowledged(seq);
 * assertEquals(received, ["hello"]);
 * await client.close();
 * await server.close();
 * protocol.sessions.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Session {
  /** The peer's name. */
  readonly peer: string;
  readonly #store: SessionStore;
  readonly #options: ResolvedSessionOptions;
  readonly #onMessage: SessionMessageHandler;
  readonly #onError: (error: Error) => void;
  readonly #encoder = new HeaderEncoder();
  #frame = new Uint8Array(256);
  #handle: ConnectionHandle | undefined;
  /** The last sequence number written to the connection attached. */
  #sentThrough = 0;
  /** Messages numbered and not yet stored. */
  #outbox: StoredMessage[] = [];
  #outboxBytes = 0;
  #lastAssigned: number;
  #received: number;
  #peerAcked: number;
  #lastAckSent = -1;
  #lastRead = 0;
  #lastWrite = 0;
  #flushScheduled = false;
  #delivering = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #writableWaiters: Waiter[] = [];
  #ackWaiters: Waiter[] = [];
  #closed = false;
  #stats: SessionStats = { delivered: 0, duplicates: 0, resent: 0, connections: 0 };

  /**
   * Makes a session over an open store. Used by the session server and client.
   *
   * @param peer The peer's name.
   * @param store The session file, opened.
   * @param options Timing and bounds.
   * @param onMessage Handles the messages received.
   * @param onError Reports errors of the handler and of the connection.
   */
  constructor(
    peer: string,
    store: SessionStore,
    options: SessionOptions,
    onMessage: SessionMessageHandler,
    onError: (error: Error) => void,
  ) {
    this.peer = peer;
    this.#store = store;
    this.#options = resolveSessionOptions(options);
    this.#onMessage = onMessage;
    this.#onError = onError;
    this.#lastAssigned = store.lastSent;
    this.#received = store.received;
    this.#peerAcked = store.acknowledged;
  }

  /** The session file's path. */
  get path(): string {
    return this.#store.path;
  }

  /** Whether a connection is attached (logged in). */
  get connected(): boolean {
    return this.#handle?.open ?? false;
  }

  /** The last sequence number sent (numbered and stored, delivered to the peer or not). */
  get lastSentSeq(): number {
    return this.#lastAssigned;
  }

  /** The last of this side's messages the peer acknowledged. */
  get acknowledgedSeq(): number {
    return this.#peerAcked;
  }

  /** The last sequence number received from the peer and delivered. */
  get lastReceivedSeq(): number {
    return this.#received;
  }

  /** Messages sent and not yet acknowledged. */
  get unacked(): number {
    return this.#lastAssigned - this.#peerAcked;
  }

  /** Whether `send` would throw {@linkcode SessionFullError} now. */
  get full(): boolean {
    return this.unacked >= this.#options.maxUnacked ||
      this.#store.pendingBytes + this.#outboxBytes >= this.#options.maxUnackedBytes;
  }

  /** The numbers exchanged at login. */
  get sequences(): SessionSequences {
    return { received: this.#received, acknowledged: this.#peerAcked, sent: this.#lastAssigned };
  }

  /**
   * Counters, read now.
   *
   * @returns A fresh object.
   */
  stats(): SessionStats {
    return { ...this.#stats };
  }

  /**
   * Numbers a message, stores it, and sends it when connected (else at the next login).
   *
   * @param type The message type, 1 to 65535.
   * @param payload The payload, at most {@linkcode MAX_SESSION_PAYLOAD} bytes (copied).
   * @returns The message's sequence number.
   * @throws {SessionFullError} When `maxUnacked` messages or `maxUnackedBytes` wait for an
   *   acknowledgement.
   * @throws {SessionError} When the session is closed.
   * @throws {RangeError} When the type or the payload's length is out of range.
   */
  send(type: number, payload: Uint8Array): number {
    if (this.#closed) throw new SessionError(`Session "${this.peer}" is closed`);
    if (!Number.isInteger(type) || type < 1 || type > 0xffff) {
      throw new RangeError(`Message type must be an integer from 1 to 65535, got ${type}`);
    }
    if (payload.length > MAX_SESSION_PAYLOAD) {
      throw new RangeError(
        `Payload of ${payload.length} bytes exceeds the limit of ${MAX_SESSION_PAYLOAD} bytes`,
      );
    }
    // Replies sent from the handler may go past the bounds, up to 4 times: the peer's own
    // bound limits the messages that cause them, and refusing a reply would lose it.
    const slack = this.#delivering ? 4 : 1;
    const bytes = this.#store.pendingBytes + this.#outboxBytes;
    if (
      this.unacked >= this.#options.maxUnacked * slack ||
      bytes >= this.#options.maxUnackedBytes * slack
    ) {
      throw new SessionFullError(this.unacked, bytes);
    }
    if (this.#lastAssigned >= 0xffffffff) {
      throw new RangeError(`Session "${this.peer}" used every sequence number: reset it`);
    }
    const seq = ++this.#lastAssigned;
    this.#outbox.push({ seq, type, payload: payload.slice() });
    this.#outboxBytes += payload.length;
    if (!this.#delivering && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
    return seq;
  }

  /**
   * Resolves once `send` can take messages again: at most half of `maxUnacked` (and of
   * `maxUnackedBytes`) wait for an acknowledgement. It waits through disconnects.
   *
   * @param signal Stops waiting: the promise rejects with the signal's reason.
   * @returns Resolves when writable (at once if it is).
   */
  whenWritable(signal?: AbortSignal): Promise<void> {
    if (!this.#overHalf()) return Promise.resolve();
    return this.#wait(this.#writableWaiters, 0, signal);
  }

  /**
   * Resolves once the peer acknowledged message `seq` (stored it as received).
   *
   * @param seq A sequence number this side sent.
   * @param signal Stops waiting: the promise rejects with the signal's reason.
   * @returns Resolves when acknowledged (at once if it is).
   */
  whenAcknowledged(seq: number = this.#lastAssigned, signal?: AbortSignal): Promise<void> {
    if (this.#peerAcked >= seq) return Promise.resolve();
    return this.#wait(this.#ackWaiters, seq, signal);
  }

  /**
   * Takes a connection that just logged in: everything the peer has not received
   * (`peerReceived` on) is sent again, then new messages as they come.
   *
   * @param handle The connection.
   * @param peerReceived The last sequence number the peer received (from the login).
   */
  attach(handle: ConnectionHandle, peerReceived: number): void {
    const previous = this.#handle;
    if (previous !== undefined && previous !== handle) {
      this.detach(previous);
      previous.close();
    }
    this.#handle = handle;
    this.#stats.connections++;
    this.#acknowledge(peerReceived);
    this.#sentThrough = peerReceived;
    this.#stats.resent += this.#store.lastSent - peerReceived;
    this.#lastRead = this.#lastWrite = Date.now();
    // The login told the peer what this side received.
    this.#lastAckSent = this.#received;
    const period = Math.max(
      10,
      Math.min(1000, this.#options.heartbeatInterval >> 1, this.#options.connectionTimeout >> 2),
    );
    this.#ticker = setInterval(this.#tick, period);
    this.flush();
  }

  /**
   * Lets go of a connection that closed (or is replaced); the session goes on without one.
   *
   * @param handle The connection.
   */
  detach(handle: ConnectionHandle): void {
    if (this.#handle !== handle) return;
    this.#handle = undefined;
    clearInterval(this.#ticker);
    clearTimeout(this.#ackTimer);
    this.#ticker = this.#ackTimer = undefined;
    if (!this.#closed) this.#persist();
  }

  /**
   * Handles a frame of the attached connection after login: its acknowledgement, then, for a
   * message, its delivery (or its drop as a duplicate). Call {@linkcode Session.flush} after a
   * batch of frames.
   *
   * @param type The frame's type (0: heartbeat).
   * @param ackSeq The frame's acknowledgement.
   * @param payload The frame's payload.
   * @throws {SessionError} When the peer breaks the protocol (acknowledges what was not sent,
   *   skips a sequence number): close the connection.
   */
  receive(type: number, ackSeq: number, payload: Uint8Array): void {
    // A closed session stores nothing more: delivering would deliver twice after a restart.
    if (this.#closed) return;
    this.#lastRead = Date.now();
    if (ackSeq > this.#peerAcked) {
      if (ackSeq > this.#store.lastSent) {
        throw new SessionError(
          `Peer "${this.peer}" acknowledged message ${ackSeq}, but only ${this.#store.lastSent} were sent`,
        );
      }
      this.#acknowledge(ackSeq);
    }
    if (type === FrameType.heartbeat) return;
    if (payload.length < SEQ_SIZE) {
      throw new SessionError(`A message of ${payload.length} bytes has no sequence number`);
    }
    const seq = (payload[0] | (payload[1] << 8) | (payload[2] << 16) | (payload[3] << 24)) >>> 0;
    if (seq <= this.#received) {
      this.#stats.duplicates++;
      return;
    }
    if (seq !== this.#received + 1) {
      throw new SessionError(
        `Peer "${this.peer}" sent message ${seq} after ${this.#received}: messages are missing`,
      );
    }
    this.#received = seq;
    this.#stats.delivered++;
    this.#delivering = true;
    try {
      this.#onMessage({ seq, type, payload: payload.subarray(SEQ_SIZE) }, this);
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#delivering = false;
    }
    if (this.#ackTimer === undefined && this.#handle !== undefined) {
      this.#ackTimer = setTimeout(this.#ackTask, this.#options.ackDelay);
    }
  }

  /**
   * Stores the messages sent and the cursor received, in one write, then sends what the
   * connection has not had yet.
   */
  flush(): void {
    if (this.#closed) return;
    this.#persist();
    const handle = this.#handle;
    if (handle === undefined || !handle.open) return;
    const last = this.#store.lastSent;
    while (this.#sentThrough < last) {
      const message = this.#store.message(this.#sentThrough + 1)!;
      this.#writeFrame(handle, message.type, message.seq, message.payload);
      this.#sentThrough++;
    }
    // Many messages received and nothing sent back: acknowledge now, not after ackDelay, so
    // the peer's window keeps moving.
    if (this.#received - this.#lastAckSent >= ACK_EVERY) this.#writeFrame(handle, 0);
  }

  /**
   * Stores what is left, sends a last acknowledgement if one is due, and closes the file. The
   * connection is not closed: its owner does that.
   */
  close(): void {
    if (this.#closed) return;
    this.flush();
    const handle = this.#handle;
    if (handle?.open && this.#lastAckSent !== this.#received) this.#writeFrame(handle, 0);
    if (handle !== undefined) this.detach(handle);
    this.#closed = true;
    this.#store.close();
    const error = new SessionError(`Session "${this.peer}" is closed`);
    for (const waiter of [...this.#writableWaiters, ...this.#ackWaiters]) waiter.reject(error);
    this.#writableWaiters = [];
    this.#ackWaiters = [];
  }

  /** Stores the outbox and the cursors when there is something to store. */
  #persist(): void {
    const store = this.#store;
    const outbox = this.#outbox;
    // Acknowledgements alone are stored lazily (they only allow compaction); a received
    // cursor must be stored before anything acknowledges it.
    if (
      outbox.length === 0 && this.#received === store.received &&
      this.#peerAcked - store.acknowledged < 1024
    ) return;
    this.#outbox = [];
    this.#outboxBytes = 0;
    store.append(outbox, this.#received, this.#peerAcked);
  }

  #acknowledge(seq: number): void {
    if (seq <= this.#peerAcked) return;
    this.#peerAcked = seq;
    if (this.#writableWaiters.length > 0 && !this.#overHalf()) {
      const waiters = this.#writableWaiters;
      this.#writableWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
    if (this.#ackWaiters.length > 0) {
      const due = this.#ackWaiters.filter((waiter) => waiter.seq <= seq);
      this.#ackWaiters = this.#ackWaiters.filter((waiter) => waiter.seq > seq);
      for (const waiter of due) waiter.resolve();
    }
  }

  #overHalf(): boolean {
    return this.unacked > this.#options.maxUnacked >> 1 ||
      this.#store.pendingBytes + this.#outboxBytes > this.#options.maxUnackedBytes >> 1;
  }

  #wait(list: Waiter[], seq: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) return Promise.reject(new SessionError(`Session "${this.peer}" is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const onAbort = () => {
      const index = list.indexOf(waiter);
      if (index >= 0) list.splice(index, 1);
      reject(signal!.reason);
    };
    const waiter: Waiter = {
      seq,
      resolve: () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      reject: (error) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      },
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    list.push(waiter);
    return promise;
  }

  /** Writes one frame: a message (type, seq, payload) or a heartbeat (type 0). */
  #writeFrame(handle: ConnectionHandle, type: number, seq = 0, payload?: Uint8Array): void {
    const payloadLength = payload === undefined ? 0 : SEQ_SIZE + payload.length;
    const length = this.#encoder.frameLength(payloadLength);
    if (length > this.#frame.length) {
      this.#frame = new Uint8Array(Math.max(length, this.#frame.length * 2));
    }
    const frame = this.#frame;
    this.#encoder.writeHeader(frame, 0, type, payloadLength, this.#received);
    if (payload !== undefined) {
      frame[8] = seq & 0xff;
      frame[9] = (seq >>> 8) & 0xff;
      frame[10] = (seq >>> 16) & 0xff;
      frame[11] = seq >>> 24;
      frame.set(payload, 12);
    }
    handle.write(frame.subarray(0, length));
    this.#lastAckSent = this.#received;
    this.#lastWrite = Date.now();
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  readonly #ackTask = (): void => {
    this.#ackTimer = undefined;
    this.flush();
    const handle = this.#handle;
    if (handle?.open && this.#lastAckSent !== this.#received) this.#writeFrame(handle, 0);
  };

  readonly #tick = (): void => {
    const handle = this.#handle;
    if (handle === undefined) return;
    const now = Date.now();
    if (now - this.#lastRead > this.#options.connectionTimeout) {
      this.#onError(new SessionTimeoutError(this.#options.connectionTimeout));
      this.detach(handle);
      handle.close();
    } else if (now - this.#lastWrite >= this.#options.heartbeatInterval && handle.open) {
      this.flush();
      this.#writeFrame(handle, 0);
    }
  };
}
