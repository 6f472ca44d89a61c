/**
 * One subject space for MQTT and NATS: an MQTT {@linkcode Broker} joined to a pub/sub
 * {@linkcode SubjectRouter}, topics and subjects mapped as nats-server maps them
 * (`nats_subjects.ts`). With a backplane on the router, MQTT clients thereby reach every NATS
 * client of a NATS system.
 *
 * @module
 */

import type { PubSubClient, SubjectRouter } from "../pubsub/subject_router.ts";
import type { Broker, BrokerMessage, BrokerTap, Session } from "./mqtt_broker.ts";
import {
  mqttFilterToNatsSubjects,
  mqttTopicToNatsSubject,
  natsSubjectToMqttTopic,
} from "./nats_subjects.ts";
import { validTopicName } from "./mqtt_topics.ts";

/** A bridge between an MQTT broker and a pub/sub router, from {@linkcode bridgeMqttToPubsub}. */
export interface MqttPubSubBridge {
  /** MQTT messages published to NATS subjects so far. */
  readonly toNats: number;
  /** NATS messages published to MQTT subscribers so far. */
  readonly toMqtt: number;
  /**
   * Messages not forwarded because their topic or subject does not map (white space in a
   * topic, a NATS subject no MQTT topic maps to: see `nats_subjects.ts`).
   */
  readonly unmappable: number;
  /** NATS subjects the bridge subscribes to for its MQTT subscribers now. */
  readonly subscriptions: number;
  /** Ends the bridge: its router subscriptions go, the broker is left as it was. */
  close(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** The header nats-server gives a NATS message an MQTT client published, by its QoS. */
const MQTT_HEADERS = [0, 1, 2].map((qos) => encoder.encode(`NATS/1.0\r\nNmqtt-Pub:${qos}\r\n\r\n`));
/** Mapped topics and subjects kept at most (each way); the cache is emptied when full. */
const MAX_CACHED = 4096;
const CR = 0x0d;
const SP = 0x20;

/**
 * Joins an MQTT broker and a pub/sub router into one subject space, topics and subjects mapped
 * as nats-server maps them (`a/b` is `a.b`; see {@linkcode mqttTopicToNatsSubject}):
 *
 * - What MQTT clients publish goes to the router's NATS subscribers (and, with a backplane on
 *   the router, to the whole NATS system), with the header nats-server adds
 *   (`Nmqtt-Pub: <qos>`). QoS and the RETAIN flag end at the bridge: NATS has neither, and
 *   retained messages stay the broker's own.
 * - What NATS clients publish reaches MQTT subscribers at QoS 0, RETAIN 0, without its NATS
 *   headers, as nats-server delivers NATS messages to MQTT (its reply subject is dropped).
 * - Nothing comes back to the side it came from: the bridge is a NATS client with `echo`
 *   off, and ignores the messages it gives the broker.
 * - Interest: the bridge subscribes on the router to the NATS subjects of the MQTT
 *   subscriptions' filters (`a/#` as `a.>` and `a`), the first MQTT subscription to a filter
 *   in, the last one out, so a NATS message crosses only when an MQTT client may want it. A
 *   message that matches several of those subjects reaches the broker once.
 *
 * MQTT 5 properties do not cross (nats-server speaks MQTT 3.1.1 only, and maps none). An
 * MQTT SUBACK does not wait for the backplane to know the new interest: a NATS message
 * published on another server in that moment may miss the new subscriber.
 *
 * @param broker The MQTT broker ({@linkcode mqttServer}'s `broker`).
 * @param router The pub/sub router (`pubsub.router` of a `pubsubServer`, or one of your own,
 *   maybe joined to a backplane).
 * @returns The bridge, running; `close()` ends it.
 *
 * @example An MQTT publish reaches a NATS subscription of the router
 * ```ts
 * import { Broker, bridgeMqttToPubsub } from "@speedo/speedo/mqtt";
 * import { SubjectRouter } from "@speedo/speedo/pubsub";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const broker = new Broker();
 * const router = new SubjectRouter();
 * const bridge = bridgeMqttToPubsub(broker, router);
 * const nats = new MemoryTransport();
 * router.subscribe({ handle: nats.handle, headers: false, echo: true }, "sensors.*", "1");
 * const payload = new TextEncoder().encode("21.5");
 * broker.publish({ topic: "sensors/kitchen", payload, qos: 1, retain: false });
 * assertEquals(nats.text(), "MSG sensors.kitchen 1 4\r\n21.5\r\n");
 * bridge.close();
 * ```
 */
export function bridgeMqttToPubsub(broker: Broker, router: SubjectRouter): MqttPubSubBridge {
  return new Bridge(broker, router);
}

class Bridge implements MqttPubSubBridge, PubSubClient {
  readonly headers = true;
  readonly echo = false;
  readonly handle = {
    id: -2,
    open: true,
    write: (data: Uint8Array | string): boolean => {
      this.#receive(typeof data === "string" ? encoder.encode(data) : data);
      return true;
    },
    close: (): boolean => false,
  };
  readonly #broker: Broker;
  readonly #router: SubjectRouter;
  readonly #tap: BrokerTap;
  readonly #unwatch: () => void;
  /** Router subscriptions by NATS subject: sid and how many MQTT filters want it. */
  readonly #subjects = new Map<string, { sid: string; count: number }>();
  readonly #toSubject = new Map<string, Uint8Array | null>();
  readonly #toTopic = new Map<string, string | null>();
  #nextSid = 1;
  #scratch = new Uint8Array(1024);
  /** The message being given to the broker, which its tap must not send back. */
  #inbound: BrokerMessage | undefined;
  /**
   * The last NATS message given to the broker, and the sids it came on: the router delivers a
   * message once per matching subscription of the bridge, and the broker must get it once.
   */
  #last: { subject: string; reply: string; payload: Uint8Array; sids: string[] } | undefined;
  #toNats = 0;
  #toMqtt = 0;
  #unmappable = 0;
  #closed = false;

  constructor(broker: Broker, router: SubjectRouter) {
    this.#broker = broker;
    this.#router = router;
    this.#tap = (message, publisher) => this.#publish(message, publisher);
    broker.taps.add(this.#tap);
    this.#unwatch = broker.tree.watchFilters((filter, on) => this.#interest(filter, on));
  }

  get toNats(): number {
    return this.#toNats;
  }

  get toMqtt(): number {
    return this.#toMqtt;
  }

  get unmappable(): number {
    return this.#unmappable;
  }

  get subscriptions(): number {
    return this.#subjects.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#broker.taps.delete(this.#tap);
    this.#unwatch();
    this.#router.removeClient(this);
    this.#subjects.clear();
  }

  /** MQTT to NATS: every message the broker routes, but those the bridge gave it. */
  #publish(message: BrokerMessage, _publisher: Session | undefined): void {
    if (message === this.#inbound) return;
    const topic = message.topic;
    const subject = mapped(
      this.#toSubject,
      topic,
      (topic) => encoder.encode(mqttTopicToNatsSubject(topic)),
    );
    if (subject === null) {
      this.#unmappable++;
      return;
    }
    const header = MQTT_HEADERS[message.qos];
    const size = header.length + message.payload.length;
    if (this.#scratch.length < size) this.#scratch = new Uint8Array(size * 2);
    this.#scratch.set(header);
    this.#scratch.set(message.payload, header.length);
    // The router copies what it keeps: the scratch buffer serves the next message.
    this.#router.publish(this, subject, EMPTY, this.#scratch.subarray(0, size), header.length);
    this.#toNats++;
  }

  /** An MQTT filter gained its first subscription or lost its last. */
  #interest(filter: string, on: boolean): void {
    let subjects: string[];
    try {
      subjects = mqttFilterToNatsSubjects(filter);
    } catch {
      return;
    }
    // The set of subjects changes: a message may now come on other sids.
    this.#last = undefined;
    for (const subject of subjects) {
      const entry = this.#subjects.get(subject);
      if (on) {
        if (entry !== undefined) {
          entry.count++;
          continue;
        }
        const sid = String(this.#nextSid++);
        try {
          this.#router.subscribe(this, subject, sid);
        } catch {
          continue;
        }
        this.#subjects.set(subject, { sid, count: 1 });
      } else if (entry !== undefined && --entry.count === 0) {
        this.#subjects.delete(subject);
        this.#router.unsubscribe(this, entry.sid);
      }
    }
  }

  /**
   * NATS to MQTT: a `MSG` or `HMSG` the router wrote for one of the bridge's subscriptions,
   * `OP <subject> <sid> [reply] [<#header bytes>] <#bytes>\r\n<payload>\r\n`, whole.
   */
  #receive(bytes: Uint8Array): void {
    const end = bytes.indexOf(CR);
    if (end < 0) return;
    const fields = splitFields(bytes, end);
    const withHeaders = fields[0] === "HMSG";
    if (!withHeaders && fields[0] !== "MSG") return;
    const counts = withHeaders ? 2 : 1;
    if (fields.length < 3 + counts) return;
    const subject = fields[1];
    const sid = fields[2];
    const reply = fields.length === 4 + counts ? fields[3] : "";
    const total = Number(fields[fields.length - 1]);
    const headerSize = withHeaders ? Number(fields[fields.length - 2]) : 0;
    const payload = bytes.subarray(end + 2 + headerSize, end + 2 + total);
    const last = this.#last;
    if (
      last !== undefined && last.subject === subject && last.reply === reply &&
      !last.sids.includes(sid) && sameBytes(last.payload, payload)
    ) {
      last.sids.push(sid);
      return;
    }
    const copy = payload.slice();
    this.#last = { subject, reply, payload: copy, sids: [sid] };
    const topic = mapped(this.#toTopic, subject, (subject) => {
      const topic = natsSubjectToMqttTopic(subject);
      return validTopicName(topic) ? topic : null;
    });
    if (topic === null) {
      this.#unmappable++;
      return;
    }
    const message: BrokerMessage = { topic, payload: copy, qos: 0, retain: false };
    this.#inbound = message;
    try {
      this.#broker.publish(message);
    } finally {
      this.#inbound = undefined;
    }
    this.#toMqtt++;
  }
}

/**
 * `map(key)` through a bounded cache (emptied when full); `null` for a key that does not map
 * (`map` threw or said so).
 */
function mapped<T>(
  cache: Map<string, T | null>,
  key: string,
  map: (key: string) => T | null,
): T | null {
  let value = cache.get(key);
  if (value !== undefined) return value;
  try {
    value = map(key);
  } catch {
    value = null;
  }
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, value);
  return value;
}

/** The space-separated fields of `bytes[0, end)`. */
function splitFields(bytes: Uint8Array, end: number): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i < end && bytes[i] !== SP) continue;
    if (i > start) fields.push(text(bytes, start, i));
    start = i + 1;
  }
  return fields;
}

/** `bytes[start, end)` as text: short ASCII without a `TextDecoder` call, which costs more. */
function text(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return decoder.decode(bytes.subarray(start, end));
  let result = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c >= 0x80) return decoder.decode(bytes.subarray(start, end));
    result += String.fromCharCode(c);
  }
  return result;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
