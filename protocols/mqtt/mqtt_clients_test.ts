/**
 * MQTT client scenarios with real clients — the npm `mqtt` client (protocol levels 4 and 5)
 * and Debian's `mosquitto_pub`/`mosquitto_sub` — run against every broker in `BROKERS`: a real
 * mosquitto started by the test (the reference), and Speedo's broker once it is registered
 * there. The same expectations hold on each, so what passes on mosquitto is what MQTT clients
 * expect.
 */

import { assert, assertEquals } from "@std/assert";
import mqtt from "mqtt";
import {
  MOSQUITTO_PATH,
  MOSQUITTO_PUB_PATH,
  MOSQUITTO_SUB_PATH,
  startMosquitto,
} from "../../testing/_fixtures/mosquitto.ts";
import { within } from "../../testing/_socket_client.ts";
import { mqttServer } from "./mqtt_server.ts";

/**
 * Not sanitized: the npm mqtt client keeps timers of its own under Deno that outlive
 * `endAsync` and, now and then, land in a later test. The broker's own timers and sockets are
 * checked, sanitized, with raw sockets in `mqtt_server_test.ts`.
 */
const SANITIZED = { sanitizeOps: false, sanitizeResources: false };

/** A running broker. */
interface RunningBroker {
  readonly port: number;
  stop(): Promise<void>;
}

/** A broker the scenarios run against. */
export interface BrokerTarget {
  readonly name: string;
  /** Why its tests are ignored, or `undefined` when they run. */
  readonly missing: string | undefined;
  start(): Promise<RunningBroker>;
}

const mosquitto: BrokerTarget = {
  name: "mosquitto",
  missing: MOSQUITTO_PATH === undefined ? "mosquitto not installed" : undefined,
  start: () => startMosquitto(),
};

const speedo: BrokerTarget = {
  name: "Speedo",
  missing: undefined,
  async start() {
    const server = mqttServer({ port: 0 });
    const { port } = await server.listen();
    return { port, stop: () => server.close() };
  },
};

/** The brokers under test. */
export const BROKERS: BrokerTarget[] = [speedo, mosquitto];

type Level = 4 | 5;

/** Messages a client received, awaited by count with a deadline. */
class Inbox {
  readonly messages: { topic: string; payload: string; packet: mqtt.IPublishPacket }[] = [];
  #waiter: (() => void) | undefined;

  constructor(client: mqtt.MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), packet });
      this.#waiter?.();
    });
  }

  async count(n: number, what = `${n} messages`): Promise<Inbox["messages"]> {
    await within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.messages.length >= n) resolve();
        };
        this.#waiter = check;
        check();
      }),
      `${what}, got ${JSON.stringify(this.messages.map((m) => `${m.topic} ${m.payload}`))}`,
    );
    this.#waiter = undefined;
    return this.messages;
  }
}

async function connect(
  port: number,
  level: Level,
  options: mqtt.IClientOptions = {},
): Promise<mqtt.MqttClient> {
  return await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: level,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
}

/** Closes every client given, forcibly when the broker is gone. */
async function closeAll(...clients: (mqtt.MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((client) => client?.endAsync(true).catch(() => {})));
}

