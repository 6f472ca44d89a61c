/**
 * The broker over real sockets with raw packets (encoded by this module's encoder), sanitized:
 * bad input answered with the spec's reason code or a close, the broker and its other clients
 * unaffected; keep alive; sessions and their timers.
 */

import { assertEquals } from "@std/assert";
import { mqttServer } from "./mqtt_server.ts";
import { encodeConnect, encodePacket, encodePublish, encodeSubscribe } from "./mqtt_encoder.ts";
import type { MqttPacket, ProtocolLevel } from "./mqtt_packets.ts";
import { RawClient } from "./_raw_client_test_helper.ts";
import { within } from "../../testing/_socket_client.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

async function withBroker(fn: (port: number) => Promise<void>): Promise<void> {
  await using server = mqttServer({ port: 0 });
  const { port } = await server.listen();
  await fn(port);
}

Deno.test({
  name: "mqttServer: CONNACK, SUBACK, then a publish delivered (3.1.1 and 5.0 clients together)",
  ...SANITIZED,
  async fn() {
    await withBroker(async (port) => {
      const subscriber = await RawClient.connect(port, 5, "sub");
      const publisher = await RawClient.connect(port, 4, "pub");
      try {
        await subscriber.write(encodeSubscribe({
          type: "subscribe",
          packetId: 1,
          subscriptions: [{
            topicFilter: "a/#",
            qos: 1,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
          }],
        }, 5));
        assertEquals((await subscriber.next())?.type, "suback");
        await publisher.write(encodePublish({
          type: "publish",
          dup: false,
          qos: 0,
          retain: false,
          topic: "a/b",
          payload: new TextEncoder().encode("hi"),
        }, 4));
        const message = await subscriber.next();
        assertEquals(message?.type, "publish");
        if (message?.type === "publish") {
          assertEquals([message.topic, new TextDecoder().decode(message.payload)], ["a/b", "hi"]);
        }
      } finally {
        subscriber.close();
        publisher.close();
      }
    });
  },
});

Deno.test({
  name: "mqttServer: bad input is answered and closed, and the other clients go on",
  ...SANITIZED,
  async fn() {
    await withBroker(async (port) => {
      const bystander = await RawClient.connect(port, 4, "bystander");
      try {
        const cases: [string, ProtocolLevel, Uint8Array, (p: MqttPacket | undefined) => void][] = [
          [
            "a packet before CONNECT",
            4,
            new Uint8Array([0xc0, 0]),
            (p) => assertEquals(p, undefined),
          ],
          [
            "a remaining length over 4 bytes",
            4,
            new Uint8Array([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]),
            (p) => assertEquals(p, undefined),
          ],
          [
            "an unknown protocol level",
            4,
            new Uint8Array([0x10, 13, 0, 4, 77, 81, 84, 84, 9, 2, 0, 60, 0, 1, 97]),
            (p) => assertEquals(p?.type === "connack" && p.reasonCode, 1),
          ],
        ];
        for (const [name, level, bytes, check] of cases) {
          const client = await RawClient.open(port, level);
          try {
            await client.write(bytes);
            const answer = await client.next();
            check(answer);
            if (answer !== undefined) assertEquals(await client.next(), undefined, name);
          } finally {
            client.close();
          }
        }
        // MQTT 5: QoS 3 after CONNECT is told DISCONNECT 0x81, then closed.
        const v5 = await RawClient.connect(port, 5, "bad");
        try {
          await v5.write(new Uint8Array([0x36, 5, 0, 1, 97, 0, 1]));
          const answer = await v5.next();
          assertEquals(answer?.type === "disconnect" && answer.reasonCode, 0x81);
          assertEquals(await v5.next(), undefined);
        } finally {
          v5.close();
        }
        // A second CONNECT is a protocol error.
        const twice = await RawClient.connect(port, 5, "twice");
        try {
          await twice.write(encodeConnect({
            type: "connect",
            protocolName: "MQTT",
            protocolLevel: 5,
            cleanStart: true,
            keepAlive: 0,
            clientId: "twice",
          }));
          const answer = await twice.next();
          assertEquals(answer?.type === "disconnect" && answer.reasonCode, 0x82);
        } finally {
          twice.close();
        }
        // The bystander still gets its PINGRESP.
        await bystander.write(encodePacket({ type: "pingreq" }, 4));
        assertEquals((await bystander.next())?.type, "pingresp");
      } finally {
        bystander.close();
      }
    });
  },
});

