import { Server, type ServerOptions } from "../../core/server.ts";
import { pubsubProtocol, type PubSubProtocolOptions } from "./pubsub_protocol.ts";

/** The port of the pub/sub example, NATS's: `telnet localhost 4222`. */
export const PUBSUB_PORT = 4222;

/** Options of {@linkcode pubsubServer}: the server's and the protocol's, in one object. */
export interface PubSubServerOptions
  extends
    Omit<ServerOptions, "protocol" | "handler" | "onMessage" | "workers" | "port">,
    Omit<PubSubProtocolOptions, "address"> {
  /**
   * Port to listen on; 0 picks a free one.
   *
   * @default {4222}
   */
  port?: number;
  /**
   * Unflushed output of a connection above which it is told `-ERR 'Slow Consumer'` and closed,
   * as nats-server's `max_pending`. Publishers and other subscribers are not slowed meanwhile.
   *
   * @default {67108864}
   */
  maxWriteBuffer?: number;
  /**
   * Time a connection may stay silent before it is closed, in milliseconds; 0 (the default)
   * leaves that to the protocol's PINGs (`pingInterval`, `maxPingsOut`).
   *
   * @default {0}
   */
  idleTimeout?: number;
  /**
   * Bytes of each connection's read buffer: large, so that a pipelining publisher's messages
   * are parsed and routed in few, large batches.
   *
   * @default {65536}
   */
  readBufferSize?: number;
}

/**
 * Makes a pub/sub server: the {@linkcode pubsubProtocol} on a {@linkcode Server} without message
 * handlers (the protocol routes every message itself, on the I/O thread). Call `listen()` to
 * start it. NATS clients connect to it unchanged.
 *
 * @param options Server and protocol options; see {@linkcode PubSubServerOptions}.
 * @returns The server, not yet listening.
 *
 * @example A subscriber and a publisher over loopback
 * ```ts
 * import { pubsubServer } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = pubsubServer({ port: 0 });
 * const { port } = await server.listen();
 * const encoder = new TextEncoder();
 * const subscriber = await Deno.connect({ hostname: "127.0.0.1", port });
 * const publisher = await Deno.connect({ hostname: "127.0.0.1", port });
 * await subscriber.write(encoder.encode('CONNECT {"verbose":false}\r\nSUB news 1\r\nPING\r\n'));
 *
 * // Read until the PONG: then the subscription is in place.
 * const buffer = new Uint8Array(4096);
 * let text = "";
 * const readUntil = async (end: string) => {
 *   while (!text.endsWith(end)) {
 *     text += new TextDecoder().decode(buffer.subarray(0, (await subscriber.read(buffer)) ?? 0));
 *   }
 * };
 * await readUntil("PONG\r\n");
 * await publisher.write(encoder.encode('CONNECT {"verbose":false}\r\nPUB news 2\r\nhi\r\n'));
 * text = "";
 * await readUntil("hi\r\n");
 * assertEquals(text, "MSG news 1 2\r\nhi\r\n");
 * subscriber.close();
 * publisher.close();
 * ```
 */
export function pubsubServer(options: PubSubServerOptions = {}): Server {
  const {
    maxControlLine,
    maxPayload,
    router,
    pingInterval,
    maxPingsOut,
    serverName,
    serverId,
    version,
    onProtocolError,
    ...serverOptions
  } = options;
  let server: Server | undefined = undefined;
  const protocol = pubsubProtocol({
    maxControlLine,
    maxPayload,
    router,
    pingInterval,
    maxPingsOut,
    serverName,
    serverId,
    version,
    onProtocolError,
    address: () => server?.address,
  });
  server = new Server({
    ...serverOptions,
    port: options.port ?? PUBSUB_PORT,
    maxWriteBuffer: options.maxWriteBuffer ?? 64 * 1024 * 1024,
    idleTimeout: options.idleTimeout ?? 0,
    readBufferSize: options.readBufferSize ?? 64 * 1024,
    protocol,
  });
  return server;
}
