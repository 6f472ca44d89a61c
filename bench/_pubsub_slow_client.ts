/**
 * The slow-subscriber phase of `pubsub_load.ts`, run as its own process against a server that
 * speaks the NATS text protocol (Speedo, nats-server). Prints one JSON line: a
 * {@linkcode SlowSubscriberResult}.
 *
 * ```
 * deno run -A bench/_pubsub_slow_client.ts --port P --server-pid PID [--seconds 10]
 *   [--payload 16384] [--without-slow]
 * ```
 *
 * Two subscribers on one subject: a slow one that sends `SUB`, waits for the `PONG` that
 * confirms it, and then never reads its socket again; and a fast one that reads everything.
 * A publisher pushes large payloads for `--seconds`, with the flow control of the main load: at
 * most `MAX_BATCHES_IN_FLIGHT` batches not yet acknowledged (a PING after each batch, counted
 * back as PONGs), and at most `MAX_LAG_BYTES` published and not yet received by the fast
 * subscriber. The slow subscriber is left out of the flow control: only the server can protect
 * itself from it.
 *
 * Every `SAMPLE_MS` it samples the server's RSS (`VmRSS` in /proc/PID/status), the fast
 * subscriber's count, and the state of the server's end of the slow subscriber's socket
 * (/proc/net/tcp): when that end leaves `ESTABLISHED`, the server has closed it. Once the time
 * is up and the fast subscriber has everything (`fastComplete`), the slow subscriber's socket
 * is read to its end: how many messages it got (and so when the last of them was published),
 * the control lines among them (`-ERR 'Slow Consumer'`?), and how the stream ended (EOF,
 * reset, or still open after `SLOW_READ_TIMEOUT_MS`).
 *
 * `--without-slow` runs the same load without the slow subscriber: the fast subscriber's
 * deliveries per second there are what the slow one must not slow down.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { concat, cpuSeconds, DeliveryCounter, Reader, writeAll } from "./_pubsub_load_client.ts";

/** What one slow-subscriber phase measured. */
export interface SlowSubscriberResult {
  /** Length of the phase (publishing), in seconds. */
  seconds: number;
  /** Bytes of each payload. */
  payloadSize: number;
  /** Messages published. */
  published: number;
  /** Payload bytes published (each delivered to the fast subscriber). */
  publishedBytes: number;
  /** Fast subscriber: deliveries per second over the phase. */
  fastRate: number;
  /** Fast subscriber: the lowest deliveries per second over any 1 s of the phase. */
  fastMinRate: number | undefined;
  /** Whether the fast subscriber received exactly every message published, after the drain. */
  fastComplete: boolean;
  /** Server RSS when the phase started, in bytes. */
  rssStart: number | undefined;
  /** Highest server RSS sampled from the start of the phase until every socket closed. */
  rssMax: number | undefined;
  /** When `rssMax` was sampled, in seconds from the start of the phase. */
  rssMaxAt: number | undefined;
  /** Server RSS when publishing stopped. */
  rssEnd: number | undefined;
  /** Server RSS once every connection of the phase was closed (after `SETTLE_MS`). */
  rssAfter: number | undefined;
  /** RSS samples taken. */
  samples: number;
  /** CPU used by the server over the phase, in cores. */
  serverCpu: number | undefined;
  /** The slow subscriber, when there was one. */
  slow: SlowSubscriberReport | undefined;
}

/** What became of the subscriber that never read. */
export interface SlowSubscriberReport {
  /** Complete messages it found in its socket when read after the phase. */
  received: number;
  /** Bytes it found there. */
  bytes: number;
  /** When the last message it received was published, in seconds from the start of the phase. */
  lastPublishedAt: number | undefined;
  /** Control lines among its messages other than PING and PONG (`-ERR ...`), the first few. */
  lines: string[];
  /** PINGs among its messages. */
  pings: number;
  /** Whether a message was cut short by the end of the stream. */
  truncated: boolean;
  /** How its stream ended: EOF, a reset, or still open when reading gave up. */
  ending: "eof" | "reset" | "open";
  /** Seconds it took, after the phase, to read its socket to that end. */
  readSeconds: number;
  /**
   * When the server's end of its socket left ESTABLISHED (the server closed it), in seconds from
   * the start of the phase, as sampled until the slow subscriber's socket was read (so possibly
   * after publishing stopped); undefined when it did not close before that.
   */
  closedAt: number | undefined;
  /** The TCP state of the server's end when publishing stopped (`ESTABLISHED`, `gone`, ...). */
  stateAtEnd: string;
}

