/**
 * Handler times in fixed buckets: counts in a typed array, so an observation is a short scan
 * and an addition, and nothing is allocated per message.
 *
 * @module
 */

/**
 * Upper bounds of the buckets, in seconds: from 10 µs (a handler that only writes) to 10 s
 * (one that waits on something slow). Fixed, so that series from every Speedo agree.
 */
export const HANDLER_TIME_BUCKETS: readonly number[] = Object.freeze([
  0.00001,
  0.000025,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/** A histogram's state, read at once: what Prometheus's `_bucket`, `_sum`, `_count` carry. */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, in seconds (the last, `+Inf`, is implied). */
  readonly bounds: readonly number[];
  /** Observations at or below each bound, cumulative, one per bound. */
  readonly cumulative: readonly number[];
  /** Every observation (the `+Inf` bucket). */
  readonly count: number;
  /** The sum of the observations, in seconds. */
  readonly sum: number;
}

/**
 * Counts message handler times ({@linkcode HANDLER_TIME_BUCKETS}); give its
 * {@linkcode HandlerTimeHistogram.observe} to `Server.observeHandlerTime`.
 *
 * @example
 * ```ts
 * import { HandlerTimeHistogram } from "@speedo/speedo/monitor";
 * import { assertEquals } from "@std/assert";
 *
 * const histogram = new HandlerTimeHistogram();
 * histogram.observe(0.000004);
 * histogram.observe(0.3);
 * const { count, cumulative, bounds } = histogram.snapshot();
 * assertEquals(count, 2);
 * assertEquals(cumulative[0], 1); // at or below 10 µs
 * assertEquals(cumulative[bounds.indexOf(0.5)], 2);
 * ```
 */
export class HandlerTimeHistogram {
  /** Per bucket, observations that fell there (not cumulative); the last is above every bound. */
  readonly #counts = new Float64Array(HANDLER_TIME_BUCKETS.length + 1);
  #sum = 0;

  /**
   * Counts one time; bound to the instance, so it can be passed as it is.
   *
   * @param seconds The time, in seconds.
   */
  readonly observe = (seconds: number): void => {
    let bucket = 0;
    const bounds = HANDLER_TIME_BUCKETS;
    while (bucket < bounds.length && seconds > bounds[bucket]) bucket++;
    this.#counts[bucket]++;
    this.#sum += seconds;
  };

  /**
   * The counts now, made cumulative.
   *
   * @returns A fresh snapshot.
   */
  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let total = 0;
    for (let bucket = 0; bucket < HANDLER_TIME_BUCKETS.length; bucket++) {
      total += this.#counts[bucket];
      cumulative.push(total);
    }
    total += this.#counts[HANDLER_TIME_BUCKETS.length];
    return { bounds: HANDLER_TIME_BUCKETS, cumulative, count: total, sum: this.#sum };
  }
}
