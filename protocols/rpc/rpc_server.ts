import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { rpcProtocol, type RpcProtocolOptions } from "./rpc_protocol.ts";
import { Services } from "./services.ts";

/**
 * Options of {@linkcode rpcServer}: the server's, with `handler` narrowed to the services, and
 * the protocol's in `rpc`.
 */
export interface RpcServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage"> {
  /**
   * The services: a {@linkcode Services} table the application made and filled, run inline on
   * the I/O thread (`workers: 0`), or the URL of a module whose default export is one, run in
   * every worker (or inline with `workers: 0`). With `loops` above 1 (or `"auto"`) only the
   * module URL works: each loop loads its own table from it, inline on the loop's thread with
   * `workers: 0`, or in the loop's own workers.
   */
  handler: Services | string | URL;
  /**
   * Requests of one connection handled at once; replies leave as each finishes and are
   * matched to calls by id. 1 handles a connection's requests one at a time, in order.
   *
   * @default {100}
   */
  concurrency?: number;
  /** The options of {@linkcode rpcProtocol}, passed to it as they are. */
  rpc?: RpcProtocolOptions;
}

/** Requests of one connection handled at once by default, as HTTP/2 servers commonly allow streams. */
const DEFAULT_CONCURRENCY = 100;

/** The inline services forget a closed connection first, then the caller's `onClose` runs. */
function closeBoth(
  services: Services,
  onClose: ServerOptions["onClose"],
): NonNullable<ServerOptions["onClose"]> {
  return (connection, reason, loop) => {
    services.onClose(connection);
    onClose?.(connection, reason, loop);
  };
}

/**
 * Makes an RPC server: a plain {@linkcode Server} running {@linkcode rpcProtocol} with the
 * `rpc` options, and the services as its message handler, in the worker pool or inline. Call
 * `listen()` to start it.
 *
 * The services are a {@linkcode Services} table the application makes and fills
 * (`new Services().service(type, handler)`), and keeps: it may register more after `listen()`.
 * Workers load code by URL, so services that run in workers are declared in a module whose
 * default export is the table, and `handler` is its URL. Inline services are also told of each
 * closed connection ({@linkcode Services.onClose}), before the server's own `onClose`.
 *
 * @param options The services (`handler`), the server's options, and the protocol's in `rpc`.
 * @returns The server, not yet listening.
 * With `loops` above 1 each loop builds `rpcProtocol(rpc)` again from its recipe and loads
 * the services module: each loop (and each of its workers) has its own table, so state a
 * service keeps in its module is per loop. A cancel reaches its call, since it comes on the
 * call's own connection, handled by one loop.
 *
 * @throws {TypeError} When `handler` is missing or of another kind, or a `Services` object is
 *   given with `workers` above 0 or `loops` above 1 (a worker or a loop needs the module's
 *   URL).
 * @throws {RangeError} When `rpc.maxFrameSize` or a server bound is out of range.
 *
 * @example Inline services, one added after listen
 * ```ts
 * import { connectRpc, rpcServer, Services } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * const services = new Services().service(1, ({ body }) => `${body.length} bytes`);
 * await using server = rpcServer({ handler: services });
 * const { port } = await server.listen();
 * services.service(2, ({ body }) => body.toReversed());
 * await using rpc = await connectRpc({ port });
 * assertEquals(new TextDecoder().decode(await rpc.call(1, new Uint8Array(3))), "3 bytes");
 * assertEquals(await rpc.call(2, new Uint8Array([1, 2, 3])), new Uint8Array([3, 2, 1]));
 * ```
 *
 * @example Services in workers: `services.ts` is a module whose default export is a `Services`
 * ```ts ignore
 * import { rpcServer } from "@speedo/speedo/rpc";
 *
 * const server = rpcServer({ handler: new URL("./services.ts", import.meta.url), workers: 2 });
 * await server.listen();
 * ```
 */
export function rpcServer<T extends SocketTransport = "tcp">(
  options: RpcServerOptions<T>,
): Server<T> {
  const { handler, rpc, ...server } = options ?? {};
  const inline = handler instanceof Services;
  if (!inline && typeof handler !== "string" && !(handler instanceof URL)) {
    throw new TypeError(
      `rpcServer needs handler: a Services object or the URL of a module whose default export is one, got ${
        String(handler)
      }`,
    );
  }
  const loops = server.loops;
  if (inline && loops !== undefined && loops !== 1) {
    throw new TypeError(
      `rpcServer with loops: ${loops} needs handler to be the URL of a module whose default export is the Services, run inline on each loop with workers: 0: a Services object (its service functions) cannot cross to a loop's thread`,
    );
  }
  if (inline && (server.workers ?? 0) > 0) {
    throw new TypeError(
      `A Services object runs inline only, got workers: ${server.workers}: give workers the URL of a module whose default export is the Services`,
    );
  }
  return new Server<T>({
    ...server,
    concurrency: server.concurrency ?? DEFAULT_CONCURRENCY,
    protocol: rpcProtocol(rpc),
    handler,
    // Inline, the table also hears of closes, to forget what it keeps per connection.
    onClose: inline ? closeBoth(handler, server.onClose) : server.onClose,
  });
}
