/**
 * The MQTT broker as a protocol: each connection decodes its packets ({@linkcode MqttDecoder})
 * and acts on them inline, on the I/O thread, against the {@linkcode Broker} every connection of
 * the protocol shares. MQTT 3.1.1 and 5.0 on one port: the CONNECT's level decides.
 *
 * ```
 * open -> CONNECT (CONNACK, session resumed or new) -> PUBLISH/SUBSCRIBE/... -> DISCONNECT | close
 * ```
 *
 * What the broker does: QoS 0, 1 and 2 both ways with the in-flight window (the client's
 * Receive Maximum) and resending on reconnect; retained messages (retain handling, retain as
 * published); wills (at a close without DISCONNECT, on takeover, and with DISCONNECT 0x04),
 * with MQTT 5's will delay; clean session / clean start and session expiry; keep alive (1.5x);
 * `+`, `#` and `$`-topics; shared subscriptions; subscription identifiers; No Local; message
 * expiry; assigned client identifiers; session takeover (MQTT 5: DISCONNECT 0x8E to the old
 * connection); the server's `authenticate` hook (user name and password, as protocol `"mqtt"`);
 * per-topic authorization (`authorize`); MQTT 5 enhanced authentication (`enhancedAuth`: AUTH
 * exchanges at CONNECT and re-authentication, with `scramSha256` as a method).
 * Bad input is answered with the reason code the decoder names (MQTT 5: DISCONNECT, or CONNACK
 * before a session exists) and a close. Topic aliases from clients (MQTT 5, `topicAliases`) and
 * towards them (`serverTopicAliases`, off by default). Durable sessions with a store
 * (`store`; see `mqtt_persistence.ts`). One I/O loop only. Over WebSocket, see `mqttServer`'s
 * `websocket`; with NATS, its `pubsub`.
 *
 * @module
 */

import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { type Identity, isRefusal } from "../../core/authentication.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import {
  Broker,
  type BrokerMessage,
  type BrokerOptions,
  send,
  type Session,
  type SessionLink,
} from "./mqtt_broker.ts";
import { MqttDecoder } from "./mqtt_decoder.ts";
import { transientAck } from "./_transient_encoding.ts";
import type { HeldWrites } from "./mqtt_persistence.ts";
import {
  encodeAuth,
  encodeConnack,
  encodeDisconnect,
  encodePingresp,
  encodeSuback,
  encodeUnsuback,
} from "./mqtt_encoder.ts";
import { MqttError } from "./mqtt_errors.ts";
import type { MqttEnhancedAuthOptions } from "./mqtt_enhanced_auth.ts";
import { type AuthLimits, authLimits, authMethod, AuthRun } from "./_enhanced_auth_exchange.ts";
import type {
  AuthPacket,
  ConnectPacket,
  MqttPacket,
  Properties,
  ProtocolLevel,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
  Will,
} from "./mqtt_packets.ts";
import { connectReturnCodeFor, ReasonCode } from "./reason_codes.ts";
import { InvalidTopicFilterError, SharedNoLocalError } from "./mqtt_topic_errors.ts";
import { parseSharedFilter } from "./mqtt_topics.ts";
import { ServerTopicAliases } from "./server_topic_aliases.ts";