const SUBJECT = "bench.slow";
/** Bytes of payload per publisher write (then a PING). */
const BATCH_BYTES = 256 * 1024;
/** Batches written and not yet acknowledged by the server. */
const MAX_BATCHES_IN_FLIGHT = 8;
/** Payload bytes published and not yet received by the fast subscriber. */
const MAX_LAG_BYTES = 8 * 1024 * 1024;
const SAMPLE_MS = 100;
/** Time the fast subscriber gets to receive everything once publishing stops. */
const DRAIN_TIMEOUT_MS = 10_000;
/** Time the slow subscriber's socket gets, after the phase, to reach its end. */
const SLOW_READ_TIMEOUT_MS = 10_000;
/** Pause before the last RSS sample, once every connection is closed. */
const SETTLE_MS = 500;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HELLO = 'CONNECT {"verbose":false,"pedantic":false,"echo":false,"lang":"bench"}\r\n';
const PING = encoder.encode("PING\r\n");
const PONG = encoder.encode("PONG\r\n");
/** TCP states of /proc/net/tcp, by their hex code. */
const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0B": "CLOSING",
};

/**
 * The server's RSS in bytes, from `VmRSS` in /proc/PID/status (Linux); undefined elsewhere.
 *
 * @param pid The server process.
 * @returns Its resident set size.
 */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s*(\d+)\s*kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The state of the IPv4 socket from `localPort` to `remotePort` (/proc/net/tcp), or `gone`. */
function tcpState(localPort: number, remotePort: number): string {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
  const local = `:${hex(localPort)}`;
  const remote = `:${hex(remotePort)}`;
  try {
    for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(local) && fields[2]?.endsWith(remote)) {
        return TCP_STATES[fields[3]] ?? fields[3];
      }
    }
  } catch {
    return "unknown";
  }
  return "gone";
}

/**
 * Splits a subscriber's stream into NATS frames: `MSG` frames are skipped by their byte count
 * and counted, PINGs counted, other lines kept (the first `MAX_LINES`).
 */
class StreamScanner {
  static readonly MAX_LINES = 8;
  messages = 0;
  bytes = 0;
  pings = 0;
  readonly lines: string[] = [];
  /** Payload bytes (and its CRLF) left of the message under way. */
  #rest = 0;
  /** The line under way, its first 200 bytes. */
  #line = "";

  get truncated(): boolean {
    return this.#rest > 0;
  }

  add(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      if (this.#rest > 0) {
        const take = Math.min(this.#rest, bytes.length - at);
        at += take;
        this.#rest -= take;
        if (this.#rest === 0) this.messages++;
        continue;
      }
      const end = bytes.indexOf(0x0a, at);
      const stop = end < 0 ? bytes.length : end + 1;
      if (this.#line.length < 200) {
        this.#line += decoder.decode(bytes.subarray(at, Math.min(stop, at + 200)));
      }
      at = stop;
      if (end >= 0) {
        this.#onLine(this.#line.trim());
        this.#line = "";
      }
    }
  }

  #onLine(line: string): void {
    if (line.startsWith("MSG ")) {
      const size = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isInteger(size) && size >= 0) {
        this.#rest = size + 2;
        return;
      }
    }
    if (line === "PING") this.pings++;
    else if (this.lines.length < StreamScanner.MAX_LINES) this.lines.push(line);
  }
}

async function connect(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return conn;
}

