/**
 * A raw MQTT client for tests: writes packets (this module's encoder) or bytes, reads packets
 * (this module's decoder) with a deadline, and sees the broker close the connection.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { MqttDecoder } from "./mqtt_decoder.ts";
import { encodeConnect, encodePacket } from "./mqtt_encoder.ts";
import type { ConnackPacket, MqttPacket, ProtocolLevel } from "./mqtt_packets.ts";
import { within } from "../../testing/_socket_client.ts";

/** What {@linkcode RawClient.connect} sends in its CONNECT. */
export interface RawConnectOptions {
  /** The protocol level. @default {4} */
  level?: ProtocolLevel;
  /** The client id. @default {""} */
  clientId?: string;
  /** Clean session (3.1.1) or clean start (5.0). @default {true} */
  cleanStart?: boolean;
  /** MQTT 5 Session Expiry Interval. */
  sessionExpiry?: number;
  /** MQTT 5 Receive Maximum. */
  receiveMaximum?: number;
}

/** A raw MQTT client over a loopback socket. */
export class RawClient {
  readonly #conn: Deno.Conn;
  readonly #decoder: MqttDecoder;
  readonly #packets: MqttPacket[] = [];
  readonly #buffer = new Uint8Array(64 * 1024);
  /** The level it speaks. */
  readonly level: ProtocolLevel;
  /** Whether the broker closed the connection. */
  closed = false;

  private constructor(conn: Deno.Conn, level: ProtocolLevel) {
    this.#conn = conn;
    this.level = level;
    this.#decoder = new MqttDecoder({ protocolLevel: level });
  }

  /** Connects, sends CONNECT, and returns the client with the broker's CONNACK. */
  static async connect(
    port: number,
    options: RawConnectOptions = {},
  ): Promise<{ client: RawClient; connack: ConnackPacket }> {
    const level = options.level ?? 4;
    const client = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }), level);
    const properties = {
      ...(options.sessionExpiry === undefined
        ? {}
        : { sessionExpiryInterval: options.sessionExpiry }),
      ...(options.receiveMaximum === undefined ? {} : { receiveMaximum: options.receiveMaximum }),
    };
    await client.send(encodeConnect({
      type: "connect",
      protocolName: "MQTT",
      protocolLevel: level,
      cleanStart: options.cleanStart ?? true,
      keepAlive: 0,
      clientId: options.clientId ?? "",
      ...(level === 5 && Object.keys(properties).length > 0 ? { properties } : {}),
    }));
    const connack = await client.next();
    assertEquals(connack?.type, "connack");
    return { client, connack: connack as ConnackPacket };
  }

  /** Writes bytes whole. */
  async send(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** Writes a packet. */
  async write(packet: MqttPacket): Promise<void> {
    await this.send(encodePacket(packet, this.level));
  }

  /** The next packet, or `undefined` once the broker closed the connection. */
  async next(): Promise<MqttPacket | undefined> {
    return await within(
      (async () => {
        while (this.#packets.length === 0) {
          const count = await this.#conn.read(this.#buffer).catch(() => null);
          if (count === null) {
            this.closed = true;
            return undefined;
          }
          this.#decoder.feed(this.#buffer.subarray(0, count));
          for (let p = this.#decoder.next(); p !== null; p = this.#decoder.next()) {
            // Views of the buffer read into: the payload is copied, the rest is plain data.
            this.#packets.push(p.type === "publish" ? { ...p, payload: p.payload.slice() } : p);
          }
        }
        return this.#packets.shift();
      })(),
      "a packet or the close",
    );
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends MqttPacket["type"]>(
    type: T,
  ): Promise<MqttPacket & { type: T }> {
    const packet = await this.next();
    assertEquals(packet?.type, type);
    return packet as MqttPacket & { type: T };
  }

  /** Closes the socket (no DISCONNECT). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}
