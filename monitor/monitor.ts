/**
 * `monitor(server)`: an HTTP endpoint beside a Speedo server that reports on it, for people
 * (a live dashboard at `/`) and for Prometheus (`/metrics`).
 *
 * @module
 */

import { addressText, MAX_CONNECTION_LIST } from "../core/connection_info.ts";
import { DASHBOARD_PAGE } from "./_dashboard_page.ts";
import { connz } from "./_connz.ts";
import { SeriesRing } from "./_series.ts";
import { subsz } from "./_subsz.ts";
import { HandlerTimeHistogram } from "./handler_time_histogram.ts";
import { metricsText } from "./metrics_text.ts";
import { MonitorQueryError } from "./monitor_errors.ts";
import type { MonitorSources } from "./monitor_sources.ts";
import {
  type MonitoredServer,
  type MonitoredServers,
  namedServers,
  snapshotOf,
  type StatsSnapshot,
} from "./stats_snapshot.ts";

/** The monitor's port by default: nats-server's monitoring port. */
export const MONITOR_PORT = 8222;

/** Options of {@linkcode monitor}. */
export interface MonitorOptions {
  /**
   * Port of the HTTP endpoint; 0 picks a free one (read it from `Monitor.port`).
   *
   * @default {8222}
   */
  port?: number;
  /**
   * Address to listen on. The monitor tells about every connection's address: think before
   * making it reachable from other hosts (and give it a `token`).
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * A secret every request must carry, as `Authorization: Bearer <token>` or `?token=<token>`
   * (the dashboard passes its page's `?token=` on to its requests); others get 401. Every
   * path asks for it, `/healthz` included.
   *
   * @default {undefined: no token asked}
   */
  token?: string;
  /**
   * Most rows of a `/connz` page (its `limit`), 1 to 1024; the default page is 256 rows or
   * this, whichever is less.
   *
   * @default {1024}
   */
  maxConnz?: number;
  /**
   * Most rows of a `/subsz?subs=1` page (its `limit`), 1 to 10,000; also its default page.
   *
   * @default {1024}
   */
  maxSubsz?: number;
  /**
   * The pub/sub router and MQTT broker to report on in `/subsz` and `/metrics`:
   * `{ pubsub: pubsubProtocol().router, mqtt: mqttServer().broker }`. A server does not tell
   * which protocol it runs, so they are given here.
   *
   * @default {none}
   */
  sources?: MonitorSources;
  /**
   * Time the message handler of each server (inline handlers only: `workers: 0`, one loop)
   * into `speedo_handler_duration_seconds`. It costs two `performance.now()` per message,
   * which is why it is off by default; a server is timed by one monitor at a time.
   *
   * @default {false}
   */
  handlerTime?: boolean;
  /**
   * Samples the dashboard's charts keep (`/api/series`), one per `sampleInterval`; 0 keeps
   * none and runs no timer (the dashboard then has nothing to draw). 300 is five minutes.
   *
   * @default {300}
   */
  history?: number;
  /**
   * Time between two samples of the history, in milliseconds, 100 to 60,000.
   *
   * @default {1000}
   */
  sampleInterval?: number;
}

/** A running monitor, from {@linkcode monitor}. */
export interface Monitor extends AsyncDisposable {
  /** The address it listens on. */
  readonly address: Deno.NetAddr;
  /** Its port (the one picked, when `port` was 0). */
  readonly port: number;
  /** The dashboard's URL: `http://host:port/`. */
  readonly url: string;
  /** What `/varz` and `/metrics` report now. */
  snapshot(): StatsSnapshot;
  /** Stops listening (requests under way finish), the sampling, and handler timing. */
  close(): Promise<void>;
}

