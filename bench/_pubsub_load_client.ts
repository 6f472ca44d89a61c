/**
 * The load of `pubsub_load.ts`, run as its own process: one publisher and N subscribers on one
 * subject, 100-byte payloads, over the NATS text protocol (Speedo, nats-server) or RESP
 * (Redis `PUBLISH`/`SUBSCRIBE`). Prints one JSON line: a {@linkcode PubSubLoadResult}.
 *
 * ```
 * deno run -A bench/_pubsub_load_client.ts --protocol nats|resp --port P --subscribers N
 *   [--seconds 3] [--warmup 1] [--payload 100] [--server-pid PID]
 * ```
 *
 * The publisher pipelines batches of messages in single writes, with flow control so that it
 * cannot outrun the subscribers without bound: at most `MAX_BATCHES_IN_FLIGHT` batches not yet
 * acknowledged by the server (NATS: a PING after each batch, counted back as PONGs; Redis: the
 * integer reply of each PUBLISH), and at most `MAX_LAG` messages published and not yet received
 * by the slowest subscriber. Subscribers count frames: every delivery has the same size, so a
 * subscriber looks at one byte per delivery and skips the rest; a control line between
 * deliveries (nats-server PINGs new clients to measure their round trip) is skipped, and a PING
 * answered. After the window the publisher stops, and every subscriber must receive exactly
 * what was published (`complete`), which checks both the count and the framing.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";

/** What one run measured. */
export interface PubSubLoadResult {
  /** Deliveries per second over the measured window (all subscribers together). */
  rate: number;
  /** Deliveries counted in the window. */
  deliveries: number;
  /** Length of the window, in seconds. */
  seconds: number;
  /** Messages published in the whole run (warm-up included). */
  published: number;
  /** Whether every subscriber received exactly every message published, after the drain. */
  complete: boolean;
  /** CPU used by the server process over the window, in cores (1 = one core busy), if known. */
  serverCpu: number | undefined;
  /** CPU used by this load process over the window, in cores. */
  clientCpu: number | undefined;
}

const SUBJECT = "bench.load";
/** Messages per publisher write. */
const BATCH = 100;
/** Batches written and not yet acknowledged by the server. */
const MAX_BATCHES_IN_FLIGHT = 8;
/** Messages published and not yet received by the slowest subscriber. */
const MAX_LAG = 20_000;
/** Time the subscribers get to receive everything once publishing stops. */
const DRAIN_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Wire {
  /** Makes a subscriber ready: returns once the server confirmed the subscription. */
  subscribe(conn: Deno.Conn, reader: Reader): Promise<void>;
  /** Makes the publisher ready. */
  prepare(conn: Deno.Conn, reader: Reader): Promise<void>;
  /** One batch of messages (NATS: followed by a PING). */
  batch: Uint8Array;
  /** Bytes of one delivery to a subscriber. */
  deliverySize: number;
  /** The first byte of every delivery (`M`, `*`); other frames are control lines. */
  deliveryStart: number;
  /** How the publisher counts acknowledgements: as frames like deliveries, or as PONG lines. */
  ack: { start: number; size: number; perBatch: number };
}

