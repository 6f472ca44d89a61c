/**
 * Topic aliases towards clients: the table alone, then the broker over real sockets with raw
 * clients (what each subscriber is sent, byte for byte, and what a reconnect resends) and with
 * the npm `mqtt` v5 client, which resolves the aliases.
 */

import { assertEquals, assertThrows } from "@std/assert";
import mqtt from "mqtt";
import { ServerTopicAliases } from "./server_topic_aliases.ts";
import { mqttServer } from "./mqtt_server.ts";
import { mqttProtocol } from "./mqtt_protocol.ts";
import { encodePublish } from "./mqtt_encoder.ts";
import type { MqttPacket, ProtocolLevel, QoS } from "./mqtt_packets.ts";
import { RawClient } from "./_raw_client_test_helper.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

Deno.test("ServerTopicAliases gives the first topics aliases 1 to maximum and keeps them", () => {
  const aliases = new ServerTopicAliases(3);
  assertEquals(["a", "b", "c", "d"].map((topic) => aliases.assign(topic)), [1, 2, 3, 0]);
  assertEquals(["c", "a", "d"].map((topic) => aliases.get(topic)), [3, 1, undefined]);
  for (const bad of [0, 65_536, 1.5]) assertThrows(() => new ServerTopicAliases(bad), RangeError);
  assertThrows(() => mqttProtocol({ serverTopicAliases: -1 }), RangeError);
});

/** A client that connects with these CONNECT fields and subscribes to `filter`. */
async function subscriber(
  port: number,
  level: ProtocolLevel,
  clientId: string,
  options: { topicAliasMaximum?: number; resume?: boolean; filter?: string; qos?: QoS } = {},
): Promise<{ client: RawClient; connack: MqttPacket | undefined }> {
  const client = await RawClient.start(port, level, {
    clientId,
    cleanStart: options.resume !== true,
    ...(level === 5
      ? {
        properties: {
          sessionExpiryInterval: 60,
          ...(options.topicAliasMaximum === undefined
            ? {}
            : { topicAliasMaximum: options.topicAliasMaximum }),
        },
      }
      : {}),
  });
  const connack = await client.next();
  if (options.filter !== undefined) await client.subscribe(options.filter, options.qos);
  return { client, connack };
}

function publish(topic: string, qos: QoS = 0, packetId?: number): Uint8Array {
  return encodePublish({
    type: "publish",
    dup: false,
    qos,
    retain: false,
    topic,
    ...(packetId === undefined ? {} : { packetId }),
    payload: new TextEncoder().encode(topic),
  }, 4);
}

/** The next `count` PUBLISH packets as `topic alias payload`. */
async function received(client: RawClient, count: number): Promise<string[]> {
  const lines: string[] = [];
  while (lines.length < count) {
    const packet = await client.next();
    if (packet?.type !== "publish") throw new Error(`Expected PUBLISH, got ${packet?.type}`);
    const alias = packet.properties?.topicAlias ?? "-";
    lines.push(`${packet.topic || "''"} ${alias} ${new TextDecoder().decode(packet.payload)}`);
  }
  return lines;
}

Deno.test({
  name: "serverTopicAliases: the first topics get aliases, capped by the client; others get topics",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0, mqtt: { serverTopicAliases: 4 } });
    const { port } = await server.listen();
    const clients: RawClient[] = [];
    try {
      const aliased = await subscriber(port, 5, "aliased", { topicAliasMaximum: 2, filter: "t/#" });
      const plain5 = await subscriber(port, 5, "plain5", { filter: "t/#" });
      const plain4 = await subscriber(port, 4, "plain4", { filter: "t/#" });
      const publisher = await RawClient.connect(port, 4, "publisher");
      clients.push(aliased.client, plain5.client, plain4.client, publisher);
      const topics = ["t/1", "t/2", "t/3", "t/1", "t/3", "t/2"];
      for (const topic of topics) await publisher.write(publish(topic));
      assertEquals(await received(aliased.client, 6), [
        "t/1 1 t/1",
        "t/2 2 t/2",
        "t/3 - t/3",
        "'' 1 t/1",
        "t/3 - t/3",
        "'' 2 t/2",
      ]);
      // The QoS 0 fan-out's shared bytes stay alias-free for the others.
      for (const other of [plain5.client, plain4.client]) {
        assertEquals(await received(other, 6), topics.map((topic) => `${topic} - ${topic}`));
      }
    } finally {
      for (const client of clients) client.close();
    }
  },
});

Deno.test({
  name: "serverTopicAliases: what is resent after a reconnect carries its topic again",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0, mqtt: { serverTopicAliases: 4 } });
    const { port } = await server.listen();
    const options = { topicAliasMaximum: 4, filter: "q", qos: 1 as const };
    const first = await subscriber(port, 5, "s", options);
    const publisher = await RawClient.connect(port, 4, "publisher");
    try {
      await publisher.write(publish("q", 1, 1));
      await publisher.write(publish("q", 1, 2));
      // Unacknowledged: both stay in flight when the connection drops.
      assertEquals(await received(first.client, 2), ["q 1 q", "'' 1 q"]);
      first.client.close();
      await waitFor(
        () => server.broker.sessions.get("s")?.link === undefined,
        "the broker to see the close",
      );
      const again = await subscriber(port, 5, "s", { topicAliasMaximum: 4, resume: true });
      try {
        assertEquals(again.connack?.type === "connack" && again.connack.sessionPresent, true);
        assertEquals(await received(again.client, 2), ["q 1 q", "'' 1 q"]);
      } finally {
        again.client.close();
      }
    } finally {
      first.client.close();
      publisher.close();
    }
  },
});

Deno.test({
  name: "serverTopicAliases: the npm mqtt v5 client resolves the aliases it is sent",
  // The npm client keeps timers of its own past endAsync (see mqtt_clients_test.ts).
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = mqttServer({ port: 0, mqtt: { serverTopicAliases: 8 } });
    const { port } = await server.listen();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { topicAliasMaximum: 8 },
    });
    const publisher = await RawClient.connect(port, 4, "publisher");
    try {
      const messages: string[] = [];
      const all = new Promise<void>((resolve) =>
        client.on("message", (topic, payload, packet) => {
          messages.push(`${topic} ${packet.properties?.topicAlias} ${payload}`);
          if (messages.length === 4) resolve();
        })
      );
      await client.subscribeAsync("home/#", { qos: 0 });
      for (const topic of ["home/hall", "home/kitchen", "home/hall", "home/kitchen"]) {
        await publisher.write(publish(topic));
      }
      await within(all, "four messages");
      assertEquals(messages, [
        "home/hall 1 home/hall",
        "home/kitchen 2 home/kitchen",
        "home/hall 1 home/hall",
        "home/kitchen 2 home/kitchen",
      ]);
    } finally {
      publisher.close();
      await client.endAsync(true);
    }
  },
});
