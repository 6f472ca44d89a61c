import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import type { ProtocolContext, ProtocolHandler } from "../../core/protocol.ts";
import { nonNegativeInteger } from "../../core/_option_checks.ts";
import { Server, type ServerOptions, type ServerStats } from "../../core/server.ts";
import { checkName } from "./_names.ts";
import { resolveSessionOptions, type SessionOptions } from "./_session_options.ts";
import {
  decodeLogin,
  encodeLoginReply,
  FrameType,
  type Login,
  LoginStatus,
  sequencesMatch,
} from "./_session_wire.ts";
import { Session, type SessionMessageHandler } from "./session.ts";
import { SessionFileError, SessionMismatchError } from "./session_errors.ts";
import { type FsyncPolicy, resetSession, SessionStore } from "./session_store.ts";

/** What the server knows of a login when it asks {@linkcode SessionServerOptions.onLogin}. */
export interface SessionLogin {
  /** The client's name: its session's name. */
  readonly name: string;
  /** The last sequence number the client received from this server. */
  readonly received: number;
  /** The last of its messages the client says this server acknowledged. */
  readonly acknowledged: number;
  /** The last sequence number the client sent. */
  readonly sent: number;
  /** The connection logging in. */
  readonly connection: ConnectionHandle;
}

/** Options of {@linkcode sessionServer}. */
export interface SessionServerOptions
  extends Omit<ServerOptions, "protocol" | "handler" | "onMessage" | "workers">, SessionOptions {
  /** The directory of the session files, one per client name; made if missing. */
  dir: string;
  /**
   * This server's name; a client names the server it expects, and a login for another
   * name is rejected.
   *
   * @default {"server"}
   */
  name?: string;
  /** Handles each message of every session, exactly once and in order, on the I/O thread. */
  onMessage: SessionMessageHandler;
  /**
   * Decides on a login before its session opens: return a reason to reject it, or nothing to
   * accept it.
   */
  onLogin?(login: SessionLogin): string | void;
  /**
   * Told when a client's numbers and this side's contradict each other; the login is then
   * refused with a mismatch, which the client reports too.
   */
  onSequenceMismatch?(error: SessionMismatchError): void;
  /**
   * Told when a client's session file is corrupt or truncated; its login is then refused with
   * the error's message until the file is reset ({@linkcode resetSession}). A file that only
   * ends in a torn write is cut back to its last whole write and opens: the
   * {@linkcode SessionTornWriteError} warning goes to `onError`.
   */
  onFileError?(error: SessionFileError): void;
  /** Told when a client logged in and its session resumed. */
  onSessionOpen?(session: Session): void;
  /** Told when a session's connection closed; the session goes on without one. */
  onSessionClose?(session: Session, reason?: Error): void;
  /**
   * Told when a session without a connection expired (`emptySessionTimeout`,
   * `detachedSessionTimeout`) or gave its place to a new one: it is closed and out of the
   * table. A later login of its name opens it again, from its file if it has one.
   */
  onSessionExpire?(session: Session): void;
  /**
   * When session files are flushed to the disk: `"never"`, `"always"`, or every N ms.
   *
   * @default {"never"}
   */
  fsync?: FsyncPolicy;
  /**
   * Session file size past which acknowledged records are compacted away, in bytes.
   *
   * @default {1048576}
   */
  compactThreshold?: number;
  /**
   * Sessions in the table at once at most (each holds its file open): logged in, or without a
   * connection and not expired yet. Past it, a login of a new name takes the place of the
   * session that exchanged nothing and has been without a connection longest; when there is
   * none, it is rejected ("Too many sessions").
   *
   * @default {1024}
   */
  maxSessions?: number;
  /**
   * Time a session that exchanged nothing (no message sent or received, either way) stays
   * without a connection before it is closed and forgotten, its file removed if it has one, in
   * milliseconds; 0 keeps it. Forgetting it loses nothing: a login of its name starts it again
   * from the same numbers, 0. Made-up logins that send nothing go this way, and do not fill the
   * table for good.
   *
   * @default {10000}
   */
  emptySessionTimeout?: number;
  /**
   * Time a session that exchanged messages stays without a connection before it is closed and
   * leaves the table, in milliseconds; 0 keeps it. Its file stays: at its client's next login
   * the session opens from it and resumes as usual, nothing lost. Until then
   * {@linkcode SessionServer.session} does not find it, and the {@linkcode Session} handed out
   * before is closed (messages for that client cannot be sent through it).
   *
   * @default {600000}
   */
  detachedSessionTimeout?: number;
}

