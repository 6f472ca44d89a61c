import { Server, type ServerOptions } from "../../core/server.ts";
import { rpcProtocol, type RpcProtocolOptions } from "./rpc_protocol.ts";
import { Services } from "./services.ts";

/** Options of {@linkcode rpcServer}: the server's, less what the RPC protocol sets. */
export interface RpcServerOptions
  extends Omit<ServerOptions, "protocol" | "handler" | "onMessage">, RpcProtocolOptions {
  /**
   * The services: a {@linkcode Services} object, run inline on the I/O thread (`workers: 0`),
   * or the URL of a module whose default export is one, run in every worker (or inline with
   * `workers: 0`).
   */
  services: Services | string | URL;
}

/**
 * Makes an RPC server: the {@linkcode rpcProtocol} framing, and the services in the worker
 * pool or inline. Call `listen()` to start it.
 *
 * @param options The services, and the server's options.
 * @returns The server, not yet listening.
 * @throws {TypeError} When a `Services` object is given with `workers` above 0 (a worker
 *   needs the module's URL), or `services` is missing.
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
export function rpcServer(options: RpcServerOptions): Server {
  const { services, maxFrameSize, ...serverOptions } = options;
  const protocol = rpcProtocol({ maxFrameSize });
  if (services instanceof Services) {
    if ((options.workers ?? 0) > 0) {
      throw new TypeError(
        "A Services object runs inline only: give workers the URL of a module whose default export is the Services",
      );
    }
    return new Server({ ...serverOptions, protocol, onMessage: services.onMessage });
  }
  if (typeof services !== "string" && !(services instanceof URL)) {
    throw new TypeError("rpcServer needs services: a Services object or a module URL");
  }
  return new Server({ ...serverOptions, protocol, handler: services });
}
