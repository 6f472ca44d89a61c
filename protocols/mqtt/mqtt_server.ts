import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { defaultPort } from "../../core/_transport_checks.ts";
import { type MqttProtocol, mqttProtocol, type MqttProtocolOptions } from "./mqtt_protocol.ts";

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
}

/**
 * Makes an MQTT broker: {@linkcode mqttProtocol} on a {@linkcode Server}, every packet handled on
 * the I/O thread. MQTT clients (`mosquitto_pub`, npm `mqtt`) connect to it unchanged, at
 * protocol level 4 (3.1.1) or 5 (5.0). One I/O loop only for now: the broker's sessions live in
 * one thread.
 *
 * @param options The server's options, and the broker's in `mqtt`.
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
  const { mqtt, ...serverOptions } = options;
  if (serverOptions.loops !== undefined && serverOptions.loops !== 1) {
    throw new TypeError("mqttServer runs on one I/O loop for now: its sessions live in one thread");
  }
  const protocol = mqttProtocol(mqtt);
  const server = new Server<T>({
    ...serverOptions,
    port: defaultPort(options, MQTT_PORT),
    idleTimeout: options.idleTimeout ?? 0,
    protocol,
    workers: 0,
  });
  return Object.assign(server, { broker: protocol.broker });
}