/** Connects, subscribes, and returns once the server confirmed the subscription (PONG). */
async function subscribe(port: number): Promise<Deno.Conn> {
  const conn = await connect(port);
  const reader = new Reader(conn);
  await reader.until("\r\n"); // INFO
  await writeAll(conn, encoder.encode(`${HELLO}SUB ${SUBJECT} 1\r\nPING\r\n`));
  await reader.until("PONG\r\n");
  return conn;
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Closed already.
  }
}

/**
 * Runs one phase and returns what it measured.
 *
 * @param options Where, how long, how large, and whether with the slow subscriber.
 * @returns The result.
 */
export async function runSlowSubscriberPhase(options: {
  port: number;
  serverPid: number;
  seconds: number;
  payloadSize: number;
  withSlow: boolean;
}): Promise<SlowSubscriberResult> {
  // A server that accepts and stays silent is caught by the parent's time limit on this process.
  const conns: Deno.Conn[] = [];
  let slowConn: Deno.Conn | undefined;
  let fastConn: Deno.Conn;
  let publisher: Deno.Conn;
  try {
    // The slow subscriber first, so that every message is offered to it before the fast one.
    if (options.withSlow) conns.push(slowConn = await subscribe(options.port));
    conns.push(fastConn = await subscribe(options.port));
    conns.push(publisher = await connect(options.port));
    const reader = new Reader(publisher);
    await reader.until("\r\n"); // INFO
    await writeAll(publisher, encoder.encode(`${HELLO}PING\r\n`));
    await reader.until("PONG\r\n");
  } catch (error) {
    conns.forEach(closeQuietly);
    throw error;
  }
  try {
    return await drive(options, publisher, fastConn, slowConn);
  } finally {
    conns.forEach(closeQuietly);
  }
}

