/**
 * The delivery state of one MQTT session, without I/O: what the broker owes the client and what
 * the client owes the broker, so that QoS 1 and 2 hold across reconnects (MQTT 3.1.1 §4.3-4.4,
 * 5.0 §4.3-4.4, 4.9).
 *
 * - **Outgoing** (broker → client). A message for the client at QoS 1 or 2 takes a packet id and a
 *   place in the in-flight window (the client's Receive Maximum, 65,535 in 3.1.1) and is sent;
 *   past the window it waits in the queue. QoS 1 leaves the window at PUBACK; QoS 2 moves to
 *   "released" at PUBREC (the broker then sends PUBREL) and leaves at PUBCOMP. On reconnect,
 *   everything in flight is sent again in order: PUBLISH with DUP for what was not acknowledged,
 *   PUBREL for what was received. QoS 0 never waits in the window: online it is sent at once,
 *   offline it is queued only when the session keeps messages for offline clients.
 * - **The queue** holds what waits for the window or for the client to come back, bounded in
 *   messages and bytes; past a bound the new message is dropped and counted (a full queue says the
 *   client cannot keep up, and what it holds is older and owed first).
 * - **Incoming** (client → broker) QoS 2: a packet id between PUBLISH (answered PUBREC) and
 *   PUBREL (answered PUBCOMP) is remembered, so a PUBLISH sent again with DUP is not delivered
 *   twice: exactly once.
 *
 * @module
 */

/** A message owed to the client, as the session keeps it: the broker's own shape. */
export interface OwedMessage {
  /** QoS it is delivered at: the lower of the publish's and the subscription's. */
  readonly qos: 0 | 1 | 2;
  /** Bytes it holds (for the queue's bound). */
  readonly size: number;
}

/** A message in flight, with its packet id and where its handshake stands. */
export interface InFlight<M extends OwedMessage> {
  /** Its packet identifier. */
  readonly packetId: number;
  /** The message. */
  readonly message: M;
  /** `published`: PUBLISH sent, its PUBACK or PUBREC awaited; `released`: PUBREL sent. */
  state: "published" | "released";
}

/** What the session asks the broker to send now. */
export type Send<M extends OwedMessage> =
  | {
    readonly kind: "publish";
    readonly packetId: number;
    readonly message: M;
    readonly dup: boolean;
  }
  | { readonly kind: "pubrel"; readonly packetId: number };

/**
 * Told of every change to what a session owes at QoS 1 and 2, in order, so that a store can
 * keep it (the broker's persistence). QoS 0 messages are told only when they wait in the queue.
 */
export interface SessionStateObserver<M extends OwedMessage> {
  /** `message` waits in the queue (it was not dropped). */
  queued(message: M): void;
  /** `message` left the queue: in flight with `packetId` (QoS 1, 2), or sent (QoS 0: 0). */
  sent(message: M, packetId: number): void;
  /** A QoS 2 `message` was received by the client (PUBREC): PUBREL is owed now. */
  released(message: M): void;
  /** `message` is no longer owed (acknowledged, or refused by the client). */
  done(message: M): void;
}

/** One message a session owed when it was saved, as {@linkcode SessionState.restore} takes it. */
export interface RestoredMessage<M extends OwedMessage> {
  /** The message. */
  readonly message: M;
  /** Its packet id when it was in flight; absent: it waited in the queue. */
  readonly packetId?: number;
  /** Whether the client had received it (QoS 2, PUBREL owed). */
  readonly released?: boolean;
}

/** Bounds of a session's delivery state. */
export interface SessionStateOptions {
  /** Messages waiting (beyond the window) at most. @default {10000} */
  maxQueuedMessages?: number;
  /** Bytes waiting at most. @default {16777216} */
  maxQueuedBytes?: number;
  /** Incoming QoS 2 packet ids awaiting PUBREL at most (the client's own window). @default {65535} */
  maxIncomingQos2?: number;
}

/** A protocol error of the client's: an acknowledgement for nothing, a window overrun. */
export class SessionStateError extends Error {
  /**
   * Makes the error.
   *
   * @param message What went wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "SessionStateError";
  }
}

/**
 * One session's delivery state: the in-flight window, the queue, and incoming QoS 2 ids.
 *
 * @example QoS 1 through a window of one
 * ```ts
 * import { SessionState } from "./mqtt_session_state.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const state = new SessionState<{ qos: 1; size: number; text: string }>();
 * state.connect(1);
 * const first = state.owe({ qos: 1, size: 1, text: "a" });
 * const second = state.owe({ qos: 1, size: 1, text: "b" });
 * assertEquals(first.map((send) => send.kind), ["publish"]);
 * assertEquals(second, []); // waits for the window
 * const next = state.puback(1);
 * assertEquals(next.map((send) => send.kind === "publish" && send.message.text), ["b"]);
 * ```
 */
export class SessionState<M extends OwedMessage> {
  readonly #maxQueuedMessages: number;
  readonly #maxQueuedBytes: number;
  readonly #maxIncomingQos2: number;
  /** In flight, by packet id, in the order sent (a Map keeps insertion order). */
  readonly #inFlight = new Map<number, InFlight<M>>();
  readonly #queue: M[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  readonly #incomingQos2 = new Set<number>();
  #lastPacketId = 0;
  /** The client's Receive Maximum while connected; 0 while it is away. */
  #window = 0;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  /** Told of every change, when the session is kept in a store. */
  observer: SessionStateObserver<M> | undefined;

