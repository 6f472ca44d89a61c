/**
 * Pub/sub across Speedo servers joined through nats-server (the `backplane`), against the same
 * load on one Speedo server and on nats-server alone, in one run: the cost of the extra hop.
 *
 * ```
 * deno run -A bench/cluster_load.ts [--seconds 3] [--rounds 3] [--rate 20000] [--quick]
 * ```
 *
 * | setup         | publisher on  | subscribers on             | path of a message                 |
 * | ------------- | ------------- | -------------------------- | --------------------------------- |
 * | `nats-server` | nats-server   | nats-server, nats-server   | one hop                           |
 * | `speedo`      | Speedo        | Speedo, Speedo             | one hop                           |
 * | `cluster`     | Speedo A      | Speedo B, Speedo C         | A ─▶ nats-server ─▶ B and C       |
 *
 * Every server is its own child process on 127.0.0.1; the load runs in this process, on the
 * NATS text protocol: one publisher, two subscribers on one subject, 100-byte payloads. Two
 * phases per setup and round:
 *
 * - **throughput**: the publisher pipelines batches of 100 messages, each followed by a PING,
 *   with at most 8 batches unacknowledged and at most 20,000 messages published and not yet
 *   received by the slowest subscriber. Deliveries per second (2 per message) over the window.
 *   Every subscriber must receive exactly every message (`complete`).
 * - **latency**: the publisher paces `--rate` messages per second (far below the throughput),
 *   each carrying its send time; the subscribers record the time to delivery; p50 and p99.
 *
 * Rounds are interleaved (every setup, then the next round); the median is reported, with the
 * cluster's ratio to nats-server alone and to one Speedo server. The exit code is 0 when every
 * run was complete.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { type BenchServer, missing, startBenchServer } from "./_pubsub_servers.ts";
import { LatencyHistogram } from "./_latency_histogram.ts";

const USAGE = `Usage: deno run -A bench/cluster_load.ts [options]

  --seconds N   measured seconds of each phase (default 3; 1 with --quick)
  --rounds N    rounds, the median is reported (default 3; 1 with --quick)
  --rate N      messages per second of the latency phase (default 20000)
  --quick       a smoke run: 1 s, 1 round`;

const SUBJECT = "bench.cluster";
const PAYLOAD = 100;
const BATCH = 100;
const MAX_BATCHES_IN_FLIGHT = 8;
const MAX_LAG = 20_000;
const DRAIN_TIMEOUT_MS = 10_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LF = 0x0a;

/** A NATS connection of the load: counts the MSG frames it gets, answers PINGs. */
class LoadConnection {
  readonly conn: Deno.Conn;
  /** Deliveries received. */
  received = 0;
  /** PONGs received. */
  pongs = 0;
  /** Records each delivery's latency when set (payloads start with the send time). */
  latency: LatencyHistogram | undefined;
  #wake: (() => void) | undefined;
  readonly #reading: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#reading = this.#read();
  }

  static async open(port: number, subscribe: boolean): Promise<LoadConnection> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    // Without it a paced publisher's small writes wait for delayed ACKs (tens of ms).
    conn.setNoDelay(true);
    const connection = new LoadConnection(conn);
    await connection.write(
      'CONNECT {"verbose":false,"pedantic":false}\r\n' +
        (subscribe ? `SUB ${SUBJECT} 1\r\n` : "") + "PING\r\n",
    );
    await connection.until(() => connection.pongs >= 1);
    connection.pongs = 0;
    return connection;
  }

  async write(bytes: Uint8Array | string): Promise<void> {
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    let at = 0;
    while (at < data.length) at += await this.conn.write(data.subarray(at));
  }

  /** Resolves once `condition` holds (checked after each read), or rejects after `timeout`. */
  async until(condition: () => boolean, timeout = DRAIN_TIMEOUT_MS): Promise<void> {
    const end = performance.now() + timeout;
    while (!condition()) {
      const left = end - performance.now();
      if (left <= 0) throw new Error("Timed out waiting for the server");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): Promise<void> {
    this.conn.close();
    return this.#reading;
  }

  async #read(): Promise<void> {
    let buffer = new Uint8Array(256 * 1024);
    let start = 0;
    let end = 0;
    try {
      while (true) {
        if (end === buffer.length) {
          if (start > 0) {
            buffer.copyWithin(0, start, end);
            end -= start;
            start = 0;
          } else {
            const grown = new Uint8Array(buffer.length * 2);
            grown.set(buffer);
            buffer = grown;
          }
        }
        const n = await this.conn.read(buffer.subarray(end));
        if (n === null) break;
        end += n;
        // Frames: MSG lines with payloads, PING, PONG, INFO, +OK, -ERR.
        while (start < end) {
          const lf = buffer.subarray(start, end).indexOf(LF);
          if (lf < 0) break;
          const first = buffer[start];
          if (first === 0x4d /* M */) {
            const line = decoder.decode(buffer.subarray(start, start + lf));
            const size = Number(line.slice(line.lastIndexOf(" ") + 1));
            const payloadStart = start + lf + 1;
            if (end - payloadStart < size + 2) break;
            if (this.latency !== undefined) {
              const sent = Number(decoder.decode(buffer.subarray(payloadStart, payloadStart + 20)));
              this.latency.record(performance.now() - sent);
            }
            this.received++;
            start = payloadStart + size + 2;
            continue;
          }
          if (first === 0x50 /* P */ && buffer[start + 1] === 0x49 /* I */) {
            this.write("PONG\r\n").catch(() => {});
          } else if (first === 0x50 && buffer[start + 1] === 0x4f /* O */) {
            this.pongs++;
          }
          start += lf + 1;
        }
        if (start === end) start = end = 0;
        this.#wake?.();
      }
    } catch {
      // Closed.
    }
    this.#wake?.();
  }
}