for (const broker of BROKERS) {
  for (const level of [4, 5] as const) {
    const test = (name: string, fn: (port: number) => Promise<void>) =>
      Deno.test({
        name: `${broker.name}, MQTT ${level === 4 ? "3.1.1" : "5.0"}: ${name}`,
        ignore: broker.missing !== undefined,
        ...SANITIZED,
        async fn() {
          const running = await broker.start();
          try {
            await fn(running.port);
          } finally {
            await running.stop();
          }
        },
      });

    /** A scenario with `count` clients connected at this level, closed whatever happens. */
    const testWith = (
      name: string,
      count: number,
      fn: (clients: mqtt.MqttClient[]) => Promise<void>,
    ) =>
      test(name, async (port) => {
        const clients: mqtt.MqttClient[] = [];
        try {
          for (let i = 0; i < count; i++) clients.push(await connect(port, level));
          await fn(clients);
        } finally {
          await closeAll(...clients);
        }
      });

    testWith(
      "QoS 0, 1 and 2 through + and # filters, each delivered once at the lower QoS",
      2,
      async ([subscriber, publisher]) => {
        const inbox = new Inbox(subscriber);
        await subscriber.subscribeAsync({ "home/+/temp": { qos: 2 }, "office/#": { qos: 1 } });
        await publisher.publishAsync("home/kitchen/temp", "21", { qos: 0 });
        await publisher.publishAsync("home/hall/temp", "19", { qos: 1 });
        await publisher.publishAsync("office/a/b", "x", { qos: 2 });
        await publisher.publishAsync("office", "parent", { qos: 2 });
        await publisher.publishAsync("home/kitchen/humidity", "no", { qos: 1 });
        const got = await inbox.count(4);
        const seen = got.map((m) => `${m.topic} ${m.payload} q${m.packet.qos}`).sort();
        assertEquals(seen, [
          "home/hall/temp 19 q1",
          "home/kitchen/temp 21 q0",
          "office parent q1",
          "office/a/b x q1",
        ]);
      },
    );

    testWith(
      "a retained message reaches later subscribers, flagged retain; an empty one clears it",
      3,
      async ([publisher, late, later]) => {
        await publisher.publishAsync("status/door", "open", { qos: 1, retain: true });
        const inbox = new Inbox(late);
        await late.subscribeAsync("status/+", { qos: 1 });
        const [message] = await inbox.count(1);
        assertEquals([message.topic, message.payload, message.packet.retain], [
          "status/door",
          "open",
          true,
        ]);
        await publisher.publishAsync("status/door", "", { qos: 1, retain: true });
        const laterInbox = new Inbox(later);
        await later.subscribeAsync("status/#", { qos: 1 });
        // A PING round trip: anything retained would have come before its answer.
        await publisher.publishAsync("status/probe", "now", { qos: 1 });
        const got = await laterInbox.count(1);
        assertEquals(got.map((m) => m.topic), ["status/probe"]);
      },
    );

    test("a client that vanishes has its will published", async (port) => {
      const watcher = await connect(port, level);
      const inbox = new Inbox(watcher);
      await watcher.subscribeAsync("wills/#", { qos: 1 });
      const doomed = await connect(port, level, {
        will: { topic: "wills/doomed", payload: "gone", qos: 1, retain: false },
      });
      try {
        // No DISCONNECT: the socket just ends, as a crash or a cut network would.
        doomed.stream.destroy();
        const [will] = await inbox.count(1, "the will");
        assertEquals([will.topic, will.payload], ["wills/doomed", "gone"]);
      } finally {
        await closeAll(watcher, doomed);
      }
    });

    test("a persistent session gets what was published while it was away", async (port) => {
      const persistent = level === 4 ? { clean: false, clientId: `keeper-${level}` } : {
        clean: false,
        clientId: `keeper-${level}`,
        properties: { sessionExpiryInterval: 300 },
      };
      const first = await connect(port, level, persistent);
      await first.subscribeAsync("queue/jobs", { qos: 1 });
      await first.endAsync();
      const publisher = await connect(port, level);
      try {
        for (let i = 0; i < 5; i++) {
          await publisher.publishAsync("queue/jobs", `job ${i}`, { qos: 1 });
        }
        // Listening before the CONNACK: the owed messages follow it at once.
        const second = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
          protocolVersion: level,
          reconnectPeriod: 0,
          ...persistent,
        });
        const inbox = new Inbox(second);
        try {
          const got = await inbox.count(5);
          assertEquals(got.map((m) => m.payload), [0, 1, 2, 3, 4].map((i) => `job ${i}`));
        } finally {
          await closeAll(second);
        }
      } finally {
        await closeAll(publisher);
      }
    });

    test("a second connection with the same client id takes the session over", async (port) => {
      const first = await connect(port, level, { clientId: `twin-${level}` });
      const closed = new Promise<void>((resolve) => first.stream.once("close", () => resolve()));
      const second = await connect(port, level, { clientId: `twin-${level}` });
      try {
        await within(closed, "the first connection's close");
        assert(second.connected);
      } finally {
        await closeAll(first, second);
      }
    });

    testWith(
      "a filter starting with a wildcard does not match $-topics",
      3,
      async ([everything, dollars, publisher]) => {
        const all = new Inbox(everything);
        const dollar = new Inbox(dollars);
        await everything.subscribeAsync("#", { qos: 1 });
        await dollars.subscribeAsync("$app/#", { qos: 1 });
        await publisher.publishAsync("$app/x", "hidden", { qos: 1 });
        await publisher.publishAsync("app/x", "plain", { qos: 1 });
        assertEquals((await dollar.count(1)).map((m) => m.topic), ["$app/x"]);
        const got = await all.count(1);
        // $SYS and other broker topics aside, only the plain topic reaches "#".
        assertEquals(got.filter((m) => m.topic.startsWith("$app")).length, 0);
      },
    );

    testWith(
      "a shared subscription gives each message to one member",
      3,
      async ([member1, member2, publisher]) => {
        const members = [member1, member2];
        const inboxes = members.map((member) => new Inbox(member));
        for (const member of members) {
          await member.subscribeAsync("$share/workers/jobs/+", { qos: 1 });
        }
        for (let i = 0; i < 20; i++) await publisher.publishAsync(`jobs/${i}`, `${i}`, { qos: 1 });
        await within(
          (async () => {
            while (inboxes[0].messages.length + inboxes[1].messages.length < 20) {
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          })(),
          "20 deliveries",
        );
        const all = inboxes.flatMap((inbox) => inbox.messages.map((m) => m.payload));
        assertEquals(
          all.sort((a, b) => Number(a) - Number(b)),
          Array.from({ length: 20 }, (_, i) => `${i}`),
        );
      },
    );

    if (level === 5) {
      testWith(
        "no local: a client's own publishes skip its own subscription",
        2,
        async ([client, other]) => {
          const inbox = new Inbox(client);
          await client.subscribeAsync("chat/room", { qos: 1, nl: true });
          await client.publishAsync("chat/room", "mine", { qos: 1 });
          await other.publishAsync("chat/room", "theirs", { qos: 1 });
          assertEquals((await inbox.count(1)).map((m) => m.payload), ["theirs"]);
        },
      );

      testWith(
        "subscription identifiers come with each message",
        2,
        async ([client, publisher]) => {
          const inbox = new Inbox(client);
          await client.subscribeAsync("ids/+", {
            qos: 1,
            properties: { subscriptionIdentifier: 7 },
          });
          await client.subscribeAsync("ids/#", {
            qos: 1,
            properties: { subscriptionIdentifier: 9 },
          });
          await publisher.publishAsync("ids/a", "x", { qos: 1 });
          await inbox.count(1);
          // A marker on a topic only "ids/#" matches: whatever copies of "ids/a" come, come first.
          await publisher.publishAsync("ids/z/marker", "m", { qos: 1 });
          const got = await inbox.count(2);
          const copies = got.filter((m) => m.topic === "ids/a");
          // One copy with every matching identifier, or a copy per subscription: both are MQTT 5
          // (§3.3.4); Speedo sends one copy, mosquitto one per subscription.
          const ids = copies.flatMap((m) =>
            [m.packet.properties?.subscriptionIdentifier ?? []].flat()
          );
          assertEquals(ids.sort(), [7, 9]);
          if (broker.name === "Speedo") assertEquals(copies.length, 1);
        },
      );
    }

    Deno.test({
      name: `${broker.name}, MQTT ${level === 4 ? "3.1.1" : "5.0"}: mosquitto_pub to mosquitto_sub`,
      ignore: broker.missing !== undefined || MOSQUITTO_PUB_PATH === undefined,
      ...SANITIZED,
      async fn() {
        const running = await broker.start();
        const version = level === 4 ? "mqttv311" : "mqttv5";
        // Both command-line clients connect here, at the level under test.
        const target = ["-p", String(running.port), "-h", "127.0.0.1", "-V", version];
        const subscriber = new Deno.Command(MOSQUITTO_SUB_PATH!, {
          args: [
            ...target,
            "-t",
            "cli/#",
            "-C",
            "1",
            "-v",
            "-q",
            "1",
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          // Publish until the subscriber (which may not have subscribed yet) got one.
          let output: Deno.CommandOutput | undefined;
          const done = subscriber.output().then((result) => output = result);
          await within(
            (async () => {
              while (output === undefined) {
                await new Deno.Command(MOSQUITTO_PUB_PATH!, {
                  args: [
                    ...target,
                    "-t",
                    "cli/x",
                    "-m",
                    "hello",
                    "-q",
                    "1",
                  ],
                  stdout: "null",
                  stderr: "null",
                }).output();
                let timer: ReturnType<typeof setTimeout> | undefined;
                await Promise.race([
                  done,
                  new Promise((resolve) => timer = setTimeout(resolve, 50)),
                ]);
                clearTimeout(timer);
              }
            })(),
            "mosquitto_sub's message",
          );
          assertEquals(new TextDecoder().decode(output!.stdout).trim(), "cli/x hello");
        } finally {
          try {
            subscriber.kill();
          } catch {
            // Exited.
          }
          await subscriber.status;
          await running.stop();
        }
      },
    });
  }
}
