import type { MessageHandler } from "../../core/message_handler.ts";
import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { defaultPort } from "../../core/_transport_checks.ts";
import { websocketHandler } from "../websocket/websocket_handler.ts";
import { websocketUpgrade, type WebSocketUpgradeOptions } from "../websocket/websocket_upgrade.ts";
import { type HttpFetchHandler, httpHandler } from "./http_handler.ts";
import { httpProtocol, type HttpProtocolOptions } from "./http_protocol.ts";
import { describeError } from "../../core/_printable.ts";

/** The port of the HTTP example: `curl http://localhost:8080/`. */
export const HTTP_PORT = 8080;

/** A WebSocket endpoint of an {@linkcode httpServer}. */
export interface HttpWebSocketOptions extends WebSocketUpgradeOptions {
  /**
   * Handles the WebSocket messages (one message per WebSocket message, or the inner
   * protocol's messages); its writes go out as WebSocket frames. Any Speedo message handler
   * works, such as the echo handler.
   */
  onMessage: MessageHandler["onMessage"];
}

/**
 * Options of {@linkcode httpServer}: the server's, less what HTTP sets (`protocol`, `onMessage`,
 * and `concurrency`, which stays 1), with `handler` the fetch function or its module, and the
 * protocol's in `http`.
 */
export interface HttpServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage" | "port" | "concurrency"> {
  /**
   * Answers requests. A function runs inline on the I/O thread, as with `Deno.serve` (a
   * `Request` cannot cross to a worker, and a function cannot either). A module URL runs in
   * `workers` Web Workers, or inline with `workers: 0`: its default export is
   * `httpHandler(fetch)`. With `loops` above 1 (or `"auto"`) only a module URL works: each
   * loop loads it, inline on the loop's thread with `workers: 0` (the fast path), or in the
   * loop's own workers.
   */
  handler: HttpFetchHandler | string | URL;
  /**
   * Port to listen on; 0 picks a free one. TCP only.
   *
   * @default {8080}
   */
  port?: T extends "unix" ? never : number;
  /**
   * Workers running the handler module; must be 0 (the default) for a function.
   *
   * @default {0}
   */
  workers?: number;
  /**
   * Answers a request whose (function) handler threw or rejected, as `Deno.serve`'s `onError`;
   * the connection stays open.
   *
   * @default {reports the error to `onError` (or `console.error`) and answers 500}
   */
  onRequestError?: (error: unknown, request: Request) => Response | Promise<Response>;
  /**
   * Requests of one connection handled at once: only 1, the server's default. HTTP/1.1 answers
   * pipelined requests in their order, which a second request handled at once would break, so
   * `httpServer` refuses any other value.
   *
   * @default {1}
   */
  concurrency?: 1;
  /**
   * The options of {@linkcode httpProtocol} (parser bounds, timeouts), passed to it as they
   * are. The preset only fills in `secure` (true with `tls`) when it is not given, and
   * `upgrade` from the `websocket` option (give one or the other, not both).
   */
  http?: HttpProtocolOptions;
  /**
   * Serves WebSocket at a path (inline only: not with a handler module, nor with `loops`
   * above 1; `websocketServer` serves WebSocket on several loops). Pages of this server's own
   * origin may connect, and clients that send no `Origin`; others get 403 unless
   * `allowedOrigins` lists them.
   */
  websocket?: HttpWebSocketOptions;
}