/**
 * Serves a monitoring endpoint for one server, or several by protocol name, over HTTP
 * (`Deno.serve`: the monitor's own requests stay out of the counters it reports):
 *
 * | path           | answers                                                                 |
 * | -------------- | ----------------------------------------------------------------------- |
 * | `/`            | the dashboard: live charts of the last minutes, no script from elsewhere |
 * | `/metrics`     | Prometheus text: counters and gauges per `protocol` and `loop`          |
 * | `/varz`        | JSON: the {@linkcode StatsSnapshot}, process and addresses               |
 * | `/connz`       | JSON: open connections, `?offset=&limit=&protocol=`                     |
 * | `/subsz`       | JSON: pub/sub and MQTT subscriptions, `?subs=1&offset=&limit=`          |
 * | `/healthz`     | JSON `{"status":"ok"}`                                                  |
 * | `/api/series`  | JSON: the dashboard's history                                           |
 *
 * A bad query value is answered 400 with what was wrong, a missing or wrong `token` 401.
 * Nothing runs per message on the servers unless `handlerTime` is on: each request reads
 * counters the servers keep anyway, and the history takes one snapshot per `sampleInterval`.
 *
 * @param servers One server (`protocol="server"` in the metrics), or several by protocol
 *   name: `{ echo, pubsub }`.
 * @param options Where to listen, the token, bounds, sources.
 * @returns The monitor, listening.
 * @throws {TypeError} When `servers` holds no server, or an option has the wrong type.
 * @throws {RangeError} When a bound is out of range.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 *
 * @example An echo server, monitored on a free port
 * ```ts
 * import { echoServer } from "@speedo/speedo/echo";
 * import { monitor } from "@speedo/speedo/monitor";
 * import { assertEquals, assertStringIncludes } from "@std/assert";
 *
 * await using server = echoServer({ port: 0, workers: 0 });
 * await server.listen();
 * await using watch = await monitor({ echo: server }, { port: 0 });
 * const metrics = await (await fetch(`${watch.url}metrics`)).text();
 * assertStringIncludes(metrics, 'speedo_connections{protocol="echo",loop="0"} 0');
 * const health = await fetch(`${watch.url}healthz`);
 * assertEquals(await health.json(), { status: "ok" });
 * ```
 */
export async function monitor(
  servers: MonitoredServers,
  options: MonitorOptions = {},
): Promise<Monitor> {
  const named = namedServers(servers);
  const settings = checkedOptions(options);
  const running = new RunningMonitor(named, settings);
  await running.listen();
  return running;
}

type Settings = Required<Omit<MonitorOptions, "token" | "sources">> & {
  token: string | undefined;
  sources: MonitorSources;
};

function checkedOptions(options: MonitorOptions): Settings {
  const between = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    }
    return value;
  };
  const token = options.token;
  if (token !== undefined && (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token))) {
    throw new TypeError(
      `token must be a non-empty string of visible ASCII characters, got ${JSON.stringify(token)}`,
    );
  }
  const hostname = options.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname === "") {
    throw new TypeError(`hostname must be a host name or address, got ${String(hostname)}`);
  }
  if (options.handlerTime !== undefined && typeof options.handlerTime !== "boolean") {
    throw new TypeError(`handlerTime must be true or false, got ${String(options.handlerTime)}`);
  }
  return {
    port: between("port", options.port ?? MONITOR_PORT, 0, 65535),
    hostname,
    token,
    maxConnz: between("maxConnz", options.maxConnz ?? MAX_CONNECTION_LIST, 1, MAX_CONNECTION_LIST),
    maxSubsz: between("maxSubsz", options.maxSubsz ?? 1024, 1, 10_000),
    sources: options.sources ?? {},
    handlerTime: options.handlerTime ?? false,
    history: between("history", options.history ?? 300, 0, 86_400),
    sampleInterval: between("sampleInterval", options.sampleInterval ?? 1000, 100, 60_000),
  };
}

const encoder = new TextEncoder();
const JSON_TYPE = "application/json; charset=utf-8";

class RunningMonitor implements Monitor {
  readonly #servers: readonly [string, MonitoredServer][];
  readonly #settings: Settings;
  readonly #startedAt = Date.now();
  readonly #handlerTimes = new Map<string, HandlerTimeHistogram>();
  readonly #series: SeriesRing | undefined;
  #sampler: ReturnType<typeof setInterval> | undefined;
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #closing: Promise<void> | undefined;

  constructor(servers: readonly [string, MonitoredServer][], settings: Settings) {
    this.#servers = servers;
    this.#settings = settings;
    this.#series = settings.history > 0 ? new SeriesRing(settings.history) : undefined;
  }