async function drive(
  options: { port: number; serverPid: number; seconds: number; payloadSize: number },
  publisher: Deno.Conn,
  fastConn: Deno.Conn,
  slowConn: Deno.Conn | undefined,
): Promise<SlowSubscriberResult> {
  const size = options.payloadSize;
  const message = concat(
    encoder.encode(`PUB ${SUBJECT} ${size}\r\n`),
    new Uint8Array(size).fill(0x78),
    encoder.encode("\r\n"),
  );
  const perBatch = Math.max(1, Math.round(BATCH_BYTES / size));
  const batch = concat(...Array(perBatch).fill(message), PING);
  const maxLag = Math.max(perBatch, Math.floor(MAX_LAG_BYTES / size));
  const deliverySize = `MSG ${SUBJECT} 1 ${size}\r\n`.length + size + 2;
  const fast = new DeliveryCounter(deliverySize, 0x4d);
  const acks = new DeliveryCounter(0, -1);

  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const counting = async (conn: Deno.Conn, counter: DeliveryCounter) => {
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (true) {
        const count = await conn.read(buffer);
        if (count === null) return;
        const pings = counter.pings;
        counter.add(buffer, count);
        if (counter.pings > pings) writeAll(conn, PONG).catch(() => {});
        notify();
      }
    } catch {
      // Closed at the end of the phase.
    }
  };
  const fastReader = counting(fastConn, fast);
  const ackReader = counting(publisher, acks);

  const serverPort = options.port;
  const slowPort = slowConn ? (slowConn.localAddr as Deno.NetAddr).port : 0;
  const pid = options.serverPid;
  const start = performance.now();
  const since = () => (performance.now() - start) / 1000;
  /** When each batch was written, in seconds from the start. */
  const batchTimes: number[] = [];
  const samples: { at: number; fast: number }[] = [];
  let rssMax: number | undefined;
  let rssMaxAt: number | undefined;
  let closedAt: number | undefined;
  const watchClosed = () => {
    if (slowConn && closedAt === undefined && tcpState(serverPort, slowPort) !== "ESTABLISHED") {
      closedAt = since();
    }
  };
  let sampling = true;
  const sample = () => {
    const at = since();
    const rss = rssBytes(pid);
    if (rss !== undefined && (rssMax === undefined || rss > rssMax)) {
      rssMax = rss;
      rssMaxAt = at;
    }
    if (sampling) samples.push({ at, fast: fast.count });
    watchClosed();
    return rss;
  };
  const rssStart = sample();
  const startCpu = cpuSeconds(pid);
  const sampler = setInterval(sample, SAMPLE_MS);

  let stopped = false;
  let batches = 0;
  const publishing = (async () => {
    while (!stopped) {
      if (
        batches - acks.pongs >= MAX_BATCHES_IN_FLIGHT || batches * perBatch - fast.count > maxLag
      ) {
        await new Promise<void>((resolve) => wake = resolve);
        continue;
      }
      await writeAll(publisher, batch);
      batches++;
      batchTimes.push(since());
    }
  })();
  const stopTimer = setTimeout(() => {
    stopped = true;
    notify();
  }, options.seconds * 1000);
  await publishing;
  clearTimeout(stopTimer);
  const seconds = since();
  const endCpu = cpuSeconds(pid);
  const endCount = fast.count;
  sampling = false;
  const rssEnd = sample();
  const stateAtEnd = slowConn ? tcpState(serverPort, slowPort) : "-";
  samples.push({ at: seconds, fast: endCount });

  const published = batches * perBatch;
  const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (fast.count < published && Date.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    // A server that holds the publisher back may close the slow subscriber now, and the drain
    // then ends at once: look more often than the sampler does.
    watchClosed();
  }
  watchClosed();
  const fastComplete = fast.count === published;

  let slow: SlowSubscriberReport | undefined;
  if (slowConn) {
    const scanner = new StreamScanner();
    let ending: SlowSubscriberReport["ending"] = "open";
    const readStart = performance.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(slowConn);
    }, SLOW_READ_TIMEOUT_MS);
    const buffer = new Uint8Array(1024 * 1024);
    try {
      while (true) {
        const count = await slowConn.read(buffer);
        if (count === null) {
          ending = "eof";
          break;
        }
        scanner.add(buffer.subarray(0, count));
      }
    } catch (error) {
      // Our own close, at the time limit, leaves `ending` open.
      if (error instanceof Deno.errors.ConnectionReset) ending = "reset";
      else if (!timedOut) throw error;
    } finally {
      clearTimeout(timer);
    }
    const received = scanner.messages;
    slow = {
      received,
      bytes: scanner.bytes,
      lastPublishedAt: received === 0 ? undefined : batchTimes[Math.ceil(received / perBatch) - 1],
      lines: scanner.lines,
      pings: scanner.pings,
      truncated: scanner.truncated,
      ending,
      readSeconds: (performance.now() - readStart) / 1000,
      closedAt,
      stateAtEnd,
    };
  }

  clearInterval(sampler);
  for (const conn of [publisher, fastConn, slowConn]) closeQuietly(conn);
  await Promise.all([fastReader, ackReader]);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const rssAfter = sample();

  return {
    seconds,
    payloadSize: size,
    published,
    publishedBytes: published * size,
    fastRate: endCount / seconds,
    fastMinRate: lowestRate(samples, 1),
    fastComplete,
    rssStart,
    rssMax,
    rssMaxAt,
    rssEnd,
    rssAfter,
    samples: samples.length,
    serverCpu: startCpu === undefined || endCpu === undefined
      ? undefined
      : (endCpu - startCpu) / seconds,
    slow,
  };
}

/** The lowest rate over any `window` seconds between samples of a growing count. */
function lowestRate(
  samples: { at: number; fast: number }[],
  window: number,
): number | undefined {
  let lowest: number | undefined;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    while (j < samples.length && samples[j].at - samples[i].at < window) j++;
    if (j === samples.length) break;
    const rate = (samples[j].fast - samples[i].fast) / (samples[j].at - samples[i].at);
    if (lowest === undefined || rate < lowest) lowest = rate;
  }
  return lowest;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["port", "server-pid", "seconds", "payload"],
    boolean: ["without-slow"],
    default: { seconds: "10", payload: String(16 * 1024) },
  });
  const result = await runSlowSubscriberPhase({
    port: Number(args.port),
    serverPid: Number(args["server-pid"]),
    seconds: Number(args.seconds),
    payloadSize: Number(args.payload),
    withSlow: !args["without-slow"],
  });
  console.log(JSON.stringify(result));
}
