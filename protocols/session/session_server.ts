import { Server, type ServerOptions, type SocketTransport } from "../../core/server.ts";
import { sessionProtocol, type SessionProtocolOptions } from "./session_protocol.ts";

/**
 * Options of {@linkcode sessionServer}: the server's options, and the protocol's in `session`.
 */
export interface SessionServerOptions<T extends SocketTransport = "tcp">
  extends Omit<ServerOptions<T>, "protocol" | "handler" | "onMessage" | "workers"> {
  /**
   * The options of {@linkcode sessionProtocol}, passed to it as they are. Give a `sessions`
   * table to reach the sessions; the server's `close()` closes it (with its files and timers)
   * either way.
   */
  session: SessionProtocolOptions;
}

/**
 * Makes a server of persistent sessions: a plain {@linkcode Server} running
 * {@linkcode sessionProtocol} with the `session` options, without workers (sessions are
 * handled on the I/O thread, which owns their files). Call `listen()` to start it; its
 * `close()` closes the sessions too.
 *
 * @param options The server's options, and the protocol's in `session`.
 * @returns The server, not yet listening.
 * @throws {TypeError} When `session` is missing, or a protocol option has the wrong type.
 * @throws {RangeError} When a name or a bound is invalid.
 *
 * @example An answering server and one client
 * ```ts
 * import { connectSession, sessionServer, SessionTable } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 * import { deadline } from "@std/async/deadline";
 *
 * const dir = await Deno.makeTempDir();
 * using sessions = new SessionTable();
 * await using server = sessionServer({
 *   session: {
 *     dir: `${dir}/server`,
 *     sessions,
 *     onMessage: (message, session) => void session.send(message.type, message.payload),
 *   },
 * });
 * const { port } = await server.listen();
 * const answers: number[] = [];
 * const allAnswered = Promise.withResolvers<void>();
 * const client = await connectSession({
 *   port,
 *   session: {
 *     dir: `${dir}/client`,
 *     name: "client-1",
 *     onMessage: (message) => {
 *       if (answers.push(message.payload[0]) === 3) allAnswered.resolve();
 *     },
 *   },
 * });
 * for (let i = 1; i <= 3; i++) client.session.send(1, new Uint8Array([i]));
 * await client.session.whenAcknowledged(3);
 * await deadline(allAnswered.promise, 5000);
 * assertEquals(answers, [1, 2, 3]);
 * await client.close();
 * await server.close();
 * assertEquals(sessions.closed, true); // the server's close closed its sessions
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function sessionServer<T extends SocketTransport = "tcp">(
  options: SessionServerOptions<T>,
): Server<T> {
  const { session, ...server } = options;
  if (session === undefined) throw new TypeError("sessionServer needs its session options");
  return new Server<T>({ ...server, protocol: sessionProtocol(session) });
}
