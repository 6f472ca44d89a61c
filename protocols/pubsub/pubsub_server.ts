import type { ProtocolHandlerFactory } from "../../core/protocol.ts";
import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { defaultPort } from "../../core/_transport_checks.ts";
import {
  websocketProtocol,
  type WebSocketProtocolOptions,
} from "../websocket/websocket_protocol.ts";
import { pubsubProtocol, type PubSubProtocolOptions } from "./pubsub_protocol.ts";
import { pubsubWebSocket, type PubSubWebSocketOptions } from "./pubsub_websocket.ts";
import { pubsubListenersProtocol } from "./_pubsub_listeners.ts";

/** The port of the pub/sub example, NATS's: `telnet localhost 4222`. */
export const PUBSUB_PORT = 4222;

/**
 * The `websocket` option of {@linkcode pubsubServer}: the WebSocket endpoint and its handshake's
 * bounds.
 */
export interface PubSubServerWebSocketOptions extends
  Pick<
    PubSubWebSocketOptions,
    "path" | "protocols" | "maxMessageSize" | "writeType" | "allowedOrigins"
  >,
  Pick<WebSocketProtocolOptions, "maxHeaderSize" | "maxUriLength" | "headersTimeout"> {
  /**
   * Serve NATS over WebSocket on this port (0: a free one, read it from `addresses[1]`) as
   * well as NATS over TCP on the server's `port`: one server, one router, so TCP and WebSocket
   * clients share subjects, queue groups and request/reply, on every loop too. Without it the
   * server speaks WebSocket only, on `port`.
   *
   * @default {undefined: WebSocket only, on the server's port}
   */
  port?: number;
  /**
   * Address of the WebSocket port (with `port`).
   *
   * @default {the server's hostname}
   */
  hostname?: string;
}

/**
 * Options of {@linkcode pubsubServer}: the server's, less what the preset sets (`protocol`,
 * `handler`, `onMessage`, `workers`), the protocol's in `pubsub`, and the WebSocket endpoint's
 * in `websocket`. The preset changes four server defaults: `port` (4222), `maxWriteBuffer`
 * (64 MiB), `idleTimeout` (0) and `readBufferSize` (64 KiB).
 */
export interface PubSubServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage" | "workers" | "port"> {
  /**
   * Port to listen on; 0 picks a free one. TCP only.
   *
   * @default {4222}
   */
  port?: T extends "unix" ? never : number;
  /**
   * Unflushed output of a connection above which it is told `-ERR 'Slow Consumer'` and closed,
   * as nats-server's `max_pending`. Publishers and other subscribers are not slowed meanwhile.
   *
   * @default {67108864}
   */
  maxWriteBuffer?: number;
  /**
   * Time a connection may stay silent before it is closed, in milliseconds; 0 (the default)
   * leaves that to the protocol's PINGs (`pubsub.pingInterval`, `pubsub.maxPingsOut`).
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
  /**
   * The options of {@linkcode pubsubProtocol} (`router`, `maxPayload`, `pingInterval`, ...),
   * passed to it as they are; the preset adds only `address`, the server's own.
   */
  pubsub?: Omit<PubSubProtocolOptions, "address">;
  /**
   * Speak NATS over WebSocket on this port instead of plain TCP, as nats-server's `websocket`
   * listener does (`{}` for the defaults): browsers and NATS WebSocket clients (`nats.ws`,
   * `wsconnect`) connect to `ws://host:port/`. Give the same `pubsub.router` as a TCP server's for
   * both to share one subject space (on one loop). With `loops` above 1 and no router, each loop
   * builds the endpoint again and the loops' routers share interest, as over TCP. Web pages of
   * another origin than the WebSocket port's get 403 unless `websocket.allowedOrigins` lists
   * them (NATS clients outside browsers send no `Origin` and pass). See
   * {@linkcode pubsubWebSocket}.
   */
  websocket?: PubSubServerWebSocketOptions;
}

