/**
 * MQTT and NATS clients sharing subjects, with the npm `mqtt` and `nats` clients, against two
 * systems: Speedo (`mqttServer` and `pubsubServer` on one `SubjectRouter`) and nats-server
 * with its MQTT listener (the reference; ignored where nats-server is not installed). The same
 * expectations hold on each. Then Speedo's MQTT server on a backplane to nats-server, its MQTT
 * clients and nats-server's NATS clients hearing each other.
 */

import { assertEquals } from "@std/assert";
import mqtt from "mqtt";
import * as nats from "nats";
import {
  freePorts,
  NATS_SERVER_PATH,
  startNatsServer,
} from "../../testing/_fixtures/nats_server.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import { mqttServer } from "./mqtt_server.ts";
import { pubsubServer } from "../pubsub/pubsub_server.ts";
import { SubjectRouter } from "../pubsub/subject_router.ts";

/**
 * Not sanitized: the npm mqtt client keeps timers of its own under Deno that outlive
 * `endAsync` (see `mqtt_clients_test.ts`). The bridge itself is sanitized in memory, in
 * `pubsub_bridge_test.ts`.
 */
const SANITIZED = { sanitizeOps: false, sanitizeResources: false };
const codec = nats.StringCodec();

/** One system with an MQTT port and a NATS port sharing subjects. */
interface System {
  readonly mqttPort: number;
  readonly natsPort: number;
  stop(): Promise<void>;
}

interface Target {
  readonly name: string;
  readonly missing: string | undefined;
  start(): Promise<System>;
}

const speedo: Target = {
  name: "Speedo",
  missing: undefined,
  async start() {
    const router = new SubjectRouter();
    const natsServer = pubsubServer({ port: 0, pubsub: { router } });
    const mqttPart = mqttServer({ port: 0, pubsub: { router } });
    const { port: natsPort } = await natsServer.listen();
    const { port: mqttPort } = await mqttPart.listen();
    return {
      mqttPort,
      natsPort,
      stop: async () => {
        await mqttPart.close();
        await natsServer.close();
      },
    };
  },
};

const natsServerTarget: Target = {
  name: "nats-server",
  missing: NATS_SERVER_PATH === undefined ? "nats-server not installed" : undefined,
  async start() {
    const [natsPort, mqttPort] = freePorts(2);
    const store = await Deno.makeTempDir({ prefix: "speedo-nats-mqtt-" });
    // MQTT on nats-server needs a server name and JetStream (for sessions and QoS 1).
    const server = await startNatsServer(
      natsPort,
      10_000,
      `server_name: speedo_test\njetstream { store_dir: "${store}" }\n` +
        `mqtt { listen: "127.0.0.1:${mqttPort}" }\n`,
    );
    return {
      mqttPort,
      natsPort,
      stop: async () => {
        await server.stop();
        await Deno.remove(store, { recursive: true });
      },
    };
  },
};

const TARGETS = [speedo, natsServerTarget];

/** What an MQTT client received, awaited by count with a deadline. */
class MqttInbox {
  readonly messages: string[] = [];

  constructor(client: mqtt.MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push(`${topic} ${payload} q${packet.qos}${packet.retain ? " r" : ""}`);
    });
  }

  async count(n: number): Promise<string[]> {
    await waitFor(() => this.messages.length >= n, `${n} MQTT messages, got ${this.messages}`);
    return this.messages;
  }
}

/** What a NATS subscription received, with the `Nmqtt-Pub` header nats-server adds. */
function natsInbox(nc: nats.NatsConnection, subject: string) {
  const messages: string[] = [];
  nc.subscribe(subject, {
    callback: (_error, message) => {
      // nats-server's own traffic (JetStream, its MQTT sessions) is not the test's.
      if (message.subject.startsWith("$")) return;
      const qos = message.headers?.get("Nmqtt-Pub");
      messages.push(
        `${message.subject} ${codec.decode(message.data)}${qos ? ` Nmqtt-Pub:${qos}` : ""}`,
      );
    },
  });
  return {
    messages,
    count: async (n: number) => {
      await waitFor(
        () => messages.length >= n,
        `${n} NATS messages on ${subject}, got ${messages}`,
      );
      return messages;
    },
  };
}