/** Options of {@linkcode mqttProtocol}. */
export interface MqttProtocolOptions extends BrokerOptions {
  /** Largest packet accepted from a client, in bytes. @default {1048576} */
  maxPacketSize?: number;
  /**
   * Longest keep alive granted, in seconds: a client asking for more (or for 0) is told this
   * one as Server Keep Alive (MQTT 5). 0: whatever the client asks.
   *
   * @default {0}
   */
  maxKeepAlive?: number;
  /** The in-flight window the broker asks of clients (Receive Maximum). @default {65535} */
  receiveMaximum?: number;
  /** Time a client has to send CONNECT after it connects, in milliseconds. @default {10000} */
  connectTimeout?: number;
  /**
   * Topic aliases a client may set (MQTT 5 Topic Alias Maximum, announced in CONNACK): a
   * PUBLISH may then carry an alias instead of its topic. 0 turns them off. Those the broker
   * sets towards clients: `serverTopicAliases`.
   *
   * @default {16}
   */
  topicAliases?: number;
  /**
   * Topic aliases the broker sets towards each MQTT 5 client, capped by the client's own Topic
   * Alias Maximum (none for a client that allows none): the first this many distinct topics a
   * connection is sent get one, which they keep for the connection's life (see
   * {@linkcode ServerTopicAliases}). 0 turns them off, as mosquitto has them.
   *
   * @default {0}
   */
  serverTopicAliases?: number;
  /**
   * Whether a client may publish to a topic, or subscribe to a filter (its wildcards as
   * written). Refused: a SUBACK failure (0x80 in 3.1.1, 0x87 Not authorized in 5.0); a PUBLISH
   * not routed, answered PUBACK/PUBREC 0x87 in 5.0 (3.1.1 has no refusal: it is acknowledged
   * and dropped, as mosquitto does). A function: the factory has no recipe (one loop).
   *
   * @default {undefined: everything allowed}
   */
  authorize?(request: MqttAuthorizationRequest): boolean;
  /**
   * MQTT 5 enhanced authentication (AUTH, §4.12): methods by Authentication Method name, such
   * as `scramSha256`. A client naming one is authenticated by it alone, the server's
   * `authenticate` hook not asked; clients naming none meet `authenticate` as before; a
   * client naming a method not here gets CONNACK 0x8C. It may re-authenticate later (AUTH
   * 0x19, same method). See {@linkcode MqttEnhancedAuthOptions}.
   *
   * @default {undefined: every Authentication Method refused with 0x8C}
   */
  enhancedAuth?: MqttEnhancedAuthOptions;
  /**
   * The broker to serve: give two servers (TCP and WebSocket) the same one and their clients
   * share sessions, subscriptions and retained messages. Its bounds are its own (the bounds
   * above are ignored then).
   *
   * @default {a new broker with the bounds above}
   */
  broker?: Broker;
}

/** What {@linkcode MqttProtocolOptions.authorize} is asked. */
export interface MqttAuthorizationRequest {
  /** What the client does. */
  readonly action: "publish" | "subscribe";
  /** The topic published to, or the filter subscribed to. */
  readonly topic: string;
  /** The client identifier. */
  readonly clientId: string;
  /** Who the server's `authenticate` said the client is, when there is one. */
  readonly identity?: Identity;
}

/** The MQTT protocol: a factory with its broker. */
export interface MqttProtocol extends ProtocolHandlerFactory {
  /** What its connections share: sessions, subscriptions, retained messages. */
  readonly broker: Broker;
}

const NEVER = 0xffffffff;

interface Shared {
  readonly broker: Broker;
  readonly topicAliases: number;
  readonly serverTopicAliases: number;
  readonly authorize: MqttProtocolOptions["authorize"];
  readonly enhancedAuth: AuthLimits | undefined;
  readonly maxPacketSize: number;
  readonly maxKeepAlive: number;
  readonly receiveMaximum: number;
  readonly connectTimeout: number;
}

/** One client connection. */
class MqttConnection implements ProtocolHandler {
  readonly #context: ProtocolContext;
  readonly #handle: ConnectionHandle;
  readonly #shared: Shared;
  readonly #decoder: MqttDecoder;
  #level: ProtocolLevel = 4;
  #session: Session | undefined;
  #will: Will | undefined;
  #willDelay = 0;
  /** Whether the client ended with DISCONNECT (no will), or the server closed it on purpose. */
  #graceful = false;
  #closed = false;
  /** CONNECT arrived (or is being checked): later packets wait for the answer. */
  #connecting = false;
  #held: Uint8Array[] = [];
  #keepAlive = 0;
  /** The client's topic aliases (MQTT 5), set by its PUBLISH packets. */
  #aliases: Map<number, string> | undefined;
  /** The aliases this connection sets towards its client (MQTT 5), from its CONNACK on. */
  #serverAliases: ServerTopicAliases | undefined;
  /** Who `authenticate` (or the enhanced authentication method) said the client is. */
  #identity: Identity | undefined;
  /** The Authentication Method of the CONNECT (MQTT 5 enhanced authentication). */
  #authMethod: string | undefined;
  /** The enhanced authentication exchange under way, at CONNECT or re-authenticating. */
  #authRun: AuthRun | undefined;
  /** The CONNECT waiting for its enhanced authentication, its bytes copied. */
  #authConnect: ConnectPacket | undefined;
  #lastSeen = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** This connection as its session's link. */
  readonly #link: SessionLink;
  /** This connection's writes held for the store's commit. */
  readonly #heldWrites: HeldWrites;

