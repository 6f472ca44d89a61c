/**
 * Persistent sessions, after tcpshm's persistent TCP: numbered messages between a named
 * client and a server that survive disconnects and restarts of either side, delivered exactly
 * once and in order.
 *
 * - {@linkcode sessionProtocol}: the server side, one {@linkcode Session} per client name in a
 *   {@linkcode SessionTable}, its messages handled on the I/O thread; hooks for logins
 *   (`onLogin`), sequence mismatches and corrupt files. Sessions without a connection expire
 *   (`emptySessionTimeout`, `detachedSessionTimeout`). {@linkcode sessionServer} is a plain
 *   `Server` running it, with its options in `session`.
 * - {@linkcode connectSession}: the client side, reconnecting with backoff and resuming; the
 *   session's options go in `session`, the connection's beside it.
 * - Authentication: with the server's `authenticate` hook, a login's `{ name, secret }` (the
 *   client's `secret` option) goes to it before anything about the session is looked at;
 *   {@linkcode sessionSecrets} is such a hook for one secret per name. A refused login gets
 *   {@linkcode SessionRefusedError} and learns nothing else; the identity must be the session's
 *   name, or list it in `grants.sessions` ({@linkcode identityMayUse}). A relogin with the right
 *   secret takes a live session over (a restarted client), at most `maxTakeovers` (5) times per
 *   `takeoverWindow` (10 s) per name. Without a hook anyone may log in under any name, but a
 *   refused login is never told the server's numbers.
 * - {@linkcode SessionStore}: the append-only file per peer (CRC-32 per record, compaction of
 *   acknowledged records, `fsync` never / every N ms / always); {@linkcode resetSession}
 *   deletes it to start a session over.
 *
 * How a session resumes:
 *
 * ```
 * client                                           server
 *   ── login(name, secret, received r_c, acknowledged, sent) ─▶  [authenticate], opens <dir>/<name>.session
 *   ◀── reply(accepted, received r_s, acknowledged, sent)  (or refused / rejected / mismatch)
 *   ── messages r_s+1 … (resent, then new) ─────────▶  duplicates dropped by seq
 *   ◀── messages r_c+1 … (resent, then new) ─────────
 *   every frame's ackSeq acknowledges; heartbeats after 3 s of silence; 10 s without a word
 *   closes the connection, and the client reconnects
 * ```
 *
 * A side stores a message before it reaches the network, and stores the cursor of what it
 * received (with the replies its handler sent for it) before acknowledging it, so neither a
 * kill nor a restart loses or repeats a message. Effects a handler has outside the session (a
 * console line, a database write) can repeat after a crash: key them by `message.seq`.
 *
 * @example
 * ```ts
 * import { connectSession, sessionServer, SessionTable } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 * import { deadline } from "@std/async/deadline";
 *
 * const dir = await Deno.makeTempDir();
 * const sessions = new SessionTable();
 * const server = sessionServer({
 *   session: {
 *     dir: `${dir}/server`,
 *     sessions,
 *     onMessage: (message, session) => void session.send(1, message.payload),
 *   },
 * });
 * const { port } = await server.listen();
 * const reply = Promise.withResolvers<number>();
 * const client = await connectSession({
 *   port,
 *   session: {
 *     dir: `${dir}/client`,
 *     name: "client-1",
 *     onMessage: (message) => reply.resolve(message.seq),
 *   },
 * });
 * client.session.send(1, new Uint8Array([42]));
 * await client.session.whenAcknowledged(1);
 * assertEquals(await deadline(reply.promise, 5000), 1);
 * await client.close();
 * await server.close();
 * sessions.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export * from "./crc32.ts";
export * from "./session.ts";
export * from "./session_authentication.ts";
export * from "./session_client.ts";
export * from "./session_errors.ts";
export * from "./session_protocol.ts";
export * from "./session_server.ts";
export * from "./session_store.ts";
