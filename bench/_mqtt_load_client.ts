/**
 * The load of `mqtt_load.ts`, run as its own process: raw MQTT 3.1.1 over `Deno.connect`, the
 * packets built by Speedo's encoder and the handshakes read by its decoder. Prints one JSON line:
 * a {@linkcode MqttLoadResult}.
 *
 * ```
 * deno run -A bench/_mqtt_load_client.ts --load fanout|qos1|qos1-persistent --port P [--subscribers N]
 *   [--clients N] [--seconds 3] [--warmup 1] [--payload 100] [--server-pid PID]
 * ```
 *
 * - `fanout`: one publisher and N subscribers on one topic, QoS 0. The publisher pipelines
 *   batches of `BATCH` PUBLISHes and a PINGREQ in single writes, with at most
 *   `MAX_BATCHES_IN_FLIGHT` batches whose PINGRESP has not come back, and at most `MAX_LAG`
 *   messages published and not yet received by the slowest subscriber.
 * - `qos1`: N publisher clients, each publishing QoS 1 to its own topic `load/<i>`, and N
 *   subscriber clients, one per topic, subscribed at QoS 1 and answering every PUBLISH with a
 *   PUBACK. Each publisher keeps at most `QOS1_WINDOW` messages not yet acknowledged and at
 *   most `QOS1_LAG` not yet received by its subscriber.
 * - `qos1-persistent`: `qos1` with persistent sessions: every client connects with clean
 *   session 0, its client id and its topic (`load/<run>/<i>`) unique to the run, so that no
 *   session of an earlier run is resumed or still subscribed (a CONNACK with session present
 *   fails the run). Once the run is measured, each client id connects once more with clean
 *   session 1 and disconnects, which ends its session on the broker (and in its store).
 *
 * The hot path does not decode packets into objects: it walks the fixed headers (type and
 * remaining length) and, for a QoS 1 delivery, reads the packet id. After the window the
 * publishers stop, and the run is `complete` when every subscriber received exactly every
 * message meant for it (and, for `qos1`, every PUBLISH was acknowledged).
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import {
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePublish,
  encodeSubscribe,
  MqttDecoder,
  type MqttPacket,
  type QoS,
} from "../protocols/mqtt/mod.ts";
import { processCpuSeconds } from "./_process_cpu.ts";

/** What one run measured. */
export interface MqttLoadResult {
  /** The load: `fanout` (QoS 0), `qos1`, or `qos1-persistent` (`qos1`, persistent sessions). */
  load: MqttLoadKind;
  /** Deliveries per second over the measured window (all subscribers together). */
  rate: number;
  /** Deliveries counted in the window. */
  deliveries: number;
  /** PUBACKs received by the publishers in the window (QoS 1 loads; 0 for `fanout`). */
  acks: number;
  /** Length of the window, in seconds. */
  seconds: number;
  /** Messages published in the whole run (warm-up included). */
  published: number;
  /** Deliveries expected after the drain, and received. */
  expected: number;
  received: number;
  /** QoS 1 deliveries flagged DUP (a redelivery; none is expected). */
  duplicates: number;
  /** Whether every subscriber received exactly every message meant for it, after the drain. */
  complete: boolean;
  /** CPU used by the server process over the window, in cores (1 = one core busy), if known. */
  serverCpu: number | undefined;
  /** CPU used by this load process over the window, in cores. */
  clientCpu: number | undefined;
}

/** The loads this generator runs. */
export type MqttLoadKind = "fanout" | "qos1" | "qos1-persistent";

const LEVEL = 4;
const FANOUT_TOPIC = "bench/load";
/** Messages per publisher write (`fanout`). */
const BATCH = 100;
/** Batches written and not yet answered by a PINGRESP (`fanout`). */
const MAX_BATCHES_IN_FLIGHT = 8;
/** Messages published and not yet received by the slowest subscriber (`fanout`). */
const MAX_LAG = 20_000;
/** QoS 1 messages of one publisher not yet acknowledged by a PUBACK. */
const QOS1_WINDOW = 32;
/** QoS 1 messages of one publisher not yet received by its subscriber. */
const QOS1_LAG = 256;
/** Time the subscribers get to receive everything once publishing stops. */
const DRAIN_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
const READ_BUFFER = 256 * 1024;

