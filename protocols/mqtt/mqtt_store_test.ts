/**
 * A broker with a store, restarted: persistent sessions, what they are owed (queued and in
 * flight, with their packet ids), incoming QoS 2 ids and retained messages come back; what
 * ends with its connection does not. Raw packets over real sockets, sanitized.
 */

import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { mqttServer } from "./mqtt_server.ts";
import { MqttStoreError } from "./mqtt_store.ts";
import { SqliteStore } from "./sqlite_store.ts";
import type { PublishPacket } from "./mqtt_packets.ts";
import { RawClient } from "./_raw_client_test_helper.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

/** Runs `fn` with a store path in a temporary directory. */
async function withStore(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/mqtt.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts a broker on `path`, runs `fn` with its port, and closes it. */
async function withBroker(path: string, fn: (port: number) => Promise<void>): Promise<void> {
  await using server = mqttServer({ port: 0, mqtt: { store: path } });
  const { port } = await server.listen();
  await fn(port);
}

function publish(packetId: number, qos: 0 | 1 | 2, payload: string, retain = false): PublishPacket {
  return {
    type: "publish",
    dup: false,
    qos,
    retain,
    topic: "t/a",
    ...(qos > 0 ? { packetId } : {}),
    payload: bytes(payload),
  };
}

Deno.test({
  name:
    "MQTT store: a 3.1.1 persistent session gets, after a restart, what was published while it was away",
  ...SANITIZED,
  async fn() {
    await withStore(async (path) => {
      await withBroker(path, async (port) => {
        const { client: sub } = await RawClient.session(port, {
          clientId: "sub",
          cleanStart: false,
        });
        await sub.subscribe("t/#", 2);
        await sub.writePacket({ type: "disconnect", reasonCode: 0 });
        assertEquals(await sub.next(), undefined);
        sub.close();
        const { client: pub } = await RawClient.session(port, { clientId: "pub" });
        for (let i = 1; i <= 3; i++) {
          await pub.writePacket(publish(i, 1, `q1-${i}`));
          await pub.expect("puback");
          await pub.writePacket(publish(10 + i, 2, `q2-${i}`));
          await pub.expect("pubrec");
          await pub.writePacket({ type: "pubrel", packetId: 10 + i, reasonCode: 0 });
          await pub.expect("pubcomp");
        }
        await pub.writePacket(publish(0, 0, "offline QoS 0 is not kept"));
        await pub.writePacket(publish(20, 1, "on", true));
        await pub.expect("puback");
        pub.close();
      });
      await withBroker(path, async (port) => {
        const { client: sub, connack } = await RawClient.session(port, {
          clientId: "sub",
          cleanStart: false,
        });
        assert(connack.sessionPresent);
        const got: string[] = [];
        let released = 0;
        while (got.length < 7 || released < 3) {
          const packet = await sub.next();
          if (packet?.type === "pubrel") {
            released++;
            await sub.writePacket({ type: "pubcomp", packetId: packet.packetId, reasonCode: 0 });
            continue;
          }
          if (packet?.type !== "publish") {
            throw new Error(`a PUBLISH or PUBREL, got ${packet?.type}`);
          }
          got.push(`${packet.qos}:${text(packet.payload)}`);
          const ack = packet.qos === 1 ? "puback" : "pubrec";
          await sub.writePacket({ type: ack, packetId: packet.packetId!, reasonCode: 0 });
        }
        // PINGRESP comes after the broker read every acknowledgement before it.
        await sub.writePacket({ type: "pingreq" });
        await sub.expect("pingresp");
        assertEquals(got, ["1:q1-1", "2:q2-1", "1:q1-2", "2:q2-2", "1:q1-3", "2:q2-3", "1:on"]);
        // A new subscriber gets the retained message the store kept.
        const { client: other } = await RawClient.session(port, { clientId: "other" });
        await other.subscribe("t/a", 0);
        const retained = await other.expect("publish");
        assertEquals([text(retained.payload), retained.retain], ["on", true]);
        sub.close();
        other.close();
      });
      // Everything was acknowledged: the store owes nothing now.
      const store = new SqliteStore(path);
      const contents = store.load();
      store.close();
      assertEquals(contents.deliveries.size, 0);
      assertEquals(contents.messages.size, 0);
      assertEquals(contents.sessions.map((s) => s.clientId), ["sub"]);
    });
  },
});

Deno.test({
  name:
    "MQTT store: in-flight QoS 1 and 2 keep their packet ids across a restart (PUBLISH with DUP, PUBREL)",
  ...SANITIZED,
  async fn() {
    await withStore(async (path) => {
      let ids: number[] = [];
      await withBroker(path, async (port) => {
        const { client: sub } = await RawClient.session(port, {
          level: 5,
          clientId: "sub",
          cleanStart: true,
          sessionExpiry: 3600,
        });
        await sub.subscribe("t/a", 2);
        const { client: pub } = await RawClient.session(port, { clientId: "pub" });
        await pub.writePacket(publish(1, 1, "one"));
        await pub.writePacket(publish(2, 2, "two"));
        const first = await sub.expect("publish");
        const second = await sub.expect("publish");
        ids = [first.packetId!, second.packetId!];
        // The QoS 2 one is received (PUBREL owed); the QoS 1 one never acknowledged.
        await sub.writePacket({ type: "pubrec", packetId: second.packetId!, reasonCode: 0 });
        assertEquals((await sub.expect("pubrel")).packetId, second.packetId);
        sub.close();
        pub.close();
      });
      await withBroker(path, async (port) => {
        const { client: sub, connack } = await RawClient.session(port, {
          level: 5,
          clientId: "sub",
          cleanStart: false,
          sessionExpiry: 3600,
        });
        assert(connack.sessionPresent);
        const again = await sub.expect("publish");
        assertEquals([again.packetId, again.dup, text(again.payload)], [ids[0], true, "one"]);
        assertEquals((await sub.expect("pubrel")).packetId, ids[1]);
        await sub.writePacket({ type: "puback", packetId: ids[0], reasonCode: 0 });
        await sub.writePacket({ type: "pubcomp", packetId: ids[1], reasonCode: 0 });
        // Nothing else comes: a PINGRESP is the next packet.
        await sub.writePacket({ type: "pingreq" });
        await sub.expect("pingresp");
        sub.close();
      });
    });
  },
});

Deno.test({
  name: "MQTT store: an incoming QoS 2 message sent again after a restart is not delivered twice",
  ...SANITIZED,
  async fn() {
    await withStore(async (path) => {
      await withBroker(path, async (port) => {
        const { client: sub } = await RawClient.session(port, {
          clientId: "sub",
          cleanStart: false,
        });
        await sub.subscribe("t/a", 0);
        const { client: pub } = await RawClient.session(port, {
          clientId: "pub",
          cleanStart: false,
        });
        await pub.writePacket(publish(7, 2, "once"));
        await pub.expect("pubrec");
        assertEquals(text((await sub.expect("publish")).payload), "once");
        // The publisher never saw the PUBREC (say), and the broker stops.
        pub.close();
        sub.close();
      });
      await withBroker(path, async (port) => {
        const { client: sub } = await RawClient.session(port, {
          clientId: "sub",
          cleanStart: false,
        });
        const { client: pub } = await RawClient.session(port, {
          clientId: "pub",
          cleanStart: false,
        });
        await pub.writePacket({ ...publish(7, 2, "once"), dup: true });
        await pub.expect("pubrec");
        await pub.writePacket({ type: "pubrel", packetId: 7, reasonCode: 0 });
        await pub.expect("pubcomp");
        await pub.writePacket(publish(0, 0, "after"));
        // The subscriber's next message is the one after: "once" was not delivered again.
        assertEquals(text((await sub.expect("publish")).payload), "after");
        sub.close();
        pub.close();
      });
    });
  },
});

Deno.test({
  name: "MQTT store: clean sessions are not kept, expired sessions are gone after a restart",
  ...SANITIZED,
  async fn() {
    await withStore(async (path) => {
      await withBroker(path, async (port) => {
        const { client } = await RawClient.session(port, { clientId: "clean" });
        await client.subscribe("x", 1);
        client.close();
      });
      // A session whose client went away 10 s ago with 5 s to live.
      const store = new SqliteStore(path);
      assertEquals(store.load().sessions, []);
      store.putSession({ clientId: "old", expiryInterval: 5, disconnectedAt: Date.now() - 10_000 });
      store.close();
      await withBroker(path, async (port) => {
        const { client, connack } = await RawClient.session(port, {
          level: 5,
          clientId: "old",
          cleanStart: false,
          sessionExpiry: 60,
        });
        assertFalse(connack.sessionPresent);
        client.close();
      });
    });
  },
});

Deno.test({
  name: "MQTT store: a file that is not a store stops the server from being made, with the reason",
  ...SANITIZED,
  async fn() {
    await withStore(async (path) => {
      await Deno.writeTextFile(path, "{}");
      assertThrows(
        () => mqttServer({ port: 0, mqtt: { store: path } }),
        MqttStoreError,
        "not an SQLite database",
      );
    });
  },
});

Deno.test({
  name:
    "MQTT store: a store that fails (a full disk, say) is logged once; the broker goes on in memory",
  ...SANITIZED,
  async fn() {
    await withStore(async (path) => {
      const store = new SqliteStore(path);
      let full = false;
      const failing = new Proxy(store, {
        get(target, key) {
          if (key === "commit" && full) {
            return () => {
              throw new Error("database or disk is full");
            };
          }
          const value = Reflect.get(target, key);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const { error } = console;
      const logged: string[] = [];
      console.error = (...data: unknown[]) => void logged.push(data.join(" "));
      try {
        await using server = mqttServer({ port: 0, mqtt: { store: failing } });
        const { port } = await server.listen();
        const { client: sub } = await RawClient.session(port, {
          clientId: "sub",
          cleanStart: false,
        });
        await sub.subscribe("t/a", 1);
        full = true;
        const { client: pub } = await RawClient.session(port, { clientId: "pub" });
        for (let i = 1; i <= 3; i++) {
          await pub.writePacket(publish(i, 1, `m${i}`));
          await pub.expect("puback");
          const delivered = await sub.expect("publish");
          assertEquals(text(delivered.payload), `m${i}`);
          await sub.writePacket({ type: "puback", packetId: delivered.packetId!, reasonCode: 0 });
        }
        assertEquals(server.broker.persistence?.failures, 1);
        sub.close();
        pub.close();
      } finally {
        console.error = error;
      }
      assertEquals(logged.length, 1);
      assert(logged[0].includes("goes on in memory only"), logged[0]);
    });
  },
});