  /**
   * Makes an empty state: nothing owed, nothing in flight, the client away.
   *
   * @param options Bounds.
   * @throws {RangeError} When a bound is not a positive integer.
   */
  constructor(options: SessionStateOptions = {}) {
    this.#maxQueuedMessages = positive("maxQueuedMessages", options.maxQueuedMessages ?? 10_000);
    this.#maxQueuedBytes = positive("maxQueuedBytes", options.maxQueuedBytes ?? 16 * 1024 * 1024);
    this.#maxIncomingQos2 = positive("maxIncomingQos2", options.maxIncomingQos2 ?? 65_535);
  }

  /** Whether the client is connected. */
  get online(): boolean {
    return this.#window > 0;
  }

  /** Messages in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Messages waiting for the window or for the client. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** Bytes waiting. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * The client connected (or came back) with this Receive Maximum: what is in flight is sent
   * again, in order (PUBLISH with DUP, or PUBREL), then what waits, up to the window.
   *
   * @param receiveMaximum The client's Receive Maximum (65535 for MQTT 3.1.1).
   * @returns What to send now.
   */
  connect(receiveMaximum: number): Send<M>[] {
    this.#window = Math.max(1, Math.min(receiveMaximum, 65_535));
    const sends: Send<M>[] = [];
    for (const flight of this.#inFlight.values()) {
      sends.push(
        flight.state === "released"
          ? { kind: "pubrel", packetId: flight.packetId }
          : { kind: "publish", packetId: flight.packetId, message: flight.message, dup: true },
      );
    }
    this.#fill(sends);
    return sends;
  }

  /** The client went away: what is in flight stays owed, sent again at the next connect. */
  disconnect(): void {
    this.#window = 0;
  }

  /**
   * A message for the client.
   *
   * @param message The message, at the QoS it is delivered at.
   * @param keepOffline Whether a QoS 0 message waits for a client that is away (MQTT lets a
   *   broker choose; QoS 1 and 2 always wait).
   * @returns What to send now: the message, or nothing when it waits (or was dropped).
   */
  owe(message: M, keepOffline = false): Send<M>[] {
    if (message.qos === 0 && this.online && this.queued === 0) {
      return [{ kind: "publish", packetId: 0, message, dup: false }];
    }
    if (message.qos === 0 && !this.online && !keepOffline) return [];
    if (
      this.queued >= this.#maxQueuedMessages ||
      this.#queuedBytes + message.size > this.#maxQueuedBytes
    ) {
      this.dropped++;
      return [];
    }
    this.#queue.push(message);
    this.#queuedBytes += message.size;
    this.observer?.queued(message);
    const sends: Send<M>[] = [];
    this.#fill(sends);
    return sends;
  }

  /**
   * PUBACK for a QoS 1 message: it leaves the window, the next waits go.
   *
   * @param packetId Its packet id.
   * @returns What to send now.
   * @throws {SessionStateError} When no QoS 1 message is in flight with that id.
   */
  puback(packetId: number): Send<M>[] {
    const flight = this.#inFlight.get(packetId);
    if (flight === undefined || flight.message.qos !== 1) {
      throw new SessionStateError(`PUBACK for packet ${packetId}, which is not a QoS 1 in flight`);
    }
    this.#inFlight.delete(packetId);
    this.observer?.done(flight.message);
    const sends: Send<M>[] = [];
    this.#fill(sends);
    return sends;
  }

  /**
   * PUBREC for a QoS 2 message: answered PUBREL (again, if it repeats).
   *
   * @param packetId Its packet id.
   * @param failed Whether the client's reason code was a failure (MQTT 5, ≥ 0x80): then the
   *   message leaves the window without PUBREL.
   * @returns What to send now.
   * @throws {SessionStateError} When no QoS 2 message is in flight with that id.
   */
  pubrec(packetId: number, failed = false): Send<M>[] {
    const flight = this.#inFlight.get(packetId);
    if (flight === undefined || flight.message.qos !== 2) {
      throw new SessionStateError(`PUBREC for packet ${packetId}, which is not a QoS 2 in flight`);
    }
    if (failed) {
      this.#inFlight.delete(packetId);
      this.observer?.done(flight.message);
      const sends: Send<M>[] = [];
      this.#fill(sends);
      return sends;
    }
    if (flight.state !== "released") {
      flight.state = "released";
      this.observer?.released(flight.message);
    }
    return [{ kind: "pubrel", packetId }];
  }

