/** CONNECT under the server's `authenticate` hook, over real sockets, sanitized. */

import { assertEquals } from "@std/assert";
import { mqttServer } from "./mqtt_server.ts";
import { encodeConnect } from "./mqtt_encoder.ts";
import { RawClient } from "./_raw_client_test_helper.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name:
    "mqttServer: a will set at a CONNECT under authenticate goes out whole, after bytes read while it decided",
  ...SANITIZED,
  async fn() {
    let release!: () => void;
    const decided = new Promise<void>((resolve) => release = resolve);
    await using server = mqttServer({
      port: 0,
      authenticate: async () => {
        await decided;
        return { name: "device" };
      },
    });
    const { port } = await server.listen();
    const watcher = await RawClient.start(port, 4, { clientId: "watcher" });
    const device = await RawClient.open(port, 4);
    const will = new TextEncoder().encode("device went away".repeat(8));
    await device.write(encodeConnect({
      type: "connect",
      protocolName: "MQTT",
      protocolLevel: 4,
      cleanStart: true,
      keepAlive: 0,
      clientId: "device",
      will: { topic: "status/device", payload: will, qos: 0, retain: false },
    }));
    // While the check waits, more bytes arrive and are read into the same buffer: 4 KiB of
    // PINGREQ, held until the check ends.
    await device.write(new Uint8Array(4096).map((_, i) => i % 2 === 0 ? 0xc0 : 0));
    release();
    assertEquals((await watcher.next())?.type, "connack");
    await watcher.subscribe("status/#");
    assertEquals((await device.next())?.type, "connack");
    assertEquals((await device.next())?.type, "pingresp");
    device.close();
    const published = await watcher.expect("publish");
    assertEquals(new TextDecoder().decode(published.payload), "device went away".repeat(8));
    watcher.close();
  },
});
