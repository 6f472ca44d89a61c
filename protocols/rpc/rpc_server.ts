import { Server, type ServerOptions } from "../../core/server.ts";
import { rpcProtocol, type RpcProtocolOptions } from "./rpc_protocol.ts";
import { type ServiceHandler, Services } from "./services.ts";

/** Options of {@linkcode rpcServer}: the server's, less what the RPC protocol sets. */
export interface RpcServerOptions
  extends Omit<ServerOptions, "protocol" | "handler" | "onMessage">, RpcProtocolOptions {
  /**
   * The services: a {@linkcode Services} object, run inline on the I/O thread (`workers: 0`),
   * or the URL of a module whose default export is one, run in every worker (or inline with
   * `workers: 0`). Without it the server starts with an empty table, run inline, that
   * {@linkcode RpcServer.service} fills.
   */
  services?: Services | string | URL;
  /**
   * Requests of one connection handled at once; replies leave as each finishes and are
   * matched to calls by id. 1 handles a connection's requests one at a time, in order.
   *
   * @default {100}
   */
  concurrency?: number;
}

/** Requests of one connection handled at once by default, as HTTP/2 servers commonly allow streams. */
const DEFAULT_CONCURRENCY = 100;

/**
 * A {@linkcode Server} that speaks Speedo RPC: the {@linkcode rpcProtocol} framing, and its
 * services in the worker pool or inline. Made by {@linkcode rpcServer}.
 */
export class RpcServer extends Server {
  /** The inline table, or `undefined` when the services run from a module. */
  readonly #services: Services | undefined;

  /**
   * Makes the server; call `listen()` to start it.
   *
   * @param options The services, and the server's options.
   * @throws {TypeError} When a `Services` object is given with `workers` above 0 (a worker
   *   needs the module's URL), or `services` is of another kind.
   */
  constructor(options: RpcServerOptions = {}) {
    const {
      services = new Services(),
      maxFrameSize,
      concurrency = DEFAULT_CONCURRENCY,
      ...rest
    } = options;
    const inline = services instanceof Services;
    if (inline && (options.workers ?? 0) > 0) {
      throw new TypeError(
        "A Services object runs inline only: give workers the URL of a module whose default export is the Services",
      );
    }
    if (!inline && typeof services !== "string" && !(services instanceof URL)) {
      throw new TypeError("rpcServer needs services: a Services object or a module URL");
    }
    // Inline, the table also hears of closes, to forget what it keeps per connection.
    const handling = inline
      ? { onMessage: services.onMessage, onClose: closeBoth(services, rest) }
      : { handler: services };
    super({ ...rest, concurrency, protocol: rpcProtocol({ maxFrameSize }), ...handling });
    this.#services = inline ? services : undefined;
  }

  /**
   * Registers the handler of a message type in the server's inline table (before or after
   * `listen()`). Services that run in workers are registered in their module instead: a
   * function cannot be sent to a worker.
   *
   * @param type The message type, 1 to 65535 (0 is the RPC layer's own).
   * @param handler Answers the requests of that type.
   * @returns This server, to chain registrations.
   * @throws {TypeError} When the server's services come from a module, the type has a handler
   *   already, or `handler` is no function.
   * @throws {RangeError} When the type is out of range.
   *
   * @example
   * ```ts
   * import { connectRpc, rpcServer } from "@speedo/speedo/rpc";
   * import { assertEquals } from "@std/assert";
   *
   * await using server = rpcServer().service(1, ({ body }) => body.toReversed());
   * const { port } = await server.listen();
   * await using rpc = await connectRpc({ port });
   * assertEquals(await rpc.call(1, new Uint8Array([1, 2, 3])), new Uint8Array([3, 2, 1]));
   * ```
   */
  service(type: number, handler: ServiceHandler): this {
    if (this.#services === undefined) {
      throw new TypeError(
        `Service ${type} cannot be added to a server whose services run from a module: register it in the module's Services`,
      );
    }
    this.#services.service(type, handler);
    return this;
  }
}

/** The inline services forget a closed connection first, then the caller's `onClose` runs. */
function closeBoth(
  services: Services,
  options: Pick<ServerOptions, "onClose">,
): NonNullable<ServerOptions["onClose"]> {
  return (connection, reason) => {
    services.onClose(connection);
    options.onClose?.(connection, reason);
  };
}

/**
 * Makes an RPC server: the {@linkcode rpcProtocol} framing, and the services in the worker
 * pool or inline. Call `listen()` to start it.
 *
 * @param options The services, and the server's options.
 * @returns The server, not yet listening.
 * @throws {TypeError} When a `Services` object is given with `workers` above 0 (a worker
 *   needs the module's URL), or `services` is of another kind.
 *
 * @example Inline services
 * ```ts
 * import { connectRpc, rpcServer, Services } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * const services = new Services().service(1, ({ body }) => `${body.length} bytes`);
 * await using server = rpcServer({ services });
 * const { port } = await server.listen();
 * await using rpc = await connectRpc({ port });
 * assertEquals(new TextDecoder().decode(await rpc.call(1, new Uint8Array(3))), "3 bytes");
 * ```
 *
 * @example Services in workers: `services.ts` is a module whose default export is a `Services`
 * ```ts ignore
 * import { rpcServer } from "@speedo/speedo/rpc";
 *
 * const server = rpcServer({ services: new URL("./services.ts", import.meta.url), workers: 2 });
 * await server.listen();
 * ```
 */
export function rpcServer(options: RpcServerOptions = {}): RpcServer {
  return new RpcServer(options);
}
