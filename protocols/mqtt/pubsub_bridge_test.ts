/**
 * The MQTT–NATS bridge in memory: a broker with sessions whose packets are decoded, a router
 * with `MemoryTransport` subscribers. No sockets; the real clients are in
 * `mqtt_nats_clients_test.ts`.
 */

import { assertEquals } from "@std/assert";
import { Broker, type Session } from "./mqtt_broker.ts";
import { MqttDecoder } from "./mqtt_decoder.ts";
import type { PublishPacket } from "./mqtt_packets.ts";
import { bridgeMqttToPubsub } from "./pubsub_bridge.ts";
import { type PubSubClient, SubjectRouter } from "../pubsub/subject_router.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);

/** An MQTT session with a connection that keeps the PUBLISH packets it is sent. */
function mqttClient(broker: Broker, id: string): { session: Session; received: PublishPacket[] } {
  const session = broker.newSession(id);
  broker.sessions.set(id, session);
  const received: PublishPacket[] = [];
  const packets = new MqttDecoder({ protocolLevel: 4 });
  session.link = {
    level: 4,
    write(data) {
      packets.feed(data);
      for (let packet = packets.next(); packet !== null; packet = packets.next()) {
        if (packet.type === "publish") received.push(packet);
      }
    },
    takenOver() {},
  };
  session.state.connect(65_535);
  return { session, received };
}

/** A NATS client of the router, with what it was written. */
function natsClient(id: number, headers = false): { client: PubSubClient; text: () => string } {
  const transport = new MemoryTransport(id);
  return {
    client: { handle: transport.handle, headers, echo: true },
    text: () => transport.text(),
  };
}

function setup() {
  const broker = new Broker();
  const router = new SubjectRouter();
  const bridge = bridgeMqttToPubsub(broker, router);
  return { broker, router, bridge };
}

const summary = (packets: PublishPacket[]) =>
  packets.map((p) => `${p.topic} ${decoder.decode(p.payload)} q${p.qos}${p.retain ? " r" : ""}`);

Deno.test("bridgeMqttToPubsub gives an MQTT publish to NATS subscriptions of a.b, a.* and a.>", () => {
  const { broker, router, bridge } = setup();
  const exact = natsClient(1);
  const star = natsClient(2);
  const full = natsClient(3, true);
  const other = natsClient(4);
  router.subscribe(exact.client, "a.b", "1");
  router.subscribe(star.client, "a.*", "2");
  router.subscribe(full.client, "a.>", "3");
  router.subscribe(other.client, "b.>", "4");
  broker.publish({ topic: "a/b", payload: bytes("hi"), qos: 1, retain: true });
  assertEquals(exact.text(), "MSG a.b 1 2\r\nhi\r\n");
  assertEquals(star.text(), "MSG a.b 2 2\r\nhi\r\n");
  // nats-server's header: the MQTT QoS; the RETAIN flag does not cross.
  assertEquals(full.text(), "HMSG a.b 3 25 27\r\nNATS/1.0\r\nNmqtt-Pub:1\r\n\r\nhi\r\n");
  assertEquals(other.text(), "");
  assertEquals([bridge.toNats, bridge.toMqtt], [1, 0]);
});

Deno.test("bridgeMqttToPubsub gives a NATS publish to a/+ and a/# subscribers once, at QoS 0", () => {
  const { broker, router, bridge } = setup();
  const plus = mqttClient(broker, "plus");
  const hash = mqttClient(broker, "hash");
  broker.tree.subscribe(plus.session, "a/+", { qos: 1 });
  broker.tree.subscribe(hash.session, "a/#", { qos: 2 });
  // a/+ and a/# are a.*, a.> and a on the router: a.b matches two of them.
  assertEquals(bridge.subscriptions, 3);
  const publisher = natsClient(1);
  router.publish(publisher.client, bytes("a.b"), bytes(""), bytes("x"), -1);
  router.publish(publisher.client, bytes("a"), bytes(""), bytes("parent"), -1);
  const headers = bytes("NATS/1.0\r\nK: v\r\n\r\nwith");
  router.publish(publisher.client, bytes("a.c"), bytes("inbox"), headers, 18);
  assertEquals(summary(plus.received), ["a/b x q0", "a/c with q0"]);
  assertEquals(summary(hash.received), ["a/b x q0", "a parent q0", "a/c with q0"]);
  assertEquals(bridge.toMqtt, 3);
});

Deno.test("bridgeMqttToPubsub sends nothing back to the side it came from", () => {
  const { broker, router, bridge } = setup();
  const mqtt = mqttClient(broker, "m");
  broker.tree.subscribe(mqtt.session, "t/#", { qos: 0 });
  const nats = natsClient(1);
  router.subscribe(nats.client, "t.>", "1");
  // From MQTT: the MQTT subscriber once, the NATS one once.
  broker.publish({ topic: "t/1", payload: bytes("from mqtt"), qos: 0, retain: false });
  // From NATS: the same.
  router.publish(nats.client, bytes("t.2"), bytes(""), bytes("from nats"), -1);
  assertEquals(summary(mqtt.received), ["t/1 from mqtt q0", "t/2 from nats q0"]);
  assertEquals(nats.text(), "MSG t.1 1 9\r\nfrom mqtt\r\nMSG t.2 1 9\r\nfrom nats\r\n");
  assertEquals([bridge.toNats, bridge.toMqtt], [1, 1]);
});

