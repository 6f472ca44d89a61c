/**
 * Pub/sub across I/O loops: what one loop's {@linkcode SubjectRouter} tells the routers of the
 * other loops (`ServerOptions.loops`), over nothing but the {@linkcode LoopContext} channel.
 *
 * **Interest, not messages, is shared.** Each loop tells the others which subjects (patterns)
 * it has plain subscriptions on, and for each queue group on a pattern how many members it has.
 * A loop tells a change only when it changes what the others see: the first plain subscription
 * to a pattern and the last one gone, or any change of a queue group's member count. A publish
 * then reaches another loop only when that loop has interest in its subject, as one copy per
 * loop whatever the number of subscribers there; the receiving loop delivers it to its own
 * subscribers through the same code as a local publish, without forwarding it again.
 *
 * ```
 * loop 1: SUB orders.* 1 ──▶ interest {serial 7, ["orders.*", "", 1]} ──▶ loop 0, loop 2
 *                       ◀── ack {serial 7} ◀── each of them, once applied
 * loop 0: PUB orders.9 ──▶ local subscribers, then msg {bytes, plain: true} ──▶ loop 1 only
 * ```
 *
 * Messages on the bus (structured-cloned by `LoopContext.send`):
 *
 * | message    | fields                                                      | when                                   |
 * | ---------- | ----------------------------------------------------------- | -------------------------------------- |
 * | `interest` | `serial`, `reset`, `ask`, `entries` (pattern, queue, count)* | changes, batched per microtask         |
 * | `ack`      | `serial`                                                    | after an `interest` is applied         |
 * | `msg`      | `bytes` (subject, reply, payload), their lengths, `headerSize`, `plain`, `queues` | a publish with interest there |
 *
 * Counts are absolute (a pattern's plain count is 0 or 1), so changes batch by overwriting
 * and a full snapshot (`reset`: forget what this loop told before) is just every entry. Each
 * loop starts with a snapshot that asks for the peers' own (`ask`); a loop that learns a peer
 * was replaced drops its interest and sends it a snapshot that asks too, so the new loop's
 * answer wins whatever order its greeting and the news arrive in.
 *
 * **Queue groups.** The publishing loop picks one member among its own and the other loops'
 * member counts (each remote member is a stand-in in its trie, so a loop with three members
 * gets three turns of the round robin). When it picks another loop it forwards the message
 * marked for that group, and that loop picks one of its members. A member gone meanwhile: the
 * receiving loop gives the message to another of its members of the group, or drops it when it
 * has none, at most once as in NATS.
 *
 * **Order and the flush barrier.** `LoopContext.send` keeps the order of each pair of loops,
 * so a publisher's messages reach another loop in order, and a loop's pending interest is sent
 * before any message it forwards (a reply subject subscribed just before a request is known on
 * the responder's loop before the request). A client's `PING` answered with `PONG` promises
 * that its subscriptions are in place: a `PING` after interest changes that not every other
 * loop has acknowledged waits for their `ack` (see {@linkcode LoopInterest.whenKnown}). It
 * also promises that its publishes were delivered, as on one server (a subscriber that drains
 * after the publisher's flush gets every message): a turn that forwarded messages ends with a
 * marker (an empty `interest` with a new serial) to every loop, and a publisher's `PING` waits
 * until the loops acknowledged the serial current after its publishes.
 *
 * **Cost.** Per publish with remote interest: one copy of subject, reply and payload into a
 * fresh buffer (a view of the read buffer would be cloned whole), and one structured clone of
 * it per loop with interest; per turn that forwarded, one marker to each other loop and its
 * `ack`. Per subscription: a map update, and one `interest` entry per
 * other loop when it is the first or last on its pattern (every member change of a queue
 * group). A remote queue member costs a stand-in subscription in every other loop. A single
 * loop does none of this: its router is never linked, and a publish pays one branch.
 *
 * @module
 */

import type { LoopContext } from "../../core/loop_context.ts";
import { ForwardBatch, type ForwardedMessage, readForwardBatch } from "./_forward_batch.ts";

export type { ForwardedMessage } from "./_forward_batch.ts";

/** The publishes forwarded to a loop in a turn, packed (`_forward_batch.ts`). */
interface ForwardsMessage {
  readonly kind: "msg";
  readonly bytes: Uint8Array;
}