interface Setup {
  readonly name: string;
  readonly publisherPort: number;
  readonly subscriberPorts: number[];
}

interface PhaseResult {
  rate: number;
  complete: boolean;
  p50: number;
  p99: number;
}

/**
 * Waits for every subscriber to receive all `published` messages, then closes every connection.
 * A subscriber that falls short by its deadline, or gets more, makes the phase incomplete rather
 * than failing the run: the rate is still worth reporting.
 *
 * @returns Whether each subscriber received exactly `published` messages.
 */
async function settle(
  publisher: LoadConnection,
  subscribers: LoadConnection[],
  published: number,
): Promise<boolean> {
  let complete = true;
  try {
    for (const subscriber of subscribers) {
      await subscriber.until(() => subscriber.received >= published);
    }
  } catch {
    complete = false;
  }
  complete &&= subscribers.every((s) => s.received === published);
  await Promise.all([publisher, ...subscribers].map((c) => c.close()));
  return complete;
}

/** Max-rate phase: deliveries per second, and whether every subscriber got every message. */
async function throughput(
  setup: Setup,
  seconds: number,
): Promise<Omit<PhaseResult, "p50" | "p99">> {
  const subscribers = await Promise.all(
    setup.subscriberPorts.map((port) => LoadConnection.open(port, true)),
  );
  const publisher = await LoadConnection.open(setup.publisherPort, false);
  const message = `PUB ${SUBJECT} ${PAYLOAD}\r\n${"x".repeat(PAYLOAD)}\r\n`;
  const batch = encoder.encode(message.repeat(BATCH) + "PING\r\n");
  const slowest = () => Math.min(...subscribers.map((s) => s.received));
  let published = 0;
  let batches = 0;
  let windowStart = 0;
  let receivedAtStart = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  // Half a second of warm-up, not measured.
  const warm = started + 500;
  while (performance.now() < end + 500) {
    if (windowStart === 0 && performance.now() >= warm) {
      windowStart = performance.now();
      receivedAtStart = subscribers.reduce((sum, s) => sum + s.received, 0);
    }
    await publisher.until(() =>
      batches - publisher.pongs < MAX_BATCHES_IN_FLIGHT && published - slowest() < MAX_LAG
    );
    await publisher.write(batch);
    batches++;
    published += BATCH;
  }
  const windowEnd = performance.now();
  const receivedAtEnd = subscribers.reduce((sum, s) => sum + s.received, 0);
  const complete = await settle(publisher, subscribers, published);
  return { rate: (receivedAtEnd - receivedAtStart) / ((windowEnd - windowStart) / 1000), complete };
}

