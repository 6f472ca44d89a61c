/**
 * A {@linkcode StatsSnapshot} in the Prometheus text format: what `/metrics` answers.
 *
 * @module
 */

import type { ServerCounters } from "../core/server.ts";
import { MetricText, type MetricType } from "./_metric_text.ts";
import type { StatsSnapshot } from "./stats_snapshot.ts";

/** The server counters as metric families: name, type, help. */
const SERVER_FAMILIES: readonly [keyof ServerCounters, string, MetricType, string][] = [
  ["connections", "speedo_connections", "gauge", "Connections open now."],
  [
    "accepted",
    "speedo_connections_accepted_total",
    "counter",
    "Connections accepted since the server started.",
  ],
  [
    "refused",
    "speedo_connections_refused_total",
    "counter",
    "Connections refused over maxConnections or maxConnectionsPerAddress.",
  ],
  [
    "slowConsumers",
    "speedo_slow_consumers_total",
    "counter",
    "Connections closed as slow consumers.",
  ],
  [
    "messagesIn",
    "speedo_messages_in_total",
    "counter",
    "Messages dispatched by protocol handlers.",
  ],
  [
    "messagesOut",
    "speedo_messages_out_total",
    "counter",
    "Messages the message handlers are done with (answered or failed).",
  ],
  ["queueDepth", "speedo_queue_depth", "gauge", "Messages accepted and not yet done."],
  ["bytesIn", "speedo_read_bytes_total", "counter", "Bytes read from connections."],
  ["bytesOut", "speedo_written_bytes_total", "counter", "Bytes written to connections."],
  ["workers", "speedo_workers", "gauge", "Workers running the message handler (0: inline)."],
  ["errors", "speedo_errors_total", "counter", "Errors reported to onError (or logged)."],
];

/**
 * Writes a snapshot as a Prometheus text exposition (format 0.0.4): the server counters per
 * `protocol` and `loop`, the handler-time histogram per `protocol` when measured, the
 * process's memory, and the pub/sub and MQTT families when those sources are read.
 *
 * @param snapshot What to write, from {@linkcode statsSnapshot}.
 * @returns The text, ending in a newline.
 *
 * @example
 * ```ts
 * import { echoServer } from "@speedo/speedo/echo";
 * import { metricsText, statsSnapshot } from "@speedo/speedo/monitor";
 * import { assertStringIncludes } from "@std/assert";
 *
 * await using server = echoServer({ port: 0, workers: 0 });
 * await server.listen();
 * const text = metricsText(statsSnapshot({ echo: server }));
 * assertStringIncludes(text, "# TYPE speedo_messages_in_total counter\n");
 * assertStringIncludes(text, 'speedo_messages_in_total{protocol="echo",loop="0"} 0\n');
 * ```
 */
export function metricsText(snapshot: StatsSnapshot): string {
  const out = new MetricText();
  for (const [key, name, type, help] of SERVER_FAMILIES) {
    out.family(name, type, help);
    for (const protocol of snapshot.protocols) {
      for (const [loop, row] of protocol.loops.entries()) {
        out.sample(name, { protocol: protocol.protocol, loop }, row[key]);
      }
    }
  }
  const HISTOGRAM = "speedo_handler_duration_seconds";
  out.family(
    HISTOGRAM,
    "histogram",
    "Time the message handler took per message, inline handlers only, when measured.",
  );
  for (const { protocol, handlerTime } of snapshot.protocols) {
    if (handlerTime === undefined) continue;
    for (const [i, bound] of handlerTime.bounds.entries()) {
      out.sample(HISTOGRAM, { protocol, le: bound }, handlerTime.cumulative[i], "_bucket");
    }
    out.sample(HISTOGRAM, { protocol, le: "+Inf" }, handlerTime.count, "_bucket");
    out.sample(HISTOGRAM, { protocol }, handlerTime.sum, "_sum");
    out.sample(HISTOGRAM, { protocol }, handlerTime.count, "_count");
  }
  const gauge = (name: string, help: string, value: number) => {
    out.family(name, "gauge", help);
    out.sample(name, {}, value);
  };
  const counter = (name: string, help: string, value: number) => {
    out.family(name, "counter", help);
    out.sample(name, {}, value);
  };
  gauge("speedo_resident_memory_bytes", "Resident set size of the process.", snapshot.rss);
  gauge("speedo_heap_used_bytes", "V8 heap in use.", snapshot.heapUsed);
  gauge(
    "speedo_monitor_start_time_seconds",
    "When the monitor started, in seconds since the epoch.",
    snapshot.startedAt / 1000,
  );
  const { pubsub, mqtt } = snapshot;
  if (pubsub !== undefined) {
    gauge("speedo_pubsub_subscriptions", "Pub/sub subscriptions held now.", pubsub.subscriptions);
    counter("speedo_pubsub_published_total", "Pub/sub messages published.", pubsub.published);
    counter("speedo_pubsub_delivered_total", "Pub/sub deliveries.", pubsub.delivered);
  }
  if (mqtt !== undefined) {
    gauge("speedo_mqtt_sessions", "MQTT sessions held now, connected or not.", mqtt.sessions);
    gauge("speedo_mqtt_connected_sessions", "MQTT sessions connected now.", mqtt.connected);
    gauge("speedo_mqtt_subscriptions", "MQTT subscriptions held now.", mqtt.subscriptions);
    gauge("speedo_mqtt_retained_messages", "MQTT retained messages held now.", mqtt.retained);
    counter("speedo_mqtt_published_total", "MQTT messages routed.", mqtt.published);
    counter("speedo_mqtt_delivered_total", "MQTT deliveries owed to sessions.", mqtt.delivered);
  }
  return out.text();
}