/**
 * Makes a pub/sub server: the {@linkcode pubsubProtocol} on a {@linkcode Server} without message
 * handlers (the protocol routes every message itself, on the I/O thread), with the `pubsub`
 * options. Call `listen()` to start it. NATS clients connect to it unchanged.
 *
 * Its server defaults differ from {@linkcode Server}'s, as nats-server's do: port 4222,
 * `maxWriteBuffer` 64 MiB (a subscriber that falls that far behind is a slow consumer),
 * `idleTimeout` 0 (the protocol's PINGs find dead peers instead) and `readBufferSize` 64 KiB.
 *
 * With `websocket`, the server speaks NATS over WebSocket instead, as nats-server's websocket
 * listener: browsers and NATS WebSocket clients connect to it. Give two servers (one TCP, one
 * WebSocket) the same `pubsub.router`, and they share one subject space.
 *
 * @param options The server's options, the protocol's in `pubsub`, and the WebSocket
 *   endpoint's in `websocket`; see {@linkcode PubSubServerOptions}.
 * @returns The server, not yet listening.
 * @throws {RangeError} When a `pubsub` limit is out of range.
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
 *
 * @example NATS over WebSocket on a port of its own, sharing subjects with a TCP server
 * ```ts
 * import { pubsubServer, SubjectRouter } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const router = new SubjectRouter();
 * await using tcp = pubsubServer({ port: 0, pubsub: { router } });
 * await using ws = pubsubServer({ port: 0, pubsub: { router }, websocket: {} });
 * await tcp.listen();
 * const { port } = await ws.listen();
 *
 * // Each WebSocket message carries NATS operations; the server answers in binary frames.
 * const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
 * socket.binaryType = "arraybuffer";
 * const info = new Promise<string>((resolve) =>
 *   socket.onmessage = (event) => resolve(new TextDecoder().decode(event.data))
 * );
 * assertEquals((await info).slice(0, 5), "INFO ");
 * const closed = new Promise((resolve) => socket.onclose = resolve);
 * socket.close();
 * await closed;
 * ```
 */
export function pubsubServer<T extends SocketTransport = "tcp">(
  options: PubSubServerOptions<T> = {},
): Server<T> {
  const { pubsub, websocket, ...serverOptions } = options;
  let server: Server<T> | undefined = undefined;
  const protocolOptions: PubSubProtocolOptions = {
    ...pubsub,
    // With tls, NATS clients expect INFO in plaintext, then start TLS (nats-server's way).
    tls: serverOptions.tls === undefined ? undefined : pubsub?.tls ?? "upgrade",
    address: () => server?.address,
  };
  let protocol: ProtocolHandlerFactory;
  let onMessage: ServerOptions<T>["onMessage"];
  let handler: URL | undefined;
  let listeners: ServerOptions<T>["listeners"];
  if (websocket === undefined) {
    protocol = pubsubProtocol(protocolOptions);
  } else if (websocket.port !== undefined) {
    // Both on one server: TCP on the main address, WebSocket on a second one, one router.
    const { port: websocketPort, hostname, ...endpoint } = websocket;
    protocol = pubsubListenersProtocol({
      pubsub: protocolOptions,
      websocket: { ...endpoint, secure: serverOptions.tls !== undefined },
    });
    listeners = [{ port: websocketPort, hostname, tls: serverOptions.tls }] as ServerOptions<
      T
    >["listeners"];
    const { onMessage: writeHandshake } = pubsubWebSocket(endpoint);
    const loops = serverOptions.loops;
    if (loops === undefined || loops === 1) onMessage = writeHandshake;
    else handler = new URL("./_websocket_frames_handler.ts", import.meta.url);
  } else {
    const { maxHeaderSize, maxUriLength, headersTimeout, ...endpointOptions } = websocket;
    // WebSocket only: TLS is wss, the handshake first, with no tls_required upgrade.
    const { onMessage: writeHandshake, ...endpoint } = pubsubWebSocket({
      ...protocolOptions,
      tls: undefined,
      ...endpointOptions,
    });
    protocol = websocketProtocol({
      ...endpoint,
      maxHeaderSize,
      maxUriLength,
      headersTimeout,
      secure: serverOptions.tls !== undefined,
    });
    // The WebSocket handshake's answers and close frames are dispatched, to keep their order.
    // On several loops each loop loads the module of that handler (a function cannot cross).
    const loops = serverOptions.loops;
    if (loops === undefined || loops === 1) onMessage = writeHandshake;
    else handler = new URL("./_websocket_frames_handler.ts", import.meta.url);
  }
  server = new Server<T>({
    ...serverOptions,
    port: defaultPort(options, PUBSUB_PORT),
    maxWriteBuffer: options.maxWriteBuffer ?? 64 * 1024 * 1024,
    idleTimeout: options.idleTimeout ?? 0,
    readBufferSize: options.readBufferSize ?? 64 * 1024,
    protocol,
    onMessage,
    handler,
    listeners: listeners ?? serverOptions.listeners,
    workers: 0,
  });
  return server;
}
