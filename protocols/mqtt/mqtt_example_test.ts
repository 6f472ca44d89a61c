/** `examples/mqtt.ts` as a person runs it: start, mosquitto_sub and mosquitto_pub, SIGTERM. */

import { assertEquals, assertMatch } from "@std/assert";
import { spawnExample } from "../../examples/_example_test_helper.ts";
import { MOSQUITTO_PUB_PATH, MOSQUITTO_SUB_PATH } from "../../testing/_fixtures/mosquitto.ts";
import { within } from "../../testing/_socket_client.ts";
import { RawClient } from "./_raw_client_test_helper.ts";
import { encodePublish } from "./mqtt_encoder.ts";

Deno.test({
  name: "examples/mqtt.ts: mosquitto_pub reaches mosquitto_sub, then a summary on SIGTERM",
  ignore: MOSQUITTO_PUB_PATH === undefined || MOSQUITTO_SUB_PATH === undefined,
  async fn() {
    const example = await spawnExample(["examples/mqtt.ts", "--port", "0"]);
    const port = /:(\d+);/.exec(example.firstLines)?.[1];
    try {
      const got = await subscriberGets(port!, async () => {
        await new Deno.Command(MOSQUITTO_PUB_PATH!, {
          args: ["-p", port!, "-h", "127.0.0.1", "-t", "home/kitchen", "-m", "21"],
          stdout: "null",
          stderr: "null",
        }).output();
      });
      assertEquals(got, "home/kitchen 21");
    } finally {
      example.child.kill("SIGTERM");
    }
    const text = await example.output();
    assertMatch(
      text,
      /SIGTERM: closed after .* connections, \d+ messages published, \d+ delivered/,
    );
    assertEquals((await example.child.status).code, 0);
  },
});

Deno.test({
  name: "examples/mqtt.ts --deny-subscribe: mosquitto_sub is told its subscription was denied",
  ignore: MOSQUITTO_SUB_PATH === undefined,
  async fn() {
    const example = await spawnExample([
      "examples/mqtt.ts",
      "--port",
      "0",
      "--deny-subscribe",
      "secret/#",
    ]);
    const port = /:(\d+);/.exec(example.firstLines)?.[1];
    try {
      for (const version of ["mqttv311", "mqttv5"]) {
        const { stderr } = await within(
          new Deno.Command(MOSQUITTO_SUB_PATH!, {
            args: ["-p", port!, "-h", "127.0.0.1", "-V", version, "-t", "secret/plans"],
            stdout: "null",
            stderr: "piped",
          }).output(),
          `mosquitto_sub ${version}`,
        );
        assertMatch(new TextDecoder().decode(stderr), /subscription requests were denied/);
      }
    } finally {
      example.child.kill("SIGTERM");
      await example.output();
      await example.child.status;
    }
  },
});

Deno.test({
  name: "examples/mqtt.ts --topic-aliases: an MQTT 5 subscriber that allows aliases is sent them",
  async fn() {
    const example = await spawnExample(["examples/mqtt.ts", "--port", "0", "--topic-aliases", "4"]);
    const port = Number(/:(\d+);/.exec(example.firstLines)?.[1]);
    const subscriber = await RawClient.start(port, 5, {
      clientId: "aliased",
      properties: { topicAliasMaximum: 10 },
    });
    const publisher = await RawClient.connect(port, 4, "publisher");
    try {
      assertEquals((await subscriber.next())?.type, "connack");
      await subscriber.subscribe("home/#");
      const seen: string[] = [];
      for (let i = 0; i < 2; i++) {
        await publisher.write(encodePublish({
          type: "publish",
          dup: false,
          qos: 0,
          retain: false,
          topic: "home/kitchen",
          payload: new TextEncoder().encode("21"),
        }, 4));
        const packet = await subscriber.next();
        seen.push(
          packet?.type === "publish"
            ? `${packet.topic || "''"} ${packet.properties?.topicAlias}`
            : `${packet?.type}`,
        );
      }
      assertEquals(seen, ["home/kitchen 1", "'' 1"]);
    } finally {
      subscriber.close();
      publisher.close();
      example.child.kill("SIGTERM");
      await example.output();
      await example.child.status;
    }
  },
});

Deno.test({
  name:
    "examples/mqtt.ts --nats-port: a NATS publish reaches mosquitto_sub, and SIGTERM ends both servers",
  ignore: MOSQUITTO_SUB_PATH === undefined,
  async fn() {
    const example = await spawnExample(["examples/mqtt.ts", "--port", "0", "--nats-port", "0"], 2);
    const port = /:(\d+);/.exec(example.firstLines)?.[1];
    const natsPort = Number(/NATS on [^:]+:(\d+)/.exec(example.firstLines)?.[1]);
    try {
      const nats = await Deno.connect({ hostname: "127.0.0.1", port: natsPort });
      try {
        const encoder = new TextEncoder();
        await nats.write(encoder.encode("CONNECT {}\r\n"));
        const got = await subscriberGets(port!, async () => {
          await nats.write(encoder.encode("PUB home.kitchen 2\r\n21\r\n"));
        });
        assertEquals(got, "home/kitchen 21");
      } finally {
        nats.close();
      }
    } finally {
      example.child.kill("SIGTERM");
    }
    assertMatch(await example.output(), /SIGTERM: closed after/);
    assertEquals((await example.child.status).code, 0);
  },
});

/**
 * What a `mosquitto_sub -t 'home/#' -v -C 1` on `port` prints, publishing (`publishOnce`) until
 * it got a message: it may not have subscribed yet when the first one goes.
 */
async function subscriberGets(port: string, publishOnce: () => Promise<void>): Promise<string> {
  const subscriber = new Deno.Command(MOSQUITTO_SUB_PATH!, {
    args: ["-p", port, "-h", "127.0.0.1", "-t", "home/#", "-v", "-C", "1"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let output: Deno.CommandOutput | undefined;
  const done = subscriber.output().then((result) => output = result);
  await within(
    (async () => {
      while (output === undefined) {
        await publishOnce();
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([done, new Promise((resolve) => timer = setTimeout(resolve, 50))]);
        clearTimeout(timer);
      }
    })(),
    "mosquitto_sub's message",
  );
  return new TextDecoder().decode(output!.stdout).trim();
}