const PUBLISH = 3;
const PUBACK = 4;
const PINGRESP = 13;

/** Calls `wake` at most once per `notify` after it was set: a one-shot wake-up. */
class Waker {
  #resume: (() => void) | undefined;
  wait(): Promise<void> {
    return new Promise((resolve) => this.#resume = resolve);
  }
  notify(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }
}

/**
 * One MQTT connection of the load: a handshake read with `MqttDecoder`, then frames walked in
 * place. Writes are chained so that concurrent ones never interleave.
 */
class Peer {
  readonly conn: Deno.Conn;
  #buffer = new Uint8Array(READ_BUFFER);
  #length = 0;
  #writing: Promise<void> = Promise.resolve();

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /**
   * Connects and reads the CONNACK. `persistent`: with clean session 0, for a session that
   * must be new (a session present fails).
   */
  static async open(
    port: number,
    clientId: string,
    options: { persistent: boolean } = { persistent: false },
  ): Promise<Peer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const peer = new Peer(conn);
    await writeAll(
      conn,
      encodeConnect({
        type: "connect",
        protocolName: "MQTT",
        protocolLevel: LEVEL,
        cleanStart: !options.persistent,
        keepAlive: 0,
        clientId,
      }),
    );
    const connack = await peer.handshake("connack");
    if (connack.type !== "connack" || connack.reasonCode !== 0 || connack.sessionPresent) {
      throw new Error(`CONNACK of ${clientId}: ${JSON.stringify(connack)}`);
    }
    return peer;
  }

  async subscribe(topicFilter: string, qos: QoS): Promise<void> {
    await writeAll(
      this.conn,
      encodeSubscribe({
        type: "subscribe",
        packetId: 1,
        subscriptions: [{
          topicFilter,
          qos,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        }],
      }, LEVEL),
    );
    const suback = await this.handshake("suback");
    if (suback.type !== "suback" || suback.reasonCodes[0] !== qos) {
      throw new Error(`SUBACK for ${topicFilter}: ${JSON.stringify(suback)}`);
    }
  }

