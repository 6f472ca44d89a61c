import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import type { LoopContext, ProtocolRecipe } from "../../core/loop_context.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import { nonNegativeInteger } from "../../core/_option_checks.ts";
import { type AuthenticationResult, type Identity, isRefusal } from "../../core/authentication.ts";
import { checkName } from "./_names.ts";
import { type ClaimOutcome, SessionClaims } from "./_session_claims.ts";
import { TakeoverLimit } from "./_takeover_limit.ts";
import { identityMayUse } from "./session_authentication.ts";
import {
  resolveSessionOptions,
  resolveStoreOptions,
  type SessionOptions,
} from "./_session_options.ts";
import {
  decodeLogin,
  encodeLoginReply,
  FrameType,
  type Login,
  LoginReplyFlag,
  LoginStatus,
  REFUSED_REASON,
  sequencesMatch,
} from "./_session_wire.ts";
import { Session, type SessionMessageHandler } from "./session.ts";
import { SessionError, SessionFileError, SessionMismatchError } from "./session_errors.ts";
import { type FsyncPolicy, resetSession, SessionStore } from "./session_store.ts";

/** What the server knows of a login when it asks {@linkcode SessionProtocolOptions.onLogin}. */
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
  /**
   * Who the server's authenticator (`ServerOptions.authenticate`) says the client is; absent
   * when the server has none.
   */
  readonly identity?: Identity;
}

/** Counters of a {@linkcode SessionTable}, since it was made. */
export interface SessionTableStats {
  /** Logins that took a session over from another live connection. */
  readonly takeovers: number;
  /** Logins refused because their name changed hands too often (`maxTakeovers`). */
  readonly takeoversRefused: number;
  /** Logins the server's authenticator refused (or whose identity may not use the name). */
  readonly loginsRefused: number;
}

/**
 * Options of {@linkcode sessionProtocol}: the `session` group of {@linkcode sessionServer}.
 */
export interface SessionProtocolOptions extends SessionOptions {
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
   * {@linkcode SessionTable.get} does not find it, and the {@linkcode Session} handed out
   * before is closed (messages for that client cannot be sent through it).
   *
   * @default {600000}
   */
  detachedSessionTimeout?: number;
  /**
   * Takeovers of one session name allowed within `takeoverWindow`: a login of a name whose
   * session is attached to another live connection takes it over (the older connection is
   * closed: a restarted client does not wait for its old connection to time out). Past the
   * bound, further contested logins of the name are refused ("Too many takeovers") until the
   * window moves on, so two clients fighting over one name cannot kick each other off hundreds
   * of times a second. A login refused for a sequence mismatch counts too (it contests the
   * name; it bounds a peer probing for numbers). On several loops the bound holds per name
   * across loops (the history moves with the name's file). 0 allows any number.
   *
   * @default {5}
   */
  maxTakeovers?: number;
  /**
   * The window of `maxTakeovers`, in milliseconds.
   *
   * @default {10000}
   */
  takeoverWindow?: number;
  /**
   * The table the sessions go in: give one made with `new SessionTable()` to reach the
   * sessions (and close them) when this protocol is made for you, as {@linkcode sessionServer}
   * does. A table belongs to one protocol.
   *
   * @default {a new table, read from the protocol's `sessions`}
   */
  sessions?: SessionTable;
  /**
   * Told of the sessions' errors and warnings: a message handler or hook that threw, a torn
   * write cut off a session file ({@linkcode SessionTornWriteError}), a peer silent past
   * `connectionTimeout` ({@linkcode SessionTimeoutError}). Without it they are logged with
   * `console.error`.
   */
  onError?(error: Error): void;
  /**
   * How each I/O loop builds this protocol again, for a server of several loops
   * (`ServerOptions.loops`): the module and the exported function that call
   * `sessionProtocol` with the same options, and the function's clonable argument. The
   * options themselves cannot cross to a loop's thread (`onMessage` and the hooks are
   * functions), so the application names the code that makes them:
   *
   * ```ts ignore
   * // my_sessions.ts
   * export function mySessions(options: { dir: string }): SessionProtocol {
   *   return sessionProtocol({
   *     dir: options.dir,
   *     onMessage: (message, session) => void session.send(1, message.payload),
   *     recipe: { module: import.meta.url, export: "mySessions", options },
   *   });
   * }
   * // then: sessionServer({ loops: 4, session: { ...what mySessions builds } }), or
   * // new Server({ loops: 4, protocol: mySessions({ dir }) })
   * ```
   *
   * Each loop then has its own table, and a session's file is held by one loop at a time: a
   * login that lands on another loop claims the name from the others first (one round trip;
   * see `_session_claims.ts`). `maxSessions` holds per loop.
   *
   * @default {undefined: the protocol runs on one loop}
   */
  recipe?: ProtocolRecipe;
}