/** Buffered reads for the set-up handshakes. */
export class Reader {
  readonly conn: Deno.Conn;
  #buffer = new Uint8Array(64 * 1024);
  #length = 0;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Reads until the bytes read end with `text`; returns everything read. */
  async until(text: string): Promise<string> {
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    while (!decoder.decode(this.#buffer.subarray(0, this.#length)).endsWith(text)) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${JSON.stringify(text)}`);
      const count = await this.conn.read(this.#buffer.subarray(this.#length));
      if (count === null) throw new Error(`EOF waiting for ${JSON.stringify(text)}`);
      this.#length += count;
    }
    const all = decoder.decode(this.#buffer.subarray(0, this.#length));
    this.#length = 0;
    return all;
  }
}

function natsWire(payload: Uint8Array, subscribers: number): Wire {
  void subscribers;
  const message = concat(encoder.encode(`PUB ${SUBJECT} ${payload.length}\r\n`), payload, CRLF);
  const batch = concat(...Array(BATCH).fill(message), encoder.encode("PING\r\n"));
  const hello = 'CONNECT {"verbose":false,"pedantic":false,"echo":false,"lang":"bench"}\r\n';
  return {
    async subscribe(conn, reader) {
      await reader.until("\r\n"); // INFO
      await writeAll(conn, encoder.encode(`${hello}SUB ${SUBJECT} 1\r\nPING\r\n`));
      await reader.until("PONG\r\n");
    },
    async prepare(conn, reader) {
      await reader.until("\r\n");
      await writeAll(conn, encoder.encode(`${hello}PING\r\n`));
      await reader.until("PONG\r\n");
    },
    batch,
    deliverySize: `MSG ${SUBJECT} 1 ${payload.length}\r\n`.length + payload.length + 2,
    deliveryStart: 0x4d,
    // No frame starts with -1: every frame is a line, and PONG lines are counted.
    ack: { start: -1, size: 0, perBatch: 1 },
  };
}

function respWire(payload: Uint8Array, subscribers: number): Wire {
  const bulk = (text: string) => `$${encoder.encode(text).length}\r\n${text}\r\n`;
  const message = concat(
    encoder.encode(`*3\r\n${bulk("PUBLISH")}${bulk(SUBJECT)}$${payload.length}\r\n`),
    payload,
    CRLF,
  );
  const batch = concat(...Array(BATCH).fill(message));
  return {
    async subscribe(conn, reader) {
      await writeAll(conn, encoder.encode(`*2\r\n${bulk("SUBSCRIBE")}${bulk(SUBJECT)}`));
      await reader.until(`${bulk(SUBJECT)}:1\r\n`);
    },
    async prepare(conn, reader) {
      await writeAll(conn, encoder.encode(`*1\r\n${bulk("PING")}`));
      await reader.until("+PONG\r\n");
    },
    batch,
    deliverySize: `*3\r\n${bulk("message")}${bulk(SUBJECT)}$${payload.length}\r\n`.length +
      payload.length + 2,
    deliveryStart: 0x2a,
    // Each PUBLISH is answered with the number of subscribers reached.
    ack: { start: 0x3a, size: `:${subscribers}\r\n`.length, perBatch: BATCH },
  };
}

const CRLF = encoder.encode("\r\n");

/** The parts, one after the other, in one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Counts the deliveries of a subscriber's stream, chunk by chunk: one byte looked at per
 * delivery, control lines skipped (and a PING answered with a PONG).
 */
export class DeliveryCounter {
  count = 0;
  readonly #size: number;
  readonly #start: number;
  /** Bytes left of the delivery under way. */
  #rest = 0;
  /** Inside a control line: the bytes of it seen so far (its first 4 kept). */
  #line = "";
  #inLine = false;
  pings = 0;
  pongs = 0;

  constructor(size: number, start: number) {
    this.#size = size;
    this.#start = start;
  }

  add(bytes: Uint8Array, length: number): void {
    let at = 0;
    while (at < length) {
      if (this.#rest > 0) {
        const take = Math.min(this.#rest, length - at);
        at += take;
        this.#rest -= take;
        if (this.#rest === 0) this.count++;
        continue;
      }
      if (!this.#inLine && bytes[at] === this.#start) {
        this.#rest = this.#size;
        continue;
      }
      this.#inLine = true;
      const end = bytes.subarray(0, length).indexOf(0x0a, at);
      const stop = end < 0 ? length : end + 1;
      if (this.#line.length < 4) {
        this.#line += decoder.decode(bytes.subarray(at, Math.min(stop, at + 4)));
      }
      at = stop;
      if (end >= 0) {
        if (this.#line.startsWith("PING")) this.pings++;
        else if (this.#line.startsWith("PONG")) this.pongs++;
        this.#inLine = false;
        this.#line = "";
      }
    }
  }
}

/** Writes all of `bytes`, however many writes it takes. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** User plus system CPU seconds of a process, from /proc (Linux); undefined elsewhere. */
export function cpuSeconds(pid: number | "self"): number | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one load and returns what it measured.
 *
 * @param options Where and how much.
 * @returns The result.
 */
export async function runLoad(options: {
  protocol: "nats" | "resp";
  port: number;
  subscribers: number;
  seconds: number;
  warmup: number;
  payloadSize: number;
  serverPid?: number;
}): Promise<PubSubLoadResult> {
  const payload = new Uint8Array(options.payloadSize).fill(0x78);
  const wire = options.protocol === "nats"
    ? natsWire(payload, options.subscribers)
    : respWire(payload, options.subscribers);
  const connect = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
    conn.setNoDelay(true);
    return conn;
  };
  const subscriberConns: Deno.Conn[] = [];
  let publisherConn: Deno.Conn | undefined;
  try {
    for (let i = 0; i < options.subscribers; i++) {
      const conn = await connect();
      subscriberConns.push(conn);
      await wire.subscribe(conn, new Reader(conn));
    }
    publisherConn = await connect();
    await wire.prepare(publisherConn, new Reader(publisherConn));
    return await drive(wire, publisherConn, subscriberConns, options);
  } finally {
    for (const conn of [...subscriberConns, publisherConn]) {
      try {
        conn?.close();
      } catch {
        // Closed already.
      }
    }
  }
}

async function drive(
  wire: Wire,
  publisher: Deno.Conn,
  subscribers: Deno.Conn[],
  options: { seconds: number; warmup: number; serverPid?: number },
): Promise<PubSubLoadResult> {
  const counters = subscribers.map(() =>
    new DeliveryCounter(wire.deliverySize, wire.deliveryStart)
  );
  const acks = new DeliveryCounter(wire.ack.size, wire.ack.start);
  let batches = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const readAll = async (
    conn: Deno.Conn,
    onBytes: (buffer: Uint8Array, count: number) => void,
  ) => {
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (true) {
        const count = await conn.read(buffer);
        if (count === null) return;
        onBytes(buffer, count);
        notify();
      }
    } catch {
      // Closed at the end of the run.
    }
  };
  const pong = encoder.encode("PONG\r\n");
  const counting = (conn: Deno.Conn, counter: DeliveryCounter) =>
    readAll(conn, (buffer, count) => {
      const pings = counter.pings;
      counter.add(buffer, count);
      // Answered at once: a server that pings (nats-server) must see its clients alive.
      if (counter.pings > pings) writeAll(conn, pong).catch(() => {});
    });
  const readers = subscribers.map((conn, i) => counting(conn, counters[i]));
  const ackReader = counting(publisher, acks);
  const slowest = () => {
    let min = Infinity;
    for (const counter of counters) min = Math.min(min, counter.count);
    return min;
  };
  const total = () => {
    let sum = 0;
    for (const counter of counters) sum += counter.count;
    return sum;
  };

  const publishing = (async () => {
    while (!stopped) {
      const acknowledged = Math.floor((acks.count + acks.pongs) / wire.ack.perBatch);
      if (
        batches - acknowledged >= MAX_BATCHES_IN_FLIGHT || batches * BATCH - slowest() > MAX_LAG
      ) {
        await new Promise<void>((resolve) => wake = resolve);
        continue;
      }
      await writeAll(publisher, wire.batch);
      batches++;
    }
  })();

  await new Promise((resolve) => setTimeout(resolve, options.warmup * 1000));
  const startCount = total();
  const startTime = performance.now();
  const startServerCpu = options.serverPid ? cpuSeconds(options.serverPid) : undefined;
  const startClientCpu = cpuSeconds("self");
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  const endCount = total();
  const endTime = performance.now();
  const endServerCpu = options.serverPid ? cpuSeconds(options.serverPid) : undefined;
  const endClientCpu = cpuSeconds("self");
  stopped = true;
  notify();
  await publishing;

  const published = batches * BATCH;
  const expected = published * subscribers.length;
  const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (total() < expected && Date.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const exact = counters.every((counter) => counter.count === published);
  for (const conn of [publisher, ...subscribers]) {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
  await Promise.all([...readers, ackReader]);
  const seconds = (endTime - startTime) / 1000;
  const window = (start: number | undefined, end: number | undefined) =>
    start === undefined || end === undefined ? undefined : (end - start) / seconds;
  return {
    rate: (endCount - startCount) / seconds,
    deliveries: endCount - startCount,
    seconds,
    published,
    complete: exact,
    serverCpu: window(startServerCpu, endServerCpu),
    clientCpu: window(startClientCpu, endClientCpu),
  };
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["protocol", "port", "subscribers", "seconds", "warmup", "payload", "server-pid"],
    default: { seconds: "3", warmup: "1", payload: "100" },
  });
  const protocol = args.protocol === "resp" ? "resp" : "nats";
  const result = await runLoad({
    protocol,
    port: Number(args.port),
    subscribers: Number(args.subscribers ?? 1),
    seconds: Number(args.seconds),
    warmup: Number(args.warmup),
    payloadSize: Number(args.payload),
    serverPid: args["server-pid"] ? Number(args["server-pid"]) : undefined,
  });
  console.log(JSON.stringify(result));
}