  constructor(context: ProtocolContext, shared: Shared) {
    this.#context = context;
    this.#handle = context.handle;
    this.#shared = shared;
    this.#decoder = new MqttDecoder({ maxPacketSize: shared.maxPacketSize });
    this.#heldWrites = { to: context.handle, held: undefined };
    // deno-lint-ignore no-this-alias
    const connection = this;
    this.#link = {
      get level(): ProtocolLevel {
        return connection.#level;
      },
      get topicAliases(): ServerTopicAliases | undefined {
        return connection.#serverAliases;
      },
      write: (bytes, early) => this.#write(bytes, early),
      takenOver: () => {
        if (this.#level === 5) {
          this.#write(
            encodeDisconnect({ type: "disconnect", reasonCode: ReasonCode.sessionTakenOver }, 5),
          );
        }
        // Not graceful: the will goes (unless the new connection resumes within its delay).
        this.#closeKeepingSession();
      },
    };
  }

  /**
   * Writes to the client (`null`: closes), after the store's next commit when it holds
   * changes: an acknowledgement never runs ahead of what it stands for.
   */
  #write(bytes: Uint8Array | null, early = false): void {
    const persistence = this.#shared.broker.persistence;
    if (persistence !== undefined) persistence.write(this.#heldWrites, bytes, early);
    else if (bytes === null) this.#handle.close();
    else this.#handle.write(bytes);
  }

  open(): void {
    this.#timer = setTimeout(() => {
      if (this.#session === undefined) this.#close();
    }, this.#shared.connectTimeout);
  }

  data(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastSeen = Date.now();
    if (this.#connecting) {
      this.#held.push(chunk.slice());
      return;
    }
    const decoder = this.#decoder;
    decoder.feed(chunk);
    try {
      for (let packet = decoder.next(); packet !== null; packet = decoder.next()) {
        this.#handlePacket(packet);
        if (this.#closed) return;
        if (this.#connecting) {
          // What follows CONNECT waits for the authenticator: keep the rest of the chunk.
          const rest: MqttPacket[] = [];
          for (let more = decoder.next(); more !== null; more = decoder.next()) rest.push(more);
          this.#pending = rest.map(copyPacket);
          return;
        }
      }
    } catch (error) {
      if (!(error instanceof MqttError)) throw error;
      this.#refuse(error.reasonCode, error.message);
    }
  }

  /** Packets decoded after a CONNECT under check, copied out of the read buffer. */
  #pending: MqttPacket[] = [];

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#authRun?.end();
    const session = this.#session;
    if (session === undefined || session.link === undefined || session.link !== this.#link) return;
    const broker = this.#shared.broker;
    session.link = undefined;
    session.state.disconnect();
    if (!this.#graceful) this.#publishWill(session);
    if (session.expiryInterval === 0) {
      broker.discard(session);
      return;
    }
    broker.persistence?.saveSession(session, Date.now());
    if (session.expiryInterval !== NEVER) {
      session.expiryTimer = setTimeout(
        () => broker.discard(session),
        Math.min(session.expiryInterval * 1000, 2 ** 31 - 1),
      );
    }
  }

  #handlePacket(packet: MqttPacket): void {
    if (this.#authConnect !== undefined && packet.type !== "connect") {
      // MQTT 5 §3.1.2.11.9: only AUTH or DISCONNECT until the CONNACK [MQTT-3.1.2-30].
      if (packet.type === "auth") this.#auth(packet);
      else if (packet.type === "disconnect") this.#close();
      else this.#refuse(ReasonCode.protocolError, `${packet.type} before CONNACK`);
      return;
    }
    if (packet.type !== "connect" && this.#session === undefined) {
      // The decoder refuses anything before CONNECT; this is a packet during the check.
      return;
    }
    switch (packet.type) {
      case "connect":
        this.#connect(packet);
        return;
      case "publish":
        this.#publish(packet);
        return;
      case "puback":
        this.#ack(() => this.#session!.state.puback(packet.packetId));
        return;
      case "pubrec":
        this.#ack(() => this.#session!.state.pubrec(packet.packetId, packet.reasonCode >= 0x80));
        return;
      case "pubcomp":
        this.#ack(() => this.#session!.state.pubcomp(packet.packetId));
        return;
      case "pubrel":
        if (this.#session!.state.release(packet.packetId)) {
          this.#shared.broker.persistence?.incomingQos2(this.#session!, packet.packetId, false);
        }
        this.#write(transientAck("pubcomp", packet.packetId, 0, this.#level));
        return;
      case "subscribe":
        this.#subscribe(packet);
        return;
      case "unsubscribe":
        this.#unsubscribe(packet);
        return;
      case "pingreq":
        this.#write(encodePingresp());
        return;
      case "disconnect":
        this.#disconnect(packet.reasonCode, packet.properties?.sessionExpiryInterval);
        return;
      case "auth":
        this.#auth(packet);
        return;
      default:
        // A packet only a server sends (CONNACK, SUBACK, ...).
        this.#refuse(ReasonCode.protocolError, `a client sent ${packet.type}`);
    }
  }

  #connect(packet: ConnectPacket): void {
    this.#level = packet.protocolLevel;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const method = packet.properties?.authenticationMethod;
    if (method !== undefined) {
      this.#authenticate(packet, method);
      return;
    }
    if (packet.properties?.authenticationData !== undefined) {
      // MQTT 5 §3.1.2.11.10: data without a method is a protocol error.
      this.#refuse(ReasonCode.protocolError, "authentication data without a method");
      return;
    }
    if (this.#context.authenticationRequired === true) {
      this.#connecting = true;
      const credentials: Record<string, unknown> = { clientId: packet.clientId };
      if (packet.username !== undefined) credentials.username = packet.username;
      if (packet.password !== undefined) {
        credentials.password = new TextDecoder().decode(packet.password);
      }
      // The CONNECT's will and properties are views of the read buffer, which the next read
      // reuses: copied before the check lets go of this turn.
      const connect: ConnectPacket = {
        ...packet,
        ...(packet.will === undefined ? {} : { will: copyWill(packet.will) }),
        ...(packet.properties === undefined
          ? {}
          : { properties: copyProperties(packet.properties) }),
      };
      this.#context.authenticate!("mqtt", credentials).then((result) => {
        if (this.#closed) return;
        if (isRefusal(result)) {
          this.#connack(false, this.#level === 5 ? ReasonCode.notAuthorized : 5);
          this.#close();
          return;
        }
        this.#connecting = false;
        this.#identity = result;
        this.#accept(connect);
        const pending = this.#pending;
        this.#pending = [];
        for (const more of pending) {
          if (this.#closed) return;
          this.#handlePacket(more);
        }
        const held = this.#held;
        this.#held = [];
        for (const chunk of held) this.data(chunk);
      }).catch((error) => {
        console.error(`speedo mqtt: ${error}`);
        this.#close();
      });
      return;
    }
    this.#accept(packet);
  }

  /**
   * A CONNECT naming an Authentication Method: the method alone decides (MQTT 5 §4.12); one the
   * broker lacks is refused with 0x8C [MQTT-4.12.0-1].
   */
  #authenticate(packet: ConnectPacket, method: string): void {
    const start = authMethod(this.#shared.enhancedAuth, method);
    if (start === undefined) {
      this.#refuse(ReasonCode.badAuthenticationMethod, `unknown authentication method ${method}`);
      return;
    }
    this.#authMethod = method;
    // Kept until the CONNACK, past this read buffer.
    this.#authConnect = {
      ...copyPacket(packet) as ConnectPacket,
      ...(packet.will === undefined ? {} : { will: copyWill(packet.will) }),
    };
    this.#authRun = new AuthRun(
      start,
      {
        method,
        clientId: packet.clientId,
        ...(packet.username === undefined ? {} : { username: packet.username }),
        reauthentication: false,
      },
      this.#shared.enhancedAuth!,
      () => this.#authTimedOut(),
    );
    this.#authStep(packet.properties?.authenticationData?.slice());
  }

  /** An AUTH from the client (MQTT 5 §3.15, §4.12). */
  #auth(packet: AuthPacket): void {
    const method = this.#authMethod;
    const named = packet.properties?.authenticationMethod;
    if (method === undefined || named === undefined) {
      // §3.15: AUTH without the CONNECT's method, or AUTH naming none, is a protocol error.
      this.#refuse(ReasonCode.protocolError, "AUTH without an authentication method");
      return;
    }
    if (named !== method) {
      this.#refuse(ReasonCode.badAuthenticationMethod, `AUTH with method ${named}, not ${method}`);
      return;
    }
    const data = packet.properties?.authenticationData?.slice();
    const run = this.#authRun;
    if (packet.reasonCode === ReasonCode.reAuthenticate && run === undefined) {
      // §4.12.1: after CONNACK, same method; the rest of the traffic goes on meanwhile.
      this.#authRun = new AuthRun(
        authMethod(this.#shared.enhancedAuth, method)!,
        {
          method,
          clientId: this.#session!.clientId,
          reauthentication: true,
          ...(this.#identity === undefined ? {} : { identity: this.#identity }),
        },
        this.#shared.enhancedAuth!,
        () => this.#authTimedOut(),
      );
      this.#authStep(data);
      return;
    }
    if (packet.reasonCode === ReasonCode.continueAuthentication && run?.awaitingClient === true) {
      this.#authStep(data);
      return;
    }
    this.#refuse(ReasonCode.protocolError, `AUTH 0x${packet.reasonCode.toString(16)} out of turn`);
  }

  /** Runs the method on the client's data and answers with what it says. */
  #authStep(data: Uint8Array | undefined): void {
    const run = this.#authRun!;
    run.step(data).then((outcome) => {
      if (this.#closed || this.#authRun !== run) return;
      const method = run.method;
      if (outcome.kind === "continue") {
        this.#write(encodeAuth({
          type: "auth",
          reasonCode: ReasonCode.continueAuthentication,
          properties: { authenticationMethod: method, authenticationData: outcome.data },
        }));
        return;
      }
      run.end();
      this.#authRun = undefined;
      if (outcome.kind === "refused") {
        // 0x86 exists in CONNACK only; a re-authentication is refused with DISCONNECT.
        const code = run.reauthentication && outcome.reasonCode === ReasonCode.badUserNameOrPassword
          ? ReasonCode.notAuthorized
          : outcome.reasonCode;
        this.#refuse(code, outcome.why);
        return;
      }
      this.#identity = outcome.identity;
      const properties: Properties = {
        authenticationMethod: method,
        ...(outcome.data === undefined ? {} : { authenticationData: outcome.data }),
      };
      if (run.reauthentication) {
        this.#write(
          encodeAuth({ type: "auth", reasonCode: ReasonCode.success, properties }),
        );
        return;
      }
      const packet = this.#authConnect!;
      this.#authConnect = undefined;
      this.#accept(packet, properties);
    }).catch((error) => {
      console.error(`speedo mqtt: ${error}`);
      this.#close();
    });
  }

  /** An exchange not over within `enhancedAuth.timeout`: refused (CONNACK or DISCONNECT 0x87). */
  #authTimedOut(): void {
    if (this.#closed) return;
    this.#authRun = undefined;
    this.#refuse(ReasonCode.notAuthorized, "authentication timed out");
  }

  /** The session starts (or resumes): CONNACK, then what the session was owed. */
  #accept(packet: ConnectPacket, auth?: Properties): void {
    const broker = this.#shared.broker;
    const level = this.#level;
    let clientId = packet.clientId;
    let assigned: string | undefined;
    if (clientId === "") {
      clientId = assigned = `speedo-${crypto.randomUUID()}`;
    }
    const existing = broker.sessions.get(clientId);
    if (existing?.link !== undefined) existing.link.takenOver();
    let session = existing;
    let sessionPresent = false;
    if (session !== undefined && packet.cleanStart) {
      broker.discard(session);
      session = undefined;
    }
    if (session === undefined) {
      if (broker.sessions.size >= broker.maxSessions) {
        broker.refusedSessions++;
        this.#connack(false, level === 5 ? ReasonCode.quotaExceeded : 3);
        this.#close();
        return;
      }
      session = broker.newSession(clientId);
      broker.sessions.set(clientId, session);
    } else {
      sessionPresent = true;
      clearTimeout(session.expiryTimer);
      session.expiryTimer = undefined;
      // A will waiting for its delay is not sent: the session was resumed in time.
      clearTimeout(willTimers.get(session));
      willTimers.delete(session);
    }
    session.expiryInterval = level === 5
      ? packet.properties?.sessionExpiryInterval ?? 0
      : packet.cleanStart
      ? 0
      : NEVER;
    const persistence = broker.persistence;
    if (persistence !== undefined && session.expiryInterval > 0) {
      if (session.persisted) persistence.saveSession(session);
      else persistence.persist(session, broker.tree.subscriptionsOf(session));
    }
    this.#session = session;
    this.#will = packet.will === undefined ? undefined : copyWill(packet.will);
    this.#willDelay = packet.will?.properties?.willDelayInterval ?? 0;
    let keepAlive = packet.keepAlive;
    const max = this.#shared.maxKeepAlive;
    const clamp = max > 0 && (keepAlive === 0 || keepAlive > max);
    if (clamp) keepAlive = max;
    this.#keepAlive = keepAlive;
    const properties = level === 5
      ? {
        receiveMaximum: this.#shared.receiveMaximum,
        topicAliasMaximum: this.#shared.topicAliases,
        retainAvailable: true,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: true,
        maximumPacketSize: this.#shared.maxPacketSize,
        ...(assigned === undefined ? {} : { assignedClientIdentifier: assigned }),
        ...(clamp ? { serverKeepAlive: keepAlive } : {}),
        ...auth,
      }
      : undefined;
    this.#write(encodeConnack({
      type: "connack",
      sessionPresent,
      reasonCode: 0,
      ...(properties === undefined ? {} : { properties }),
    }, level));
    const aliases = level === 5
      ? Math.min(this.#shared.serverTopicAliases, packet.properties?.topicAliasMaximum ?? 0)
      : 0;
    if (aliases > 0) this.#serverAliases = new ServerTopicAliases(aliases);
    session.link = this.#link;
    const receiveMaximum = level === 5 ? packet.properties?.receiveMaximum ?? 65_535 : 65_535;
    send(session, session.state.connect(receiveMaximum));
    if (keepAlive > 0) this.#watchKeepAlive();
  }

  #publish(packet: PublishPacket): void {
    // (The alias property is read here and not forwarded: aliases are per connection.)
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      // MQTT 5 §3.3.2.3.4: a topic with an alias sets it; an empty topic uses it.
      if (alias < 1 || alias > this.#shared.topicAliases) {
        this.#refuse(ReasonCode.topicAliasInvalid, `topic alias ${alias} out of range`);
        return;
      }
      const aliases = this.#aliases ??= new Map();
      if (packet.topic === "") {
        const topic = aliases.get(alias);
        if (topic === undefined) {
          this.#refuse(ReasonCode.protocolError, `topic alias ${alias} was never set`);
          return;
        }
        packet = { ...packet, topic };
      } else {
        aliases.set(alias, packet.topic);
      }
    }
    const session = this.#session!;
    if (!this.#allowed("publish", packet.topic)) {
      // Not routed. MQTT 5 says so; 3.1.1 has no refusal, so it is acknowledged all the same.
      if (packet.qos > 0) {
        this.#write(transientAck(
          packet.qos === 1 ? "puback" : "pubrec",
          packet.packetId!,
          this.#level === 5 ? ReasonCode.notAuthorized : 0,
          this.#level,
        ));
      }
      return;
    }
    const properties = packet.properties === undefined
      ? undefined
      : copyProperties(packet.properties);
    const expiry = properties?.messageExpiryInterval;
    if (properties !== undefined) {
      delete properties.messageExpiryInterval;
      delete properties.topicAlias;
    }
    // Without properties (every 3.1.1 message) the message is made with no spreads: this is
    // the hot path of QoS 1 routing.
    const message: BrokerMessage = properties === undefined
      ? {
        topic: packet.topic,
        payload: packet.payload.slice(),
        qos: packet.qos,
        retain: packet.retain,
      }
      : {
        topic: packet.topic,
        payload: packet.payload.slice(),
        qos: packet.qos,
        retain: packet.retain,
        ...(Object.keys(properties).length === 0 ? {} : { properties }),
        ...(expiry === undefined ? {} : { expiresAt: Date.now() + expiry * 1000 }),
      };
    const broker = this.#shared.broker;
    if (packet.qos === 0) {
      broker.publish(message, session);
      return;
    }
    const packetId = packet.packetId!;
    if (packet.qos === 1) {
      const count = broker.publish(message, session);
      this.#write(transientAck(
        "puback",
        packetId,
        count === 0 && this.#level === 5 ? ReasonCode.noMatchingSubscribers : 0,
        this.#level,
      ));
      return;
    }
    let first: boolean;
    try {
      first = session.state.receiveQos2(packetId);
    } catch {
      this.#refuse(ReasonCode.receiveMaximumExceeded, "too many QoS 2 messages await PUBREL");
      return;
    }
    if (first) {
      broker.persistence?.incomingQos2(session, packetId, true);
      broker.publish(message, session);
    }
    this.#write(transientAck("pubrec", packetId, 0, this.#level));
  }

  #subscribe(packet: SubscribePacket): void {
    const broker = this.#shared.broker;
    const session = this.#session!;
    const subscriptionId = packet.properties?.subscriptionIdentifiers?.[0];
    const reasonCodes: number[] = [];
    const retainedToSend: (() => void)[] = [];
    for (const subscription of packet.subscriptions) {
      if (!this.#allowed("subscribe", subscription.topicFilter)) {
        reasonCodes.push(this.#level === 5 ? ReasonCode.notAuthorized : 0x80);
        continue;
      }
      let result: "added" | "replaced";
      try {
        result = broker.tree.subscribe(session, subscription.topicFilter, {
          qos: subscription.qos,
          noLocal: subscription.noLocal,
          retainAsPublished: subscription.retainAsPublished,
          retainHandling: subscription.retainHandling,
          ...(subscriptionId === undefined ? {} : { subscriptionId }),
        });
      } catch (error) {
        if (error instanceof SharedNoLocalError) {
          this.#refuse(ReasonCode.protocolError, error.message);
          return;
        }
        if (error instanceof InvalidTopicFilterError || error instanceof RangeError) {
          reasonCodes.push(ReasonCode.topicFilterInvalid);
          continue;
        }
        throw error;
      }
      broker.persistence?.subscribed(session, {
        filter: subscription.topicFilter,
        options: {
          qos: subscription.qos,
          noLocal: subscription.noLocal,
          retainAsPublished: subscription.retainAsPublished,
          retainHandling: subscription.retainHandling,
          ...(subscriptionId === undefined ? {} : { subscriptionId }),
        },
      });
      reasonCodes.push(subscription.qos);
      const handling = subscription.retainHandling;
      if (parseSharedFilter(subscription.topicFilter) !== undefined) continue;
      if (handling === 2 || (handling === 1 && result === "replaced")) continue;
      retainedToSend.push(() => {
        for (const { message } of broker.retained.match(subscription.topicFilter)) {
          if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) {
            broker.retained.delete(message.topic);
            continue;
          }
          broker.owe(
            session,
            message,
            subscription.qos,
            true,
            subscriptionId === undefined ? [] : [subscriptionId],
          );
        }
      });
    }
    this.#write(
      encodeSuback({ type: "suback", packetId: packet.packetId, reasonCodes }, this.#level),
    );
    // Retained messages after the SUBACK, as the spec orders it.
    for (const run of retainedToSend) run();
  }

  #unsubscribe(packet: UnsubscribePacket): void {
    const { tree, persistence } = this.#shared.broker;
    const session = this.#session!;
    const reasonCodes = packet.topicFilters.map((filter) => {
      if (!tree.unsubscribe(session, filter)) return ReasonCode.noSubscriptionExisted;
      persistence?.unsubscribed(session, filter);
      return ReasonCode.success;
    });
    this.#write(
      encodeUnsuback({ type: "unsuback", packetId: packet.packetId, reasonCodes }, this.#level),
    );
  }

  #disconnect(reasonCode: number, sessionExpiry: number | undefined): void {
    const session = this.#session!;
    if (sessionExpiry !== undefined) {
      if (session.expiryInterval === 0 && sessionExpiry !== 0) {
        // MQTT 5 §3.14.2.2.2: a session that expired at close cannot be extended at DISCONNECT.
        this.#refuse(
          ReasonCode.protocolError,
          "session expiry set at DISCONNECT after 0 at CONNECT",
        );
        return;
      }
      session.expiryInterval = sessionExpiry;
    }
    this.#graceful = reasonCode !== ReasonCode.disconnectWithWillMessage;
    this.#closed = true;
    this.close();
    this.#write(null);
  }

  /** Whether `authorize` lets this client do `action` on `topic` (a hook that throws: no). */
  #allowed(action: "publish" | "subscribe", topic: string): boolean {
    const authorize = this.#shared.authorize;
    if (authorize === undefined) return true;
    try {
      return authorize({
        action,
        topic,
        clientId: this.#session!.clientId,
        ...(this.#identity === undefined ? {} : { identity: this.#identity }),
      }) === true;
    } catch (error) {
      console.error(`speedo mqtt: authorize threw ${error}`);
      return false;
    }
  }

  /** An acknowledgement from the client: what it frees may go now; nonsense is refused. */
  #ack(run: () => ReturnType<Session["state"]["puback"]>): void {
    try {
      send(this.#session!, run());
    } catch {
      // An acknowledgement for a packet id not in flight (one sent again after a reconnect
      // that the old connection already had acknowledged): nothing to free, nothing to do.
    }
  }

  #publishWill(session: Session): void {
    const will = this.#will;
    this.#will = undefined;
    if (will === undefined) return;
    const broker = this.#shared.broker;
    const publish = () => {
      willTimers.delete(session);
      broker.publish({
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        ...(will.properties === undefined ? {} : { properties: will.properties }),
      });
    };
    const delay = Math.min(
      this.#willDelay,
      session.expiryInterval === NEVER ? this.#willDelay : session.expiryInterval,
    );
    if (delay > 0) willTimers.set(session, setTimeout(publish, delay * 1000));
    else publish();
  }

  /** Closes for a protocol error: MQTT 5 says why first (CONNACK before a session, else DISCONNECT). */
  #refuse(reasonCode: number, _why: string): void {
    if (this.#session === undefined) {
      const level = this.#decoder.protocolLevel ?? this.#level;
      if (reasonCode === ReasonCode.unsupportedProtocolVersion || level === 5) {
        this.#connack(false, level === 5 ? reasonCode : connectReturnCodeFor(reasonCode));
      }
    } else if (this.#level === 5) {
      this.#write(encodeDisconnect({ type: "disconnect", reasonCode }, 5));
    }
    this.#close();
  }

  #connack(sessionPresent: boolean, reasonCode: number): void {
    const level = this.#level === 5 ? 5 : 4;
    this.#write(encodeConnack({ type: "connack", sessionPresent, reasonCode }, level));
  }

  /** Closes the connection; the will goes unless DISCONNECT came first. */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.close();
    this.#write(null);
  }

  /** Another connection took the session: this one ends, its session stays for the other. */
  #closeKeepingSession(): void {
    const session = this.#session;
    if (session !== undefined) {
      session.link = undefined;
      session.state.disconnect();
      this.#publishWill(session);
    }
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#write(null);
  }

  /** Closes a client silent for 1.5 times its keep alive (MQTT §3.1.2.10). */
  #watchKeepAlive(): void {
    const limit = this.#keepAlive * 1500;
    const check = () => {
      if (this.#closed) return;
      const silent = Date.now() - this.#lastSeen;
      if (silent >= limit) {
        this.#refuse(ReasonCode.keepAliveTimeout, "keep alive timed out");
        return;
      }
      this.#timer = setTimeout(check, limit - silent);
    };
    this.#timer = setTimeout(check, limit);
  }
}