/** What the table reaches of the protocol that owns it. */
interface TableOwner {
  close(): void;
  stats(): SessionTableStats;
}

/** What the protocol reaches of its table: the map it fills, bound once. */
let tableAccess: {
  bind(table: SessionTable, owner: TableOwner): Map<string, Session>;
};

/**
 * The sessions of a session server, by client name: logged in now, or without a connection
 * and not expired yet (`emptySessionTimeout`, `detachedSessionTimeout`). The protocol fills
 * it; the application reads it, and closes it once the server is closed, which stores every
 * session's state and closes its file.
 *
 * Make one (`new SessionTable()`) to give to {@linkcode sessionServer}, or read the one
 * {@linkcode sessionProtocol} made from its `sessions`. A table belongs to one protocol.
 *
 * @example Reading the sessions of a server, and closing them after it
 * ```ts
 * import { connectSession, sessionServer, SessionTable } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * using sessions = new SessionTable();
 * await using server = sessionServer({
 *   session: { dir: `${dir}/server`, sessions, onMessage() {} },
 * });
 * const { port } = await server.listen();
 * const client = await connectSession({
 *   port,
 *   session: { dir: `${dir}/client`, name: "c1", onMessage() {} },
 * });
 * client.session.send(1, new Uint8Array([1]));
 * await client.session.whenAcknowledged(1);
 * assertEquals(sessions.get("c1")?.lastReceivedSeq, 1);
 * assertEquals([...sessions].map((session) => session.peer), ["c1"]);
 * await client.close();
 * await server.close();
 * sessions.close();
 * assertEquals(sessions.closed, true);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SessionTable implements Disposable {
  readonly #sessions = new Map<string, Session>();
  #owner: TableOwner | undefined;
  #closed = false;

  static {
    tableAccess = {
      bind(table, owner) {
        if (table.#owner !== undefined) {
          throw new TypeError("This SessionTable already belongs to a session protocol");
        }
        if (table.#closed) throw new TypeError("This SessionTable is closed");
        table.#owner = owner;
        return table.#sessions;
      },
    };
  }

  /** Sessions in the table now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Whether {@linkcode SessionTable.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The table's counters: takeovers, and logins refused for too many takeovers or by the
   * authenticator.
   *
   * @returns A snapshot; zeros until a protocol owns the table.
   */
  stats(): SessionTableStats {
    return this.#owner?.stats() ?? { takeovers: 0, takeoversRefused: 0, loginsRefused: 0 };
  }

  /**
   * The session of a client, once it logged in (until it expires).
   *
   * @param name The client's name.
   * @returns Its session, or `undefined`.
   */
  get(name: string): Session | undefined {
    return this.#sessions.get(name);
  }

  /**
   * The sessions in the table, in the order they opened.
   *
   * @returns An iterator over the live table.
   */
  [Symbol.iterator](): IterableIterator<Session> {
    return this.#sessions.values();
  }

  /**
   * Closes every session: stores its state, sends the acknowledgement due if it is still
   * connected, and closes its file. Sessions expire no more and logins are refused from then
   * on. Call it once the server is closed (`await server.close()`): its connections are then
   * closed, and what they delivered is stored. The closed sessions stay readable here.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner?.close();
    for (const session of this.#sessions.values()) session.close();
  }

  /** Same as {@linkcode SessionTable.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The factory of {@linkcode sessionProtocol}, with the table it fills. */
