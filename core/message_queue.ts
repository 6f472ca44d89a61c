/** Default {@linkcode MessageQueueOptions.capacity}. */
export const DEFAULT_QUEUE_CAPACITY = 8192;

/** Options of {@linkcode MessageQueue}. */
export interface MessageQueueOptions {
  /**
   * Messages accepted but not yet completed (waiting or being handled) at which the queue
   * reports {@linkcode MessageQueue.full}, so that producers pause.
   *
   * @default {8192}
   */
  capacity?: number;
  /**
   * Outstanding messages at or below which a full queue calls its `onDrain` listener.
   *
   * @default {capacity / 2, rounded down}
   */
  lowWater?: number;
}

/**
 * The bounded FIFO between the protocol handlers and the message handlers.
 *
 * It counts a message from {@linkcode MessageQueue.push} until {@linkcode MessageQueue.complete}:
 * waiting messages and messages being handled both count against `capacity`. At capacity the
 * queue is {@linkcode MessageQueue.full}: producers (connections) stop reading until the count
 * falls to `lowWater`, when `onDrain` fires. `push` never drops a message: a producer finishes
 * the chunk it has read, so the count can pass `capacity` by at most one read buffer's worth
 * of messages per connection, a bound the server keeps by bounding connections and buffers.
 *
 * ```
 *  push ──▶ [ waiting … ] ──shift──▶ being handled ──complete(n)──▶ gone
 *  admit ─────────────────────────────────▲
 *           └────────── outstanding ≤ capacity (+ one chunk per producer) ─┘
 * ```
 *
 * The server's worker pool routes each message as it is dispatched (to its connection's
 * worker, or inline), so it only `admit`s and `complete`s; `push`/`shift` serve consumers that
 * pull.
 *
 * @typeParam T The item type, {@linkcode Message} in the server.
 *
 * @example Backpressure
 * ```ts
 * import { MessageQueue } from "@speedo/speedo";
 * import { assert, assertEquals } from "@std/assert";
 *
 * let drained = 0;
 * const queue = new MessageQueue<string>({ capacity: 2, onDrain: () => drained++ });
 * queue.push("a");
 * queue.push("b");
 * assert(queue.full);
 * assertEquals(queue.shift(), "a");
 * assert(queue.full); // "a" is still being handled
 * queue.complete(1);
 * assertEquals(drained, 1);
 * ```
 */
export class MessageQueue<T> {
  /** Outstanding messages at which the queue is full. */
  readonly capacity: number;
  /** Outstanding messages at which a full queue drains. */
  readonly lowWater: number;
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;
  #outstanding = 0;
  #wasFull = false;
  #onDrain: () => void;

  /**
   * Makes a queue.
   *
   * @param options Bounds, and `onDrain`, called when a full queue falls to `lowWater`.
   */
  constructor(options: MessageQueueOptions & { onDrain?: () => void } = {}) {
    const capacity = options.capacity ?? DEFAULT_QUEUE_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    const lowWater = options.lowWater ?? Math.floor(capacity / 2);
    if (!Number.isInteger(lowWater) || lowWater < 0 || lowWater >= capacity) {
      throw new RangeError(
        `lowWater must be an integer from 0 to capacity - 1 (${capacity - 1}), got ${lowWater}`,
      );
    }
    this.capacity = capacity;
    this.lowWater = lowWater;
    this.#onDrain = options.onDrain ?? (() => {});
  }

  /** Messages waiting to be taken. */
  get length(): number {
    return this.#length;
  }

  /** Messages pushed and not yet completed: waiting plus being handled. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Whether producers should pause: `outstanding >= capacity`. */
  get full(): boolean {
    return this.#outstanding >= this.capacity;
  }

  /**
   * Adds a message at the tail. Never drops: check {@linkcode MessageQueue.full} to pause.
   *
   * @param item The message.
   */
  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
    if (++this.#outstanding >= this.capacity) this.#wasFull = true;
  }

  /**
   * Counts messages handed straight to a consumer, without waiting in the queue: they are
   * outstanding until completed, like pushed ones.
   *
   * @param count How many messages.
   */
  admit(count = 1): void {
    this.#outstanding += count;
    if (this.#outstanding >= this.capacity) this.#wasFull = true;
  }

  /**
   * Takes the message at the head; it stays outstanding until completed.
   *
   * @returns The message, or `undefined` when none waits.
   */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
  }

  /**
   * Marks `count` taken messages as done, and calls `onDrain` when a full queue falls to
   * `lowWater`.
   *
   * @param count How many messages were completed.
   */
  complete(count = 1): void {
    if (count > this.#outstanding - this.#length) {
      throw new RangeError(
        `Cannot complete ${count} messages: only ${
          this.#outstanding - this.#length
        } are being handled`,
      );
    }
    this.#outstanding -= count;
    if (this.#wasFull && this.#outstanding <= this.lowWater) {
      this.#wasFull = false;
      this.#onDrain();
    }
  }

  #grow(): void {
    const old = this.#items;
    const grown: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) grown[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = grown;
    this.#head = 0;
  }
}
