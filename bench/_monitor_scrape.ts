/**
 * What the load benches' `--monitor` runs share (`echo_load.ts`, `pubsub_load.ts`): a scraper
 * that fetches a monitored server's `/metrics` and `/varz` once a second while a load runs, as
 * Prometheus and a dashboard would, and the report line that compares the monitored server
 * with the same server unmonitored.
 *
 * @module
 */

import { median } from "./_bench_common.ts";

/** Time between two scrapes. */
export const SCRAPE_INTERVAL_MS = 1000;
/** The paths of one scrape, fetched one after the other. */
export const SCRAPE_PATHS = ["/metrics", "/varz"] as const;
/** Issue 20's target: the monitored server's rate over the unmonitored one's, at least. */
export const MONITOR_TARGET = 0.97;

/** What scrapes saw. */
export interface ScrapeTally {
  /** Scrapes made (each one GET of every path in {@linkcode SCRAPE_PATHS}). */
  scrapes: number;
  /** Requests answered other than 200, or failed, with why. */
  failures: string[];
  /** Body bytes read. */
  bytes: number;
  /** The longest scrape (all its paths), in milliseconds. */
  slowestMs: number;
}

/** A scraper at work. */
export interface Scraper {
  /** Stops it (a scrape under way finishes) and tells what it saw. */
  stop(): Promise<ScrapeTally>;
}

/** A tally with nothing in it. */
export function emptyTally(): ScrapeTally {
  return { scrapes: 0, failures: [], bytes: 0, slowestMs: 0 };
}

/** Adds `from` to `into`. */
export function addTally(into: ScrapeTally, from: ScrapeTally): void {
  into.scrapes += from.scrapes;
  into.failures.push(...from.failures);
  into.bytes += from.bytes;
  into.slowestMs = Math.max(into.slowestMs, from.slowestMs);
}

/**
 * Scrapes the monitor on `port` of 127.0.0.1 every `intervalMs`, the first one `intervalMs`
 * after the start; a scrape that runs late skips the ticks it missed rather than catching up.
 *
 * @param port The monitor's port.
 * @param intervalMs Time between two scrapes.
 * @returns The scraper; stop it to read its tally.
 */
export function scrapeMonitor(port: number, intervalMs = SCRAPE_INTERVAL_MS): Scraper {
  const tally = emptyTally();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, Math.max(0, ms));
    });
  const work = (async () => {
    const started = performance.now();
    let tick = 0;
    while (true) {
      tick = Math.max(tick, Math.floor((performance.now() - started) / intervalMs)) + 1;
      await sleep(started + tick * intervalMs - performance.now());
      if (stopped) return;
      const begun = performance.now();
      for (const path of SCRAPE_PATHS) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}${path}`);
          tally.bytes += (await response.arrayBuffer()).byteLength;
          if (response.status !== 200) tally.failures.push(`${path}: ${response.status}`);
        } catch (error) {
          tally.failures.push(`${path}: ${error instanceof Error ? error.message : error}`);
        }
      }
      tally.scrapes++;
      tally.slowestMs = Math.max(tally.slowestMs, performance.now() - begun);
    }
  })();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await work;
      return tally;
    },
  };
}

/**
 * Runs `run`, scraping the monitor on `port` meanwhile when there is one, and adds what the
 * scrapes saw to `tallies` under `key`.
 *
 * @param port The monitor's port, or `undefined` for a server without one (then only `run`).
 * @param tallies Each monitored server's scrapes so far.
 * @param key The server's key in `tallies`.
 * @param run The load.
 * @returns What `run` resolved with.
 */
export async function scrapedWhile<T>(
  port: number | undefined,
  tallies: Map<string, ScrapeTally>,
  key: string,
  run: () => Promise<T>,
): Promise<T> {
  if (port === undefined) return await run();
  const scraper = scrapeMonitor(port);
  try {
    return await run();
  } finally {
    const tally = tallies.get(key) ?? emptyTally();
    addTally(tally, await scraper.stop());
    tallies.set(key, tally);
  }
}

/** One load's rates, by round, of a server without and with its monitor. */
export interface MonitoredRates {
  /** The load, as the bench names it (`50x16`, `10 subscribers`). */
  load: string;
  /** The unmonitored server's rate in each round. */
  without: number[];
  /** The monitored server's rate in each round. */
  with: number[];
}

/**
 * The line that answers issue 20 for one server: its monitored twin's median rate over its
 * own at each load, the range and the median of the ratios of the rounds (each round runs the
 * two one after the other, so a round's ratio cancels the machine's drift between rounds), the
 * target, and what the scrapes got.
 *
 * @param server The server's name.
 * @param loads Each load's rates.
 * @param tally The monitored twin's scrapes over all runs (none made: `undefined`).
 * @returns The line, without a leading bullet.
 */
export function monitorCostLine(
  server: string,
  loads: MonitoredRates[],
  scraped: ScrapeTally | undefined,
): string {
  const tally = scraped ?? emptyTally();
  const ratio = (value: number) => Number.isFinite(value) ? `${value.toFixed(2)}x` : "-";
  let met = 0;
  const parts = loads.map(({ load, without, with: monitored }) => {
    const value = middle(monitored) / middle(without);
    if (value >= MONITOR_TARGET) met++;
    const rounds = without.length === monitored.length && without.length > 1
      ? without.map((rate, i) => monitored[i] / rate)
      : [];
    const range = rounds.length === 0
      ? ""
      : ` (rounds ${ratio(Math.min(...rounds))}-${ratio(Math.max(...rounds))}, their median ${
        ratio(middle(rounds))
      })`;
    return `${load} ${ratio(value)}${range}`;
  });
  const failed = tally.failures.length === 0
    ? "every request answered 200"
    : `${tally.failures.length} requests failed: ${tally.failures.slice(0, 3).join("; ")}`;
  return `Speedo with monitor scraped every ${SCRAPE_INTERVAL_MS / 1000} s vs without ` +
    `(${server}): ${parts.join(", ")}; target >= ${MONITOR_TARGET}x: met at ${met} of ` +
    `${loads.length} loads. Scrapes: ${tally.scrapes} of ${SCRAPE_PATHS.join(" and ")}, ` +
    `${failed}, ${(tally.bytes / Math.max(1, tally.scrapes) / 1024).toFixed(1)} KiB each, ` +
    `the slowest ${tally.slowestMs.toFixed(1)} ms`;
}

/**
 * What the benches say of a server without a monitor, checked against `core/` when this was
 * written (the monitor's commit, 9d381d5): the rows without a monitor run no monitor code.
 */
export const UNMONITORED_NOTE =
  "An unmonitored server runs no monitor code: core/ imports nothing from monitor/, and what " +
  "the monitor's commit added to the hot path is three counters per connection (bytesIn per " +
  "read, bytesOut per write, messagesIn per dispatched message) and one `observer !== " +
  "undefined` test per inline message; server-wide counters were kept before. Compare the " +
  "unmonitored rows with the README's figures from before the monitor.";

/** The median of the finite values, NaN when there is none (every round failed). */
function middle(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length === 0 ? NaN : median(finite);
}