Deno.test({
  name: "mqttServer: a client silent past 1.5 times its keep alive is closed",
  ...SANITIZED,
  async fn() {
    await withBroker(async (port) => {
      const client = await RawClient.open(port, 5);
      try {
        await client.write(encodeConnect({
          type: "connect",
          protocolName: "MQTT",
          protocolLevel: 5,
          cleanStart: true,
          keepAlive: 1,
          clientId: "sleepy",
        }));
        assertEquals((await client.next())?.type, "connack");
        const answer = await client.next();
        assertEquals(answer?.type === "disconnect" && answer.reasonCode, 0x8d);
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  name:
    "mqttServer: a session with an expiry outlives its connection, and the server's close ends its timer",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0 });
    const { port } = await server.listen();
    const client = await RawClient.open(port, 5);
    await client.write(encodeConnect({
      type: "connect",
      protocolName: "MQTT",
      protocolLevel: 5,
      cleanStart: true,
      keepAlive: 0,
      clientId: "keeper",
      properties: { sessionExpiryInterval: 3600 },
    }));
    assertEquals((await client.next())?.type, "connack");
    client.close();
    await within(
      (async () => {
        while (server.stats().connections > 0) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })(),
      "the close seen by the broker",
    );
    assertEquals(server.broker.sessions.has("keeper"), true);
  },
});

Deno.test({
  name: "mqttServer: a wildcard in a PUBLISH topic is 0x90, an oversize packet 0x95 (MQTT 5)",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0, mqtt: { maxPacketSize: 1024 } });
    const { port } = await server.listen() as Deno.NetAddr;
    const wildcard = await RawClient.connect(port, 5, "w");
    try {
      // PUBLISH QoS 0, topic "a/+" (bytes written by hand: the encoder refuses wildcards).
      await wildcard.write(new Uint8Array([0x30, 6, 0, 3, 97, 47, 43, 0]));
      const answer = await wildcard.next();
      assertEquals(answer?.type === "disconnect" && answer.reasonCode, 0x90);
    } finally {
      wildcard.close();
    }
    const big = await RawClient.connect(port, 5, "big");
    try {
      await big.write(encodePublish({
        type: "publish",
        dup: false,
        qos: 0,
        retain: false,
        topic: "t",
        payload: new Uint8Array(4096),
      }, 5));
      const answer = await big.next();
      assertEquals(answer?.type === "disconnect" && answer.reasonCode, 0x95);
    } finally {
      big.close();
    }
  },
});

