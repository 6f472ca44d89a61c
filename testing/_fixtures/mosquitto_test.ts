import { assertEquals } from "@std/assert";
import mqtt from "mqtt";
import { MOSQUITTO_PATH, startMosquitto } from "./mosquitto.ts";

Deno.test({
  name: "the mosquitto fixture: a broker that the npm mqtt client speaks to (v4 and v5)",
  ignore: MOSQUITTO_PATH === undefined,
  async fn() {
    const broker = await startMosquitto();
    try {
      for (const protocolVersion of [4, 5] as const) {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
          protocolVersion,
        });
        await client.subscribeAsync("a/+", { qos: 1 });
        const got = new Promise<string>((resolve) =>
          client.once("message", (topic, payload) => resolve(`${topic} ${payload}`))
        );
        await client.publishAsync("a/b", "hi", { qos: 1 });
        assertEquals(await got, "a/b hi");
        await client.endAsync();
      }
    } finally {
      await broker.stop();
    }
  },
});
