/**
 * The dashboard's history: the last `capacity` samples of a few totals, in typed arrays used
 * as a ring, so a sample a second for five minutes costs a few kilobytes and no allocation.
 *
 * @module
 */

import type { StatsSnapshot } from "./stats_snapshot.ts";

/** What the ring keeps of each snapshot. */
const FIELDS = [
  "time",
  "messagesIn",
  "pubsubPublished",
  "mqttPublished",
  "bytesIn",
  "bytesOut",
  "connections",
  "queueDepth",
  "rss",
] as const;

type Field = typeof FIELDS[number];

/** The series as `/api/series` answers them: one array per chart, oldest first. */
export interface SeriesAnswer {
  /** Sample times, in ms since the epoch. */
  readonly time: number[];
  /** Messages dispatched to message handlers per second (over the interval before each sample). */
  readonly messagesPerSecond: number[];
  /** Pub/sub messages published per second (0 without a pub/sub source). */
  readonly pubsubPerSecond: number[];
  /** MQTT messages routed per second (0 without an MQTT source). */
  readonly mqttPerSecond: number[];
  /** Bytes read per second. */
  readonly bytesInPerSecond: number[];
  /** Bytes written per second. */
  readonly bytesOutPerSecond: number[];
  /** Connections open. */
  readonly connections: number[];
  /** Messages accepted and not yet done. */
  readonly queueDepth: number[];
  /** Resident set size, in bytes. */
  readonly rss: number[];
}

/** The last samples of a monitor's totals. */
export class SeriesRing {
  readonly #columns: Record<Field, Float64Array>;
  readonly #capacity: number;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#columns = Object.fromEntries(
      FIELDS.map((field) => [field, new Float64Array(capacity)]),
    ) as Record<Field, Float64Array>;
  }

  /** Samples held now. */
  get size(): number {
    return this.#size;
  }

  /** Keeps a snapshot's totals, dropping the oldest sample when full. */
  push(snapshot: StatsSnapshot): void {
    const values: Record<Field, number> = {
      ...snapshot,
      pubsubPublished: snapshot.pubsub?.published ?? 0,
      mqttPublished: snapshot.mqtt?.published ?? 0,
    };
    for (const field of FIELDS) this.#columns[field][this.#next] = values[field];
    this.#next = (this.#next + 1) % this.#capacity;
    this.#size = Math.min(this.#size + 1, this.#capacity);
  }

  /** The samples as rates and levels, oldest first; rates need two samples, so one fewer. */
  answer(): SeriesAnswer {
    const answer: SeriesAnswer = {
      time: [],
      messagesPerSecond: [],
      pubsubPerSecond: [],
      mqttPerSecond: [],
      bytesInPerSecond: [],
      bytesOutPerSecond: [],
      connections: [],
      queueDepth: [],
      rss: [],
    };
    const c = this.#columns;
    const first = (this.#next - this.#size + this.#capacity) % this.#capacity;
    for (let n = 1; n < this.#size; n++) {
      const at = (first + n) % this.#capacity;
      const before = (at - 1 + this.#capacity) % this.#capacity;
      const seconds = Math.max(0.001, (c.time[at] - c.time[before]) / 1000);
      const rate = (field: Field) => Math.max(0, (c[field][at] - c[field][before]) / seconds);
      answer.time.push(c.time[at]);
      answer.messagesPerSecond.push(rate("messagesIn"));
      answer.pubsubPerSecond.push(rate("pubsubPublished"));
      answer.mqttPerSecond.push(rate("mqttPublished"));
      answer.bytesInPerSecond.push(rate("bytesIn"));
      answer.bytesOutPerSecond.push(rate("bytesOut"));
      answer.connections.push(c.connections[at]);
      answer.queueDepth.push(c.queueDepth[at]);
      answer.rss.push(c.rss[at]);
    }
    return answer;
  }
}