Deno.test({
  name: "mqttServer: CONNECT and SUBSCRIBE dribbled a byte at a time still work",
  ...SANITIZED,
  async fn() {
    await withBroker(async (port) => {
      const client = await RawClient.open(port, 4);
      try {
        const bytes = [
          ...encodeConnect({
            type: "connect",
            protocolName: "MQTT",
            protocolLevel: 4,
            cleanStart: true,
            keepAlive: 0,
            clientId: "slow",
          }),
          ...encodeSubscribe({
            type: "subscribe",
            packetId: 9,
            subscriptions: [{
              topicFilter: "x",
              qos: 0,
              noLocal: false,
              retainAsPublished: false,
              retainHandling: 0,
            }],
          }, 4),
        ];
        for (const byte of bytes) await client.write(new Uint8Array([byte]));
        assertEquals((await client.next())?.type, "connack");
        const suback = await client.next();
        assertEquals(suback?.type === "suback" && suback.packetId, 9);
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  name: "mqttServer: a subscriber that never reads is cut off; the others go on",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({
      port: 0,
      writeHighWater: 64 * 1024,
      maxWriteBuffer: 256 * 1024,
    });
    const { port } = await server.listen() as Deno.NetAddr;
    const subscribe = async (client: RawClient) => {
      await client.write(encodeSubscribe({
        type: "subscribe",
        packetId: 1,
        subscriptions: [{
          topicFilter: "flood",
          qos: 0,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        }],
      }, 4));
      assertEquals((await client.next())?.type, "suback");
    };
    const stuck = await RawClient.connect(port, 4, "stuck");
    const reader = await RawClient.connect(port, 4, "reader");
    const publisher = await RawClient.connect(port, 4, "publisher");
    try {
      await subscribe(stuck);
      await subscribe(reader);
      const payload = new Uint8Array(16 * 1024);
      const publish = encodePublish(
        { type: "publish", dup: false, qos: 0, retain: false, topic: "flood", payload },
        4,
      );
      // 16 MiB through a subscriber that reads nothing (more than the kernel's buffers hold),
      // paced so that the subscriber that reads stays within its own bound.
      const total = 1024;
      let received = 0;
      let progress: (() => void) | undefined;
      const reading = (async () => {
        while (received < total) {
          const packet = await reader.next();
          if (packet === undefined) return;
          if (packet.type === "publish") received++;
          progress?.();
        }
      })();
      for (let i = 0; i < total; i++) {
        while (i - received > 8) await new Promise<void>((resolve) => progress = resolve);
        await publisher.write(publish);
      }
      await reading;
      assertEquals(received, total);
      await within(
        (async () => {
          while (server.stats().connections > 2) await new Promise((r) => setTimeout(r, 10));
        })(),
        "the stuck subscriber cut off",
      );
    } finally {
      stuck.close();
      reader.close();
      publisher.close();
    }
  },
});

Deno.test({
  name:
    "mqttServer: authorize refuses a subscription (0x80 / 0x87) and a publish (0x87, not routed)",
  ...SANITIZED,
  async fn() {
    const asked: string[] = [];
    await using server = mqttServer({
      port: 0,
      mqtt: {
        authorize: ({ action, topic, clientId }) => {
          asked.push(`${clientId} ${action} ${topic}`);
          return !topic.startsWith("secret");
        },
      },
    });
    const { port } = await server.listen() as Deno.NetAddr;
    const filter = (topicFilter: string) => ({
      topicFilter,
      qos: 1 as const,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0 as const,
    });
    for (const level of [4, 5] as const) {
      const client = await RawClient.connect(port, level, `c${level}`);
      try {
        await client.write(encodeSubscribe({
          type: "subscribe",
          packetId: 1,
          subscriptions: [filter("secret/#"), filter("open/#")],
        }, level));
        const suback = await client.next();
        assertEquals(
          suback?.type === "suback" && suback.reasonCodes,
          [level === 5 ? 0x87 : 0x80, 1],
        );
        await client.write(encodePublish({
          type: "publish",
          dup: false,
          qos: 1,
          retain: false,
          topic: "secret/plan",
          packetId: 7,
          payload: new Uint8Array([1]),
        }, level));
        const puback = await client.next();
        assertEquals(puback?.type === "puback" && puback.reasonCode, level === 5 ? 0x87 : 0);
        // The open subscription still works: the refused publish was not routed anywhere.
        await client.write(encodePublish({
          type: "publish",
          dup: false,
          qos: 0,
          retain: false,
          topic: "open/door",
          payload: new Uint8Array([2]),
        }, level));
        const delivered = await client.next();
        assertEquals(delivered?.type === "publish" && delivered.topic, "open/door");
      } finally {
        client.close();
      }
    }
    assertEquals(asked.includes("c5 subscribe secret/#"), true);
    assertEquals(asked.includes("c4 publish secret/plan"), true);
  },
});

Deno.test({
  name: "mqttServer: topic aliases from an MQTT 5 client (set, used, out of range, never set)",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0, mqtt: { topicAliases: 2 } });
    const { port } = await server.listen() as Deno.NetAddr;
    const subscriber = await RawClient.connect(port, 5, "s");
    const publisher = await RawClient.open(port, 5);
    try {
      await publisher.write(encodeConnect({
        type: "connect",
        protocolName: "MQTT",
        protocolLevel: 5,
        cleanStart: true,
        keepAlive: 0,
        clientId: "p",
      }));
      const connack = await publisher.next();
      assertEquals(
        connack?.type === "connack" && connack.properties?.topicAliasMaximum,
        2,
      );
      await subscriber.write(encodeSubscribe({
        type: "subscribe",
        packetId: 1,
        subscriptions: [{
          topicFilter: "long/topic/name",
          qos: 0,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        }],
      }, 5));
      assertEquals((await subscriber.next())?.type, "suback");
      const publish = (topic: string, alias: number, text: string) =>
        encodePublish({
          type: "publish",
          dup: false,
          qos: 0,
          retain: false,
          topic,
          properties: { topicAlias: alias },
          payload: new TextEncoder().encode(text),
        }, 5);
      await publisher.write(publish("long/topic/name", 1, "first"));
      await publisher.write(publish("", 1, "second"));
      for (const text of ["first", "second"]) {
        const message = await subscriber.next();
        assertEquals(
          message?.type === "publish" &&
            [
              message.topic,
              new TextDecoder().decode(message.payload),
              message.properties?.topicAlias,
            ],
          ["long/topic/name", text, undefined],
        );
      }
      await publisher.write(publish("x", 3, "too far"));
      const refused = await publisher.next();
      assertEquals(refused?.type === "disconnect" && refused.reasonCode, 0x94);
    } finally {
      subscriber.close();
      publisher.close();
    }
    const unset = await RawClient.connect(port, 5, "u");
    try {
      await unset.write(encodePublish({
        type: "publish",
        dup: false,
        qos: 0,
        retain: false,
        topic: "",
        properties: { topicAlias: 2 },
        payload: new Uint8Array(0),
      }, 5));
      const refused = await unset.next();
      assertEquals(refused?.type === "disconnect" && refused.reasonCode, 0x82);
    } finally {
      unset.close();
    }
  },
});