for (const target of TARGETS) {
  const test = (
    name: string,
    fn: (
      mqttClient: () => Promise<mqtt.MqttClient>,
      natsClient: () => Promise<nats.NatsConnection>,
    ) => Promise<void>,
  ) =>
    Deno.test({
      name: `${target.name}: ${name}`,
      ignore: target.missing !== undefined,
      ...SANITIZED,
      async fn() {
        const system = await target.start();
        const mqttClients: mqtt.MqttClient[] = [];
        const natsClients: nats.NatsConnection[] = [];
        try {
          await fn(
            async () => {
              const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${system.mqttPort}`, {
                protocolVersion: 4,
                reconnectPeriod: 0,
                connectTimeout: 5000,
              });
              mqttClients.push(client);
              return client;
            },
            async () => {
              const nc = await nats.connect({ servers: `127.0.0.1:${system.natsPort}` });
              natsClients.push(nc);
              return nc;
            },
          );
        } finally {
          await Promise.all(mqttClients.map((c) => c.endAsync(true).catch(() => {})));
          for (const nc of natsClients) if (!nc.isClosed()) await nc.close();
          await system.stop();
        }
      },
    });

  test(
    "an MQTT publish to a/b reaches NATS subscribers of a.b, a.* and a.>",
    async (mqttClient, natsClient) => {
      const nc = await natsClient();
      const exact = natsInbox(nc, "a.b");
      const star = natsInbox(nc, "a.*");
      const full = natsInbox(nc, "a.>");
      await nc.flush();
      const publisher = await mqttClient();
      await publisher.publishAsync("a/b", "zero", { qos: 0 });
      await publisher.publishAsync("a/b", "one", { qos: 1 });
      await publisher.publishAsync("a/c/d", "deep", { qos: 1 });
      const both = ["a.b zero Nmqtt-Pub:0", "a.b one Nmqtt-Pub:1"];
      assertEquals(await exact.count(2), both);
      assertEquals(await star.count(2), both);
      assertEquals(await full.count(3), [...both, "a.c.d deep Nmqtt-Pub:1"]);
    },
  );

  test(
    "a NATS publish reaches MQTT a/+ and a/# subscribers at QoS 0, a/# for a too",
    async (mqttClient, natsClient) => {
      const plus = await mqttClient();
      const hash = await mqttClient();
      const plusInbox = new MqttInbox(plus);
      const hashInbox = new MqttInbox(hash);
      await plus.subscribeAsync("a/+", { qos: 1 });
      await hash.subscribeAsync("a/#", { qos: 1 });
      const nc = await natsClient();
      nc.publish("a.b", codec.encode("x"));
      nc.publish("a", codec.encode("parent"));
      nc.publish("a.b.c", codec.encode("deep"));
      nc.publish("b.a", codec.encode("no"));
      await nc.flush();
      assertEquals(await hashInbox.count(3), ["a/b x q0", "a parent q0", "a/b/c deep q0"]);
      // Sent before a/b/c: had a/+ matched a or a/b/c, it would be here by now.
      assertEquals(await plusInbox.count(1), ["a/b x q0"]);
    },
  );

  test("empty levels cross both ways as the token /", async (mqttClient, natsClient) => {
    const nc = await natsClient();
    const all = natsInbox(nc, ">");
    await nc.flush();
    const client = await mqttClient();
    const inbox = new MqttInbox(client);
    await client.subscribeAsync("+/+", { qos: 0 });
    for (const topic of ["/a", "a//b", "a/", "/"]) {
      await client.publishAsync(topic, topic, { qos: 1 });
    }
    assertEquals(await all.count(4), [
      "/.a /a Nmqtt-Pub:1",
      "a./.b a//b Nmqtt-Pub:1",
      "a./ a/ Nmqtt-Pub:1",
      "/./ / Nmqtt-Pub:1",
    ]);
    nc.publish("/.x", codec.encode("from nats"));
    await nc.flush();
    // +/+ heard its own "/a" and "a/" (and "/", two empty levels), then NATS's "/x".
    const got = await inbox.count(4);
    assertEquals(got, ["/a /a q0", "a/ a/ q0", "/ / q0", "/x from nats q0"]);
  });

  test("no echo: each side hears a message once", async (mqttClient, natsClient) => {
    const client = await mqttClient();
    const inbox = new MqttInbox(client);
    await client.subscribeAsync("t/#", { qos: 0 });
    const nc = await natsClient();
    const natsSide = natsInbox(nc, "t.>");
    await nc.flush();
    await client.publishAsync("t/1", "from mqtt", { qos: 1 });
    nc.publish("t.2", codec.encode("from nats"));
    await nc.flush();
    await client.publishAsync("t/end", "end", { qos: 1 });
    await inbox.count(3);
    await natsSide.count(3);
    assertEquals(inbox.messages, ["t/1 from mqtt q0", "t/2 from nats q0", "t/end end q0"]);
    assertEquals(natsSide.messages, [
      "t.1 from mqtt Nmqtt-Pub:1",
      "t.2 from nats",
      "t.end end Nmqtt-Pub:1",
    ]);
  });
}

Deno.test({
  name: "mqttServer on a backplane: its MQTT clients and NATS clients on nats-server and on " +
    `another Speedo hear each other${NATS_SERVER_PATH === undefined ? " (ignored)" : ""}`,
  ignore: NATS_SERVER_PATH === undefined,
  ...SANITIZED,
  async fn() {
    const natsServer = await startNatsServer();
    const router = new SubjectRouter();
    const server = mqttServer({
      port: 0,
      pubsub: { router, backplane: { servers: [`nats://127.0.0.1:${natsServer.port}`] } },
    });
    // Speedo B: NATS only, on the same backplane.
    const speedoB = pubsubServer({
      port: 0,
      pubsub: { backplane: { servers: [`nats://127.0.0.1:${natsServer.port}`] } },
    });
    let client: mqtt.MqttClient | undefined;
    let nc: nats.NatsConnection | undefined;
    let onB: nats.NatsConnection | undefined;
    try {
      const { port } = await server.listen();
      const { port: portB } = await speedoB.listen();
      onB = await nats.connect({ servers: `127.0.0.1:${portB}` });
      const bSide = natsInbox(onB, "bp.>");
      // Speedo B answers the PING once nats-server knows the subscription.
      await onB.flush();
      client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      const inbox = new MqttInbox(client);
      await client.subscribeAsync("bp/+", { qos: 1 });
      // The SUBACK does not wait for nats-server; the router's barrier does.
      await within(
        new Promise<void>((resolve) => {
          if (router.whenInterestKnown(router.interestSerial, resolve)) resolve();
        }),
        "nats-server to know the MQTT interest",
      );
      nc = await nats.connect({ servers: `127.0.0.1:${natsServer.port}` });
      const natsSide = natsInbox(nc, "bp.*");
      await nc.flush();
      nc.publish("bp.1", codec.encode("from nats"));
      assertEquals(await inbox.count(1), ["bp/1 from nats q0"]);
      await client.publishAsync("bp/2", "from mqtt", { qos: 1 });
      // The NATS client hears both; the MQTT client only the first (never its own twice).
      assertEquals(await natsSide.count(2), ["bp.1 from nats", "bp.2 from mqtt Nmqtt-Pub:1"]);
      assertEquals(await bSide.count(2), ["bp.1 from nats", "bp.2 from mqtt Nmqtt-Pub:1"]);
      // Had nats-server sent bp.2 back, it would reach the bridge before bp.4.
      nc.publish("bp.4", codec.encode("end"));
      await inbox.count(3);
      assertEquals(inbox.messages, ["bp/1 from nats q0", "bp/2 from mqtt q1", "bp/4 end q0"]);
    } finally {
      await client?.endAsync(true).catch(() => {});
      for (const connection of [nc, onB]) {
        if (connection !== undefined && !connection.isClosed()) await connection.close();
      }
      await server.close();
      await speedoB.close();
      await natsServer.stop();
    }
  },
});
