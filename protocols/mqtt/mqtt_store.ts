/**
 * Where a broker keeps what must survive a restart: persistent sessions (their subscriptions,
 * what they are owed, incoming QoS 2 ids) and retained messages. The broker's memory stays the
 * truth while it runs; the store is its journal, written in batches ({@linkcode MqttStore.commit})
 * and read once, when the broker starts. {@linkcode SqliteStore} is the one that ships.
 *
 * @module
 */

import type { QoS } from "./mqtt_packets.ts";
import type { BrokerMessage } from "./mqtt_broker.ts";
import type { SubscriptionEntry } from "./subscription_tree.ts";

/**
 * A message as a store keeps it: the broker's own shape (`BrokerMessage`), so that what is read
 * back is routed as it is.
 */
export type StoredMessage = BrokerMessage;

/** One delivery owed to a session, as a store keeps it. */
export interface StoredDelivery {
  /** Its row in the store. */
  readonly id: number;
  /** The message's row, when it is kept apart: shared by several deliveries. */
  readonly messageId?: number;
  /** The message itself, kept in the delivery's row: a message owed to one session. */
  readonly message?: StoredMessage;
  /** The QoS it is delivered at. */
  readonly qos: QoS;
  /** The RETAIN flag it is delivered with. */
  readonly retain: boolean;
  /** Identifiers of the subscriptions it matched. */
  readonly subscriptionIds: readonly number[];
  /** Its packet id while in flight. */
  readonly packetId?: number;
  /** Whether the client received it (QoS 2: PUBREL owed). */
  readonly released?: boolean;
}

/** A persistent session as a store keeps it. */
export interface StoredSession {
  /** Its client identifier. */
  readonly clientId: string;
  /** Seconds it outlives its connection; 0xFFFFFFFF: forever. */
  readonly expiryInterval: number;
  /** When its client went away (`Date.now()` ms); absent: it was connected. */
  readonly disconnectedAt?: number;
}

/** Everything a store holds, read when the broker starts. */
export interface StoreContents {
  /** Persistent sessions. */
  readonly sessions: readonly StoredSession[];
  /** Their subscriptions, by client id. */
  readonly subscriptions: ReadonlyMap<string, readonly SubscriptionEntry[]>;
  /** What they are owed, by client id, oldest first. */
  readonly deliveries: ReadonlyMap<string, readonly StoredDelivery[]>;
  /** Incoming QoS 2 packet ids awaiting PUBREL, by client id. */
  readonly incomingQos2: ReadonlyMap<string, readonly number[]>;
  /** Messages owed, by row. */
  readonly messages: ReadonlyMap<number, StoredMessage>;
  /** Retained messages. */
  readonly retained: readonly StoredMessage[];
}

/**
 * A broker's store. Writes may be buffered until {@linkcode commit}, which makes every write
 * before it durable at once; a crash loses what was not committed, and nothing else. The broker
 * holds back the acknowledgements a write stands for (PUBACK, PUBREC, a delivery) until the
 * commit that holds it.
 */
export interface MqttStore {
  /** Reads everything, once, when the broker starts. */
  load(): StoreContents;
  /** Adds or replaces a session. */
  putSession(session: StoredSession): void;
  /** Removes a session and all that is its: subscriptions, deliveries, QoS 2 ids. */
  deleteSession(clientId: string): void;
  /** Adds or replaces a subscription. */
  putSubscription(clientId: string, subscription: SubscriptionEntry): void;
  /** Removes a subscription. */
  deleteSubscription(clientId: string, filter: string): void;
  /** Adds a message owed to sessions; returns its row. */
  putMessage(message: StoredMessage): number;
  /** Removes a message no delivery refers to any more. */
  deleteMessage(id: number): void;
  /** Adds a delivery, with its message's row or with the message itself; returns its row. */
  putDelivery(clientId: string, delivery: Omit<StoredDelivery, "id">): number;
  /** A delivery went in flight (packet id) or was received (released). */
  updateDelivery(id: number, packetId: number, released: boolean): void;
  /** Removes a delivery. */
  deleteDelivery(id: number): void;
  /** An incoming QoS 2 packet id awaits PUBREL. */
  putIncomingQos2(clientId: string, packetId: number): void;
  /** An incoming QoS 2 packet id was released. */
  deleteIncomingQos2(clientId: string, packetId: number): void;
  /** Adds or replaces the retained message of its topic. */
  putRetained(message: StoredMessage): void;
  /** Removes the retained message of a topic. */
  deleteRetained(topic: string): void;
  /** Makes every write so far durable. */
  commit(): void;
  /** Commits, then releases the store. */
  close(): void;
}

/** A store that cannot be used: not a store of this kind, damaged, or newer than this code. */
export class MqttStoreError extends Error {
  /** The store's path. */
  readonly path: string;

  /**
   * Makes the error.
   *
   * @param path The store's path.
   * @param message What is wrong with it.
   * @param options The underlying error.
   */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`MQTT store ${path}: ${message}`, options);
    this.name = "MqttStoreError";
    this.path = path;
  }
}
