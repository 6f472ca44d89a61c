/**
 * MQTT over WebSocket: the npm mqtt client at both levels through `mqttServer({ websocket })`,
 * a TCP server and a WebSocket one sharing a broker, and a page of another origin refused.
 * The client's own timers outlive it now and then (see `mqtt_clients_test.ts`): not sanitized.
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import mqtt from "mqtt";
import { Broker } from "./mqtt_broker.ts";
import { mqttServer } from "./mqtt_server.ts";
import { within } from "../../testing/_socket_client.ts";

const UNSANITIZED = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "MQTT over WebSocket: a TCP client and a WebSocket client share one broker (3.1.1 and 5.0)",
  ...UNSANITIZED,
  async fn() {
    const broker = new Broker();
    await using tcp = mqttServer({ port: 0, mqtt: { broker } });
    await using ws = mqttServer({ port: 0, mqtt: { broker }, websocket: {} });
    const tcpPort = (await tcp.listen() as Deno.NetAddr).port;
    const wsPort = (await ws.listen() as Deno.NetAddr).port;
    for (const protocolVersion of [4, 5] as const) {
      const browser = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/`, {
        protocolVersion,
        reconnectPeriod: 0,
      });
      const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${tcpPort}`, {
        protocolVersion,
        reconnectPeriod: 0,
      });
      try {
        await browser.subscribeAsync("sensors/+", { qos: 1 });
        const got = new Promise<string>((resolve) =>
          browser.once("message", (topic, payload) => resolve(`${topic} ${payload}`))
        );
        await device.publishAsync("sensors/t1", "20.5", { qos: 1 });
        assertEquals(await within(got, "the message over WebSocket"), "sensors/t1 20.5");
      } finally {
        await browser.endAsync(true);
        await device.endAsync(true);
      }
    }
  },
});

Deno.test({
  name: "MQTT over WebSocket: a page of another origin is refused (403), the subprotocol is mqtt",
  ...UNSANITIZED,
  async fn() {
    await using server = mqttServer({ port: 0, websocket: {} });
    const { port } = await server.listen() as Deno.NetAddr;
    const handshake = async (origin: string | undefined) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
            `Sec-WebSocket-Protocol: mqtt\r\n${
              origin === undefined ? "" : `Origin: ${origin}\r\n`
            }\r\n`,
        ));
        const buffer = new Uint8Array(1024);
        const count = await within(conn.read(buffer), "the handshake's answer");
        return new TextDecoder().decode(buffer.subarray(0, count ?? 0));
      } finally {
        conn.close();
      }
    };
    const other = await handshake("http://evil.example");
    assertStringIncludes(other, "403");
    const same = await handshake(`http://127.0.0.1:${port}`);
    assertStringIncludes(same, "101");
    assertStringIncludes(same.toLowerCase(), "sec-websocket-protocol: mqtt");
  },
});
