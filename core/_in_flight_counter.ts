/**
 * The bound on messages in flight: dispatched and not yet done, whether they wait for their
 * turn or are being handled. The server's connections stop reading while it is full.
 *
 * @module
 */

/** Default {@linkcode InFlightCounterOptions.capacity} (the server's `queueCapacity`). */
export const DEFAULT_IN_FLIGHT_CAPACITY = 8192;

/** Options of {@linkcode InFlightCounter}. */
export interface InFlightCounterOptions {
  /**
   * Messages in flight at which the counter is {@linkcode InFlightCounter.full}, so that
   * producers pause.
   *
   * @default {8192}
   */
  capacity?: number;
  /**
   * Messages in flight at or below which a counter that was full calls `onDrain`.
   *
   * @default {capacity / 2, rounded down}
   */
  lowWater?: number;
  /** Called when a counter that was full falls to `lowWater`. */
  onDrain?: () => void;
}

/**
 * Counts messages from {@linkcode InFlightCounter.admit} until
 * {@linkcode InFlightCounter.complete}. At capacity it is {@linkcode InFlightCounter.full}:
 * producers (connections) stop reading until the count falls to `lowWater`, when `onDrain`
 * fires. `admit` never refuses: a producer finishes the chunk it has read, so the count can
 * pass `capacity` by at most one read buffer's worth of messages per connection, a bound the
 * server keeps by bounding connections and buffers.
 *
 * ```
 *  admit(n) ──▶ in flight (waiting their turn, or being handled) ──complete(n)──▶ done
 *               └── full at capacity (+ one chunk per producer); onDrain at lowWater ──┘
 * ```
 */
export class InFlightCounter {
  /** Messages in flight at which the counter is full. */
  readonly capacity: number;
  /** Messages in flight at which a full counter drains. */
  readonly lowWater: number;
  #count = 0;
  #wasFull = false;
  readonly #onDrain: () => void;

  /**
   * Makes a counter.
   *
   * @param options Bounds, and `onDrain`.
   * @throws {RangeError} When a bound is out of range.
   */
  constructor(options: InFlightCounterOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_IN_FLIGHT_CAPACITY;
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

  /** Messages admitted and not yet completed. */
  get count(): number {
    return this.#count;
  }

  /** Whether producers should pause: `count >= capacity`. */
  get full(): boolean {
    return this.#count >= this.capacity;
  }

  /**
   * Counts messages that start their flight. Never refuses: check `full` to pause.
   *
   * @param count How many messages.
   */
  admit(count = 1): void {
    this.#count += count;
    if (this.#count >= this.capacity) this.#wasFull = true;
  }

  /**
   * Counts messages done, and calls `onDrain` when a full counter falls to `lowWater`.
   *
   * @param count How many messages.
   * @throws {RangeError} When more are completed than are in flight.
   */
  complete(count = 1): void {
    if (count > this.#count) {
      throw new RangeError(`Cannot complete ${count} messages: only ${this.#count} are in flight`);
    }
    this.#count -= count;
    if (this.#wasFull && this.#count <= this.lowWater) {
      this.#wasFull = false;
      this.#onDrain();
    }
  }
}
