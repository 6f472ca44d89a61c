/**
 * A real Prometheus server (Debian package `prometheus`) scrapes the monitor every second,
 * with its bearer token, and its query API returns a Speedo counter that moved. Prometheus
 * gets its own temporary config and data directory; its port is one the system gave to a
 * probe socket just before (Prometheus cannot listen on port 0 and say which it got).
 */

import { assert, assertEquals } from "@std/assert";
import { SocketClient } from "../testing/_socket_client.ts";
import { echoLines, watched } from "./_monitor_test_helper.ts";

const PROMETHEUS = "prometheus";
const HAS_PROMETHEUS = await new Deno.Command(PROMETHEUS, {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output().then((out) => out.success, () => false);

/** A port free now: bound on port 0, read, released. */
function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** One sample of an instant vector from Prometheus's query API. */
interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** Asks Prometheus's query API; `[]` while it cannot answer yet. */
async function query(port: number, expression: string): Promise<Sample[]> {
  const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expression)}`;
  try {
    const response = await fetch(url);
    const body = await response.json();
    return body.status === "success" ? body.data.result : [];
  } catch {
    return []; // not listening yet
  }
}

/** Polls `expression` until `accept` holds for its samples, or the deadline passes. */
async function queryUntil(
  port: number,
  expression: string,
  accept: (samples: Sample[]) => boolean,
  timeout: number,
): Promise<Sample[]> {
  const end = Date.now() + timeout;
  let last: Sample[] = [];
  while (Date.now() < end) {
    last = await query(port, expression);
    if (accept(last)) return last;
    // Prometheus scrapes once a second; asking 5 times a second is plenty.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `Timed out after ${timeout} ms waiting on ${expression}; last: ${JSON.stringify(last)}`,
  );
}

Deno.test({
  name: HAS_PROMETHEUS
    ? "monitor is scraped by a real Prometheus server, with its token, and a Speedo counter moves there"
    : "monitor scraped by Prometheus (ignored: prometheus is not installed)",
  ignore: !HAS_PROMETHEUS,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using w = await watched({ token: "scrape-me" });
    const dir = await Deno.makeTempDir({ prefix: "speedo-prometheus-" });
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: speedo",
        "    authorization:",
        "      credentials: scrape-me",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${w.monitor.port}"]`,
        "",
      ].join("\n"),
    );
    const prometheus = new Deno.Command(PROMETHEUS, {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = prometheus.output();
    try {
      // The first scrapes see nothing yet; then traffic, and the counter moves in Prometheus.
      await queryUntil(port, 'up{job="speedo"}', (s) => s[0]?.value[1] === "1", 15_000);
      using client = await SocketClient.connect(w.echoPort);
      await echoLines(client, "a", "b", "c");
      const moved = await queryUntil(
        port,
        'speedo_messages_in_total{protocol="echo"}',
        (s) => Number(s[0]?.value[1]) >= 3,
        10_000,
      );
      assertEquals(moved.length, 1);
      assertEquals(moved[0].metric.loop, "0");
      assertEquals(moved[0].metric.job, "speedo");
      const bytes = await query(port, 'speedo_read_bytes_total{protocol="echo"}');
      assert(Number(bytes[0]?.value[1]) >= 6, JSON.stringify(bytes));
    } finally {
      prometheus.kill("SIGTERM");
      const { code, stderr } = await output;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (code !== 0) console.error(new TextDecoder().decode(stderr));
    }
  },
});
