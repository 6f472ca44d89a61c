import type { MessageHandler } from "../../core/message_handler.ts";
import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { websocketHandler } from "./websocket_handler.ts";
import { websocketProtocol, type WebSocketProtocolOptions } from "./websocket_protocol.ts";

/**
 * Options of {@linkcode websocketServer}: the server's, less what WebSocket sets (`protocol`,
 * `onMessage`), with `handler` the message handler run over WebSocket, and the protocol's in
 * `websocket`.
 */
export interface WebSocketServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage"> {
  /**
   * The message handler that runs over WebSocket, such as the echo handler. A
   * {@linkcode MessageHandler} object runs inline (`workers: 0`): the preset wraps it with
   * {@linkcode websocketHandler} and the `websocket` options. A module URL runs in `workers`;
   * since a worker loads its handler by URL, the module's default export is already
   * `websocketHandler(inner, options)`, with the same `protocol` and `writeType` as `websocket`.
   * With `loops` above 1 (or `"auto"`) only a module URL works: each loop loads it, inline on
   * the loop's thread with `workers: 0`, or in the loop's own workers.
   */
  handler: MessageHandler | string | URL;
  /**
   * The options of {@linkcode websocketProtocol}, passed to it as they are, and to
   * {@linkcode websocketHandler} for an inline handler.
   */
  websocket?: WebSocketProtocolOptions;
}

/**
 * Makes a WebSocket server on a port of its own: a plain {@linkcode Server} running
 * {@linkcode websocketProtocol} with the `websocket` options, and the message handler over it
 * through {@linkcode websocketHandler} with the same options, given once. Call `listen()` to
 * start it. Requests that are not WebSocket handshakes are answered 426, and handshakes from web
 * pages of another origin 403, unless `websocket.allowedOrigins` lists that origin.
 *
 * @param options The message handler (`handler`), the server's options, and the protocol's in
 *   `websocket`.
 * @returns The server, not yet listening.
 * With `loops` above 1 each loop builds `websocketProtocol(websocket)` again from its recipe
 * and loads the handler module: give `handler` as a module URL (`workers: 0` runs it inline on
 * each loop). In stream mode the inner `websocket.protocol` needs a recipe of its own, which
 * the WebSocket recipe carries.
 *
 * @throws {TypeError} When `handler` is neither a message handler nor a module URL, an entry of
 *   `websocket.allowedOrigins` is not an origin, a message handler object is given with
 *   `workers` above 0 or `loops` above 1, or a `websocket.protocol` without a recipe with
 *   `loops` above 1.
 * @throws {RangeError} When a `websocket` option or a server bound is out of range.
 *
 * @example The echo handler per message, with Deno's own client
 * ```ts
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { websocketServer } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = websocketServer({
 *   port: 0,
 *   handler: echoHandler,
 *   websocket: { maxMessageSize: 64 * 1024, path: "/ws" },
 * });
 * const { port } = await server.listen();
 * const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
 * const reply = new Promise((resolve) => socket.onmessage = (event) => resolve(event.data));
 * socket.onopen = () => socket.send("hello");
 * assertEquals(await reply, "hello");
 * const closed = new Promise((resolve) => socket.onclose = resolve);
 * socket.close();
 * await closed;
 * ```
 *
 * @example In workers: `ws_handler.ts`'s default export is `websocketHandler(echoHandler)`
 * ```ts ignore
 * import { websocketServer } from "@speedo/speedo/websocket";
 *
 * const server = websocketServer({
 *   handler: new URL("./ws_handler.ts", import.meta.url),
 *   workers: 2,
 * });
 * await server.listen();
 * ```
 */
export function websocketServer<T extends SocketTransport = "tcp">(
  options: WebSocketServerOptions<T>,
): Server<T> {
  const { handler, websocket, ...server } = options ?? {};
  const protocol = websocketProtocol(websocket);
  const loops = server.loops;
  if (loops !== undefined && loops !== 1) {
    // Said here, in WebSocket's words, rather than by the server.
    if (websocket?.protocol !== undefined && protocol.recipe === undefined) {
      throw new TypeError(
        `websocketServer with loops: ${loops} runs stream mode only with a websocket.protocol that has a recipe (each loop builds it again), and options that clone`,
      );
    }
    if (typeof handler !== "string" && !(handler instanceof URL)) {
      throw new TypeError(
        `websocketServer with loops: ${loops} needs handler to be the URL of a module whose default export is websocketHandler(...), run inline on each loop with workers: 0: a handler object cannot cross to a loop's thread`,
      );
    }
  }
  if (typeof handler === "string" || handler instanceof URL) {
    return new Server<T>({ ...server, protocol, handler });
  }
  if (typeof handler?.onMessage !== "function") {
    throw new TypeError(
      `websocketServer needs handler: a message handler or the URL of a module whose default export is websocketHandler(...), got ${
        String(handler)
      }`,
    );
  }
  if ((server.workers ?? 0) > 0) {
    throw new TypeError(
      `A message handler object runs inline only, got workers: ${server.workers}: give workers the URL of a module whose default export is websocketHandler(...)`,
    );
  }
  return new Server<T>({ ...server, protocol, handler: websocketHandler(handler, websocket) });
}
