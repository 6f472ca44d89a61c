/**
 * Monitoring for Speedo servers: an HTTP endpoint ({@linkcode monitor}) with a live dashboard
 * at `/`, Prometheus metrics at `/metrics`, and JSON at `/varz` (counters), `/connz`
 * (connections, paged), `/subsz` (pub/sub and MQTT subscriptions) and `/healthz`. It reads
 * what the servers count anyway, so a server that is not monitored pays nothing, and one that
 * is pays only when asked (the handler-time histogram, `handlerTime`, is the one per-message
 * cost, and is off by default).
 *
 * {@linkcode statsSnapshot} is the one reading every view is made from; {@linkcode metricsText}
 * writes it for Prometheus.
 *
 * @example A pub/sub server, monitored with its subscriptions
 * ```ts
 * import { pubsubServer, SubjectRouter } from "@speedo/speedo/pubsub";
 * import { monitor } from "@speedo/speedo/monitor";
 * import { assertEquals } from "@std/assert";
 *
 * const router = new SubjectRouter();
 * await using server = pubsubServer({ port: 0, pubsub: { router } });
 * await server.listen();
 * await using watch = await monitor({ pubsub: server }, { port: 0, sources: { pubsub: router } });
 * const subsz = await (await fetch(`${watch.url}subsz`)).json();
 * assertEquals(subsz.pubsub.subscriptions, 0);
 * ```
 *
 * @module
 */

export { type Monitor, monitor, MONITOR_PORT, type MonitorOptions } from "./monitor.ts";
export {
  type MonitoredServer,
  type MonitoredServers,
  type MqttSnapshot,
  type ProtocolSnapshot,
  type PubSubSnapshot,
  type StatsSnapshot,
  statsSnapshot,
  type StatsSnapshotOptions,
} from "./stats_snapshot.ts";
export { metricsText } from "./metrics_text.ts";
export {
  HANDLER_TIME_BUCKETS,
  HandlerTimeHistogram,
  type HistogramSnapshot,
} from "./handler_time_histogram.ts";
export type {
  MonitorSources,
  MqttSessionLike,
  MqttSource,
  MqttSubscriptionLike,
  PubSubSource,
  PubSubSubscriptionLike,
} from "./monitor_sources.ts";
export { MonitorQueryError } from "./monitor_errors.ts";
