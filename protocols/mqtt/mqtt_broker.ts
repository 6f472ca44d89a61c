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

import type { Properties, ProtocolLevel, QoS } from "./mqtt_packets.ts";
import { encodePublish, encodePublishAck } from "./mqtt_encoder.ts";
import { RetainedMessages } from "./retained_messages.ts";
import { type Send, SessionState, type SessionStateOptions } from "./mqtt_session_state.ts";
import { SubscriptionTree } from "./subscription_tree.ts";

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
}

/** Where a session's packets go while its client is connected. */
export interface SessionLink {
  /** The client's protocol level. */
  readonly level: ProtocolLevel;
  /** Writes a packet's bytes. */
  write(bytes: Uint8Array): void;
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
  /** Retained messages kept at most. @default {100000} */
  maxRetainedMessages?: number;
  /** Bytes of retained messages kept at most. @default {268435456} */
  maxRetainedBytes?: number;
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
    this.tree = new SubscriptionTree<Session>({
      available: (session) => session.link !== undefined,
    });
    this.retained = new RetainedMessages<BrokerMessage>({
      maxMessages: options.maxRetainedMessages,
      maxBytes: options.maxRetainedBytes,
    });
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
      if (message.payload.length === 0) this.retained.delete(message.topic);
      else this.retained.set(message.topic, message, message.payload.length);
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
      }),
    );
  }
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
  for (const item of sends) {
    // A QoS 0 message without per-subscriber fields encodes the same for every subscriber of
    // a level: its fan-out encodes once (a connection's write copies the bytes).
    const owed = item.kind === "publish" ? item.message : undefined;
    const sameForAll = owed !== undefined && owed.qos === 0 && owed.subscriptionIds.length === 0 &&
      owed.message.expiresAt === undefined;
    if (sameForAll) {
      const last = lastQos0[link.level];
      if (last !== undefined && last.message === owed.message && last.retain === owed.retain) {
        link.write(last.bytes);
        continue;
      }
    }
    if (item.kind === "pubrel") {
      link.write(
        encodePublishAck({ type: "pubrel", packetId: item.packetId, reasonCode: 0 }, link.level),
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
    const bytes = encodePublish({
      type: "publish",
      dup: item.dup,
      qos,
      retain,
      topic: message.topic,
      packetId: qos > 0 ? item.packetId : undefined,
      properties,
      payload: message.payload,
    }, link.level);
    if (sameForAll) lastQos0[link.level] = { message, retain, bytes };
    link.write(bytes);
  }
}

/** The last QoS 0 PUBLISH encoded, per protocol level: the rest of its fan-out reuses it. */
const lastQos0: Record<number, { message: BrokerMessage; retain: boolean; bytes: Uint8Array }> = {};
