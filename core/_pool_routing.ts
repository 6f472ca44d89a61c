/**
 * Where each connection's messages go: one {@linkcode PoolRoute} per connection, kept on the
 * connection itself (no lookup per message), and the {@linkcode PoolRouter} that moves it.
 *
 * A route is pinned to a target: a worker, or the I/O thread ({@linkcode INLINE}). Every
 * message of a connection in flight (handed to a target and not done) is on its pin's target,
 * and the pin moves only when none is: that is what keeps a connection's replies in the order
 * of its messages, whatever moves the pin (a key, a resize, a worker's death).
 *
 * States of a route. `T` is its pin's target; a target is current while new messages may go
 * to it (a live worker while the pool has workers; inline while it has none). The limit is the
 * pool's concurrency `c` inline (a handler's promise holds the next message at `c` 1) and for
 * workers above `c` 1; a worker at `c` 1 has none (it takes a connection's messages in order).
 *
 * | state    | pin | in flight | waiting | a message comes                                  | a message is done                                  |
 * | -------- | --- | --------- | ------- | ------------------------------------------------ | -------------------------------------------------- |
 * | unpinned | -   | 0         | 0       | pinned to its target, sent -> `idle` or `busy`    | -                                                  |
 * | idle     | T   | 0         | 0       | re-pinned if its target is not T, or T is not current; sent -> `busy` (a sync inline handler: stays `idle`) | - |
 * | busy     | T   | 1+        | 0       | for T, current, below the limit: sent; at the limit: waits -> `full`; for another target, or T not current: waits -> `draining` | the last one -> `idle` |
 * | full     | T   | limit     | 1+      | waits behind the others (overtaking: sent at once) | the oldest waiting is sent -> `busy` when none waits; T not current -> `draining` |
 * | draining | T   | 1+        | 1+      | waits behind the others (overtaking cannot: not for T, or T not current) | the last one -> re-pinned to the first waiting one's target, which are sent in order as far as they can go |
 *
 * - Its target: the key's worker with a key ({@linkcode keyHash} over the pool's slots), else
 *   T, else (unpinned, or T not current at `idle`) the next live worker round-robin, or
 *   inline with 0 workers.
 * - A message that waits is a copy (the caller's buffer is reused), counted in flight.
 * - Overtake (`DispatchOptions.overtake`): a message for T, while T is current, is sent at
 *   once, ahead of the waiting ones and past the limit (for control messages such as a cancel).
 *   It cannot overtake a message a worker is handling at `c` 1: the worker takes them in order.
 * - A worker that dies fails the messages it held: each is done, so its routes go `idle` (or
 *   re-pin, `draining`), and the next message goes to a live worker.
 * - A resize or a switch between workers and inline makes T not current: busy routes drain.
 *
 * Key placement: a key's worker is `slots[keyHash(key) % size]`, stable while the pool's size
 * holds (a dead worker's replacement takes its slot); a resize places keys over the new size at
 * once. Messages of a connection with different keys go to different workers one after the
 * other, each waiting for the connection's messages in flight elsewhere (`draining`): a
 * connection's replies keep their order, with or without keys.
 *
 * @module
 */

import type { ConnectionHandle } from "./connection_handle.ts";
import { MessageFailedError } from "./errors.ts";
import type { Message } from "./message.ts";
import { DispatchFlag } from "./_dispatch_flags.ts";
import type { InFlightCounter } from "./_in_flight_counter.ts";
import { inlineFailure, type InlineRunner } from "./_inline_runner.ts";
import type { PoolWorker } from "./_pool_worker.ts";

/** The target of a route that handles messages on the I/O thread. */
export const INLINE = "inline";

/** Where a route's messages go: a worker, or the I/O thread. */
export type RouteTarget = PoolWorker | typeof INLINE;

/**
 * The connection a message comes from, as the pool sees it on the I/O thread. The server's
 * connections implement it; tests make their own.
 */
export interface MessageSource {
  /** The connection's id. */
  readonly id: number;
  /** Its handle, given to the message handler. */
  readonly handle: ConnectionHandle;
  /** Its route; `undefined` until its first message. Set by the pool only. */
  route: PoolRoute | undefined;
  /** One message of this connection is done (handled, or failed). */
  messageDone(): void;
  /** One message of this connection failed: tell the peer, or close. */
  messageFailed(error: MessageFailedError): void;
}

/** A message waiting its turn in its route, with the pool's own copy of its payload. */
interface WaitingMessage {
  readonly type: number;
  readonly payload: Uint8Array;
  readonly key: string | number | undefined;
}

/** One connection's routing state: see the module doc for its states. */
export class PoolRoute {
  /** Where its messages in flight are, and its next messages go unless a key says otherwise. */
  target: RouteTarget;
  /** Messages handed to the target and not yet done. */
  inFlight = 0;
  /** Messages waiting, in order, for a place or for the messages in flight to be done. */
  waiting: WaitingMessage[] | undefined = undefined;

  constructor(target: RouteTarget) {
    this.target = target;
  }
}

/** What the router asks of the pool. */
export interface RouteTargets {
  /** Messages of one connection that may be handled at once. */
  readonly concurrency: number;
  /** A target for a new pin: the next live worker round-robin, or inline with 0 workers. */
  pick(): RouteTarget;
  /** The worker of a key (or a live one if its slot has none, or inline with 0 workers). */
  place(key: string | number): RouteTarget;
  /** Whether new messages may go to `target`. */
  isCurrent(target: RouteTarget): boolean;
  /** A worker's batch has messages: post the batches at the end of this turn. */
  schedulePost(): void;
}

/**
 * Moves messages along their connections' routes: sends them to their target, holds those that
 * must wait, and releases them as the messages ahead are done.
 */
