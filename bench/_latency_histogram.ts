/**
 * A latency histogram with log-spaced buckets in one fixed typed array: every sample is
 * counted (no sampling error in the tail), memory stays bounded whatever the run's length,
 * and a percentile is within 0.5% of the true value (buckets are 1% wide).
 *
 * @module
 */

/** Each bucket's upper bound is 1% above the previous one's. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Latencies at or below 1 us share the first bucket: below timer resolution anyway. */
const MIN_MS = 0.001;
/** Latencies above 2 minutes share the last bucket: far beyond any bench run. */
const MAX_MS = 120_000;
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 1;

/** Counts latencies in milliseconds and answers percentiles. */
export class LatencyHistogram {
  readonly #counts: Float64Array = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;

  /** Samples recorded. */
  get count(): number {
    return this.#count;
  }

  /**
   * Records one latency.
   *
   * @param ms The latency in milliseconds.
   */
  record(ms: number): void {
    const index = ms <= MIN_MS
      ? 0
      : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.#counts[index]++;
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  /**
   * The latency below which `p` percent of the samples lie.
   *
   * @param p The percentile, from 0 to 100.
   * @returns Milliseconds (the bucket's geometric middle, capped at the largest sample), or
   * `NaN` with no samples.
   */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        const middle = i === 0 ? MIN_MS : MIN_MS * Math.pow(GROWTH, i - 0.5);
        return Math.min(middle, this.#max);
      }
    }
    return this.#max;
  }
}
