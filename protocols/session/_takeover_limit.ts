/**
 * How often a session name may change hands: two clients fighting over one name (a stolen or
 * duplicated name, two copies of one client) would otherwise kick each other off as fast as
 * they can reconnect, each login closing the other's connection. Past `max` takeovers of a
 * name within `window` ms, further contested logins of that name are refused until the oldest
 * falls out of the window.
 *
 * The history of a name travels with the name: on several loops, the loop that lets go of a
 * name hands its history to the loop that claimed it (`_session_claims.ts`), so the bound
 * holds per name across loops, not per loop.
 *
 * @module
 */

/** The takeovers of each name in the last `window` ms; see the module doc. */
export class TakeoverLimit {
  readonly #max: number;
  readonly #window: number;
  /** Times of the takeovers of each name, oldest first, at most `max` of them. */
  readonly #history = new Map<string, number[]>();

  /**
   * @param max Takeovers of one name allowed within the window; 0 allows any number.
   * @param window The window, in milliseconds.
   */
  constructor(max: number, window: number) {
    this.#max = max;
    this.#window = window;
  }

  /**
   * Counts a takeover of `name` now, unless `max` were counted within the window already.
   *
   * @returns `false` when the takeover must be refused (nothing is counted then).
   */
  admit(name: string, now: number = Date.now()): boolean {
    if (this.#max === 0) return true;
    const times = this.#recent(name, now);
    if (times.length >= this.#max) return false;
    times.push(now);
    this.#history.set(name, times);
    if (this.#history.size > 4096) this.#sweep(now);
    return true;
  }

  /** Whether a takeover of `name` now would be refused. */
  exceeded(name: string, now: number = Date.now()): boolean {
    return this.#max !== 0 && this.#recent(name, now).length >= this.#max;
  }

  /** Takes `name`'s history away, to hand it to the loop that takes the name. */
  handOver(name: string): number[] {
    const times = this.#history.get(name) ?? [];
    this.#history.delete(name);
    return times;
  }

  /** Adds a history handed over by another loop. */
  merge(name: string, times: readonly number[]): void {
    if (this.#max === 0 || times.length === 0) return;
    const merged = [...(this.#history.get(name) ?? []), ...times].sort((a, b) => a - b);
    this.#history.set(name, merged.slice(-this.#max));
  }

  /** The times of `name` still within the window. */
  #recent(name: string, now: number): number[] {
    const times = this.#history.get(name);
    if (times === undefined) return [];
    const since = now - this.#window;
    let first = 0;
    while (first < times.length && times[first] <= since) first++;
    return first === 0 ? times : times.slice(first);
  }

  /** Forgets the names with nothing in the window: the map stays as small as the fights. */
  #sweep(now: number): void {
    for (const [name, times] of this.#history) {
      if (times[times.length - 1] <= now - this.#window) this.#history.delete(name);
    }
  }
}