const encoder = new HeaderEncoder();

/**
 * A server of persistent sessions (the idea of tcpshm's persistent TCP): each client logs in
 * with its name and the numbers of what it received and sent; the server resumes that
 * client's session from its file, both sides send again what the other has not received, and
 * every message is delivered exactly once and in order, across disconnects and restarts of
 * either side.
 *
 * Messages are handled on the I/O thread: each session's file has one owner, and the replies a
 * handler sends are stored in the same write as the cursor of the message they answer.
 *
 * @example See {@linkcode sessionServer}.
 * ```ts
 * import { sessionServer } from "@speedo/speedo/session";
 *
 * const dir = await Deno.makeTempDir();
 * const server = sessionServer({ dir, onMessage: (message, session) => void session.send(1, message.payload) });
 * await server.listen();
 * await server.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SessionServer implements AsyncDisposable {
  readonly #registry: SessionRegistry;
  readonly #server: Server;

  /**
   * Makes a server; {@linkcode SessionServer.listen} starts it.
   *
   * @param options The directory, the handler, the hooks, and the server's options.
   * @throws {RangeError} When a name or a bound is invalid.
   * @throws {TypeError} When `onMessage` is missing.
   */
  constructor(options: SessionServerOptions) {
    this.#registry = new SessionRegistry(options);
    const {
      dir: _dir,
      name: _name,
      onMessage: _onMessage,
      onLogin: _onLogin,
      onSequenceMismatch: _onMismatch,
      onFileError: _onFileError,
      onSessionOpen: _onOpen,
      onSessionClose: _onClose,
      onSessionExpire: _onExpire,
      emptySessionTimeout: _emptySessionTimeout,
      detachedSessionTimeout: _detachedSessionTimeout,
      fsync: _fsync,
      compactThreshold: _compactThreshold,
      maxSessions: _maxSessions,
      heartbeatInterval: _heartbeat,
      connectionTimeout: _timeout,
      ackDelay: _ackDelay,
      maxUnacked: _maxUnacked,
      maxUnackedBytes: _maxUnackedBytes,
      ...serverOptions
    } = options;
    const registry = this.#registry;
    this.#server = new Server({
      ...serverOptions,
      protocol: { create: (context) => new SessionServerHandler(registry, context) },
    });
  }

  /**
   * The sessions in the table: logged in now, or without a connection and not expired yet
   * (`emptySessionTimeout`, `detachedSessionTimeout`).
   */
  get sessions(): Session[] {
    return [...this.#registry.sessions.values()];
  }

  /**
   * The session of a client, once it logged in (until it expires).
   *
   * @param name The client's name.
   * @returns Its session, or `undefined`.
   */
  session(name: string): Session | undefined {
    return this.#registry.sessions.get(name);
  }

  /**
   * Listens for clients.
   *
   * @returns The bound address.
   */
  listen(): Promise<Deno.NetAddr> {
    return this.#server.listen();
  }

  /**
   * The underlying server's counters.
   *
   * @returns A fresh object.
   */
  stats(): ServerStats {
    return this.#server.stats();
  }

  /**
   * Closes gracefully: stores every session's state, sends the acknowledgements due, closes
   * the connections and the session files.
   */
  async close(): Promise<void> {
    this.#registry.close();
    for (const session of this.#registry.sessions.values()) session.flush();
    await this.#server.close();
    for (const session of this.#registry.sessions.values()) session.close();
  }

  /** Same as {@linkcode SessionServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A session without a connection: since when, and the timer of its expiry. */
interface Detached {
  readonly since: number;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The sessions of a server, by client name, and the login rules: shared by its connections.
 *
 * A session's life in the table:
 *
 * ```
 * login (new name) ──▶ attached ◀──── login ────┐
 *   │ refused: gone        │ connection closes   │
 *   ▼                      ▼                     │
 * (nothing kept)        detached ────────────────┘
 *                          │ emptySessionTimeout (nothing exchanged; file removed),
 *                          │ detachedSessionTimeout (file kept),
 *                          │ or its place taken while the table is full (nothing exchanged)
 *                          ▼
 *                    closed, out of the table
 * ```
 */
class SessionRegistry {
  readonly options: SessionServerOptions;
  readonly name: string;
  readonly sessions = new Map<string, Session>();
  readonly maxSessions: number;
  readonly connectionTimeout: number;
  readonly emptySessionTimeout: number;
  readonly detachedSessionTimeout: number;
  /** The sessions without a connection, in the order they lost it. */
  readonly #detached = new Map<Session, Detached>();
  #closed = false;

  constructor(options: SessionServerOptions) {
    if (typeof options?.onMessage !== "function") {
      throw new TypeError("sessionServer needs onMessage(message, session)");
    }
    this.name = options.name ?? "server";
    checkName("name", this.name);
    this.connectionTimeout = resolveSessionOptions(options).connectionTimeout;
    this.maxSessions = options.maxSessions ?? 1024;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new RangeError(`maxSessions must be a positive integer, got ${this.maxSessions}`);
    }
    this.emptySessionTimeout = nonNegativeInteger(
      "emptySessionTimeout",
      options.emptySessionTimeout ?? 10_000,
    );
    this.detachedSessionTimeout = nonNegativeInteger(
      "detachedSessionTimeout",
      options.detachedSessionTimeout ?? 600_000,
    );
    this.options = options;
  }

  /** Logs a client in: its session, or a reason to refuse it. */
  login(login: Login, connection: ConnectionHandle): { session: Session } | {
    status: number;
    reason: string;
    local?: Session;
  } {
    const options = this.options;
    try {
      checkName("name", login.name);
    } catch (error) {
      return { status: LoginStatus.rejected, reason: (error as Error).message };
    }
    if (login.serverName !== this.name) {
      return {
        status: LoginStatus.rejected,
        reason: `This server is "${this.name}", not "${login.serverName}"`,
      };
    }
    let reason: string | void;
    try {
      reason = options.onLogin?.({ ...login, connection });
    } catch (error) {
      reason = `onLogin failed: ${(error as Error).message}`;
    }
    if (typeof reason === "string") return { status: LoginStatus.rejected, reason };
    let session = this.sessions.get(login.name);
    const opened = session === undefined;
    if (session === undefined) {
      if (this.sessions.size >= this.maxSessions && !this.#makeRoom()) {
        return {
          status: LoginStatus.rejected,
          reason: `Too many sessions (maxSessions: ${this.maxSessions})`,
        };
      }
      let store: SessionStore;
      try {
        store = SessionStore.open({
          dir: options.dir,
          localName: this.name,
          peerName: login.name,
          fsync: options.fsync,
          compactThreshold: options.compactThreshold,
          onWarning: (warning) => this.report(warning),
        });
      } catch (error) {
        if (!(error instanceof SessionFileError)) throw error;
        this.hook(() => options.onFileError?.(error));
        return { status: LoginStatus.rejected, reason: error.message };
      }
      session = new Session(
        login.name,
        store,
        options,
        options.onMessage,
        (error) => this.report(error),
      );
      this.sessions.set(login.name, session);
    }
    session.flush();
    if (!sequencesMatch(session.sequences, login)) {
      const error = new SessionMismatchError(login.name, session.sequences, login);
      this.hook(() => options.onSequenceMismatch?.(error));
      // A session opened for this login only leaves nothing behind: no table entry, and no
      // file (its store makes one at its first write, and nothing was written).
      if (opened) {
        this.sessions.delete(login.name);
        session.close();
      }
      return { status: LoginStatus.mismatch, reason: error.message, local: session };
    }
    return { session };
  }

  /** A session's connection closed. */
  sessionClosed(session: Session, reason?: Error): void {
    this.hook(() => this.options.onSessionClose?.(session, reason));
    this.#detach(session, Date.now());
  }

  /** A session resumed. */
  sessionOpened(session: Session): void {
    const detached = this.#detached.get(session);
    if (detached !== undefined) {
      clearTimeout(detached.timer);
      this.#detached.delete(session);
    }
    this.hook(() => this.options.onSessionOpen?.(session));
  }

  /** The server closes: sessions expire no more (they are all closed next). */
  close(): void {
    this.#closed = true;
    for (const detached of this.#detached.values()) clearTimeout(detached.timer);
    this.#detached.clear();
  }

  /** Starts the expiry of a session left without a connection (`since` then). */
  #detach(session: Session, since: number): void {
    if (
      this.#closed || session.connected || this.#detached.has(session) ||
      this.sessions.get(session.peer) !== session
    ) return;
    const timeout = isEmpty(session) ? this.emptySessionTimeout : this.detachedSessionTimeout;
    const timer = timeout === 0
      ? undefined
      : setTimeout(() => this.#expire(session), Math.max(0, since + timeout - Date.now()));
    this.#detached.set(session, { since, timer });
  }

  #expire(session: Session): void {
    const detached = this.#detached.get(session);
    if (detached === undefined) return;
    this.#detached.delete(session);
    // The application may have sent to it meanwhile: it then has the longer time.
    const timeout = isEmpty(session) ? this.emptySessionTimeout : this.detachedSessionTimeout;
    if (timeout === 0 || Date.now() - detached.since < timeout) {
      this.#detach(session, detached.since);
    } else {
      this.#forget(session);
    }
  }

  /**
   * Makes room in a full table: forgets the session that exchanged nothing and has been
   * without a connection longest. Forgetting it loses nothing, so a flood of logins that send
   * nothing cannot keep a real client out while such sessions are in the table.
   */
  #makeRoom(): boolean {
    for (const [session, detached] of this.#detached) {
      if (!isEmpty(session)) continue;
      clearTimeout(detached.timer);
      this.#detached.delete(session);
      this.#forget(session);
      return true;
    }
    return false;
  }

  /** Closes a session and takes it out of the table; one that exchanged nothing, its file too. */
  #forget(session: Session): void {
    const empty = isEmpty(session);
    this.sessions.delete(session.peer);
    session.close();
    if (empty) {
      try {
        resetSession({ dir: this.options.dir, peer: session.peer });
      } catch (error) {
        this.report(error);
      }
    }
    this.hook(() => this.options.onSessionExpire?.(session));
  }

  hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.report(error);
    }
  }

  report(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    const onError = this.options.onError;
    if (onError === undefined) {
      console.error(`speedo session: ${err.name}: ${err.message}`);
      return;
    }
    try {
      onError(err);
    } catch (thrown) {
      console.error("speedo session: onError threw", thrown);
    }
  }
}

