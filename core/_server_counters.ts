/**
 * A server's counters as one row of numbers: a plain `Float64Array` for a server of one loop,
 * a row of a shared one for each loop of a server of several, which the coordinating thread
 * reads (and sums) without a round trip. Each row has one writer, its loop's thread.
 *
 * @module
 */

/** The place of each counter in a row. */
export const Counter = {
  connections: 0,
  accepted: 1,
  refused: 2,
  messagesIn: 3,
  messagesOut: 4,
  queueDepth: 5,
  bytesIn: 6,
  bytesOut: 7,
  workers: 8,
  slowConsumers: 9,
  errors: 10,
} as const;

/** Numbers in a row. */
export const COUNTER_COUNT = 11;

/** The counters of one row, by name. */
export type CounterValues = { -readonly [K in keyof typeof Counter]: number };

/** Reads a row. */
export function readCounters(row: Float64Array<ArrayBufferLike>): CounterValues {
  return {
    connections: row[Counter.connections],
    accepted: row[Counter.accepted],
    refused: row[Counter.refused],
    messagesIn: row[Counter.messagesIn],
    messagesOut: row[Counter.messagesOut],
    queueDepth: row[Counter.queueDepth],
    bytesIn: row[Counter.bytesIn],
    bytesOut: row[Counter.bytesOut],
    workers: row[Counter.workers],
    slowConsumers: row[Counter.slowConsumers],
    errors: row[Counter.errors],
  };
}

/** The sum of rows, by name. */
export function sumCounters(rows: readonly CounterValues[]): CounterValues {
  const total = readCounters(new Float64Array(COUNTER_COUNT));
  for (const row of rows) {
    for (const key of Object.keys(total) as (keyof CounterValues)[]) total[key] += row[key];
  }
  return total;
}
