/**
 * Benchmarks of the broker's PUBLISH encode (`send` in `mqtt_broker.ts`) with and without topic
 * aliases towards the client: `deno bench -A bench/mqtt_topic_alias_bench.ts`.
 *
 * One MQTT 5 delivery of a 100-byte payload to a 40-character topic, to a connection that sets
 * no aliases and to one whose topic already has an alias (empty topic, alias property). QoS 1
 * encodes for each delivery either way; QoS 0 shows what aliases give up: the bytes a fan-out
 * shares between connections without aliases.
 *
 * @module
 */

import { Broker, type Owed, send, type Session } from "../protocols/mqtt/mqtt_broker.ts";
import { ServerTopicAliases } from "../protocols/mqtt/server_topic_aliases.ts";
import type { Send } from "../protocols/mqtt/mqtt_session_state.ts";
import type { QoS } from "../protocols/mqtt/mqtt_packets.ts";

const TOPIC = "building/7/floor/3/room/12/temperature/c";
const broker = new Broker();
let written = 0;

function session(aliases: ServerTopicAliases | undefined): Session {
  const s = broker.newSession(`bench-${aliases === undefined ? "plain" : "aliased"}`);
  s.link = {
    level: 5,
    topicAliases: aliases,
    write: (bytes) => void (written += bytes.length),
    takenOver() {},
  };
  return s;
}

function delivery(qos: QoS): Send<Owed>[] {
  const message = { topic: TOPIC, payload: new Uint8Array(100), qos, retain: false };
  return [{
    kind: "publish",
    packetId: 1,
    dup: false,
    message: { qos, size: 164, message, retain: false, subscriptionIds: [], record: undefined },
  }];
}

const plain = session(undefined);
const aliases = new ServerTopicAliases(16);
aliases.assign(TOPIC);
const aliased = session(aliases);
const qos1 = delivery(1);
const qos0 = delivery(0);

Deno.bench("send, QoS 1, no aliases", { group: "qos1", baseline: true }, () => {
  send(plain, qos1);
});
Deno.bench("send, QoS 1, topic aliased", { group: "qos1" }, () => {
  send(aliased, qos1);
});
Deno.bench("send, QoS 0, no aliases (bytes shared)", { group: "qos0", baseline: true }, () => {
  send(plain, qos0);
});
Deno.bench("send, QoS 0, topic aliased (own bytes)", { group: "qos0" }, () => {
  send(aliased, qos0);
});

globalThis.addEventListener("unload", () => {
  if (written === 0) throw new Error("Nothing was encoded");
});
