/**
 * The broker killed with SIGKILL in the middle of 10,000 QoS 1 and 10,000 QoS 2 messages to a
 * persistent session, then started again on the same store: every message arrives, QoS 1 at
 * least once, QoS 2 exactly once. The broker is `examples/mqtt.ts --store` in its own process;
 * the clients are the npm `mqtt` client, reconnecting on their own as deployed clients do.
 */

import { assert, assertEquals } from "@std/assert";
import mqtt from "mqtt";
import { type SpawnedExample, spawnExample } from "../../examples/_example_test_helper.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";

/** Not sanitized: the npm mqtt client keeps timers of its own (see mqtt_clients_test.ts). */
const SANITIZED = { sanitizeOps: false, sanitizeResources: false };
const COUNT = 10_000;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test({
  name:
    "MQTT store: kill -9 during 10,000 QoS 1 and 10,000 QoS 2 messages loses none, duplicates no QoS 2",
  ...SANITIZED,
  async fn() {
    const dir = await Deno.makeTempDir();
    const port = freePort();
    const start = () =>
      spawnExample(["examples/mqtt.ts", "--port", String(port), "--store", `${dir}/mqtt.db`]);
    let broker: SpawnedExample | undefined = await start();
    const options = { reconnectPeriod: 50, connectTimeout: 5_000, clean: false, keepalive: 30 };
    const url = `mqtt://127.0.0.1:${port}`;
    const subscriber = mqtt.connect(url, { ...options, clientId: "durable-subscriber" });
    const publisher = mqtt.connect(url, { ...options, clientId: "durable-publisher" });
    const q1 = new Map<number, number>();
    const q2 = new Map<number, number>();
    subscriber.on("message", (topic, payload) => {
      const seen = topic === "load/q1" ? q1 : q2;
      const n = Number(new TextDecoder().decode(payload));
      seen.set(n, (seen.get(n) ?? 0) + 1);
    });
    try {
      await within(subscriber.subscribeAsync("load/#", { qos: 2 }), "SUBACK");
      for (let n = 0; n < COUNT; n++) {
        // Not awaited: mqtt.js keeps each in its store until acknowledged, and sends it again
        // after a reconnect, as a deployed client would.
        publisher.publish("load/q1", String(n), { qos: 1 });
        publisher.publish("load/q2", String(n), { qos: 2 });
      }
      await waitFor(() => q1.size + q2.size >= COUNT / 2, "a quarter of the messages", 30_000);
      broker.child.kill("SIGKILL");
      await broker.child.status;
      await broker.output();
      const beforeKill = q1.size + q2.size;
      broker = await start();
      await waitFor(
        () => q1.size === COUNT && q2.size === COUNT,
        "every message after the restart",
        60_000,
      );
      assert(beforeKill < 2 * COUNT, "the broker was killed with messages still owed");
      const duplicatedQos2 = [...q2].filter(([, times]) => times > 1).length;
      assertEquals(duplicatedQos2, 0, "QoS 2 messages delivered twice");
      const duplicatedQos1 = [...q1].filter(([, times]) => times > 1).length;
      console.log(
        `  ${beforeKill} of ${
          2 * COUNT
        } received before the kill; QoS 1 duplicates after it: ${duplicatedQos1}`,
      );
    } finally {
      await Promise.all([subscriber.endAsync(true), publisher.endAsync(true)]);
      if (broker !== undefined) {
        broker.child.kill("SIGTERM");
        await broker.output();
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