  async listen(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#http = Deno.serve({
      hostname: this.#settings.hostname,
      port: this.#settings.port,
      onListen: () => resolve(),
    }, (request) => this.#answer(request));
    await promise;
    if (this.#settings.handlerTime) {
      for (const [name, server] of this.#servers) {
        const histogram = new HandlerTimeHistogram();
        if (server.observeHandlerTime(histogram.observe)) this.#handlerTimes.set(name, histogram);
      }
    }
    if (this.#series !== undefined) {
      this.#series.push(this.snapshot());
      this.#sampler = setInterval(
        () => this.#series!.push(this.snapshot()),
        this.#settings.sampleInterval,
      );
    }
  }

  get address(): Deno.NetAddr {
    return this.#http!.addr;
  }

  get port(): number {
    return this.address.port;
  }

  get url(): string {
    const { hostname, port } = this.address;
    return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`;
  }

  snapshot(): StatsSnapshot {
    return snapshotOf(this.#servers, {
      sources: this.#settings.sources,
      handlerTimes: this.#handlerTimes,
      startedAt: this.#startedAt,
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sampler);
      for (const name of this.#handlerTimes.keys()) {
        this.#servers.find(([key]) => key === name)?.[1].observeHandlerTime(undefined);
      }
      await this.#http?.shutdown();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #answer(request: Request): Response {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json({ error: `Method ${request.method} is not allowed: GET or HEAD` }, 405, {
        allow: "GET, HEAD",
      });
    }
    const url = new URL(request.url);
    if (!this.#authorized(request, url)) {
      return json({ error: "A valid token is needed: Authorization: Bearer <token>" }, 401, {
        "www-authenticate": 'Bearer realm="speedo monitor"',
      });
    }
    try {
      switch (url.pathname) {
        case "/":
          return new Response(DASHBOARD_PAGE, {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "cache-control": "no-store",
              // The page's own script and style only: nothing from the network.
              "content-security-policy":
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            },
          });
        case "/metrics":
          return new Response(metricsText(this.snapshot()), {
            headers: {
              "content-type": "text/plain; version=0.0.4; charset=utf-8",
              "cache-control": "no-store",
            },
          });
        case "/varz":
          return json(this.#varz());
        case "/connz":
          return json(connz(this.#servers, url.searchParams, this.#settings.maxConnz));
        case "/subsz":
          return json(subsz(this.#settings.sources, url.searchParams, this.#settings.maxSubsz));
        case "/healthz":
          return json({ status: "ok" });
        case "/api/series":
          if (this.#series === undefined) {
            return json({ error: "No history is kept (history: 0)" }, 404);
          }
          // Compact: the dashboard asks for it every sample.
          return json(
            { interval: this.#settings.sampleInterval, ...this.#series.answer() },
            200,
            {},
            0,
          );
        default:
          return json({
            error: `No such path: ${url.pathname}`,
            paths: ["/", "/metrics", "/varz", "/connz", "/subsz", "/healthz", "/api/series"],
          }, 404);
      }
    } catch (error) {
      if (error instanceof MonitorQueryError) return json({ error: error.message }, 400);
      throw error;
    }
  }

  #varz(): Record<string, unknown> {
    const snapshot = this.snapshot();
    const addresses = new Map(this.#servers.map(([name, server]) => [name, server.address]));
    return {
      pid: Deno.pid,
      deno: Deno.version.deno,
      now: new Date(snapshot.time).toISOString(),
      uptimeSeconds: Math.round((snapshot.time - snapshot.startedAt) / 1000),
      ...snapshot,
      protocols: snapshot.protocols.map((protocol) => ({
        address: addressText(addresses.get(protocol.protocol)),
        ...protocol,
      })),
      monitor: {
        maxConnz: this.#settings.maxConnz,
        maxSubsz: this.#settings.maxSubsz,
        handlerTime: [...this.#handlerTimes.keys()],
        history: this.#settings.history,
        sampleInterval: this.#settings.sampleInterval,
      },
    };
  }

  #authorized(request: Request, url: URL): boolean {
    const token = this.#settings.token;
    if (token === undefined) return true;
    const header = request.headers.get("authorization") ?? "";
    const given = header.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("token");
    return given !== null && sameText(given, token);
  }
}

/** A JSON answer, indented for people unless `indent` is 0. */
function json(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
  indent = 2,
): Response {
  return new Response(JSON.stringify(body, null, indent) + "\n", {
    status,
    headers: { "content-type": JSON_TYPE, "cache-control": "no-store", ...headers },
  });
}

/** Compares a given secret with the expected one in time that depends on the expected one only. */
function sameText(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  let differ = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) differ |= (a[i] ?? 0) ^ b[i];
  return differ === 0;
}