export interface SessionProtocol extends ProtocolHandlerFactory {
  /** The sessions, by client name; close it after the server. */
  readonly sessions: SessionTable;
}

/** The hooks of {@linkcode SessionProtocolOptions}, checked at construction. */
const HOOKS = [
  "onLogin",
  "onSequenceMismatch",
  "onFileError",
  "onSessionOpen",
  "onSessionClose",
  "onSessionExpire",
  "onError",
] as const;

const encoder = new HeaderEncoder();

/**
 * The server side of persistent sessions (the idea of tcpshm's persistent TCP), as a
 * {@linkcode ProtocolHandlerFactory} for a {@linkcode Server}: each client logs in with its
 * name and the numbers of what it received and sent; its session resumes from its file, both
 * sides send again what the other has not received, and every message is delivered exactly
 * once and in order, across disconnects and restarts of either side.
 *
 * Messages are handled on the I/O thread, in `data`: each session's file has one owner, and
 * the replies a handler sends are stored in the same write as the cursor of the message they
 * answer. Nothing is dispatched, so the server needs no message handler.
 *
 * The sessions outlive their connections: close the table ({@linkcode SessionTable.close})
 * once the server is closed.
 *
 * With the server's authenticator (`ServerOptions.authenticate`, such as
 * {@linkcode sessionSecrets}), each login's `{ name, secret }` is asked about first, as protocol
 * `"session"`; a refusal answers nothing about the session, and the identity must be the
 * session's name or list it in `grants.sessions`. Takeovers of a name are bounded
 * (`maxTakeovers` per `takeoverWindow`).
 *
 * @param options The directory, the message handler, the hooks and the bounds; all checked
 *   now.
 * @returns The factory, with its `sessions`.
 * @throws {TypeError} When `dir` or `onMessage` is missing, a hook is not a function, or
 *   `sessions` already belongs to another protocol.
 * @throws {RangeError} When a name or a bound is invalid.
 *
 * @example A server made of the protocol, and its table read
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import { connectSession, sessionProtocol } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const protocol = sessionProtocol({
 *   dir: `${dir}/server`,
 *   onMessage: (message, session) => void session.send(1, message.payload),
 * });
 * const server = new Server({ protocol });
 * const { port } = await server.listen();
 * const client = await connectSession({
 *   port,
 *   session: { dir: `${dir}/client`, name: "c1", onMessage() {} },
 * });
 * client.session.send(1, new Uint8Array([7]));
 * await client.session.whenAcknowledged(1);
 * assertEquals(protocol.sessions.get("c1")?.lastSentSeq, 1);
 * await client.close();
 * await server.close();
 * protocol.sessions.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function sessionProtocol(options: SessionProtocolOptions): SessionProtocol {
  const registry = new SessionRegistry(options);
  return {
    sessions: registry.table,
    create: (context) => new SessionProtocolHandler(registry, context),
    // On several loops, each loop's table claims a name from the others before it opens
    // the name's file.
    attach: (loop) => registry.attach(loop),
    // The server that runs it is closed: the table, its timers and its files go too.
    close: () => registry.table.close(),
    recipe: options.recipe,
  };
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
  readonly options: SessionProtocolOptions;
  readonly name: string;
  readonly sessions: Map<string, Session>;
  readonly maxSessions: number;
  readonly connectionTimeout: number;
  readonly emptySessionTimeout: number;
  readonly detachedSessionTimeout: number;
  /** Bytes a connection may send while its login waits for a claim. */
  readonly maxHeldBytes: number;
  readonly table: SessionTable;
  /** The sessions without a connection, in the order they lost it. */
  readonly #detached = new Map<Session, Detached>();
  /** The connection each attached session runs on. */
  readonly #connections = new Map<Session, ConnectionHandle>();
  /** Claims of names from the other loops; undefined on one loop. */
  #claims: SessionClaims | undefined;
  readonly #takeovers: TakeoverLimit;
  readonly #maxTakeovers: number;
  readonly #takeoverWindow: number;
  #counts = { takeovers: 0, takeoversRefused: 0, loginsRefused: 0 };
  #closed = false;

  constructor(options: SessionProtocolOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`sessionProtocol needs options, got ${String(options)}`);
    }
    if (typeof options.dir !== "string" || options.dir === "") {
      throw new TypeError(`dir must be a directory path, got ${JSON.stringify(options.dir)}`);
    }
    if (typeof options.onMessage !== "function") {
      throw new TypeError(
        `onMessage must be a function (message, session), got ${typeof options.onMessage}`,
      );
    }
    for (const hook of HOOKS) {
      const value = options[hook];
      if (value !== undefined && typeof value !== "function") {
        throw new TypeError(`${hook} must be a function, got ${typeof value}`);
      }
    }
    this.name = options.name ?? "server";
    checkName("name", this.name);
    const resolved = resolveSessionOptions(options);
    this.connectionTimeout = resolved.connectionTimeout;
    this.maxHeldBytes = resolved.maxUnackedBytes;
    resolveStoreOptions(options);
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
    this.#maxTakeovers = nonNegativeInteger("maxTakeovers", options.maxTakeovers ?? 5);
    this.#takeoverWindow = options.takeoverWindow ?? 10_000;
    if (!Number.isInteger(this.#takeoverWindow) || this.#takeoverWindow < 1) {
      throw new RangeError(
        `takeoverWindow must be a positive integer, got ${this.#takeoverWindow}`,
      );
    }
    this.#takeovers = new TakeoverLimit(this.#maxTakeovers, this.#takeoverWindow);
    const table = options.sessions ?? new SessionTable();
    if (!(table instanceof SessionTable)) {
      throw new TypeError(`sessions must be a SessionTable, got ${String(table)}`);
    }
    const recipe = options.recipe;
    if (
      recipe !== undefined &&
      (typeof recipe !== "object" || recipe === null || typeof recipe.module !== "string" ||
        typeof recipe.export !== "string")
    ) {
      throw new TypeError(
        `recipe must be { module, export, options? } with the module's URL and the function's name, got ${
          JSON.stringify(recipe)
        }`,
      );
    }
    this.table = table;
    this.sessions = tableAccess.bind(table, this);
    this.options = options;
  }

  /** The protocol runs on `loop`: with others, names are claimed from them. */
  attach(loop: LoopContext): void {
    if (loop.count <= 1 || this.#claims !== undefined) return;
    this.#claims = new SessionClaims(loop, {
      holds: (name) => !this.#closed && this.sessions.has(name),
      release: (name) => this.#release(name),
    }, this.connectionTimeout);
  }

  /**
   * Whether a login of `name` must wait for the other loops to let go of its file: on several
   * loops, when this loop does not hold it.
   */
  mustClaim(name: string): boolean {
    return this.#claims !== undefined && !this.#closed && !this.sessions.has(name);
  }

  /** Claims `name` from the other loops; see {@linkcode SessionClaims.claim}. */
  claim(name: string, done: (outcome: ClaimOutcome) => void): void {
    this.#claims!.claim(name, (outcome) => {
      // The holder counted a refusal; the history of a granted claim comes here with the name.
      if (outcome.granted) this.#takeovers.merge(name, outcome.history);
      done(outcome);
    });
  }

  /** The table's counters. */
  stats(): SessionTableStats {
    return { ...this.#counts };
  }

  /** A login the authenticator refused: counted. */
  loginRefused(): void {
    this.#counts.loginsRefused++;
  }

  /** Why a contested login of `name` is refused past `maxTakeovers`. */
  #tooManyTakeovers(name: string): string {
    return `Too many takeovers of session "${name}" (maxTakeovers: ${this.#maxTakeovers} in ${this.#takeoverWindow} ms)`;
  }

  /** Checks a login before its session is looked for: a reason to refuse it, or nothing. */
  check(
    login: Login,
    connection: ConnectionHandle,
    identity: Identity | undefined,
  ): { status: number; reason: string } | void {
    if (this.#closed) {
      return { status: LoginStatus.rejected, reason: "The server's session table is closed" };
    }
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
      const { secret: _, ...numbers } = login;
      reason = this.options.onLogin?.(
        identity === undefined ? { ...numbers, connection } : { ...numbers, connection, identity },
      );
    } catch (error) {
      reason = `onLogin failed: ${(error as Error).message}`;
    }
    if (typeof reason === "string") return { status: LoginStatus.rejected, reason };
  }

  /**
   * Opens or resumes the session of a login that passed {@linkcode check}, on `handle`. A
   * login of a session attached to another live connection is a takeover: counted, and
   * refused past `maxTakeovers`.
   */
  open(login: Login, handle: ConnectionHandle): { session: Session } | {
    status: number;
    reason: string;
    local?: Session;
  } {
    const options = this.options;
    if (this.#closed) {
      return { status: LoginStatus.rejected, reason: "The server's session table is closed" };
    }
    let session = this.sessions.get(login.name);
    const opened = session === undefined;
    let contested = false;
    if (session !== undefined) {
      const current = this.#connections.get(session);
      if (current !== undefined && current !== handle && current.open) {
        if (!this.#takeovers.admit(login.name)) {
          this.#counts.takeoversRefused++;
          return { status: LoginStatus.rejected, reason: this.#tooManyTakeovers(login.name) };
        }
        contested = true;
      }
    }
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
      // A mismatch contests the name too: counted, so that numbers cannot be probed quickly.
      if (!contested) this.#takeovers.admit(login.name);
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
    if (contested) this.#counts.takeovers++;
    return { session };
  }

  /** A session's connection closed. */
  sessionClosed(session: Session, handle: ConnectionHandle, reason?: Error): void {
    if (this.#connections.get(session) === handle) this.#connections.delete(session);
    this.hook(() => this.options.onSessionClose?.(session, reason));
    this.#detach(session, Date.now());
  }

  /** A session resumed. */
  sessionOpened(session: Session, handle: ConnectionHandle): void {
    this.#connections.set(session, handle);
    const detached = this.#detached.get(session);
    if (detached !== undefined) {
      clearTimeout(detached.timer);
      this.#detached.delete(session);
    }
    this.hook(() => this.options.onSessionOpen?.(session));
  }

  /** The table closes: sessions expire no more, logins are refused (sessions close next). */
  close(): void {
    this.#closed = true;
    this.#claims?.close();
    for (const detached of this.#detached.values()) clearTimeout(detached.timer);
    this.#detached.clear();
  }

  /**
   * Another loop claims `name`: its session is closed here (its connection first, as at a
   * takeover; then its file, flushed) and leaves the table, before the claim is answered, and
   * the name's takeover history goes with it. When its connection is live, that is a takeover:
   * past `maxTakeovers`, the session stays here and the claim is refused.
   */
  #release(name: string): { history: number[] } | { refused: string } {
    const session = this.#closed ? undefined : this.sessions.get(name);
    if (session === undefined) return { history: this.#takeovers.handOver(name) };
    if (this.#connections.get(session)?.open) {
      if (!this.#takeovers.admit(name)) {
        this.#counts.takeoversRefused++;
        return { refused: this.#tooManyTakeovers(name) };
      }
      this.#counts.takeovers++;
    }
    const detached = this.#detached.get(session);
    if (detached !== undefined) {
      clearTimeout(detached.timer);
      this.#detached.delete(session);
    }
    this.sessions.delete(name);
    const handle = this.#connections.get(session);
    this.#connections.delete(session);
    // Stores what is left and sends the acknowledgement due, then closes the file.
    session.close();
    handle?.close();
    return { history: this.#takeovers.handOver(name) };
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
 * One connection of a session protocol:
 *
 * ```
 * open -> (login frame) -> [authenticate] -> [claim: the other loops let go of the name] -> ready: data* -> close
 *            │                 └ refused: a reply without session state, close
 *            └ rejected or mismatch: reply, close                  └ a newer login won: close
 * ```
 *
 * While the authenticator or a claim is awaited, the frames after the login wait (copied).
 */
class SessionProtocolHandler implements ProtocolHandler {
  readonly #server: SessionRegistry;
  readonly #context: ProtocolContext;
  readonly #decoder = new HeaderDecoder();
  #session: Session | undefined;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;
  /** A login waiting for the authenticator or its claim. */
  #waiting: Login | undefined;
  /** Who the authenticator said the client is; undefined without one. */
  #identity: Identity | undefined;
  /** Frames read while the login waits: type, ackSeq, payload (copied). */
  #held: [number, number, Uint8Array][] = [];
  #heldBytes = 0;

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
    this.#decoder.feed(chunk);
    if (this.#waiting === undefined) this.#drain();
    else this.#hold();
  }

  close(reason?: Error): void {
    clearTimeout(this.#loginTimer);
    this.#waiting = undefined;
    this.#held = [];
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    session.detach(this.#context.handle);
    this.#server.sessionClosed(session, this.#context.handle, reason);
  }

  /** Handles the frames decoded, until a login waits. */
  #drain(): void {
    const decoder = this.#decoder;
    try {
      for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
        const session = this.#session;
        if (session !== undefined) session.receive(decoder.type, decoder.ackSeq, payload);
        else if (!this.#login(decoder.type, payload)) return;
        else if (this.#waiting !== undefined) return this.#hold();
      }
    } catch (error) {
      // What was delivered before the fault is stored; the connection then closes (the error
      // goes to the server's onError) and the client resumes on a new one.
      this.#session?.flush();
      throw error;
    }
    this.#session?.flush();
  }

  /** Handles the first frame; `false` when the connection is refused. */
  #login(type: number, payload: Uint8Array): boolean {
    if (type !== FrameType.login) {
      return this.#refuse(
        LoginStatus.rejected,
        `Expected a login first, got a frame of type ${type}`,
      );
    }
    const login = decodeLogin(payload);
    if (typeof login === "string") return this.#refuse(LoginStatus.rejected, login);
    const context = this.#context;
    if (!context.authenticationRequired || context.authenticate === undefined) {
      return this.#admit(login);
    }
    // Nothing about the session is looked at before the authenticator answers.
    this.#waiting = login;
    const credentials = login.secret === undefined
      ? { name: login.name }
      : { name: login.name, secret: login.secret };
    context.authenticate("session", credentials).then(
      (result) => this.#authenticated(login, result),
      (error) => this.#authenticated(login, { refused: String(error) }),
    );
    return true;
  }

  /** The authenticator answered this connection's login. */
  #authenticated(login: Login, result: AuthenticationResult): void {
    if (this.#waiting !== login) return; // closed meanwhile
    this.#waiting = undefined;
    const handle = this.#context.handle;
    if (!handle.open) return;
    if (isRefusal(result) || !identityMayUse(result, login.name)) {
      this.#server.loginRefused();
      this.#held = [];
      this.#refuseUnauthenticated();
      return;
    }
    this.#identity = result;
    this.#resume(() => this.#admit(login));
  }

  /** Checks a login (authenticated, if the server has an authenticator), then claims or opens. */
  #admit(login: Login): boolean {
    const handle = this.#context.handle;
    const refused = this.#server.check(login, handle, this.#identity);
    if (refused !== undefined) return this.#refuse(refused.status, refused.reason);
    if (!this.#server.mustClaim(login.name)) return this.#accept(login);
    this.#waiting = login;
    this.#server.claim(login.name, (outcome) => this.#claimed(login, outcome));
    return true;
  }

  /** The other loops answered this connection's claim. */
  #claimed(login: Login, outcome: ClaimOutcome): void {
    if (this.#waiting !== login) return; // closed meanwhile
    this.#waiting = undefined;
    const handle = this.#context.handle;
    if (!handle.open) return;
    if (!outcome.granted) {
      this.#held = [];
      // The name changed hands too often: refused, as on one loop.
      if (outcome.refused !== undefined) {
        return void this.#refuse(LoginStatus.rejected, outcome.refused);
      }
      // A newer login of the name won on another loop: this one gives way, as an older
      // connection does at a takeover (the client reconnects), not refused for good.
      return void handle.close();
    }
    this.#resume(() => this.#accept(login));
  }

  /**
   * Goes on with a login after a wait (out of the server's `data` call): `step` admits or
   * accepts it; once the session is open, the frames held meanwhile are delivered, and the
   * ones still in the decoder.
   */
  #resume(step: () => boolean): void {
    const handle = this.#context.handle;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    try {
      if (!step()) return;
      if (this.#waiting !== undefined) {
        // Waiting again (a claim after the authenticator): the frames stay held.
        this.#held = held;
        for (const [, , payload] of held) this.#heldBytes += payload.length;
        return;
      }
      const session = this.#session!;
      for (const [type, ackSeq, payload] of held) session.receive(type, ackSeq, payload);
      this.#drain();
    } catch (error) {
      // Out of the server's data call: report here, and close as it would.
      this.#server.report(error);
      handle.close();
    }
  }

  /**
   * Keeps the frames decoded while the login waits (the decoder's views last one call only),
   * up to `maxUnackedBytes`: a client does not send more before its login is answered.
   */
  #hold(): void {
    const decoder = this.#decoder;
    for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
      this.#heldBytes += payload.length;
      if (this.#heldBytes > this.#server.maxHeldBytes) {
        this.#waiting = undefined;
        throw new SessionError(
          `A client sent ${this.#heldBytes} bytes before its login was answered`,
        );
      }
      this.#held.push([decoder.type, decoder.ackSeq, payload.slice()]);
    }
  }

  /** Opens the session of a login checked (and claimed); `false` when refused. */
  #accept(login: Login): boolean {
    const handle = this.#context.handle;
    const result = this.#server.open(login, handle);
    if (!("session" in result)) return this.#refuse(result.status, result.reason, result.local);
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
    this.#server.sessionOpened(session, handle);
    return true;
  }

  /**
   * Refuses a login with a reason. A mismatch tells this side's numbers only to a login the
   * server's authenticator accepted: without one, anyone may name any session, and the numbers
   * are what a takeover would need (the flag tells the client they are withheld).
   */
  #refuse(status: number, reason: string, local?: Session): false {
    const handle = this.#context.handle;
    const reveal = local !== undefined && this.#identity !== undefined;
    const sequences = reveal ? local.sequences : { received: 0, acknowledged: 0, sent: 0 };
    const reply = encodeLoginReply({
      status,
      serverName: this.#server.name,
      reason,
      flags: local !== undefined && !reveal ? LoginReplyFlag.numbersWithheld : 0,
      ...sequences,
    });
    handle.write(encoder.encode(FrameType.loginReply, reply));
    handle.close();
    return false;
  }

  /** Refuses a login the authenticator did not accept: nothing about the session is told. */
  #refuseUnauthenticated(): void {
    const handle = this.#context.handle;
    const reply = encodeLoginReply({
      status: LoginStatus.refused,
      serverName: "",
      reason: REFUSED_REASON,
      received: 0,
      acknowledged: 0,
      sent: 0,
    });
    handle.write(encoder.encode(FrameType.loginReply, reply));
    handle.close();
  }
}