export class PoolRouter {
  readonly #targets: RouteTargets;
  readonly #counter: InFlightCounter;
  readonly #inline: InlineRunner;
  readonly #concurrency: number;

  /**
   * @param targets The pool's targets.
   * @param counter The bound on messages in flight: a message counts from submit until done.
   * @param inline The handler on the I/O thread.
   */
  constructor(targets: RouteTargets, counter: InFlightCounter, inline: InlineRunner) {
    this.#targets = targets;
    this.#counter = counter;
    this.#inline = inline;
    this.#concurrency = targets.concurrency;
  }

  /**
   * Sends a message of `source` to its target now, or keeps a copy waiting its turn.
   *
   * @param flags `DispatchFlag` bits: `keepable`, `overtake`.
   * @param key The key placing it on a worker, if any.
   * @returns Whether an inline handler is still running on `payload` itself (keepable only).
   */
  submit(
    source: MessageSource,
    payload: Uint8Array,
    type: number,
    flags: number,
    key: string | number | undefined,
  ): boolean {
    const targets = this.#targets;
    let route = source.route;
    if (route === undefined) {
      route = source.route = new PoolRoute(key === undefined ? targets.pick() : targets.place(key));
    }
    const target = key === undefined ? route.target : targets.place(key);
    if (
      (route.waiting !== undefined || (route.inFlight > 0 && !this.#canTake(route, target))) &&
      !((flags & DispatchFlag.overtake) !== 0 && target === route.target &&
        targets.isCurrent(target))
    ) {
      this.#counter.admit(1);
      (route.waiting ??= []).push({ type, payload: payload.slice(), key });
      return false;
    }
    return this.#send(source, route, target, type, payload, flags, key);
  }

  /**
   * `count` messages of `source` on its route's target are done (or failed, already told).
   *
   * @param source Their connection.
   * @param count How many.
   */
  done(source: MessageSource, count: number): void {
    const route = source.route!;
    route.inFlight -= count;
    for (let i = 0; i < count; i++) source.messageDone();
    this.#counter.complete(count);
    if (route.waiting !== undefined) this.#release(source, route);
  }

  /** Whether the route can take another message for `target` now, keeping its order. */
  #canTake(route: PoolRoute, target: RouteTarget): boolean {
    // Another target waits for the messages in flight; so does a pin no longer current.
    if (target !== route.target || !this.#targets.isCurrent(target)) return false;
    // Inline at concurrency 1, a handler's promise holds the next message; a worker at
    // concurrency 1 queues a connection's messages itself.
    if (target === INLINE || this.#concurrency > 1) return route.inFlight < this.#concurrency;
    return true;
  }

  /** Sends a message nothing of its connection waits ahead of (or that overtakes). */
  #send(
    source: MessageSource,
    route: PoolRoute,
    target: RouteTarget,
    type: number,
    payload: Uint8Array,
    flags: number,
    key: string | number | undefined,
  ): boolean {
    if (route.inFlight === 0) {
      if (!this.#targets.isCurrent(target)) {
        target = key === undefined ? this.#targets.pick() : this.#targets.place(key);
      }
      route.target = target;
    }
    if (target === INLINE) return this.#runInline(source, route, type, payload, flags);
    if (!target.live) return this.#fail(source, "No worker is running");
    route.inFlight++;
    this.#counter.admit(1);
    target.send(source, type, payload);
    this.#targets.schedulePost();
    return false;
  }

  #runInline(
    source: MessageSource,
    route: PoolRoute,
    type: number,
    payload: Uint8Array,
    flags: number,
  ): boolean {
    const inline = this.#inline;
    if (!inline.ready) return this.#fail(source, "No worker is running");
    // A handler that keeps payloads may read it after it returns, and the buffer it lies in
    // is not the caller's to give up: later chunks would overwrite it under the handler.
    const keeps = inline.keepsPayload;
    if ((flags & DispatchFlag.keepable) === 0 && keeps) payload = payload.slice();
    const message: Message = { connectionId: source.id, type, payload };
    const result = inline.run(message, source);
    if (result === undefined) {
      source.messageDone();
      return false;
    }
    route.inFlight++;
    this.#counter.admit(1);
    result.then(
      () => this.done(source, 1),
      (error) => {
        source.messageFailed(inlineFailure(source.id, error));
        this.done(source, 1);
      },
    );
    return keeps;
  }

  /** Sends the messages that waited, in order, as far as the route can take them. */
  #release(source: MessageSource, route: PoolRoute): void {
    while (route.waiting !== undefined) {
      const next = route.waiting[0];
      const target = next.key === undefined ? route.target : this.#targets.place(next.key);
      if (route.inFlight > 0 && !this.#canTake(route, target)) return;
      route.waiting.shift();
      if (route.waiting.length === 0) route.waiting = undefined;
      // It was admitted when it began to wait; sending admits it again if it stays in flight.
      this.#counter.complete(1);
      const keepable = DispatchFlag.keepable; // its payload is the pool's own copy
      this.#send(source, route, target, next.type, next.payload, keepable, next.key);
    }
  }

  #fail(source: MessageSource, reason: string): false {
    source.messageFailed(new MessageFailedError(source.id, `${reason} to handle the message`));
    source.messageDone();
    return false;
  }
}

/**
 * A key's hash, which places it on a worker: FNV-1a over a string's UTF-16 code units; a
 * safe integer's bits mixed (murmur3's finaliser); any other number hashed as its string. A
 * number and its string are different keys.
 *
 * @param key The key.
 * @returns An unsigned 32-bit hash.
 */
export function keyHash(key: string | number): number {
  if (typeof key === "number") {
    if (!Number.isSafeInteger(key)) return keyHash(String(key));
    let h = (key | 0) ^ Math.floor(key / 0x1_0000_0000);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