/**
 * Makes an HTTP/1.1 server: the HTTP protocol (bounded parser, pipelining, keep-alive, error
 * statuses, timeouts) and a `Request` -> `Response` handler, as with `Deno.serve`. Call
 * `listen()` to start it; over TLS with the server's `tls` option (URLs are then `https:`).
 *
 * Requests run inline by default: the I/O thread parses them and calls the handler, which is
 * the fastest path and lets the handler be a closure. For CPU-heavy handlers, give a module URL
 * and `workers`: each request crosses as bytes and becomes a `Request` in the worker.
 *
 * The protocol's options are the `http` group, given to {@linkcode httpProtocol} as they are,
 * with `secure` set when the server has `tls` (unless given) and `upgrade` made from `websocket`.
 * A connection's requests are handled one at a time (`concurrency` 1), so that pipelined
 * responses keep their order.
 *
 * @param options Server, HTTP and WebSocket options; see {@linkcode HttpServerOptions}.
 * @returns The server, not yet listening.
 * With `loops` above 1 each loop builds `httpProtocol(http)` again from its recipe and loads
 * the handler module: give `handler` as a module URL (`workers: 0` runs it inline on each
 * loop), and neither `websocket` nor `http.upgrade`, whose functions cannot cross to a loop's
 * thread.
 *
 * @throws {TypeError} When a function handler is given with workers or with `loops` above 1,
 *   WebSocket with a module or with `loops` above 1, `http.upgrade` with `loops` above 1, or
 *   both `websocket` and `http.upgrade`.
 * @throws {RangeError} When `concurrency` is not 1, or an `http` option is out of range.
 *
 * @example Hello, over a real socket
 * ```ts
 * import { httpServer } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = httpServer({ port: 0, handler: () => new Response("hello") });
 * const { port } = await server.listen();
 * const response = await fetch(`http://127.0.0.1:${port}/`);
 * assertEquals(await response.text(), "hello");
 * ```
 *
 * @example The protocol's options in `http`
 * ```ts
 * import { httpServer } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = httpServer({
 *   port: 0,
 *   handler: async (request) => new Response(`${(await request.arrayBuffer()).byteLength} bytes`),
 *   http: { maxBodySize: 4, headersTimeout: 5_000 },
 * });
 * const { port } = await server.listen();
 * const url = `http://127.0.0.1:${port}/`;
 * assertEquals(await (await fetch(url, { method: "POST", body: "abc" })).text(), "3 bytes");
 * const tooLarge = await fetch(url, { method: "POST", body: "abcdef" });
 * await tooLarge.body?.cancel();
 * assertEquals(tooLarge.status, 413);
 * ```
 */
export function httpServer<T extends SocketTransport = "tcp">(
  options: HttpServerOptions<T>,
): Server<T> {
  const { handler, websocket, onRequestError, http = {}, ...serverOptions } = options;
  const workers = options.workers ?? 0;
  const concurrency: number | undefined = serverOptions.concurrency;
  if (concurrency !== undefined && concurrency !== 1) {
    throw new RangeError(
      `httpServer handles a connection's requests one at a time, so that pipelined responses keep their order: concurrency must be 1, got ${concurrency}`,
    );
  }
  const loops = serverOptions.loops;
  if (loops !== undefined && loops !== 1) {
    // Said here rather than by the server, which knows nothing of fetch handlers.
    if (typeof handler === "function") {
      throw new TypeError(
        `httpServer with loops: ${loops} needs handler to be a module URL (default export httpHandler(fetch)), run inline on each loop with workers: 0: a function cannot cross to a loop's thread`,
      );
    }
    if (websocket !== undefined || http.upgrade !== undefined) {
      throw new TypeError(
        `httpServer with loops: ${loops} takes neither websocket nor http.upgrade: their functions cannot cross to a loop's thread (websocketServer serves WebSocket on several loops)`,
      );
    }
  }
  let upgrade = http.upgrade;
  let websocketMessages: MessageHandler | undefined;
  if (websocket !== undefined) {
    if (typeof handler !== "function") {
      throw new TypeError("websocket needs a function handler (WebSocket messages run inline)");
    }
    if (upgrade !== undefined) {
      throw new TypeError("Give either websocket or http.upgrade, not both");
    }
    const { onMessage, ...upgradeOptions } = websocket;
    upgrade = websocketUpgrade(upgradeOptions);
    websocketMessages = websocketHandler({ onMessage }, upgradeOptions);
  }
  const protocol = httpProtocol({
    ...http,
    upgrade,
    secure: http.secure ?? options.tls !== undefined,
  });
  const port = defaultPort(options, HTTP_PORT);
  if (typeof handler === "function") {
    if (workers !== 0) {
      throw new TypeError(
        `A function handler runs inline: give a module URL (default export httpHandler(fetch)) to use workers: ${workers}`,
      );
    }
    const report = serverOptions.onError;
    const onError = onRequestError ?? ((error: unknown) => {
      const err = error instanceof Error ? error : new Error(String(error));
      if (report !== undefined) report(err);
      else console.error(`speedo http: the request handler failed: ${describeError(err, true)}`);
      return new Response("Internal Server Error\n", { status: 500 });
    });
    const messages = httpHandler(handler, { websocket: websocketMessages, onError });
    return new Server<T>({
      ...serverOptions,
      port,
      workers: 0,
      protocol,
      handler: messages,
    });
  }
  return new Server<T>({ ...serverOptions, port, workers, protocol, handler });
}
