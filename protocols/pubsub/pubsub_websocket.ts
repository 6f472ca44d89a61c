import type { MessageHandler } from "../../core/message_handler.ts";
import { websocketHandler } from "../websocket/websocket_handler.ts";
import { OriginPolicy } from "../websocket/origin_policy.ts";
import type { WebSocketUpgradeOptions } from "../websocket/websocket_upgrade.ts";
import { NO_MESSAGES } from "./_websocket_frames_handler.ts";
import {
  type PubSubProtocol,
  pubsubProtocol,
  type PubSubProtocolOptions,
} from "./pubsub_protocol.ts";

/** Options of {@linkcode pubsubWebSocket}: the pub/sub protocol's and the endpoint's. */
export interface PubSubWebSocketOptions
  extends PubSubProtocolOptions, Omit<WebSocketUpgradeOptions, "protocol" | "writeType"> {
  /**
   * Frame type of what the server sends. NATS WebSocket clients (`nats.ws`, `wsconnect` of
   * `@nats-io/nats-core`) read binary frames only, which is what nats-server sends; a page
   * reads either (`event.data` is an `ArrayBuffer` or a `Blob` for binary, a string for text).
   *
   * @default {"binary"}
   */
  writeType?: "text" | "binary";
}

/**
 * A pub/sub WebSocket endpoint: the WebSocket options in stream mode with the pub/sub protocol
 * inside, and the message handler that goes with them. It fits `httpServer`'s `websocket`
 * option as it is, and `websocketProtocol(endpoint)` + `endpoint.onMessage` on a port of its
 * own (which is what `pubsubServer({ websocket })` does).
 */
export interface PubSubWebSocket extends WebSocketUpgradeOptions {
  /** The pub/sub protocol run inside each WebSocket connection, with its router. */
  readonly protocol: PubSubProtocol;
  /** Frame type of what the server sends. */
  readonly writeType: "text" | "binary";
  /**
   * Writes what the WebSocket connections dispatch (the close handshake's answer, in order);
   * pub/sub itself dispatches nothing, so give it with `workers: 0`.
   */
  onMessage: MessageHandler["onMessage"];
}

/**
 * NATS over WebSocket, as nats-server's `websocket` listener and the `nats.ws` client speak it:
 * the NATS text protocol carried in WebSocket messages, whose payloads form one byte stream (an
 * operation may span messages, and a message may hold several). Operations are routed inline,
 * on the I/O thread, like the TCP ones; give the same `router` as a TCP {@linkcode pubsubServer}'s `pubsub.router`
 * and both kinds of clients share one subject space, so that a TCP publisher reaches a browser
 * subscriber.
 *
 * The result fits `httpServer`'s `websocket` option (WebSocket at a path beside the pages), or
 * goes on a port of its own with `pubsubServer({ websocket: {} })`.
 *
 * Only pages of the endpoint's own origin may connect, and clients that send no `Origin` (NATS
 * clients outside browsers): a page of another site gets 403 and never sees `INFO`, so it
 * cannot `SUB >` with a local user's access. `allowedOrigins` lists the others (see
 * `OriginPolicy` in `@speedo/speedo/websocket`).
 *
 * @param options The pub/sub protocol's options (`router` to share subjects) and the
 *   endpoint's (`path`, `maxMessageSize`, `writeType`, `allowedOrigins`).
 * @returns The endpoint: WebSocket options, the pub/sub protocol, and the message handler.
 * @throws {RangeError} When a limit is out of range.
 * @throws {TypeError} When `path`, `writeType` or an entry of `allowedOrigins` is wrong.
 *
 * @example A TCP publisher reaches a WebSocket subscriber at /nats of an HTTP server
 * ```ts
 * import { httpServer } from "@speedo/speedo/http";
 * import { pubsubServer, pubsubWebSocket, SubjectRouter } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const router = new SubjectRouter();
 * await using tcp = pubsubServer({ port: 0, pubsub: { router } });
 * await using http = httpServer({
 *   port: 0,
 *   handler: () => new Response("pages here"),
 *   websocket: pubsubWebSocket({ path: "/nats", router }),
 * });
 * const tcpPort = (await tcp.listen()).port;
 * const httpPort = (await http.listen()).port;
 *
 * // The subscriber: NATS operations in WebSocket messages; the replies come as binary frames.
 * const socket = new WebSocket(`ws://127.0.0.1:${httpPort}/nats`);
 * socket.binaryType = "arraybuffer";
 * let text = "";
 * let until = (_text: string) => {};
 * socket.onmessage = (event) => until(text += new TextDecoder().decode(event.data));
 * const received = (end: string) =>
 *   new Promise<void>((resolve) => until = (all) => all.endsWith(end) && resolve());
 * const subscribed = received("PONG\r\n");
 * socket.onopen = () => socket.send('CONNECT {"verbose":false}\r\nSUB news 1\r\nPING\r\n');
 * await subscribed;
 *
 * text = "";
 * const delivered = received("hi\r\n");
 * const publisher = await Deno.connect({ hostname: "127.0.0.1", port: tcpPort });
 * await publisher.write(new TextEncoder().encode('CONNECT {"verbose":false}\r\nPUB news 2\r\nhi\r\n'));
 * await delivered;
 * assertEquals(text, "MSG news 1 2\r\nhi\r\n");
 * publisher.close();
 * const closed = new Promise((resolve) => socket.onclose = resolve);
 * socket.close();
 * await closed;
 * ```
 */
export function pubsubWebSocket(options: PubSubWebSocketOptions = {}): PubSubWebSocket {
  const {
    path,
    protocols,
    maxMessageSize,
    writeType = "binary",
    allowedOrigins,
    ...protocolOptions
  } = options;
  // Checked now, as the other endpoint options are, rather than where the endpoint is used.
  new OriginPolicy({ allowedOrigins });
  const protocol = pubsubProtocol(protocolOptions);
  const endpoint = { path, protocols, maxMessageSize, writeType, allowedOrigins, protocol };
  // Checks maxMessageSize and writeType now; path is checked where it is used.
  const { onMessage } = websocketHandler(NO_MESSAGES, endpoint);
  if (path !== undefined && (typeof path !== "string" || !path.startsWith("/"))) {
    throw new TypeError(`path must start with "/", got "${path}"`);
  }
  return { ...endpoint, onMessage };
}
