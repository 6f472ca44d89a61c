/**
 * One object with everything a monitor reports now: each server's counters (per loop too),
 * their totals, the process's memory, and the pub/sub and MQTT subscription counts. `/varz`,
 * `/metrics` and the dashboard's series are all made from it.
 *
 * @module
 */

import type { Server, ServerCounters, SocketTransport } from "../core/server.ts";
import type { HandlerTimeHistogram, HistogramSnapshot } from "./handler_time_histogram.ts";
import type { MonitorSources, MqttSource, PubSubSource } from "./monitor_sources.ts";

/** What a monitor reads of a server: any {@linkcode Server} fits. */
export type MonitoredServer = Pick<
  Server<SocketTransport>,
  "stats" | "connections" | "observeHandlerTime" | "address"
>;

/**
 * The servers a monitor reports on: one server (named `"server"` in the `protocol` label),
 * or several by protocol name (`{ echo, pubsub }`).
 */
export type MonitoredServers = MonitoredServer | Readonly<Record<string, MonitoredServer>>;

/** One server's counters in a {@linkcode StatsSnapshot}. */
export interface ProtocolSnapshot extends ServerCounters {
  /** Its name: the key it was given under, or `"server"`. */
  readonly protocol: string;
  /** Per loop, by index (one row for a server of one loop). */
  readonly loops: readonly ServerCounters[];
  /** Its message handler's times, when they are measured (`handlerTime`). */
  readonly handlerTime?: HistogramSnapshot;
}

/** The pub/sub part of a {@linkcode StatsSnapshot}. */
export interface PubSubSnapshot {
  /** Subscriptions held now. */
  readonly subscriptions: number;
  /** Messages published so far. */
  readonly published: number;
  /** Deliveries so far. */
  readonly delivered: number;
}

/** The MQTT part of a {@linkcode StatsSnapshot}. */
export interface MqttSnapshot {
  /** Sessions held now, connected or not. */
  readonly sessions: number;
  /** Sessions whose client is connected now. */
  readonly connected: number;
  /** Subscriptions held now. */
  readonly subscriptions: number;
  /** Retained messages held now. */
  readonly retained: number;
  /** Messages routed so far. */
  readonly published: number;
  /** Deliveries owed to sessions so far. */
  readonly delivered: number;
}

/** Everything a monitor reports at one instant; counters are totals over the servers. */
export interface StatsSnapshot extends ServerCounters {
  /** When it was read, in ms since the epoch. */
  readonly time: number;
  /** When the monitor started, in ms since the epoch (`time` for a snapshot on its own). */
  readonly startedAt: number;
  /** The process's resident set size, in bytes. */
  readonly rss: number;
  /** V8's heap in use, in bytes. */
  readonly heapUsed: number;
  /** Each server, in the order given. */
  readonly protocols: readonly ProtocolSnapshot[];
  /** Pub/sub subscriptions, when a router is among the sources. */
  readonly pubsub?: PubSubSnapshot;
  /** MQTT sessions and subscriptions, when a broker is among the sources. */
  readonly mqtt?: MqttSnapshot;
}

/** What {@linkcode statsSnapshot} reads besides the servers. */
export interface StatsSnapshotOptions {
  /** Pub/sub and MQTT state. @default {none} */
  sources?: MonitorSources;
  /** Handler times, by protocol name. @default {none} */
  handlerTimes?: ReadonlyMap<string, HandlerTimeHistogram>;
  /** When the monitor started, in ms since the epoch. @default {now} */
  startedAt?: number;
}

const COUNTERS: readonly (keyof ServerCounters)[] = [
  "connections",
  "accepted",
  "refused",
  "messagesIn",
  "messagesOut",
  "queueDepth",
  "bytesIn",
  "bytesOut",
  "workers",
  "slowConsumers",
  "errors",
];

