/**
 * The broker's store in one SQLite file, through `node:sqlite` (built into Deno 2.9): WAL
 * journal, one transaction per {@linkcode SqliteStore.commit}, the file locked to one process.
 *
 * Durability: with `synchronous: "normal"` (the default) a commit survives the process being
 * killed (`kill -9` included: the WAL is in the kernel's page cache); a power cut may lose the
 * last commits, never the file. `"full"` syncs every commit to the disk as well, at a cost.
 *
 * The file is refused with a {@linkcode MqttStoreError} when it is not SQLite, is another
 * application's database, is damaged (`PRAGMA quick_check`), comes from a newer schema, or is
 * open in another process.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Properties, QoS } from "./mqtt_packets.ts";
import type { SubscriptionEntry } from "./subscription_tree.ts";
import {
  type MqttStore,
  MqttStoreError,
  type StoreContents,
  type StoredDelivery,
  type StoredMessage,
  type StoredSession,
} from "./mqtt_store.ts";

/** `PRAGMA application_id` of a Speedo MQTT store: "SPMQ". */
const APPLICATION_ID = 0x53504d51;
/** The schema this code writes; an older one would be migrated here (there is none yet). */
const SCHEMA_VERSION = 1;
const SQLITE_MAGIC = "SQLite format 3\0";

const SCHEMA = `
CREATE TABLE sessions (
  client_id TEXT PRIMARY KEY,
  expiry_interval INTEGER NOT NULL,
  disconnected_at INTEGER
) WITHOUT ROWID;
CREATE TABLE subscriptions (
  client_id TEXT NOT NULL,
  filter TEXT NOT NULL,
  qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL,
  retain_handling INTEGER NOT NULL,
  subscription_id INTEGER,
  PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER
);
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  subscription_ids TEXT,
  packet_id INTEGER,
  released INTEGER NOT NULL DEFAULT 0,
  -- The message: a row of messages (shared by several deliveries), or in the columns below.
  message_id INTEGER,
  topic TEXT,
  payload BLOB,
  message_qos INTEGER,
  message_retain INTEGER,
  properties TEXT,
  expires_at INTEGER
);
CREATE INDEX deliveries_by_client ON deliveries (client_id, id);
CREATE TABLE incoming_qos2 (
  client_id TEXT NOT NULL,
  packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
CREATE TABLE retained (
  topic TEXT PRIMARY KEY,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER
) WITHOUT ROWID;
`;

/** Options of {@linkcode SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * `"normal"`: commits survive the process's death; `"full"`: they survive a power cut too
   * (each commit waits for the disk).
   *
   * @default {"normal"}
   */
  synchronous?: "normal" | "full";
}

type Row = Record<string, unknown>;

/**
 * A broker's store in an SQLite file. Writes go into one open transaction; {@linkcode commit}
 * ends it.
 *
 * @example A session saved, then read back by a second store on the same file
 * ```ts
 * import { SqliteStore } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile({ suffix: ".db" });
 * await Deno.remove(path); // a new store makes its file
 * const store = new SqliteStore(path);
 * store.putSession({ clientId: "sensor-1", expiryInterval: 3600 });
 * store.close();
 * const again = new SqliteStore(path);
 * assertEquals(again.load().sessions.map((s) => s.clientId), ["sensor-1"]);
 * again.close();
 * await Deno.remove(path);
 * ```
 */
export class SqliteStore implements MqttStore {
  /** The file's path. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #inTransaction = false;
  /** The two inserts of every QoS 1 and 2 message, prepared once. */
  #insertMessage: StatementSync | undefined;
  #insertDelivery: StatementSync | undefined;
  /**
   * Rows deleted since the last commit, deleted together at the commit: one statement per
   * table instead of one per message (what a broker under load deletes most).
   */
  #deadDeliveries: number[] = [];
  #deadMessages: number[] = [];
  #closed = false;

