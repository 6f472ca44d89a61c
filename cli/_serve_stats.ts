/**
 * What `speedo serve` says of a running server: its counters read now (`server.stats()`, the
 * protocol's own where it has them, the closes and errors the command counted, the process's
 * RSS), their rates per second since the last reading, and the words and fields to show them
 * in, as a terminal's status line or a log line.
 *
 * @module
 */

import { RateMeter, type Rates } from "./_rates.ts";
import type { LogFields } from "./_log.ts";

/** The counters shown as rates per second. */
export const RATED_COUNTERS = [
  "messagesIn",
  "messagesOut",
  "bytesIn",
  "bytesOut",
  "published",
  "delivered",
] as const;

/** A counter of {@linkcode RATED_COUNTERS}. */
export type RatedCounter = typeof RATED_COUNTERS[number];

/** The numbers of a server at one time. */
export interface ServeSample extends Record<RatedCounter, number> {
  /** Connections open. */
  connections: number;
  /** Messages read and not yet handled (`server.stats().queueDepth`). */
  queueDepth: number;
  /** Connections cut as slow consumers since the start. */
  slowConsumers: number;
  /** Errors reported since the start. */
  errors: number;
  /** The process's resident memory, in bytes. */
  rss: number;
  /** Whether the protocol counts `published` and `delivered` (a router or broker here). */
  routes: boolean;
}

/** A reading: the numbers now, and the rates since the previous reading. */
export interface ServeReading {
  /** The numbers now. */
  sample: ServeSample;
  /** Per second since the previous reading; zeros for the first. */
  rates: Rates<RatedCounter>;
}

const NO_RATES: Rates<RatedCounter> = {
  messagesIn: 0,
  messagesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  published: 0,
  delivered: 0,
};

/**
 * Reads a server's numbers and their rates since the previous reading.
 *
 * @example
 * ```ts
 * import { ServeStats } from "./_serve_stats.ts";
 * import { assertEquals } from "@std/assert";
 *
 * let messagesIn = 0;
 * const stats = new ServeStats(() => ({
 *   connections: 1, queueDepth: 0, slowConsumers: 0, errors: 0, rss: 0, routes: false,
 *   messagesIn, messagesOut: 0, bytesIn: 0, bytesOut: 0, published: 0, delivered: 0,
 * }));
 * stats.read(0);
 * messagesIn = 50;
 * assertEquals(stats.read(500).rates.messagesIn, 100);
 * ```
 */
export class ServeStats {
  readonly #sample: () => ServeSample;
  readonly #meter = new RateMeter(RATED_COUNTERS);

  /**
   * Makes a reader with no reading yet.
   *
   * @param sample Reads the numbers now.
   */
  constructor(sample: () => ServeSample) {
    this.#sample = sample;
  }

  /**
   * Reads the numbers now.
   *
   * @param at The time, in milliseconds (`performance.now()`).
   * @returns The numbers, and the rates since the previous reading.
   */
  read(at: number): ServeReading {
    const sample = this.#sample();
    return { sample, rates: this.#meter.sample(sample, at) ?? NO_RATES };
  }
}

/**
 * A count, short: `950`, `1.2k`, `3.4M`.
 *
 * @param value A non-negative number.
 * @returns The words.
 */
export function shortCount(value: number): string {
  if (value < 1000) return String(Math.round(value));
  if (value < 1e6) return `${(value / 1e3).toFixed(1)}k`;
  if (value < 1e9) return `${(value / 1e6).toFixed(1)}M`;
  return `${(value / 1e9).toFixed(1)}G`;
}

/**
 * A size in bytes, short: `512 B`, `1.5 KiB`, `45.2 MiB`.
 *
 * @param value A non-negative number of bytes.
 * @returns The words.
 */
export function shortBytes(value: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A reading in one line: the status line of a terminal, and the message of a `stats` log line.
 *
 * @param reading The numbers and rates.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { statsText } from "./_serve_stats.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sample = {
 *   connections: 2, queueDepth: 3, slowConsumers: 1, errors: 0, rss: 50 * 1024 * 1024, routes: false,
 *   messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, published: 0, delivered: 0,
 * };
 * const rates = { messagesIn: 1500, messagesOut: 1500, bytesIn: 2048, bytesOut: 2048, published: 0, delivered: 0 };
 * assertEquals(
 *   statsText({ sample, rates }),
 *   "2 conn | in 1.5k msg/s 2.0 KiB/s | out 1.5k msg/s 2.0 KiB/s | queue 3 | slow cut 1 | errors 0 | rss 50.0 MiB",
 * );
 * ```
 */
export function statsText({ sample, rates }: ServeReading): string {
  const parts = [
    `${sample.connections} conn`,
    `in ${shortCount(rates.messagesIn)} msg/s ${shortBytes(rates.bytesIn)}/s`,
    `out ${shortCount(rates.messagesOut)} msg/s ${shortBytes(rates.bytesOut)}/s`,
  ];
  if (sample.routes) {
    parts.push(
      `published ${shortCount(rates.published)}/s delivered ${shortCount(rates.delivered)}/s`,
    );
  }
  parts.push(
    `queue ${sample.queueDepth}`,
    `slow cut ${sample.slowConsumers}`,
    `errors ${sample.errors}`,
    `rss ${shortBytes(sample.rss)}`,
  );
  return parts.join(" | ");
}

/**
 * A reading as the fields of a JSON log line: counts as they are, rates per second rounded to
 * a hundredth.
 *
 * @param reading The numbers and rates.
 * @returns The fields.
 */
export function statsFields({ sample, rates }: ServeReading): LogFields {
  const fields: LogFields = {
    connections: sample.connections,
    queueDepth: sample.queueDepth,
    slowConsumers: sample.slowConsumers,
    errors: sample.errors,
    rss: sample.rss,
  };
  for (const name of RATED_COUNTERS) {
    if (!sample.routes && (name === "published" || name === "delivered")) continue;
    fields[`${name}PerSecond`] = Math.round(rates[name] * 100) / 100;
  }
  return fields;
}
