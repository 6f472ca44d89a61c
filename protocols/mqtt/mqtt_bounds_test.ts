/** The broker's bounds with their policies, over real sockets with raw packets, sanitized. */

import { assertEquals } from "@std/assert";
import { mqttServer } from "./mqtt_server.ts";
import { RawClient } from "./_raw_client_test_helper.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name:
    "mqttServer: past maxSessions a new session is refused (0x97 in 5.0, 3 in 3.1.1); kept ones resume",
  ...SANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0, mqtt: { maxSessions: 2 } });
    const { port } = await server.listen();
    const { client: a } = await RawClient.session(port, { clientId: "a", cleanStart: false });
    const { client: b } = await RawClient.session(port, { level: 5, clientId: "b" });
    const { client: c5, connack: refused5 } = await RawClient.session(port, {
      level: 5,
      clientId: "c",
    });
    assertEquals(refused5.reasonCode, 0x97);
    assertEquals(await c5.next(), undefined);
    const { client: c4, connack: refused4 } = await RawClient.session(port, { clientId: "c" });
    assertEquals(refused4.reasonCode, 3);
    assertEquals(await c4.next(), undefined);
    // The session kept for "a" resumes (no new session needed), and "b" is unaffected.
    a.close();
    const { client: again, connack } = await RawClient.session(port, {
      clientId: "a",
      cleanStart: false,
    });
    assertEquals([connack.reasonCode, connack.sessionPresent], [0, true]);
    await b.writePacket({ type: "pingreq" });
    await b.expect("pingresp");
    assertEquals(server.broker.refusedSessions, 2);
    for (const client of [again, b, c4, c5]) client.close();
  },
});