/** Paced phase: `rate` messages per second, each timed from send to delivery. */
async function latency(setup: Setup, seconds: number, rate: number): Promise<PhaseResult> {
  const histogram = new LatencyHistogram();
  const subscribers = await Promise.all(
    setup.subscriberPorts.map((port) => LoadConnection.open(port, true)),
  );
  for (const subscriber of subscribers) subscriber.latency = histogram;
  const publisher = await LoadConnection.open(setup.publisherPort, false);
  const started = performance.now();
  let published = 0;
  while (true) {
    const now = performance.now();
    if (now - started >= seconds * 1000) break;
    const due = Math.floor(((now - started) / 1000) * rate) - published;
    if (due > 0) {
      let text = "";
      for (let i = 0; i < due; i++) {
        const stamp = performance.now().toFixed(6).padStart(20, "0");
        text += `PUB ${SUBJECT} ${PAYLOAD}\r\n${stamp}${"x".repeat(PAYLOAD - 20)}\r\n`;
      }
      await publisher.write(text);
      published += due;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const complete = await settle(publisher, subscribers, published);
  return {
    rate: (published * subscribers.length) / seconds,
    complete,
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args, {
    string: ["seconds", "rounds", "rate"],
    boolean: ["quick", "help"],
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const seconds = Number(args.seconds ?? (args.quick ? 1 : 3));
  const rounds = Number(args.rounds ?? (args.quick ? 1 : 3));
  const rate = Number(args.rate ?? 20_000);
  for (const [name, value] of [["seconds", seconds], ["rounds", rounds], ["rate", rate]] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      console.error(`--${name} must be a positive number, got "${value}"`);
      return 2;
    }
  }
  const absent = missing("nats-server");
  if (absent !== undefined) {
    console.error(`bench:cluster needs nats-server: ${absent}`);
    return 1;
  }
  const servers: BenchServer[] = [];
  const stopAll = () => Promise.all(servers.map((server) => server.stop()));
  Deno.addSignalListener("SIGINT", () => void stopAll().then(() => Deno.exit(130)));
  try {
    const nats = await startBenchServer("nats-server");
    servers.push(nats);
    const alone = await startBenchServer("speedo");
    servers.push(alone);
    const backplane = [`nats://127.0.0.1:${nats.port}`];
    const [a, b, c] = [
      await startBenchServer("speedo", 1, backplane),
      await startBenchServer("speedo", 1, backplane),
      await startBenchServer("speedo", 1, backplane),
    ];
    servers.push(a, b, c);
    const setups: Setup[] = [
      { name: "nats-server", publisherPort: nats.port, subscriberPorts: [nats.port, nats.port] },
      { name: "speedo", publisherPort: alone.port, subscriberPorts: [alone.port, alone.port] },
      { name: "cluster", publisherPort: a.port, subscriberPorts: [b.port, c.port] },
    ];
    console.log(
      `${nats.label}; ${alone.label}; cluster: 3 Speedo servers joined through that nats-server`,
    );
    console.log(
      `${rounds} round(s), ${seconds} s per phase, 1 publisher, 2 subscribers, ${PAYLOAD}-byte payloads, latency at ${rate} msg/s`,
    );
    const results = new Map<string, PhaseResult[]>();
    let allComplete = true;
    for (let round = 0; round < rounds; round++) {
      for (const setup of setups) {
        const t = await throughput(setup, seconds);
        const l = await latency(setup, seconds, rate);
        allComplete &&= t.complete && l.complete;
        const list = results.get(setup.name) ?? [];
        list.push({ rate: t.rate, complete: t.complete && l.complete, p50: l.p50, p99: l.p99 });
        results.set(setup.name, list);
      }
    }
    const summary = (name: string) => {
      const list = results.get(name)!;
      return {
        rate: median(list.map((r) => r.rate)),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        complete: list.every((r) => r.complete),
      };
    };
    const natsAlone = summary("nats-server");
    const speedoAlone = summary("speedo");
    console.log("");
    console.log(
      "| setup                       | deliveries/s | vs nats-server | p50 ms | p99 ms | complete |",
    );
    console.log(
      "| --------------------------- | -----------: | -------------: | -----: | -----: | -------- |",
    );
    const label: Record<string, string> = {
      "nats-server": "nats-server alone",
      speedo: "one Speedo server",
      cluster: "Speedo A → nats-server → B, C",
    };
    for (const setup of setups) {
      const s = summary(setup.name);
      console.log(
        `| ${label[setup.name].padEnd(27)} | ${
          Math.round(s.rate).toLocaleString("en-US").padStart(12)
        } | ${(s.rate / natsAlone.rate).toFixed(2).padStart(13)}x | ${
          s.p50.toFixed(3).padStart(6)
        } | ${s.p99.toFixed(3).padStart(6)} | ${s.complete ? "yes" : "NO"}      |`,
      );
    }
    const cluster = summary("cluster");
    console.log("");
    console.log(
      `cluster vs one Speedo server: ${
        (cluster.rate / speedoAlone.rate).toFixed(2)
      }x deliveries/s, ` +
        `+${(cluster.p99 - speedoAlone.p99).toFixed(3)} ms p99 (the extra hop)`,
    );
    return allComplete ? 0 : 1;
  } finally {
    await stopAll();
  }
}

if (import.meta.main) Deno.exit(await main());
