/** The SQLite store alone: what it keeps comes back, and files it must not use are refused. */

import { assertEquals, assertThrows } from "@std/assert";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "./sqlite_store.ts";
import { MqttStoreError } from "./mqtt_store.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const SUBSCRIPTION = {
  filter: "x/+",
  options: { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 9 },
} as const;
/** A delivery that keeps its message in its own row. */
const SOLO = {
  message: { topic: "solo", payload: new Uint8Array([4]), qos: 1, retain: true, expiresAt: 9 },
  qos: 1,
  retain: false,
  subscriptionIds: [],
  packetId: 3,
} as const;

async function withPath(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/store.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "SqliteStore keeps sessions, subscriptions, deliveries, QoS 2 ids and retained messages",
  ...SANITIZED,
  async fn() {
    await withPath((path) => {
      const store = new SqliteStore(path);
      store.putSession({ clientId: "a", expiryInterval: 60, disconnectedAt: 1000 });
      store.putSession({ clientId: "b", expiryInterval: 0xffffffff });
      store.putSubscription("a", SUBSCRIPTION);
      const message = store.putMessage({
        topic: "x/y",
        payload: new Uint8Array([1, 2, 3]),
        qos: 2,
        retain: false,
        properties: { correlationData: new Uint8Array([0, 255]), userProperties: [["k", "v"]] },
        expiresAt: 5000,
      });
      const first = store.putDelivery("a", {
        messageId: message,
        qos: 2,
        retain: false,
        subscriptionIds: [9],
      });
      const second = store.putDelivery("a", {
        messageId: message,
        qos: 1,
        retain: true,
        subscriptionIds: [],
        packetId: 4,
      });
      const inline = store.putDelivery("b", SOLO);
      store.updateDelivery(first, 7, true);
      store.putIncomingQos2("b", 12);
      store.putIncomingQos2("b", 13);
      store.deleteIncomingQos2("b", 12);
      store.putRetained({ topic: "r", payload: new Uint8Array([9]), qos: 1, retain: true });
      store.putRetained({ topic: "gone", payload: new Uint8Array([9]), qos: 0, retain: true });
      store.deleteRetained("gone");
      store.close();

      const again = new SqliteStore(path);
      const contents = again.load();
      again.close();
      assertEquals(contents.sessions, [
        { clientId: "a", expiryInterval: 60, disconnectedAt: 1000 },
        { clientId: "b", expiryInterval: 0xffffffff },
      ]);
      assertEquals(contents.subscriptions.get("a"), [SUBSCRIPTION]);
      assertEquals(contents.deliveries.get("a"), [
        {
          id: first,
          messageId: message,
          qos: 2,
          retain: false,
          subscriptionIds: [9],
          packetId: 7,
          released: true,
        },
        {
          id: second,
          messageId: message,
          qos: 1,
          retain: true,
          subscriptionIds: [],
          packetId: 4,
          released: false,
        },
      ]);
      assertEquals(contents.deliveries.get("b"), [{ id: inline, ...SOLO, released: false }]);
      assertEquals(contents.messages.get(message), {
        topic: "x/y",
        payload: new Uint8Array([1, 2, 3]),
        qos: 2,
        retain: false,
        properties: { correlationData: new Uint8Array([0, 255]), userProperties: [["k", "v"]] },
        expiresAt: 5000,
      });
      assertEquals(contents.incomingQos2.get("b"), [13]);
      assertEquals(contents.retained.map((m) => m.topic), ["r"]);
    });
  },
});

Deno.test({
  name: "SqliteStore: what was not committed is lost whole, what was is kept",
  ...SANITIZED,
  async fn() {
    await withPath((path) => {
      const store = new SqliteStore(path);
      store.putSession({ clientId: "kept", expiryInterval: 60 });
      store.commit();
      store.putSession({ clientId: "lost", expiryInterval: 60 });
      // A second connection reads what a crash would leave: the committed rows only. (The
      // store's lock is exclusive, so read the file's copy after closing without committing.)
      const copy = `${path}.copy`;
      Deno.copyFileSync(path, copy);
      try {
        Deno.copyFileSync(`${path}-wal`, `${copy}-wal`);
      } catch {
        // No WAL yet: everything is in the main file.
      }
      store.close();
      const reader = new SqliteStore(copy);
      assertEquals(reader.load().sessions.map((s) => s.clientId), ["kept"]);
      reader.close();
    });
  },
});

Deno.test({
  name:
    "SqliteStore refuses a text file, another application's database, a newer schema, a damaged file and a second opener",
  ...SANITIZED,
  async fn() {
    await withPath(async (path) => {
      await Deno.writeTextFile(path, "not a database at all, just text\n");
      assertThrows(() => new SqliteStore(path), MqttStoreError, "not an SQLite database");
      await Deno.remove(path);

      const foreign = new DatabaseSync(path);
      foreign.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)");
      foreign.close();
      assertThrows(() => new SqliteStore(path), MqttStoreError, "another application's");
      await Deno.remove(path);

      new SqliteStore(path).close();
      const newer = new DatabaseSync(path);
      newer.exec("PRAGMA user_version = 99");
      newer.close();
      assertThrows(() => new SqliteStore(path), MqttStoreError, "newer Speedo");
      await Deno.remove(path);

      // Many rows, then garbage over the middle pages: quick_check (or SQLite itself) sees it.
      const store = new SqliteStore(path);
      const payload = new Uint8Array(3000).fill(7);
      for (let i = 0; i < 200; i++) {
        store.putMessage({ topic: `t/${i}`, payload, qos: 1, retain: false });
      }
      store.close();
      const bytes = await Deno.readFile(path);
      bytes.fill(0xa5, 8192, bytes.length - 8192);
      await Deno.writeFile(path, bytes);
      assertThrows(() => new SqliteStore(path), MqttStoreError, "damaged");
      await Deno.remove(path);

      const owner = new SqliteStore(path);
      try {
        assertThrows(() => new SqliteStore(path), MqttStoreError, "another process");
      } finally {
        owner.close();
      }
    });
  },
});