/** A loop's interest: absolute counts, flat as `[pattern, queue, count, ...]`. */
interface InterestMessage {
  readonly kind: "interest";
  /** The sender's serial of this change, acknowledged by `ack`. */
  readonly serial: number;
  /** Forget what the sender told before: this is all its interest. */
  readonly reset: boolean;
  /** Answer with all your interest (a `reset` without `ask`). */
  readonly ask: boolean;
  readonly entries: (string | number)[];
}

interface AckMessage {
  readonly kind: "ack";
  readonly serial: number;
}

type LoopMessage = ForwardsMessage | InterestMessage | AckMessage;

/** What {@linkcode LoopInterest} asks of its router. */
export interface InterestTarget {
  /** Loop `loop` now has `count` subscriptions to `pattern` in `queue` ("" plain: 0 or 1). */
  remote(loop: number, pattern: string, queue: string, count: number): void;
  /** Forget every interest of `loop`. */
  drop(loop: number): void;
  /** Deliver a forwarded message to local subscribers, without forwarding it again. */
  deliver(message: ForwardedMessage): void;
}

/** One pattern (and queue group) this loop subscribes to. */
interface LocalInterest {
  readonly pattern: string;
  readonly queue: string;
  count: number;
}

/**
 * One loop's side of the interest exchange: counts its own interest, tells it to the other
 * loops, applies theirs to its router, and answers flush barriers.
 */
