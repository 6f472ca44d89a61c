import type { MessageHandler } from "../../core/message_handler.ts";
import type { ProtocolHandlerFactory } from "../../core/protocol.ts";
import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { websocketHandler } from "../websocket/websocket_handler.ts";
import { websocketProtocol } from "../websocket/websocket_protocol.ts";
import { defaultPort } from "../../core/_transport_checks.ts";
import { type MqttProtocol, mqttProtocol, type MqttProtocolOptions } from "./mqtt_protocol.ts";
import { SubjectRouter } from "../pubsub/subject_router.ts";
import type { BackplaneOptions } from "../pubsub/backplane_options.ts";
import { bridgeMqttToPubsub, type MqttPubSubBridge } from "./pubsub_bridge.ts";

/** MQTT's port: `mosquitto_sub -p 1883`. */
export const MQTT_PORT = 1883;

/**
 * Options of {@linkcode mqttServer}: the server's, less what the preset sets, and the broker's
 * in `mqtt`. The preset changes two server defaults: `port` (1883) and `idleTimeout` (0: the
 * clients' keep alive finds dead peers instead).
 */
export interface MqttServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage" | "workers" | "port"> {
  /**
   * Port to listen on; 0 picks a free one. TCP only.
   *
   * @default {1883}
   */
  port?: T extends "unix" ? never : number;
  /**
   * Time a connection may stay silent before it is closed, in milliseconds; 0 (the default)
   * leaves that to each client's keep alive (1.5 times what it asked).
   *
   * @default {0}
   */
  idleTimeout?: number;
  /** The broker's options (`maxPacketSize`, `maxKeepAlive`, queue and retained bounds, ...). */
  mqtt?: MqttProtocolOptions;
  /**
   * Speak MQTT over WebSocket on this server's port instead of plain TCP (`{}` for the
   * defaults): browser clients (mqtt.js) connect to `ws://host:port/` with the `mqtt`
   * subprotocol; only pages of the same origin by default. Give a TCP server and a WebSocket
   * one the same `mqtt.broker` and they share sessions, subscriptions and retained messages.
   *
   * @default {undefined: MQTT over TCP}
   */
  websocket?: MqttWebSocketOptions;
  /**
   * Share subjects with NATS clients ({@linkcode bridgeMqttToPubsub}, from `listen()` to
   * `close()`): MQTT `a/b` is NATS `a.b`, both ways. Give the `router` of a `pubsubServer`
   * (its `pubsub.router` option) to serve NATS and MQTT from one process, and/or a
   * `backplane` to reach a NATS system (nats-server) from the MQTT clients.
   *
   * @default {undefined: MQTT only}
   */
  pubsub?: MqttPubSubOptions;
}

/** The `pubsub` option of {@linkcode mqttServer}: where MQTT meets NATS. */
export interface MqttPubSubOptions {
  /**
   * The pub/sub router to bridge to: share it with a `pubsubServer` (its `pubsub.router`) and
   * its NATS clients share subjects with this server's MQTT clients.
   *
   * @default {a router of its own}
   */
  router?: SubjectRouter;
  /**
   * Join the router to a NATS system (nats-server) when the server starts, and leave it when
   * it closes, as the pub/sub server's `backplane` option does: MQTT clients then reach every
   * NATS client of that system. Leave it out when the router's own `pubsubServer` has one.
   *
   * @default {undefined: no backplane}
   */
  backplane?: BackplaneOptions;
}

/** The WebSocket endpoint of {@linkcode mqttServer}. */
export interface MqttWebSocketOptions {
  /** Path of the endpoint. @default {any path} */
  path?: string;
  /** Origins of the pages allowed (see `OriginPolicy`). @default {["same-origin"]} */
  allowedOrigins?: string[];
  /** Largest WebSocket message, in bytes. @default {the WebSocket module's} */
  maxMessageSize?: number;
}

/** The broker dispatches nothing: only the handshake's answers and close frames are written. */
const NO_MESSAGES: MessageHandler = {
  onMessage(message) {
    throw new Error(`The MQTT broker dispatches no messages, got type ${message.type}`);
  },
};

/**
 * Makes an MQTT broker: {@linkcode mqttProtocol} on a {@linkcode Server}, every packet handled on
 * the I/O thread. MQTT clients (`mosquitto_pub`, npm `mqtt`) connect to it unchanged, at
 * protocol level 4 (3.1.1) or 5 (5.0). One I/O loop only for now: the broker's sessions live in
 * one thread.
 *
 * With `pubsub`, the broker shares one subject space with NATS clients (see
 * {@linkcode MqttPubSubOptions} and {@linkcode bridgeMqttToPubsub}).
 *
 * @param options The server's options, the broker's in `mqtt`, the bridge to NATS in `pubsub`.
 * @returns The server, not yet listening, with its broker.
 * @throws {TypeError} With `loops` above 1.
 *
 * @example
 * ```ts
 * import { mqttServer } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = mqttServer({ port: 0 });
 * const { port } = await server.listen();
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * // CONNECT, MQTT 3.1.1, clean session, keep alive 60, client id "a".
 * await conn.write(new Uint8Array([16, 13, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 1, 97]));
 * const connack = new Uint8Array(4);
 * await conn.read(connack);
 * assertEquals([...connack], [32, 2, 0, 0]);
 * conn.close();
 * ```
 */
export function mqttServer<T extends SocketTransport = "tcp">(
  options: MqttServerOptions<T> = {},
): Server<T> & { readonly broker: MqttProtocol["broker"] } {
  const { mqtt, websocket, pubsub, ...serverOptions } = options;
  if (serverOptions.loops !== undefined && serverOptions.loops !== 1) {
    throw new TypeError("mqttServer runs on one I/O loop for now: its sessions live in one thread");
  }
  const protocol = mqttProtocol(mqtt);
  let serving: ProtocolHandlerFactory = protocol;
  let onMessage: MessageHandler["onMessage"] | undefined;
  if (websocket !== undefined) {
    const endpoint = {
      path: websocket.path,
      protocols: ["mqtt"],
      maxMessageSize: websocket.maxMessageSize,
      allowedOrigins: websocket.allowedOrigins,
      writeType: "binary" as const,
      protocol,
    };
    onMessage = websocketHandler(NO_MESSAGES, endpoint).onMessage;
    serving = websocketProtocol({ ...endpoint, secure: serverOptions.tls !== undefined });
  }
  if (pubsub !== undefined) serving = withPubSub(serving, protocol.broker, pubsub);
  const server = new Server<T>({
    ...serverOptions,
    port: defaultPort(options, MQTT_PORT),
    idleTimeout: options.idleTimeout ?? 0,
    protocol: serving,
    onMessage,
    workers: 0,
  });
  return Object.assign(server, { broker: protocol.broker });
}

/** `factory`, bridged to pub/sub while the server runs (and joined to a backplane, if asked). */
function withPubSub(
  factory: ProtocolHandlerFactory,
  broker: MqttProtocol["broker"],
  options: MqttPubSubOptions,
): ProtocolHandlerFactory {
  const router = options.router ?? new SubjectRouter();
  let bridge: MqttPubSubBridge | undefined;
  return {
    ...factory,
    attach(loop) {
      factory.attach?.(loop);
      if (options.backplane !== undefined) router.joinBackplane(options.backplane);
      bridge = bridgeMqttToPubsub(broker, router);
    },
    async close() {
      bridge?.close();
      await Promise.all([
        factory.close?.(),
        options.backplane === undefined ? undefined : router.closeBackplane(),
      ]);
    },
  };
}