  /**
   * PUBCOMP for a QoS 2 message: it leaves the window.
   *
   * @param packetId Its packet id.
   * @returns What to send now.
   * @throws {SessionStateError} When no released QoS 2 message has that id.
   */
  pubcomp(packetId: number): Send<M>[] {
    const flight = this.#inFlight.get(packetId);
    if (flight === undefined || flight.state !== "released") {
      throw new SessionStateError(`PUBCOMP for packet ${packetId}, which was not released`);
    }
    this.#inFlight.delete(packetId);
    this.observer?.done(flight.message);
    const sends: Send<M>[] = [];
    this.#fill(sends);
    return sends;
  }

  /**
   * An incoming QoS 2 PUBLISH: whether to deliver it (the first time) or only acknowledge it
   * again (a DUP of one not yet released). Answer PUBREC either way.
   *
   * @param packetId Its packet id.
   * @returns `true` to deliver it now.
   * @throws {SessionStateError} When the client has more QoS 2 messages unreleased than allowed.
   */
  receiveQos2(packetId: number): boolean {
    if (this.#incomingQos2.has(packetId)) return false;
    if (this.#incomingQos2.size >= this.#maxIncomingQos2) {
      throw new SessionStateError(
        `More than ${this.#maxIncomingQos2} incoming QoS 2 messages await PUBREL`,
      );
    }
    this.#incomingQos2.add(packetId);
    return true;
  }

  /**
   * PUBREL from the client: the packet id is free again. Answer PUBCOMP (also when it was not
   * known: a PUBREL repeated after a reconnect).
   *
   * @param packetId Its packet id.
   * @returns Whether it was awaiting release.
   */
  release(packetId: number): boolean {
    return this.#incomingQos2.delete(packetId);
  }

  /**
   * Puts back what a saved session owed, in the order it was owed: messages with a packet id
   * in flight (sent again at the next {@linkcode connect}), the others in the queue; and the
   * incoming QoS 2 packet ids awaiting PUBREL. For a state that owes nothing, before the client
   * connects. The observer is not told (the store already holds all of it).
   *
   * @param messages What was owed, oldest first.
   * @param incomingQos2 Packet ids of incoming QoS 2 messages not yet released.
   * @throws {SessionStateError} When the state already owes something, or a packet id repeats.
   */
  restore(messages: Iterable<RestoredMessage<M>>, incomingQos2: Iterable<number> = []): void {
    if (this.#inFlight.size > 0 || this.queued > 0 || this.#incomingQos2.size > 0) {
      throw new SessionStateError("restore() needs a session state that owes nothing");
    }
    for (const { message, packetId, released } of messages) {
      if (packetId === undefined || message.qos === 0) {
        this.#queue.push(message);
        this.#queuedBytes += message.size;
        continue;
      }
      if (this.#inFlight.has(packetId)) {
        throw new SessionStateError(`packet id ${packetId} is in flight twice`);
      }
      const state = released === true && message.qos === 2 ? "released" : "published";
      this.#inFlight.set(packetId, { packetId, message, state });
      this.#lastPacketId = packetId;
    }
    for (const packetId of incomingQos2) this.#incomingQos2.add(packetId);
  }

  /**
   * What the session owes, oldest first: in flight, then queued (for saving it whole).
   *
   * @returns The messages, with packet ids for those in flight.
   */
  owed(): RestoredMessage<M>[] {
    const owed: RestoredMessage<M>[] = [];
    for (const flight of this.#inFlight.values()) {
      owed.push({
        message: flight.message,
        packetId: flight.packetId,
        released: flight.state === "released",
      });
    }
    for (let i = this.#queueHead; i < this.#queue.length; i++) {
      owed.push({ message: this.#queue[i] });
    }
    return owed;
  }

  /** Packet ids of incoming QoS 2 messages awaiting PUBREL. */
  get incomingQos2(): readonly number[] {
    return [...this.#incomingQos2];
  }

  /** Sends what waits while the window has room (only while the client is connected). */
  #fill(sends: Send<M>[]): void {
    while (this.online && this.queued > 0) {
      const message = this.#queue[this.#queueHead];
      if (message.qos > 0 && this.#inFlight.size >= this.#window) break;
      this.#queueHead++;
      this.#queuedBytes -= message.size;
      if (message.qos === 0) {
        this.observer?.sent(message, 0);
        sends.push({ kind: "publish", packetId: 0, message, dup: false });
        continue;
      }
      const packetId = this.#nextPacketId();
      this.#inFlight.set(packetId, { packetId, message, state: "published" });
      this.observer?.sent(message, packetId);
      sends.push({ kind: "publish", packetId, message, dup: false });
    }
    // Reclaim the queue's consumed head now and then, not on every shift.
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /** The next packet id not in flight, 1 to 65535 round. */
  #nextPacketId(): number {
    do {
      this.#lastPacketId = this.#lastPacketId >= 65_535 ? 1 : this.#lastPacketId + 1;
    } while (this.#inFlight.has(this.#lastPacketId));
    return this.#lastPacketId;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
