/**
 * What the connections of one MQTT broker share: sessions by client id, the subscription tree,
 * retained messages, and the routing of a PUBLISH to the sessions that subscribe to it. No I/O:
 * a session's connection is whatever writes its packets ({@linkcode SessionLink}).
 *
 * A PUBLISH is copied once (its payload is a view of the read buffer) and shared by every
 * session it is owed to; each delivery is encoded for its subscriber (its protocol level, QoS,
 * packet id and subscription identifiers differ).
 *
 * @module
 */

import type { Properties, ProtocolLevel, PublishPacket, QoS } from "./mqtt_packets.ts";
import { encodePublish } from "./mqtt_encoder.ts";
import { transientAck, transientPublish } from "./_transient_encoding.ts";
import { RetainedMessages } from "./retained_messages.ts";
import { type Send, SessionState, type SessionStateOptions } from "./mqtt_session_state.ts";
import { SubscriptionTree } from "./subscription_tree.ts";
import type { MqttStore } from "./mqtt_store.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { Persistence } from "./mqtt_persistence.ts";
import type { ServerTopicAliases } from "./server_topic_aliases.ts";

/** A message as the broker keeps it: copied out of the read buffer, shared by its deliveries. */
export interface BrokerMessage {
  /** Its topic name. */
  readonly topic: string;
  /** Its payload, the broker's own copy. */
  readonly payload: Uint8Array;
  /** The QoS it was published at. */
  readonly qos: QoS;
  /** Whether it was published to be retained. */
  readonly retain: boolean;
  /** The MQTT 5 properties that travel with it (not the topic alias, nor subscription ids). */
  readonly properties?: Properties;
  /** When it expires (`Date.now()` ms), from Message Expiry Interval; absent: never. */
  readonly expiresAt?: number;
}

/** One delivery owed to a session. */
export interface Owed {
  /** The QoS it is delivered at. */
  readonly qos: QoS;
  /** Bytes it holds, for the session's queue bound. */
  readonly size: number;
  /** The message. */
  readonly message: BrokerMessage;
  /** The RETAIN flag it is delivered with. */
  readonly retain: boolean;
  /** Identifiers of the subscriptions it matched (MQTT 5). */
  readonly subscriptionIds: readonly number[];
  /** Its place in the broker's store while the store keeps it (see `Persistence`). */
  record: OwedRecord | undefined;
}

/** Where a delivery stands in the broker's store. */
export interface OwedRecord {
  /** The session's client id. */
  readonly clientId: string;
  /** Its row, once written (0 before). */
  row: number;
  /** Its packet id while in flight (0: queued). */
  packetId: number;
  /** Whether the client received it (QoS 2: PUBREL owed). */
  released: boolean;
}

/** Where a session's packets go while its client is connected. */
export interface SessionLink {
  /** The client's protocol level. */
  readonly level: ProtocolLevel;
  /** Topic aliases this connection sets towards its client (MQTT 5), when it sets any. */
  readonly topicAliases?: ServerTopicAliases;
  /**
   * Writes a packet's bytes. `early`: it may reach the client before the store's next commit
   * (a QoS 0 or 1 delivery: if the broker dies before the commit, the publisher, not yet
   * acknowledged, sends it again, which QoS 1 allows).
   */
  write(bytes: Uint8Array, early?: boolean): void;
  /** Ends the connection: another took the session over. */
  takenOver(): void;
}

/** One client's session: its subscriptions live in the broker's tree under this object. */
export class Session {
  /** Its client identifier. */
  readonly clientId: string;
  /** What it owes and is owed (QoS 1 and 2). */
  readonly state: SessionState<Owed>;
  /** Its client's connection, while there is one. */
  link: SessionLink | undefined;
  /** Seconds the session outlives its connection; 0xFFFFFFFF: forever. */
  expiryInterval = 0;
  /** Ends the session once its expiry passes without a connection. */
  expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the broker's store keeps it (it outlives its connection, and there is a store). */
  persisted = false;

  /**
   * Makes a session with nothing owed.
   *
   * @param clientId Its client identifier.
   * @param options Its queue's bounds.
   */
  constructor(clientId: string, options: SessionStateOptions) {
    this.clientId = clientId;
    this.state = new SessionState(options);
  }
}