  /** Reads packets until one of type `type`; nothing else is expected before it. */
  async handshake(type: MqttPacket["type"]): Promise<MqttPacket> {
    const decoder = new MqttDecoder({ protocolLevel: LEVEL });
    const buffer = new Uint8Array(4096);
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    while (true) {
      const packet = decoder.next();
      if (packet !== null) {
        if (packet.type === type) return packet;
        throw new Error(`Expected ${type}, got ${packet.type}`);
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${type}`);
      // One packet at a time: the broker sends nothing else before the handshake ends, so a
      // read never takes bytes of what follows.
      const count = await this.conn.read(buffer);
      if (count === null) throw new Error(`EOF waiting for ${type}`);
      decoder.feed(buffer.slice(0, count));
    }
  }

  write(bytes: Uint8Array): void {
    this.#writing = this.#writing.then(() => writeAll(this.conn, bytes)).catch(() => {});
  }

  /**
   * Reads until EOF or close, calling `onFrame` for every whole packet: its first byte and
   * where its body lies in `bytes`. `onChunk` runs after each read's packets.
   */
  async frames(
    onFrame: (first: number, bytes: Uint8Array, body: number, length: number) => void,
    onChunk: () => void,
  ): Promise<void> {
    try {
      while (true) {
        if (this.#length === this.#buffer.length) {
          const larger = new Uint8Array(this.#buffer.length * 2);
          larger.set(this.#buffer);
          this.#buffer = larger;
        }
        const count = await this.conn.read(this.#buffer.subarray(this.#length));
        if (count === null) return;
        const bytes = this.#buffer;
        const end = this.#length + count;
        let at = 0;
        while (at + 2 <= end) {
          let remaining = 0;
          let multiplier = 1;
          let cursor = at + 1;
          let whole = false;
          while (cursor < end) {
            const byte = bytes[cursor++];
            remaining += (byte & 0x7f) * multiplier;
            multiplier *= 128;
            if ((byte & 0x80) === 0) {
              whole = true;
              break;
            }
          }
          if (!whole || cursor + remaining > end) break;
          onFrame(bytes[at], bytes, cursor, remaining);
          at = cursor + remaining;
        }
        bytes.copyWithin(0, at, end);
        this.#length = end - at;
        onChunk();
      }
    } catch {
      // Closed at the end of the run.
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** Writes all of `bytes`, however many writes it takes. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function publish(topic: string, qos: QoS, payload: Uint8Array, packetId?: number): Uint8Array {
  return encodePublish(
    { type: "publish", dup: false, qos, retain: false, topic, packetId, payload },
    LEVEL,
  );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Window {
  seconds: number;
  warmup: number;
  serverPid?: number;
}

/** What {@linkcode measure} saw over the window. */
interface Measured {
  deliveries: number;
  acks: number;
  seconds: number;
  serverCpu?: number;
  clientCpu?: number;
}

/** Waits the warm-up, measures `counts` over the window, and returns the deltas and CPU. */
async function measure(options: Window, counts: () => [number, number]): Promise<Measured> {
  await sleep(options.warmup * 1000);
  const [startDeliveries, startAcks] = counts();
  const startTime = performance.now();
  const startServer = options.serverPid ? processCpuSeconds(options.serverPid) : undefined;
  const startClient = processCpuSeconds("self");
  await sleep(options.seconds * 1000);
  const [endDeliveries, endAcks] = counts();
  const seconds = (performance.now() - startTime) / 1000;
  const endServer = options.serverPid ? processCpuSeconds(options.serverPid) : undefined;
  const endClient = processCpuSeconds("self");
  const cores = (start: number | undefined, end: number | undefined) =>
    start === undefined || end === undefined ? undefined : (end - start) / seconds;
  return {
    deliveries: endDeliveries - startDeliveries,
    acks: endAcks - startAcks,
    seconds,
    serverCpu: cores(startServer, endServer),
    clientCpu: cores(startClient, endClient),
  };
}

async function drain(done: () => boolean): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (!done() && Date.now() < deadline) await sleep(10);
}

/** Opens a subscriber, keeps it in `peers` (to close it whatever happens) and subscribes it. */
async function openSubscriber(
  peers: Peer[],
  port: number,
  clientId: string,
  filter: string,
  qos: QoS,
  options: { persistent: boolean } = { persistent: false },
): Promise<Peer> {
  const peer = await Peer.open(port, clientId, options);
  peers.push(peer);
  await peer.subscribe(filter, qos);
  return peer;
}

/** Ends a run: closes its peers, waits for their readers, and makes its result. */
async function finish(
  peers: Peer[],
  readers: Promise<void>[],
  window: Measured,
  run: Pick<
    MqttLoadResult,
    "load" | "published" | "expected" | "received" | "duplicates" | "complete"
  >,
): Promise<MqttLoadResult> {
  for (const peer of peers) peer.close();
  await Promise.all(readers);
  return {
    load: run.load,
    rate: window.deliveries / window.seconds,
    deliveries: window.deliveries,
    acks: window.acks,
    seconds: window.seconds,
    published: run.published,
    expected: run.expected,
    received: run.received,
    duplicates: run.duplicates,
    complete: run.complete,
    serverCpu: window.serverCpu,
    clientCpu: window.clientCpu,
  };
}

/** QoS 0 fan-out: one publisher, `subscribers` subscribers on one topic. */
async function runFanout(
  port: number,
  subscribers: number,
  payload: Uint8Array,
  options: Window,
): Promise<MqttLoadResult> {
  const peers: Peer[] = [];
  try {
    const subs: Peer[] = [];
    for (let i = 0; i < subscribers; i++) {
      subs.push(await openSubscriber(peers, port, `bench-sub-${i}`, FANOUT_TOPIC, 0));
    }
    const publisher = await Peer.open(port, "bench-pub");
    peers.push(publisher);
    const message = publish(FANOUT_TOPIC, 0, payload);
    const batch = concat([...Array(BATCH).fill(message), encodePingreq()]);

    const waker = new Waker();
    const counts = subs.map(() => 0);
    let pongs = 0;
    const readers = subs.map((peer, i) =>
      peer.frames((first) => {
        if (first >> 4 === PUBLISH) counts[i]++;
      }, () => waker.notify())
    );
    readers.push(publisher.frames((first) => {
      if (first >> 4 === PINGRESP) pongs++;
    }, () => waker.notify()));
    const slowest = () => counts.reduce((min, count) => Math.min(min, count), Infinity);
    const total = () => counts.reduce((sum, count) => sum + count, 0);

    let batches = 0;
    let stopped = false;
    const publishing = (async () => {
      while (!stopped) {
        if (batches - pongs >= MAX_BATCHES_IN_FLIGHT || batches * BATCH - slowest() > MAX_LAG) {
          await waker.wait();
          continue;
        }
        await writeAll(publisher.conn, batch);
        batches++;
      }
    })();
    const window = await measure(options, () => [total(), 0]);
    stopped = true;
    waker.notify();
    await publishing;
    const published = batches * BATCH;
    await drain(() => total() >= published * subscribers);
    const received = total();
    const complete = counts.every((count) => count === published);
    return await finish(peers, readers, window, {
      load: "fanout",
      published,
      expected: published * subscribers,
      received,
      duplicates: 0,
      complete,
    });
  } finally {
    for (const peer of peers) peer.close();
  }
}

/**
 * Ends the sessions of `clientIds`: each connects with clean session 1 (the broker discards
 * its stored session) and disconnects (its new session ends). A few at a time.
 */
async function endSessions(port: number, clientIds: string[]): Promise<void> {
  const disconnect = encodeDisconnect({ type: "disconnect", reasonCode: 0 }, LEVEL);
  const PARALLEL = 20;
  for (let at = 0; at < clientIds.length; at += PARALLEL) {
    await Promise.all(
      clientIds.slice(at, at + PARALLEL).map(async (clientId) => {
        const peer = await Peer.open(port, clientId);
        try {
          await writeAll(peer.conn, disconnect);
          // The broker closes after a DISCONNECT: its EOF says the session ended.
          await Promise.race([peer.frames(() => {}, () => {}), sleep(CONNECT_TIMEOUT_MS)]);
        } finally {
          peer.close();
        }
      }),
    );
  }
}

/**
 * QoS 1: `clients` publishers, each to its own topic with its own QoS 1 subscriber;
 * `persistent`: every client with clean session 0, its id and topic unique to the run.
 */
async function runQos1(
  port: number,
  clients: number,
  payload: Uint8Array,
  options: Window & { persistent: boolean },
): Promise<MqttLoadResult> {
  const peers: Peer[] = [];
  const persistent = options.persistent;
  // Unique to the run: no session of an earlier run is resumed, nor subscribed to its topics.
  const run = persistent ? `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}` : "";
  const subId = (i: number) => persistent ? `bench-q1p-${run}-sub-${i}` : `bench-q1-sub-${i}`;
  const pubId = (i: number) => persistent ? `bench-q1p-${run}-pub-${i}` : `bench-q1-pub-${i}`;
  const topicOf = (i: number) => persistent ? `load/${run}/${i}` : `load/${i}`;
  try {
    const subs: Peer[] = [];
    const pubs: Peer[] = [];
    for (let i = 0; i < clients; i++) {
      subs.push(await openSubscriber(peers, port, subId(i), topicOf(i), 1, { persistent }));
      const pub = await Peer.open(port, pubId(i), { persistent });
      peers.push(pub);
      pubs.push(pub);
    }
    const sent = pubs.map(() => 0);
    const acked = pubs.map(() => 0);
    const delivered = subs.map(() => 0);
    let duplicates = 0;
    let totalDelivered = 0;
    let totalAcked = 0;
    const wakers = pubs.map(() => new Waker());

    const readers: Promise<void>[] = [];
    subs.forEach((sub, i) => {
      let pubacks: number[] = [];
      readers.push(sub.frames((first, bytes, body) => {
        if (first >> 4 !== PUBLISH) return;
        delivered[i]++;
        totalDelivered++;
        if (first & 0x08) duplicates++;
        if ((first & 0x06) !== 0) {
          const topicLength = (bytes[body] << 8) | bytes[body + 1];
          const id = body + 2 + topicLength;
          pubacks.push(bytes[id], bytes[id + 1]);
        }
      }, () => {
        if (pubacks.length > 0) {
          const out = new Uint8Array(pubacks.length * 2);
          for (let k = 0, j = 0; k < pubacks.length; k += 2, j += 4) {
            out[j] = PUBACK << 4;
            out[j + 1] = 2;
            out[j + 2] = pubacks[k];
            out[j + 3] = pubacks[k + 1];
          }
          pubacks = [];
          sub.write(out);
        }
        wakers[i].notify();
      }));
    });
    pubs.forEach((pub, i) => {
      readers.push(pub.frames((first) => {
        if (first >> 4 === PUBACK) {
          acked[i]++;
          totalAcked++;
        }
      }, () => wakers[i].notify()));
    });

    let stopped = false;
    const publishers = pubs.map(async (pub, i) => {
      const topic = topicOf(i);
      const template = publish(topic, 1, payload, 1);
      // The packet id follows the fixed header (2 bytes here: a body under 128 bytes needs one
      // length byte, longer ones two) and the topic.
      const header = template.length - payload.length - 2 - 2 - topic.length;
      const idAt = header + 2 + topic.length;
      const out = new Uint8Array(template.length * QOS1_WINDOW);
      for (let k = 0; k < QOS1_WINDOW; k++) out.set(template, k * template.length);
      let nextId = 1;
      while (!stopped) {
        const room = Math.min(
          QOS1_WINDOW - (sent[i] - acked[i]),
          QOS1_LAG - (sent[i] - delivered[i]),
        );
        if (room <= 0) {
          await wakers[i].wait();
          continue;
        }
        for (let k = 0; k < room; k++) {
          const at = k * template.length + idAt;
          out[at] = nextId >> 8;
          out[at + 1] = nextId & 0xff;
          nextId = nextId === 0xffff ? 1 : nextId + 1;
        }
        await writeAll(pub.conn, out.subarray(0, room * template.length));
        sent[i] += room;
      }
    });
    const window = await measure(options, () => [totalDelivered, totalAcked]);
    stopped = true;
    for (const each of wakers) each.notify();
    await Promise.all(publishers);
    const published = sent.reduce((sum, count) => sum + count, 0);
    await drain(() => totalDelivered >= published && totalAcked >= published);
    const complete = sent.every((count, i) => delivered[i] === count && acked[i] === count);
    const received = totalDelivered;
    const result = await finish(peers, readers, window, {
      load: persistent ? "qos1-persistent" : "qos1",
      published,
      expected: published,
      received,
      duplicates,
      complete,
    });
    if (persistent) {
      await endSessions(port, [...subs.keys()].flatMap((i) => [subId(i), pubId(i)]));
    }
    return result;
  } finally {
    for (const peer of peers) peer.close();
  }
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: [
      "load",
      "port",
      "subscribers",
      "clients",
      "seconds",
      "warmup",
      "payload",
      "server-pid",
    ],
    default: { seconds: "3", warmup: "1", payload: "100", subscribers: "1", clients: "200" },
  });
  const payload = new Uint8Array(Number(args.payload)).fill(0x78);
  const window: Window = {
    seconds: Number(args.seconds),
    warmup: Number(args.warmup),
    serverPid: args["server-pid"] ? Number(args["server-pid"]) : undefined,
  };
  const port = Number(args.port);
  const result = args.load === "qos1" || args.load === "qos1-persistent"
    ? await runQos1(port, Number(args.clients), payload, {
      ...window,
      persistent: args.load === "qos1-persistent",
    })
    : await runFanout(port, Number(args.subscribers), payload, window);
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
