/**
 * Benchmarks of what a monitor costs (`monitor/`): `deno bench -A bench/monitor_bench.ts`.
 *
 * - Per message, with `handlerTime` on: the two `performance.now()` around the handler and the
 *   histogram's `observe`, against the handler call alone (1024 calls an iteration, so the
 *   harness's own cost does not dominate).
 * - Per scrape: one snapshot of a server with 1,000 open connections, written as Prometheus
 *   text, and one `/connz` page of 1,024 rows read from it.
 *
 * @module
 */

import { echoServer } from "../protocols/echo/echo_server.ts";
import { HandlerTimeHistogram } from "../monitor/handler_time_histogram.ts";
import { metricsText } from "../monitor/metrics_text.ts";
import { statsSnapshot } from "../monitor/stats_snapshot.ts";

const CALLS = 1024;
const GROUP = "1024 handler calls per iteration";
let sink = 0;
const handler = (n: number) => {
  sink += n;
};

Deno.bench({
  name: "the handler alone",
  group: GROUP,
  baseline: true,
  fn() {
    for (let i = 0; i < CALLS; i++) handler(i);
  },
});

const histogram = new HandlerTimeHistogram();
Deno.bench({
  name: "timed: performance.now() twice and observe()",
  group: GROUP,
  fn() {
    for (let i = 0; i < CALLS; i++) {
      const start = performance.now();
      handler(i);
      histogram.observe((performance.now() - start) / 1000);
    }
  },
});

const server = echoServer({ port: 0, workers: 0, maxConnections: 2048 });
const { port } = await server.listen();
const clients = await Promise.all(
  Array.from({ length: 1000 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
);
while (server.stats().connections < clients.length) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}

Deno.bench({
  name: "a scrape: statsSnapshot + metricsText",
  group: "per request, 1000 connections open",
  baseline: true,
  fn() {
    sink += metricsText(statsSnapshot({ echo: server })).length;
  },
});

Deno.bench({
  name: "a /connz page: server.connections({ limit: 1024 })",
  group: "per request, 1000 connections open",
  fn() {
    sink += server.connections({ limit: 1024 }).connections.length;
  },
});

globalThis.addEventListener("unload", () => {
  for (const client of clients) client.close();
  void server.close();
  if (sink === -1) console.log(sink);
});