/**
 * The servers as `[name, server]` pairs: one server is `"server"`.
 *
 * @param servers One server, or several by protocol name.
 * @returns The pairs, in the order given.
 * @throws {TypeError} When `servers` is neither, or a record is empty.
 */
export function namedServers(servers: MonitoredServers): [string, MonitoredServer][] {
  if (isServer(servers)) return [["server", servers]];
  if (typeof servers !== "object" || servers === null) {
    throw new TypeError(`Expected a server or a record of servers, got ${String(servers)}`);
  }
  const pairs = Object.entries(servers);
  if (pairs.length === 0) throw new TypeError("Expected at least one server, got {}");
  for (const [name, server] of pairs) {
    if (!isServer(server)) throw new TypeError(`"${name}" is not a server`);
  }
  return pairs;
}

function isServer(value: unknown): value is MonitoredServer {
  return typeof (value as Partial<MonitoredServer> | null)?.stats === "function";
}

/**
 * Reads everything a monitor reports, now: counters the servers keep anyway, one
 * `Deno.memoryUsage()`, and the sources' counts (the MQTT sessions are walked once to count
 * the connected ones).
 *
 * @param servers One server, or several by protocol name.
 * @param options Sources, handler times, the monitor's start.
 * @returns A fresh snapshot.
 *
 * @example An echo server's counters
 * ```ts
 * import { echoServer } from "@speedo/speedo/echo";
 * import { statsSnapshot } from "@speedo/speedo/monitor";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = echoServer({ port: 0, workers: 0 });
 * await server.listen();
 * const snapshot = statsSnapshot({ echo: server });
 * assertEquals(snapshot.protocols.map((p) => [p.protocol, p.connections]), [["echo", 0]]);
 * assertEquals(snapshot.rss > 0, true);
 * ```
 */
export function statsSnapshot(
  servers: MonitoredServers,
  options: StatsSnapshotOptions = {},
): StatsSnapshot {
  return snapshotOf(namedServers(servers), options);
}

/** {@linkcode statsSnapshot} of servers already named. */
export function snapshotOf(
  servers: readonly [string, MonitoredServer][],
  options: StatsSnapshotOptions,
): StatsSnapshot {
  const time = Date.now();
  const totals = Object.fromEntries(COUNTERS.map((key) => [key, 0])) as unknown as Record<
    keyof ServerCounters,
    number
  >;
  const protocols: ProtocolSnapshot[] = [];
  for (const [protocol, server] of servers) {
    const { loops, ...counters } = server.stats();
    for (const key of COUNTERS) totals[key] += counters[key];
    const histogram = options.handlerTimes?.get(protocol);
    protocols.push({
      protocol,
      ...counters,
      loops,
      ...(histogram === undefined ? {} : { handlerTime: histogram.snapshot() }),
    });
  }
  const memory = Deno.memoryUsage();
  const { pubsub, mqtt } = options.sources ?? {};
  return {
    time,
    startedAt: options.startedAt ?? time,
    ...totals,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    protocols,
    ...(pubsub === undefined ? {} : { pubsub: pubsubSnapshot(pubsub) }),
    ...(mqtt === undefined ? {} : { mqtt: mqttSnapshot(mqtt) }),
  };
}

/** A pub/sub router's counts. */
export function pubsubSnapshot(pubsub: PubSubSource): PubSubSnapshot {
  return { subscriptions: pubsub.size, published: pubsub.published, delivered: pubsub.delivered };
}

/** An MQTT broker's counts; its sessions are walked once to count the connected ones. */
export function mqttSnapshot(mqtt: MqttSource): MqttSnapshot {
  let connected = 0;
  for (const session of mqtt.sessions.values()) if (session.link !== undefined) connected++;
  return {
    sessions: mqtt.sessions.size,
    connected,
    subscriptions: mqtt.tree.size,
    retained: mqtt.retained.size,
    published: mqtt.published,
    delivered: mqtt.delivered,
  };
}