/** Wills waiting for their delay, by session (MQTT 5 Will Delay Interval). */
const willTimers = new WeakMap<Session, ReturnType<typeof setTimeout>>();

/**
 * Makes the MQTT broker protocol: give it to a {@linkcode Server} (or use `mqttServer`).
 *
 * @param options Bounds and the broker's policies.
 * @returns The factory, with its broker.
 * @throws {RangeError} When a bound is out of range.
 *
 * @example A subscriber and a publisher through the broker, in memory
 * ```ts
 * import { mqttProtocol } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const protocol = mqttProtocol();
 * assertEquals(protocol.broker.sessions.size, 0);
 * ```
 */
export function mqttProtocol(options: MqttProtocolOptions = {}): MqttProtocol {
  const positive = (name: string, value: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
    }
    return value;
  };
  const topicAliases = options.topicAliases ?? 16;
  if (!Number.isInteger(topicAliases) || topicAliases < 0 || topicAliases > 65_535) {
    throw new RangeError(`topicAliases must be an integer from 0 to 65535, got ${topicAliases}`);
  }
  const serverTopicAliases = options.serverTopicAliases ?? 0;
  if (
    !Number.isInteger(serverTopicAliases) || serverTopicAliases < 0 || serverTopicAliases > 65_535
  ) {
    throw new RangeError(
      `serverTopicAliases must be an integer from 0 to 65535, got ${serverTopicAliases}`,
    );
  }
  const maxKeepAlive = options.maxKeepAlive ?? 0;
  if (!Number.isInteger(maxKeepAlive) || maxKeepAlive < 0 || maxKeepAlive > 65_535) {
    throw new RangeError(`maxKeepAlive must be an integer from 0 to 65535, got ${maxKeepAlive}`);
  }
  const shared: Shared = {
    broker: options.broker ?? new Broker(options),
    topicAliases,
    serverTopicAliases,
    authorize: options.authorize,
    enhancedAuth: options.enhancedAuth === undefined ? undefined : authLimits(options.enhancedAuth),
    maxPacketSize: positive("maxPacketSize", options.maxPacketSize ?? 1024 * 1024, 268_435_460),
    maxKeepAlive,
    receiveMaximum: positive("receiveMaximum", options.receiveMaximum ?? 65_535, 65_535),
    connectTimeout: positive("connectTimeout", options.connectTimeout ?? 10_000),
  };
  return {
    broker: shared.broker,
    create: (context) => new MqttConnection(context, shared),
    close() {
      // A broker given in the options is its owner's to close.
      if (options.broker === undefined) shared.broker.close();
      else for (const session of shared.broker.sessions.values()) clearTimeout(session.expiryTimer);
    },
  };
}

function copyWill(will: Will): Will {
  return {
    ...will,
    payload: will.payload.slice(),
    ...(will.properties === undefined ? {} : { properties: copyProperties(will.properties) }),
  };
}

function copyProperties<T extends object>(properties: T): T {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    copy[key] = value instanceof Uint8Array
      ? value.slice()
      : Array.isArray(value)
      ? value.map((v) => Array.isArray(v) ? [...v] : v)
      : value;
  }
  return copy as T;
}

/** A packet decoded from a buffer that will be reused: its bytes copied. */
function copyPacket(packet: MqttPacket): MqttPacket {
  if (packet.type === "publish") {
    return {
      ...packet,
      payload: packet.payload.slice(),
      ...(packet.properties === undefined ? {} : { properties: copyProperties(packet.properties) }),
    };
  }
  return "properties" in packet && packet.properties !== undefined
    ? { ...packet, properties: copyProperties(packet.properties) } as MqttPacket
    : packet;
}