  /**
   * Opens (or makes) the store at `path`.
   *
   * @param path The file; made when absent.
   * @param options Durability.
   * @throws {MqttStoreError} When the file is not a Speedo MQTT store, is damaged, is newer,
   *   or is open in another process.
   */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    checkMagic(path);
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw new MqttStoreError(path, `cannot open it (${messageOf(error)})`, { cause: error });
    }
    this.#db = db;
    try {
      // One process at a time: the lock is taken by the first write below and kept.
      db.exec("PRAGMA busy_timeout = 0");
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      this.#checkOrCreate();
    } catch (error) {
      db.close();
      if (error instanceof MqttStoreError) throw error;
      const text = messageOf(error);
      const why = /locked|busy/i.test(text)
        ? "it is open in another process (one broker per store)"
        : /not a database|malformed|corrupt/i.test(text)
        ? `it is damaged (${text})`
        : text;
      throw new MqttStoreError(path, why, { cause: error });
    }
  }

  #checkOrCreate(): void {
    const db = this.#db;
    // BEGIN IMMEDIATE takes the write lock now: a second process fails here, not later.
    db.exec("BEGIN IMMEDIATE");
    try {
      const applicationId = Number(
        (db.prepare("PRAGMA application_id").get() as Row)
          .application_id,
      );
      const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all() as Row[]).map((row) => String(row.name));
      if (applicationId === 0 && tables.length === 0) {
        db.exec(SCHEMA);
        db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      } else if (applicationId !== APPLICATION_ID) {
        throw new MqttStoreError(
          this.path,
          `not a Speedo MQTT store (another application's SQLite database: application_id ${applicationId}, tables ${
            tables.slice(0, 5).join(", ") || "none"
          })`,
        );
      } else if (version > SCHEMA_VERSION) {
        throw new MqttStoreError(
          this.path,
          `written by a newer Speedo (schema ${version}; this one reads up to ${SCHEMA_VERSION})`,
        );
      } else {
        const check = db.prepare("PRAGMA quick_check").all() as Row[];
        const verdict = check.map((row) => String(Object.values(row)[0])).join("; ");
        if (verdict !== "ok") throw new MqttStoreError(this.path, `it is damaged (${verdict})`);
      }
      db.exec("COMMIT");
    } catch (error) {
      try {
        db.exec("ROLLBACK");
      } catch {
        // No transaction left to roll back (BEGIN itself failed).
      }
      throw error;
    }
  }

  /** Opens the batch's transaction if it is not open yet. */
  #begin(): void {
    if (this.#closed) throw new MqttStoreError(this.path, "it is closed");
    if (!this.#inTransaction) {
      this.#db.exec("BEGIN");
      this.#inTransaction = true;
    }
  }

  /** A prepared statement, made once. */
  #run(sql: string, ...params: (string | number | null | Uint8Array)[]): number {
    this.#begin();
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, statement = this.#db.prepare(sql));
    return Number(statement.run(...params).lastInsertRowid);
  }

  load(): StoreContents {
    const db = this.#db;
    // Messages no delivery refers to (none after a clean run; kept tidy all the same).
    this.#run(
      "DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM deliveries WHERE message_id IS NOT NULL)",
    );
    this.commit();
    const sessions = (db.prepare("SELECT * FROM sessions").all() as Row[]).map((row) => ({
      clientId: String(row.client_id),
      expiryInterval: Number(row.expiry_interval),
      ...(row.disconnected_at === null ? {} : { disconnectedAt: Number(row.disconnected_at) }),
    }));
    const subscriptions = new Map<string, SubscriptionEntry[]>();
    for (const row of db.prepare("SELECT * FROM subscriptions").all() as Row[]) {
      const list = subscriptions.get(String(row.client_id)) ??
        subscriptions.set(String(row.client_id), []).get(String(row.client_id))!;
      list.push({
        filter: String(row.filter),
        options: {
          qos: Number(row.qos) as QoS,
          noLocal: row.no_local === 1,
          retainAsPublished: row.retain_as_published === 1,
          retainHandling: Number(row.retain_handling) as 0 | 1 | 2,
          ...(row.subscription_id === null ? {} : { subscriptionId: Number(row.subscription_id) }),
        },
      });
    }
    const messages = new Map<number, StoredMessage>();
    for (const row of db.prepare("SELECT * FROM messages").all() as Row[]) {
      messages.set(Number(row.id), messageFrom(row));
    }
    const deliveries = new Map<string, StoredDelivery[]>();
    for (const row of db.prepare("SELECT * FROM deliveries ORDER BY id").all() as Row[]) {
      const clientId = String(row.client_id);
      const list = deliveries.get(clientId) ?? deliveries.set(clientId, []).get(clientId)!;
      list.push({
        id: Number(row.id),
        ...(row.message_id === null
          ? {
            message: messageFrom({
              ...row,
              qos: row.message_qos,
              retain: row.message_retain,
            }),
          }
          : { messageId: Number(row.message_id) }),
        qos: Number(row.qos) as QoS,
        retain: row.retain === 1,
        subscriptionIds: row.subscription_ids === null
          ? []
          : JSON.parse(String(row.subscription_ids)),
        ...(row.packet_id === null ? {} : { packetId: Number(row.packet_id) }),
        released: row.released === 1,
      });
    }
    const incomingQos2 = new Map<string, number[]>();
    for (const row of db.prepare("SELECT * FROM incoming_qos2").all() as Row[]) {
      const clientId = String(row.client_id);
      const list = incomingQos2.get(clientId) ?? incomingQos2.set(clientId, []).get(clientId)!;
      list.push(Number(row.packet_id));
    }
    const retained = (db.prepare("SELECT * FROM retained").all() as Row[]).map((row) =>
      messageFrom({ ...row, retain: 1 })
    );
    return { sessions, subscriptions, deliveries, incomingQos2, messages, retained };
  }

  putSession(session: StoredSession): void {
    this.#run(
      "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
      session.clientId,
      session.expiryInterval,
      session.disconnectedAt ?? null,
    );
  }

  deleteSession(clientId: string): void {
    this.#run("DELETE FROM sessions WHERE client_id = ?", clientId);
    this.#run("DELETE FROM subscriptions WHERE client_id = ?", clientId);
    this.#run("DELETE FROM deliveries WHERE client_id = ?", clientId);
    this.#run("DELETE FROM incoming_qos2 WHERE client_id = ?", clientId);
  }

  putSubscription(clientId: string, { filter, options }: SubscriptionEntry): void {
    this.#run(
      "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
      clientId,
      filter,
      options.qos,
      options.noLocal ? 1 : 0,
      options.retainAsPublished ? 1 : 0,
      options.retainHandling,
      options.subscriptionId ?? null,
    );
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.#run("DELETE FROM subscriptions WHERE client_id = ? AND filter = ?", clientId, filter);
  }

  putMessage(message: StoredMessage): number {
    this.#begin();
    this.#insertMessage ??= this.#db.prepare(
      "INSERT INTO messages (topic, payload, qos, retain, properties, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    return Number(
      this.#insertMessage.run(
        message.topic,
        message.payload,
        message.qos,
        message.retain ? 1 : 0,
        propertiesText(message.properties),
        message.expiresAt ?? null,
      ).lastInsertRowid,
    );
  }

  deleteMessage(id: number): void {
    this.#deadMessages.push(id);
  }

  putDelivery(clientId: string, delivery: Omit<StoredDelivery, "id">): number {
    this.#begin();
    this.#insertDelivery ??= this.#db.prepare(
      "INSERT INTO deliveries (client_id, qos, retain, subscription_ids, packet_id, released, message_id, topic, payload, message_qos, message_retain, properties, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const message = delivery.message;
    return Number(
      this.#insertDelivery.run(
        clientId,
        delivery.qos,
        delivery.retain ? 1 : 0,
        delivery.subscriptionIds.length === 0 ? null : JSON.stringify(delivery.subscriptionIds),
        delivery.packetId ?? null,
        delivery.released === true ? 1 : 0,
        delivery.messageId ?? null,
        message?.topic ?? null,
        message?.payload ?? null,
        message?.qos ?? null,
        message === undefined ? null : message.retain ? 1 : 0,
        propertiesText(message?.properties),
        message?.expiresAt ?? null,
      ).lastInsertRowid,
    );
  }

  updateDelivery(id: number, packetId: number, released: boolean): void {
    this.#run(
      "UPDATE deliveries SET packet_id = ?, released = ? WHERE id = ?",
      packetId,
      released ? 1 : 0,
      id,
    );
  }

  deleteDelivery(id: number): void {
    this.#deadDeliveries.push(id);
  }

  putIncomingQos2(clientId: string, packetId: number): void {
    this.#run("INSERT OR REPLACE INTO incoming_qos2 VALUES (?, ?)", clientId, packetId);
  }

  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#run(
      "DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?",
      clientId,
      packetId,
    );
  }

  putRetained(message: StoredMessage): void {
    this.#run(
      "INSERT OR REPLACE INTO retained VALUES (?, ?, ?, ?, ?)",
      message.topic,
      message.payload,
      message.qos,
      propertiesText(message.properties),
      message.expiresAt ?? null,
    );
  }

  deleteRetained(topic: string): void {
    this.#run("DELETE FROM retained WHERE topic = ?", topic);
  }

  commit(): void {
    if (this.#deadDeliveries.length > 0) {
      const ids = JSON.stringify(this.#deadDeliveries);
      this.#deadDeliveries = [];
      this.#run("DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))", ids);
    }
    if (this.#deadMessages.length > 0) {
      const ids = JSON.stringify(this.#deadMessages);
      this.#deadMessages = [];
      this.#run("DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))", ids);
    }
    if (!this.#inTransaction) return;
    this.#inTransaction = false;
    this.#db.exec("COMMIT");
  }

  close(): void {
    if (this.#closed) return;
    this.commit();
    this.#closed = true;
    this.#statements.clear();
    this.#insertMessage = this.#insertDelivery = undefined;
    this.#db.close();
  }
}

/** Refuses a file that exists, is not empty, and does not start as SQLite files do. */
function checkMagic(path: string): void {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new MqttStoreError(path, `cannot open it (${messageOf(error)})`, { cause: error });
  }
  try {
    const head = new Uint8Array(16);
    const read = file.readSync(head) ?? 0;
    if (read === 0) return;
    if (new TextDecoder().decode(head.subarray(0, read)) !== SQLITE_MAGIC) {
      throw new MqttStoreError(path, "not an SQLite database (its first bytes say otherwise)");
    }
  } finally {
    file.close();
  }
}

function messageFrom(row: Row): StoredMessage {
  const properties = row.properties === null || row.properties === undefined
    ? undefined
    : JSON.parse(String(row.properties), (_key, value) =>
      value !== null && typeof value === "object" && typeof value.$bytes === "string"
        ? Uint8Array.from(atob(value.$bytes), (c) =>
          c.charCodeAt(0))
        : value) as Properties;
  return {
    topic: String(row.topic),
    payload: row.payload as Uint8Array,
    qos: Number(row.qos) as QoS,
    retain: row.retain === 1,
    ...(properties === undefined ? {} : { properties }),
    ...(row.expires_at === null ? {} : { expiresAt: Number(row.expires_at) }),
  };
}

/** MQTT 5 properties as JSON, their binary values (correlation data) in base64. */
function propertiesText(properties: Properties | undefined): string | null {
  if (properties === undefined) return null;
  return JSON.stringify(
    properties,
    (_key, value) =>
      value instanceof Uint8Array ? { $bytes: btoa(String.fromCharCode(...value)) } : value,
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
