import type { ProtocolHandlerFactory } from "../../core/protocol.ts";
import { httpProtocol, type HttpProtocolOptions } from "../http/http_protocol.ts";
import { websocketUpgrade, type WebSocketUpgradeOptions } from "./websocket_upgrade.ts";

/** Options of {@linkcode websocketProtocol}. */
export interface WebSocketProtocolOptions
  extends
    WebSocketUpgradeOptions,
    Pick<HttpProtocolOptions, "maxHeaderSize" | "maxUriLength" | "headersTimeout" | "secure"> {}

/**
 * WebSocket (RFC 6455) as a Speedo protocol, on a port of its own: the HTTP/1.1 handshake
 * (through the HTTP parser, with its bounds and header timeout), then frames. Any Speedo message
 * handler runs over it through {@linkcode websocketHandler}, in two modes:
 *
 * - per message (no `protocol`): each WebSocket message is one Speedo message (type 1 text, 2
 *   binary), and each write of the handler one message back. A browser's `ws.send("hi")` gets
 *   `"hi"` back from the echo handler.
 * - stream (`protocol: echoProtocol()`, say): the messages' payloads are one byte stream that
 *   the inner protocol frames, as NATS over WebSocket does; its writes go out as frames of
 *   `writeType`.
 *
 * Requests that are not WebSocket handshakes are answered 426 and closed. Pings are answered
 * with pongs; a close frame is echoed after the replies to the messages before it; a protocol
 * error closes with its code (1002, 1007, 1009); an idle timeout closes with 1001.
 *
 * The factory has a `recipe` (it runs on every loop of a server with `loops` above 1) in
 * per-message mode; in stream mode (`protocol` given) it has none, since the inner factory
 * cannot cross to a loop's thread.
 *
 * @param options Limits, mode, path and subprotocols.
 * @returns The protocol handler factory; pair it with `websocketHandler(handler, options)`.
 *
 * @example Echo over WebSocket, with Deno's own client
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { websocketHandler, websocketProtocol } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = new Server({
 *   protocol: websocketProtocol(),
 *   onMessage: websocketHandler(echoHandler).onMessage,
 * });
 * const { port } = await server.listen();
 * const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
 * const reply = new Promise((resolve) => socket.onmessage = (event) => resolve(event.data));
 * socket.onopen = () => socket.send("hello");
 * assertEquals(await reply, "hello");
 * const closed = new Promise((resolve) => socket.onclose = resolve);
 * socket.close();
 * await closed;
 * ```
 */
export function websocketProtocol(options: WebSocketProtocolOptions = {}): ProtocolHandlerFactory {
  const { maxHeaderSize, maxUriLength, headersTimeout, secure, ...upgrade } = options;
  const factory = httpProtocol({
    maxHeaderSize,
    maxUriLength,
    headersTimeout,
    secure,
    maxBodySize: 0,
    upgrade: websocketUpgrade(upgrade),
  });
  // The upgrade hook leaves the HTTP factory without a recipe; this module's options rebuild
  // it on a loop, except an inner protocol (stream mode), a factory that cannot cross.
  return {
    ...factory,
    recipe: upgrade.protocol === undefined
      ? { module: import.meta.url, export: "websocketProtocol", options }
      : undefined,
  };
}
