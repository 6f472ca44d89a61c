import type { ProtocolRecipe } from "../../core/loop_context.ts";
import type { ProtocolHandlerFactory } from "../../core/protocol.ts";
import { httpProtocol, type HttpProtocolOptions } from "../http/http_protocol.ts";
import { websocketUpgrade, type WebSocketUpgradeOptions } from "./websocket_upgrade.ts";
import type { WebSocketStreamRecipeOptions } from "./_stream_protocol.ts";

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
 * Requests that are not WebSocket handshakes are answered 426 and closed. A handshake from a web
 * page of another origin is answered 403 and closed, unless `allowedOrigins` lists its origin
 * (see {@linkcode OriginPolicy}; by default same-origin pages, and clients without `Origin`). Pings are answered
 * with pongs; a close frame is echoed after the replies to the messages before it; a protocol
 * error closes with its code (1002, 1007, 1009); an idle timeout closes with 1001.
 *
 * The factory has a `recipe` (it runs on every loop of a server with `loops` above 1) in
 * per-message mode, and in stream mode when the inner `protocol` has one (the recipe carries
 * the inner one, and each loop builds both again). Its `attach` is the inner protocol's, so that
 * the inner protocol's shared state (a pub/sub router) joins the other loops.
 *
 * @param options Limits, mode, path, subprotocols and allowed origins.
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
  // it on a loop. In stream mode the inner factory cannot cross, but its recipe can.
  const inner = upgrade.protocol;
  return {
    ...factory,
    recipe: inner === undefined
      ? { module: import.meta.url, export: "websocketProtocol", options }
      : streamRecipe(options, inner),
    attach: inner?.attach === undefined ? undefined : (loop) => inner.attach!(loop),
    // The inner protocol's shared state (a pub/sub backplane) ends with the server.
    close: () => Promise.all([factory.close?.(), inner?.close?.()]).then(() => {}),
  };
}

/**
 * The recipe of `websocketProtocol(options)` in stream mode: `_stream_protocol.ts`, loaded with
 * the inner module's URL in its own so that the inner module is imported before the loop builds
 * the factory (a loop calls the recipe's function synchronously).
 *
 * @returns The recipe, or `undefined` when the inner protocol has none or an option does not
 *   clone.
 */
function streamRecipe(
  options: WebSocketProtocolOptions,
  inner: ProtocolHandlerFactory,
): ProtocolRecipe | undefined {
  if (inner.recipe === undefined) return undefined;
  const { protocol: _protocol, ...websocket } = options;
  const recipeOptions: WebSocketStreamRecipeOptions = { websocket, inner: inner.recipe };
  try {
    structuredClone(recipeOptions);
  } catch {
    return undefined;
  }
  const module = new URL("./_stream_protocol.ts", import.meta.url);
  module.searchParams.set("inner", inner.recipe.module);
  return { module: module.href, export: "websocketStreamProtocol", options: recipeOptions };
}