/** Whether a session exchanged nothing: forgetting it (and its file) loses nothing. */
function isEmpty(session: Session): boolean {
  const sequences = session.sequences;
  return sequences.received === 0 && sequences.sent === 0;
}

/**
 * One connection of a session server:
 *
 * ```
 * open -> (login frame) -> ready: data* -> close
 *            └ rejected or mismatch: reply, close
 * ```
 */
class SessionServerHandler implements ProtocolHandler {
  readonly #server: SessionRegistry;
  readonly #context: ProtocolContext;
  readonly #decoder = new HeaderDecoder();
  #session: Session | undefined;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(server: SessionRegistry, context: ProtocolContext) {
    this.#server = server;
    this.#context = context;
  }

  open(): void {
    // A connection that never logs in must not hold its slot.
    this.#loginTimer = setTimeout(
      () => this.#context.handle.close(),
      this.#server.connectionTimeout,
    );
  }

  data(chunk: Uint8Array): void {
    const decoder = this.#decoder;
    decoder.feed(chunk);
    try {
      for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
        const session = this.#session;
        if (session !== undefined) session.receive(decoder.type, decoder.ackSeq, payload);
        else if (!this.#login(decoder.type, payload)) return;
      }
    } catch (error) {
      // What was delivered before the fault is stored; the connection then closes (the error
      // goes to the server's onError) and the client resumes on a new one.
      this.#session?.flush();
      throw error;
    }
    this.#session?.flush();
  }

  close(reason?: Error): void {
    clearTimeout(this.#loginTimer);
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    session.detach(this.#context.handle);
    this.#server.sessionClosed(session, reason);
  }

  /** Handles the first frame; `false` when the connection is refused. */
  #login(type: number, payload: Uint8Array): boolean {
    const handle = this.#context.handle;
    const refuse = (status: number, reason: string, local?: Session) => {
      const sequences = local?.sequences ?? { received: 0, acknowledged: 0, sent: 0 };
      const reply = encodeLoginReply({
        status,
        serverName: this.#server.name,
        reason,
        ...sequences,
      });
      handle.write(encoder.encode(FrameType.loginReply, reply));
      handle.close();
      return false;
    };
    if (type !== FrameType.login) {
      return refuse(LoginStatus.rejected, `Expected a login first, got a frame of type ${type}`);
    }
    const login = decodeLogin(payload);
    if (typeof login === "string") return refuse(LoginStatus.rejected, login);
    const result = this.#server.login(login, handle);
    if (!("session" in result)) return refuse(result.status, result.reason, result.local);
    clearTimeout(this.#loginTimer);
    const session = result.session;
    const reply = encodeLoginReply({
      status: LoginStatus.accepted,
      serverName: this.#server.name,
      reason: "",
      ...session.sequences,
    });
    handle.write(encoder.encode(FrameType.loginReply, reply));
    this.#session = session;
    session.attach(handle, login.received);
    this.#server.sessionOpened(session);
    return true;
  }
}

/**
 * Makes a server of persistent sessions; call `listen()` to start it.
 *
 * @param options The directory, the message handler, the hooks, and the server's options.
 * @returns The server, not yet listening.
 *
 * @example An answering server and one client
 * ```ts
 * import { connectSession, sessionServer } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 * import { deadline } from "@std/async/deadline";
 *
 * const dir = await Deno.makeTempDir();
 * await using server = sessionServer({
 *   dir: `${dir}/server`,
 *   onMessage: (message, session) => void session.send(message.type, message.payload),
 * });
 * const { port } = await server.listen();
 * const answers: number[] = [];
 * const allAnswered = Promise.withResolvers<void>();
 * const client = await connectSession({
 *   port,
 *   dir: `${dir}/client`,
 *   name: "client-1",
 *   onMessage: (message) => {
 *     if (answers.push(message.payload[0]) === 3) allAnswered.resolve();
 *   },
 * });
 * for (let i = 1; i <= 3; i++) client.session.send(1, new Uint8Array([i]));
 * await client.session.whenAcknowledged(3);
 * await deadline(allAnswered.promise, 5000);
 * assertEquals(answers, [1, 2, 3]);
 * await client.close();
 * await server.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function sessionServer(options: SessionServerOptions): SessionServer {
  return new SessionServer(options);
}