/**
 * Sees each message a {@linkcode Broker} routes, once its deliveries are owed
 * ({@linkcode Broker.taps}).
 */
export type BrokerTap = (message: BrokerMessage, publisher: Session | undefined) => void;

/** Options of a {@linkcode Broker}. */
export interface BrokerOptions extends SessionStateOptions {
  /**
   * Sessions kept at most, connected or not: a CONNECT that needs a new one past it is refused
   * (CONNACK 0x97 Quota exceeded in 5.0, 3 Server unavailable in 3.1.1) and closed.
   *
   * @default {100000}
   */
  maxSessions?: number;
  /** Retained messages kept at most. @default {100000} */
  maxRetainedMessages?: number;
  /** Bytes of retained messages kept at most. @default {268435456} */
  maxRetainedBytes?: number;
  /**
   * Where persistent sessions (expiry above 0: MQTT 3.1.1's clean session 0, MQTT 5's Session
   * Expiry Interval), what they are owed, and retained messages survive a restart: the path of
   * an SQLite file ({@linkcode SqliteStore}, made when absent) or a store of your own. Read
   * once when the broker is made; changes are committed once per event-loop turn, and a
   * client's PUBACK, PUBREC or delivery waits for the commit that holds it. Not kept: wills,
   * QoS 0 messages, sessions that end with their connection.
   *
   * @default {undefined: memory only}
   */
  store?: string | MqttStore;
  /**
   * How long the store's batch of changes stays open before its commit, in milliseconds. A
   * QoS 1 delivery acknowledged within it is never written; a publisher's PUBACK waits up to
   * this long (plus the commit). Longer: fewer writes, more latency.
   *
   * @default {1}
   */
  commitDelay?: number;
}

/** The state every connection of one broker shares. */
export class Broker {
  /** Sessions by client identifier. */
  readonly sessions: Map<string, Session> = new Map();
  /** Every session's subscriptions. */
  readonly tree: SubscriptionTree<Session>;
  /** Retained messages by topic. */
  readonly retained: RetainedMessages<BrokerMessage>;
  readonly #sessionOptions: SessionStateOptions;
  /** Messages routed (PUBLISH packets and wills). */
  published = 0;
  /** Deliveries owed to sessions. */
  delivered = 0;
  /** The link to the store, when there is one. */
  readonly persistence: Persistence | undefined;
  /** Sessions kept at most. */
  readonly maxSessions: number;
  /** CONNECTs refused because `maxSessions` were kept. */
  refusedSessions = 0;
  /**
   * Called with every message {@linkcode Broker.publish} routes (PUBLISH packets, wills, and
   * what a tap itself publishes), after its deliveries are owed: a bridge to another system
   * (`bridgeMqttToPubsub`) adds one here. Empty by default, and then costs nothing.
   */
  readonly taps: Set<BrokerTap> = new Set();

  /**
   * Makes an empty broker.
   *
   * @param options Bounds of the sessions' queues and of the retained messages.
   */
  constructor(options: BrokerOptions = {}) {
    this.#sessionOptions = options;
    const maxSessions = options.maxSessions ?? 100_000;
    if (!Number.isSafeInteger(maxSessions) || maxSessions < 1) {
      throw new RangeError(`maxSessions must be a positive integer, got ${maxSessions}`);
    }
    this.maxSessions = maxSessions;
    this.tree = new SubscriptionTree<Session>({
      available: (session) => session.link !== undefined,
    });
    this.retained = new RetainedMessages<BrokerMessage>({
      maxMessages: options.maxRetainedMessages,
      maxBytes: options.maxRetainedBytes,
    });
    if (options.store !== undefined) {
      const commitDelay = options.commitDelay ?? 1;
      if (!Number.isFinite(commitDelay) || commitDelay < 0 || commitDelay > 1000) {
        throw new RangeError(`commitDelay must be 0 to 1000 ms, got ${commitDelay}`);
      }
      const store = typeof options.store === "string"
        ? new SqliteStore(options.store)
        : options.store;
      this.persistence = new Persistence(store, commitDelay);
      try {
        restore(this, store);
      } catch (error) {
        store.close();
        throw error;
      }
    }
  }

  /** Commits what the store has not, stops the sessions' expiry timers, closes the store. */
  close(): void {
    for (const session of this.sessions.values()) clearTimeout(session.expiryTimer);
    this.persistence?.close();
  }