export class LoopInterest {
  readonly #loop: LoopContext;
  readonly #target: InterestTarget;
  readonly #local = new Map<string, LocalInterest>();
  /** Interest changed since the last `interest` sent, by key; undefined when none. */
  #pending: Map<string, LocalInterest> | undefined;
  /** The serial of the last change (sent, or pending). */
  #serial = 0;
  /** The highest serial each loop acknowledged. */
  readonly #acked: number[];
  /** The lowest of `#acked` over the other loops. */
  #known = 0;
  #waiters: { serial: number; callback: () => void }[] = [];
  readonly #flushSoon = () => this.flush();
  readonly #deliver = (message: ForwardedMessage) => this.#target.deliver(message);
  /** Whether this turn forwarded messages, whose marker is sent at its end. */
  #markerScheduled = false;
  /** Per loop, the publishes forwarded to it this turn. */
  readonly #batches: (ForwardBatch | undefined)[];
  readonly #sendMarker = () => {
    this.#markerScheduled = false;
    // Pending interest first: the marker's serial must not be acknowledged before it arrives.
    this.flush();
    for (let to = 0; to < this.#batches.length; to++) {
      const batch = this.#batches[to];
      if (batch === undefined || batch.count === 0) continue;
      const message: ForwardsMessage = { kind: "msg", bytes: batch.take() };
      this.#loop.send(to, message);
    }
    this.#broadcast({
      kind: "interest",
      serial: this.#serial,
      reset: false,
      ask: false,
      entries: [],
    });
  };

  /**
   * Listens on the loop; {@linkcode LoopInterest.start} greets the others.
   *
   * @param loop This loop (count above 1).
   * @param target The router.
   */
  constructor(loop: LoopContext, target: InterestTarget) {
    this.#loop = loop;
    this.#target = target;
    this.#acked = new Array(loop.count).fill(0);
    this.#batches = new Array(loop.count).fill(undefined);
    loop.receive((from, message) => this.#receive(from, message as LoopMessage));
    loop.replaced((index) => this.#replaced(index));
  }

  /** The serial of this loop's last interest change: what a flush barrier waits for. */
  get serial(): number {
    return this.#serial;
  }

  /** Greets the other loops with this loop's interest, asking for theirs. */
  start(): void {
    this.#pending = undefined;
    const serial = ++this.#serial;
    for (let to = 0; to < this.#loop.count; to++) {
      if (to !== this.#loop.index) this.#loop.send(to, this.#snapshot(serial, true));
    }
  }

  /**
   * A local subscription came or went.
   *
   * @param pattern Its subject.
   * @param queue Its queue group, or "".
   * @param delta 1 or -1.
   */
  changed(pattern: string, queue: string, delta: number): void {
    const key = queue === "" ? pattern : pattern + " " + queue;
    let interest = this.#local.get(key);
    if (interest === undefined) this.#local.set(key, interest = { pattern, queue, count: 0 });
    interest.count += delta;
    if (interest.count === 0) this.#local.delete(key);
    // A plain pattern's second subscriber changes nothing the other loops see.
    if (queue === "" && interest.count > (delta > 0 ? 1 : 0)) return;
    if (this.#pending === undefined) {
      this.#pending = new Map();
      this.#serial++;
      queueMicrotask(this.#flushSoon);
    }
    this.#pending.set(key, interest);
  }

  /** Sends the pending interest changes now: before a forwarded message, so they precede it. */
  flush(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    const entries: (string | number)[] = [];
    for (const { pattern, queue, count } of pending.values()) {
      entries.push(pattern, queue, queue === "" ? Math.min(count, 1) : count);
    }
    const message: InterestMessage = {
      kind: "interest",
      serial: this.#serial,
      reset: false,
      ask: false,
      entries,
    };
    this.#broadcast(message);
  }

  /**
   * Sends a forwarded message.
   *
   * @param to The loop.
   * @param message The message.
   */
  forward(to: number, message: ForwardedMessage): void {
    (this.#batches[to] ??= new ForwardBatch()).add(message);
    // A turn that forwarded ends with a marker every loop acknowledges: a barrier on its
    // serial (a publisher's PONG) then promises the forwarded messages were delivered.
    if (!this.#markerScheduled) {
      this.#markerScheduled = true;
      this.#serial++;
      queueMicrotask(this.#sendMarker);
    }
  }

  /**
   * Whether every other loop has applied this loop's interest changes up to `serial`; when
   * not, `callback` runs once they have (callbacks run in the order given).
   *
   * @param serial A value of {@linkcode LoopInterest.serial}.
   * @param callback Called later, only when this returns `false`.
   * @returns `true` when they already have.
   */
  whenKnown(serial: number, callback: () => void): boolean {
    if (serial <= this.#known) return true;
    this.#waiters.push({ serial, callback });
    return false;
  }

  #broadcast(message: InterestMessage): void {
    for (let to = 0; to < this.#loop.count; to++) {
      if (to !== this.#loop.index) this.#loop.send(to, message);
    }
  }

  #snapshot(serial: number, ask: boolean): InterestMessage {
    const entries: (string | number)[] = [];
    for (const { pattern, queue, count } of this.#local.values()) {
      entries.push(pattern, queue, queue === "" ? 1 : count);
    }
    return { kind: "interest", serial, reset: true, ask, entries };
  }

  #receive(from: number, message: LoopMessage): void {
    switch (message.kind) {
      case "msg":
        readForwardBatch(message.bytes, this.#deliver);
        break;
      case "interest": {
        if (message.reset) this.#target.drop(from);
        const entries = message.entries;
        for (let i = 0; i < entries.length; i += 3) {
          this.#target.remote(
            from,
            entries[i] as string,
            entries[i + 1] as string,
            entries[i + 2] as number,
          );
        }
        const ack: AckMessage = { kind: "ack", serial: message.serial };
        this.#loop.send(from, ack);
        // Changes pending here are sent to every loop later with a serial not above this one.
        if (message.ask) this.#loop.send(from, this.#snapshot(this.#serial, false));
        break;
      }
      case "ack":
        if (message.serial > this.#acked[from]) {
          this.#acked[from] = message.serial;
          this.#acknowledged();
        }
        break;
    }
  }

  #acknowledged(): void {
    let known = Infinity;
    for (let loop = 0; loop < this.#acked.length; loop++) {
      if (loop !== this.#loop.index && this.#acked[loop] < known) known = this.#acked[loop];
    }
    this.#known = known;
    // In the order given; a connection's serials never decrease, so its PONGs keep the order
    // of its PINGs.
    const ready = this.#waiters.filter((waiter) => waiter.serial <= known);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => waiter.serial > known);
    for (const { callback } of ready) callback();
  }

  #replaced(loop: number): void {
    this.#target.drop(loop);
    // A new serial that every loop hears of, so that barriers wait for the new loop to know.
    this.flush();
    const serial = ++this.#serial;
    const nothing: InterestMessage = {
      kind: "interest",
      serial,
      reset: false,
      ask: false,
      entries: [],
    };
    for (let to = 0; to < this.#loop.count; to++) {
      if (to === this.#loop.index) continue;
      this.#loop.send(to, to === loop ? this.#snapshot(serial, true) : nothing);
    }
  }
}