Deno.test("bridgeMqttToPubsub subscribes by MQTT interest, first in and last out", () => {
  const { broker, router, bridge } = setup();
  const a = mqttClient(broker, "a");
  const b = mqttClient(broker, "b");
  broker.tree.subscribe(a.session, "x/#", { qos: 0 });
  broker.tree.subscribe(b.session, "x/#", { qos: 0 });
  broker.tree.subscribe(b.session, "x", { qos: 0 });
  broker.tree.subscribe(b.session, "$share/g/y/+", { qos: 0 });
  assertEquals([bridge.subscriptions, router.size], [3, 3]);
  const publisher = natsClient(1);
  // Nobody on the MQTT side wants z: the bridge is not even asked.
  assertEquals(router.publish(publisher.client, bytes("z"), bytes(""), bytes("-"), -1), 0);
  assertEquals(router.publish(publisher.client, bytes("y.1"), bytes(""), bytes("-"), -1), 1);
  broker.tree.removeClient(a.session);
  assertEquals(bridge.subscriptions, 3);
  broker.tree.unsubscribe(b.session, "x/#");
  // "x" stays: b subscribes to it on its own.
  assertEquals(bridge.subscriptions, 2);
  broker.tree.removeClient(b.session);
  assertEquals([bridge.subscriptions, router.size], [0, 0]);
});

Deno.test("bridgeMqttToPubsub subscribes to the filters a broker had before it", () => {
  const broker = new Broker();
  const router = new SubjectRouter();
  const early = mqttClient(broker, "early");
  broker.tree.subscribe(early.session, "e/+", { qos: 0 });
  const bridge = bridgeMqttToPubsub(broker, router);
  router.publish(natsClient(1).client, bytes("e.1"), bytes(""), bytes("late"), -1);
  assertEquals(summary(early.received), ["e/1 late q0"]);
  bridge.close();
  assertEquals(router.size, 0);
});

Deno.test("bridgeMqttToPubsub passes identical NATS messages each, and each once", () => {
  const { broker, router } = setup();
  const mqtt = mqttClient(broker, "m");
  broker.tree.subscribe(mqtt.session, "d/+", { qos: 0 });
  broker.tree.subscribe(mqtt.session, "+/x", { qos: 0 });
  broker.tree.subscribe(mqtt.session, "#", { qos: 0 });
  const publisher = natsClient(1);
  for (let i = 0; i < 3; i++) {
    router.publish(publisher.client, bytes("d.x"), bytes(""), bytes("same"), -1);
  }
  assertEquals(summary(mqtt.received), ["d/x same q0", "d/x same q0", "d/x same q0"]);
});

Deno.test("bridgeMqttToPubsub counts and drops what does not map, either way", () => {
  const { broker, router, bridge } = setup();
  const mqtt = mqttClient(broker, "m");
  broker.tree.subscribe(mqtt.session, "#", { qos: 0 });
  const nats = natsClient(1);
  router.subscribe(nats.client, ">", "1");
  broker.publish({ topic: "a b", payload: bytes("space"), qos: 0, retain: false });
  router.publish(nats.client, bytes("path/to.file"), bytes(""), bytes("slash"), -1);
  router.publish(nats.client, bytes("ok.1"), bytes(""), bytes("fine"), -1);
  assertEquals(summary(mqtt.received), ["a b space q0", "ok/1 fine q0"]);
  // The NATS client hears itself (echo), but not the MQTT message.
  assertEquals(nats.text(), "MSG path/to.file 1 5\r\nslash\r\nMSG ok.1 1 4\r\nfine\r\n");
  assertEquals([bridge.unmappable, bridge.toNats, bridge.toMqtt], [2, 0, 1]);
});

Deno.test("bridgeMqttToPubsub ends with close: no tap, no subscriptions", () => {
  const { broker, router, bridge } = setup();
  const mqtt = mqttClient(broker, "m");
  broker.tree.subscribe(mqtt.session, "c/#", { qos: 0 });
  const nats = natsClient(1);
  router.subscribe(nats.client, "c.>", "1");
  bridge.close();
  bridge.close();
  assertEquals([broker.taps.size, router.size], [0, 1]);
  broker.publish({ topic: "c/1", payload: bytes("mqtt only"), qos: 0, retain: false });
  router.publish(nats.client, bytes("c.2"), bytes(""), bytes("nats only"), -1);
  assertEquals(summary(mqtt.received), ["c/1 mqtt only q0"]);
  assertEquals(nats.text(), "MSG c.2 1 9\r\nnats only\r\n");
});