  /**
   * A new, empty session (not yet registered in `sessions`).
   *
   * @param clientId Its client identifier.
   * @returns The session.
   */
  newSession(clientId: string): Session {
    return new Session(clientId, this.#sessionOptions);
  }

  /**
   * Ends a session for good: its subscriptions go, its id is free.
   *
   * @param session The session.
   */
  discard(session: Session): void {
    clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    this.persistence?.forget(session);
    this.tree.removeClient(session);
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  /**
   * Routes a message: kept as retained if it says so, then owed to every matching session.
   *
   * @param message The message (its payload already copied).
   * @param publisher The session that published it, for No Local.
   * @returns Sessions it was owed to.
   */
  publish(message: BrokerMessage, publisher?: Session): number {
    this.published++;
    if (message.retain) {
      // Refused for want of room, a topic's older message goes too (RetainedMessages.set).
      const kept = message.payload.length > 0 &&
        this.retained.set(message.topic, message, message.payload.length);
      if (!kept) this.retained.delete(message.topic);
      this.persistence?.retained(message.topic, kept ? message : undefined);
    }
    const deliveries = this.tree.match(message.topic, publisher);
    for (const delivery of deliveries) {
      this.owe(
        delivery.client,
        message,
        delivery.qos,
        delivery.retainAsPublished && message.retain,
        // Frozen by the tree: kept as they are, no copy per delivery.
        delivery.subscriptionIds,
      );
    }
    if (this.taps.size > 0) { for (const tap of this.taps) tap(message, publisher); }
    return deliveries.length;
  }

  /**
   * Owes `message` to a session at the lower of the two QoS, and sends what may go now.
   *
   * @param session The subscriber.
   * @param message The message.
   * @param subscriptionQos Its subscription's QoS.
   * @param retain The RETAIN flag to deliver with.
   * @param subscriptionIds Identifiers of the subscriptions it matched (MQTT 5).
   */
  owe(
    session: Session,
    message: BrokerMessage,
    subscriptionQos: QoS,
    retain: boolean,
    subscriptionIds: readonly number[],
  ): void {
    const qos = Math.min(message.qos, subscriptionQos) as QoS;
    this.delivered++;
    send(
      session,
      session.state.owe({
        qos,
        size: message.payload.length + 64,
        message,
        retain,
        subscriptionIds,
        record: undefined,
      }),
    );
  }
}

/** Seconds a session lives forever with. */
const NEVER = 0xffffffff;

/** Puts back what the store holds: sessions (their clients away), then retained messages. */
function restore(broker: Broker, store: MqttStore): void {
  const contents = store.load();
  const persistence = broker.persistence!;
  const now = Date.now();
  const messages = new Map<number, BrokerMessage>();
  const messageIds = new Map<BrokerMessage, number>();
  for (const [id, stored] of contents.messages) {
    const message: BrokerMessage = stored;
    messages.set(id, message);
    messageIds.set(message, id);
  }
  const referenced = new Set<number>();
  for (const stored of contents.sessions) {
    const left = stored.expiryInterval === NEVER
      ? Infinity
      : (stored.disconnectedAt ?? now) + stored.expiryInterval * 1000 - now;
    if (left <= 0) {
      store.deleteSession(stored.clientId);
      continue;
    }
    const session = broker.newSession(stored.clientId);
    session.expiryInterval = stored.expiryInterval;
    broker.sessions.set(session.clientId, session);
    for (const { filter, options } of contents.subscriptions.get(session.clientId) ?? []) {
      broker.tree.subscribe(session, filter, options);
    }
    const rows: [Owed, OwedRecord][] = [];
    const owed = (contents.deliveries.get(session.clientId) ?? []).flatMap((delivery) => {
      const message = delivery.message ??
        (delivery.messageId === undefined ? undefined : messages.get(delivery.messageId));
      if (message === undefined) return [];
      if (delivery.messageId !== undefined) referenced.add(delivery.messageId);
      const item: Owed = {
        qos: delivery.qos,
        size: message.payload.length + 64,
        message,
        retain: delivery.retain,
        subscriptionIds: Object.freeze([...delivery.subscriptionIds]),
        record: undefined,
      };
      rows.push([item, {
        clientId: session.clientId,
        row: delivery.id,
        packetId: delivery.packetId ?? 0,
        released: delivery.released === true,
      }]);
      return [{
        message: item,
        ...(delivery.packetId === undefined ? {} : { packetId: delivery.packetId }),
        released: delivery.released === true,
      }];
    });
    session.state.restore(owed, contents.incomingQos2.get(session.clientId) ?? []);
    persistence.restored(session, rows, messageIds);
    // Its client is away from now on (it may have been connected when the broker stopped).
    persistence.saveSession(session, stored.disconnectedAt ?? now);
    if (left !== Infinity) {
      session.expiryTimer = setTimeout(
        () => broker.discard(session),
        Math.min(left, 2 ** 31 - 1),
      );
    }
  }
  for (const id of contents.messages.keys()) {
    if (!referenced.has(id)) store.deleteMessage(id);
  }
  for (const message of contents.retained) {
    if (message.expiresAt !== undefined && message.expiresAt <= now) {
      store.deleteRetained(message.topic);
    } else if (!broker.retained.set(message.topic, message, message.payload.length)) {
      store.deleteRetained(message.topic);
    }
  }
  persistence.flush();
}

/**
 * Writes what a session's state asks for to its connection, if it has one.
 *
 * @param session The session.
 * @param sends What to send.
 */
export function send(session: Session, sends: Send<Owed>[]): void {
  const link = session.link;
  if (link === undefined) return;
  const now = Date.now();
  // Aliases are per connection: a connection with them encodes its own bytes.
  const aliases = link.topicAliases;
  for (const item of sends) {
    // A QoS 0 message without per-subscriber fields encodes the same for every subscriber of
    // a level: its fan-out encodes once (a connection's write copies the bytes).
    const owed = item.kind === "publish" ? item.message : undefined;
    const sameForAll = owed !== undefined && owed.qos === 0 && owed.subscriptionIds.length === 0 &&
      owed.message.expiresAt === undefined && aliases === undefined;
    if (sameForAll) {
      const last = lastQos0[link.level];
      if (last !== undefined && last.message === owed.message && last.retain === owed.retain) {
        link.write(last.bytes, true);
        continue;
      }
    }
    if (item.kind === "pubrel") {
      link.write(
        transientAck("pubrel", item.packetId, 0, link.level),
      );
      continue;
    }
    const { message, qos, retain, subscriptionIds } = item.message;
    let properties: Properties | undefined;
    if (link.level === 5) {
      properties = message.properties;
      if (message.expiresAt !== undefined) {
        const left = Math.ceil((message.expiresAt - now) / 1000);
        // An expired QoS 0 message is not sent. A QoS 1 or 2 one already holds its place in
        // flight and must be acknowledged to free it, so it goes with 1 s left (a deviation).
        if (left <= 0 && qos === 0) continue;
        properties = { ...properties, messageExpiryInterval: Math.max(left, 1) };
      }
      if (subscriptionIds.length > 0) {
        properties = { ...properties, subscriptionIdentifiers: [...subscriptionIds] };
      }
    }
    let topic = message.topic;
    if (aliases !== undefined) {
      // MQTT 5 §3.3.2.3.4: the topic and its new alias once, then the alias and an empty topic.
      let alias = aliases.get(topic);
      if (alias !== undefined) topic = "";
      else alias = aliases.assign(topic);
      if (alias > 0) properties = { ...properties, topicAlias: alias };
    }
    const packet: PublishPacket = {
      type: "publish",
      dup: item.dup,
      qos,
      retain,
      topic,
      packetId: qos > 0 ? item.packetId : undefined,
      properties,
      payload: message.payload,
    };
    // Bytes shared by a fan-out are kept (owned); the others go through a reused buffer, which
    // the write copies at once.
    const bytes = sameForAll
      ? encodePublish(packet, link.level)
      : transientPublish(packet, link.level);
    if (sameForAll) lastQos0[link.level] = { message, retain, bytes };
    link.write(bytes, qos < 2);
  }
}

/** The last QoS 0 PUBLISH encoded, per protocol level: the rest of its fan-out reuses it. */
const lastQos0: Record<number, { message: BrokerMessage; retain: boolean; bytes: Uint8Array }> = {};
