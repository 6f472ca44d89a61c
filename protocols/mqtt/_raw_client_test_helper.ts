/**
 * A raw MQTT client for tests over real sockets: packets encoded by this module's encoder
 * written as they are, packets read back with its decoder, the broker's close seen.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { MqttDecoder } from "./mqtt_decoder.ts";
import { encodeConnect, encodePacket, encodeSubscribe } from "./mqtt_encoder.ts";
import type { ConnackPacket, MqttPacket, Properties, ProtocolLevel, QoS } from "./mqtt_packets.ts";
import { within } from "../../testing/_socket_client.ts";

/** What {@linkcode RawClient.session} sends in its CONNECT. */
export interface RawSessionOptions {
  /** The protocol level. @default {4} */
  level?: ProtocolLevel;
  /** The client id. @default {""} */
  clientId?: string;
  /** Clean session (3.1.1) or clean start (5.0). @default {true} */
  cleanStart?: boolean;
  /** MQTT 5 Session Expiry Interval. */
  sessionExpiry?: number;
}

/** A raw MQTT client: writes packets or bytes, reads packets, sees the close. */
export class RawClient {
  readonly #conn: Deno.Conn;
  readonly #decoder: MqttDecoder;
  readonly #packets: MqttPacket[] = [];
  readonly #buffer = new Uint8Array(64 * 1024);
  closed = false;

  readonly #level: ProtocolLevel;

  private constructor(conn: Deno.Conn, level: ProtocolLevel) {
    this.#conn = conn;
    this.#level = level;
    this.#decoder = new MqttDecoder({ protocolLevel: level });
  }

  static async connect(port: number, level: ProtocolLevel, clientId = ""): Promise<RawClient> {
    const client = await RawClient.start(port, level, { clientId });
    const connack = await client.next();
    assertEquals(connack?.type, "connack");
    return client;
  }

  /** Connects with `options` and returns the client with the broker's CONNACK. */
  static async session(
    port: number,
    options: RawSessionOptions = {},
  ): Promise<{ client: RawClient; connack: ConnackPacket }> {
    const client = await RawClient.start(port, options.level ?? 4, {
      clientId: options.clientId,
      cleanStart: options.cleanStart,
      ...(options.sessionExpiry === undefined
        ? {}
        : { properties: { sessionExpiryInterval: options.sessionExpiry } }),
    });
    const connack = await client.expect("connack");
    return { client, connack };
  }

  static async open(port: number, level: ProtocolLevel): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }), level);
  }

  /** Opens and sends CONNECT (clean start, no keep alive by default); the CONNACK is not read. */
  static async start(
    port: number,
    level: ProtocolLevel,
    connect: { clientId?: string; cleanStart?: boolean; properties?: Properties } = {},
  ): Promise<RawClient> {
    const client = await RawClient.open(port, level);
    await client.write(encodeConnect({
      type: "connect",
      protocolName: "MQTT",
      protocolLevel: level,
      cleanStart: connect.cleanStart ?? true,
      keepAlive: 0,
      clientId: connect.clientId ?? "",
      ...(connect.properties === undefined ? {} : { properties: connect.properties }),
    }));
    return client;
  }

  /** Subscribes to one filter (packet id 1) and expects the SUBACK. */
  async subscribe(topicFilter: string, qos: QoS = 0): Promise<void> {
    await this.write(encodeSubscribe({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{
        topicFilter,
        qos,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      }],
    }, this.#level));
    assertEquals((await this.next())?.type, "suback");
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** Writes a packet, encoded at the client's level. */
  async writePacket(packet: MqttPacket): Promise<void> {
    await this.write(encodePacket(packet, this.#level));
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends MqttPacket["type"]>(type: T): Promise<MqttPacket & { type: T }> {
    const packet = await this.next();
    assertEquals(packet?.type, type);
    return packet as MqttPacket & { type: T };
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

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}
