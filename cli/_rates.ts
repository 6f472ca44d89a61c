/**
 * Rates from counters: a server's counters only grow (messages in, bytes out, ...), and what a
 * person watching it wants is how fast they grow. {@linkcode RateMeter} keeps the last sample
 * and answers, for the next, each counter's increase per second over the time between them.
 *
 * Pure: the caller gives the time of each sample, so a test gives its own clock.
 *
 * @module
 */

/** Per second, by counter name. */
export type Rates<K extends string> = Record<K, number>;

/**
 * Rates of named counters between consecutive samples.
 *
 * @example
 * ```ts
 * import { RateMeter } from "./_rates.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meter = new RateMeter(["messagesIn", "bytesIn"]);
 * assertEquals(meter.sample({ messagesIn: 100, bytesIn: 4000 }, 10_000), undefined);
 * assertEquals(meter.sample({ messagesIn: 300, bytesIn: 8000 }, 12_000), { messagesIn: 100, bytesIn: 2000 });
 * ```
 */
export class RateMeter<K extends string> {
  readonly #names: readonly K[];
  #at = 0;
  #last: Record<K, number> | undefined;

  /**
   * Makes a meter with no sample yet.
   *
   * @param names The counters it reads from each sample.
   */
  constructor(names: readonly K[]) {
    this.#names = names;
  }

  /**
   * Records a sample and gives the rates since the previous one.
   *
   * A counter that went down (a loop that died and was replaced starts its row afresh) counts
   * as no increase rather than a negative rate. A sample at the previous one's time, or
   * earlier, is ignored: it would divide by nothing.
   *
   * @param values Each counter's value now.
   * @param at When, in milliseconds (`performance.now()`).
   * @returns Each counter's increase per second since the previous sample, or `undefined` for
   *   the first sample and an ignored one.
   */
  sample(values: Readonly<Record<K, number>>, at: number): Rates<K> | undefined {
    const last = this.#last;
    const seconds = (at - this.#at) / 1000;
    if (last !== undefined && seconds <= 0) return undefined;
    const copy = {} as Record<K, number>;
    for (const name of this.#names) copy[name] = values[name];
    this.#last = copy;
    this.#at = at;
    if (last === undefined) return undefined;
    const rates = {} as Rates<K>;
    for (const name of this.#names) {
      rates[name] = Math.max(0, copy[name] - last[name]) / seconds;
    }
    return rates;
  }
}
