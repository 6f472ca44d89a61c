import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { defaultWorkerCount } from "../../core/worker_pool.ts";
import { defaultPort } from "../../core/_transport_checks.ts";
import { echoProtocol, type EchoProtocolOptions } from "./echo_protocol.ts";

/** The port of the echo example: `telnet localhost 9292`. */
export const ECHO_PORT = 9292;

/**
 * Options of {@linkcode echoServer}: the server's, less what the echo protocol sets, and the
 * protocol's in `echo`. `T` is the transport, as in {@linkcode ServerOptions}.
 */
export interface EchoServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage" | "port"> {
  /**
   * Port to listen on; 0 picks a free one. TCP only.
   *
   * @default {9292}
   */
  port?: T extends "unix" ? never : number;
  /**
   * Workers that echo the lines; 0 echoes inline on the I/O thread.
   *
   * @default {defaultWorkerCount()}
   */
  workers?: number;
  /** The options of {@linkcode echoProtocol}, passed to it as they are. */
  echo?: EchoProtocolOptions;
}

/**
 * Makes an echo server: the echo protocol, and the echo handler in a worker pool (one worker
 * per core but the I/O thread's by default) or inline with `workers: 0`, on port 9292 by default.
 * Call `listen()` to start it.
 *
 * @param options The server's options, and the protocol's in `echo`; see
 *   {@linkcode EchoServerOptions}.
 * @returns The server, not yet listening.
 * @throws {RangeError} When `echo.maxLineLength` is out of range.
 *
 * @example
 * ```ts
 * import { echoServer } from "@speedo/speedo/echo";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = echoServer({ port: 0, workers: 1, echo: { maxLineLength: 1024 } });
 * const { port } = await server.listen();
 * const client = await Deno.connect({ hostname: "127.0.0.1", port });
 * await client.write(new TextEncoder().encode("ping\n"));
 * const reply = new Uint8Array(5);
 * let read = 0;
 * while (read < 5) read += (await client.read(reply.subarray(read))) ?? 5;
 * assertEquals(new TextDecoder().decode(reply), "ping\n");
 * client.close();
 * ```
 */
export function echoServer<T extends SocketTransport = "tcp">(
  options: EchoServerOptions<T> = {},
): Server<T> {
  const { echo, ...serverOptions } = options;
  return new Server<T>({
    ...serverOptions,
    port: defaultPort(options, ECHO_PORT),
    workers: options.workers ?? defaultWorkerCount(),
    protocol: echoProtocol(echo),
    handler: new URL("./echo_handler.ts", import.meta.url),
  });
}
