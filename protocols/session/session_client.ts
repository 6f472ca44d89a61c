import { Client, type ConnectOptions, type ReconnectOptions } from "../../core/client.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import type { ProtocolContext, ProtocolHandler } from "../../core/protocol.ts";
import { checkName } from "./_names.ts";
import {
  resolveSessionOptions,
  resolveStoreOptions,
  type SessionOptions,
} from "./_session_options.ts";
import {
  decodeLoginReply,
  encodeLogin,
  FrameType,
  LoginReplyFlag,
  LoginStatus,
  MAX_SECRET_LENGTH,
  sequencesMatch,
} from "./_session_wire.ts";
import { Session, type SessionMessageHandler } from "./session.ts";
import {
  type SessionError,
  SessionFileError,
  SessionMismatchError,
  SessionRefusedError,
  SessionRejectedError,
} from "./session_errors.ts";
import { type FsyncPolicy, SessionStore } from "./session_store.ts";

/** Options of {@linkcode connectSession}: the connection's, and the session's in `session`. */
export interface SessionClientOptions
  extends Omit<ConnectOptions, "protocol" | "onMessage" | "reconnect"> {
  /**
   * Reconnect when the connection fails or closes (and retry the first connection), with
   * backoff and jitter. On by default here, unlike a plain {@linkcode Client}: a session is
   * made to outlive its connections.
   *
   * @default {true}
   */
  reconnect?: boolean | ReconnectOptions;
  /** The session: its names, directory, message handler, hooks and bounds. */
  session: ClientSessionOptions;
}

/** The `session` group of {@linkcode SessionClientOptions}. */
export interface ClientSessionOptions extends SessionOptions {
  /** The directory of this client's session files (one per server name); made if missing. */
  dir: string;
  /** This client's name: the session's name on the server. */
  name: string;
  /**
   * The name of the server expected; a server of another name rejects the login.
   *
   * @default {"server"}
   */
  serverName?: string;
  /**
   * The credential sent with every login, for the server's authenticator
   * (`ServerOptions.authenticate`, such as {@linkcode sessionSecrets}): at most 255 bytes of
   * UTF-8. A server with an authenticator refuses a login without the right one
   * ({@linkcode SessionRefusedError}, and the client stops); one without ignores it. Send it
   * over TLS (`tls` in the connection's options) where the network is not trusted: the login
   * carries it as is.
   *
   * @default {undefined: none}
   */
  secret?: string;
  /** Handles each message from the server, exactly once and in order, on the I/O thread. */
  onMessage: SessionMessageHandler;
  /**
   * When the session file is flushed to the disk: `"never"`, `"always"`, or every N ms.
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
   * Delete the session file first and start over from sequence number 1 (reset the server's
   * side of this session too, or its login reports a mismatch).
   *
   * @default {false}
   */
  reset?: boolean;
  /** Told each time a login succeeds and the session resumes. */
  onLogin?(session: Session): void;
  /**
   * Told when the session file is corrupt or truncated (the client then does not start). A
   * file that only ends in a torn write is cut back to its last whole write and opens: the
   * {@linkcode SessionTornWriteError} warning goes to `onError`.
   */
  onFileError?(error: SessionFileError): void;
  /** Told when the server's numbers contradict this side's (the client then stops). */
  onSequenceMismatch?(error: SessionMismatchError): void;
  /**
   * Told of the session's errors and warnings: a message handler or hook that threw, a torn
   * write cut off the session file, a rejected login, a sequence mismatch, a server silent
   * past `connectionTimeout`. Without it they are logged with `console.error`. The
   * connection's own errors (a refused dial) go to the outer `onError`.
   */
  onError?(error: Error): void;
}

const encoder = new HeaderEncoder();

/**
 * The client side of a persistent session: its {@linkcode Session} and the connection that
 * carries it, reconnecting (by default) with backoff, logging in again and resuming after
 * every disconnect. Make one with {@linkcode connectSession}.
 *
 * A rejected login (refused by the authenticator: {@linkcode SessionRefusedError}; too many
 * takeovers of its name; ...) or a sequence mismatch stops the client for good: it does not
 * retry what cannot succeed. {@linkcode SessionClient.ended} then settles with the
 * {@linkcode SessionRejectedError} or {@linkcode SessionMismatchError}.
 *
 * @example
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import { connectSession, sessionProtocol } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const protocol = sessionProtocol({ dir: `${dir}/server`, onMessage() {} });
 * const server = new Server({ protocol });
 * const { port } = await server.listen();
 * const client = await connectSession({
 *   port,
 *   session: { dir: `${dir}/client`, name: "c1", onMessage() {} },
 * });
 * assertEquals(client.connected, true);
 * assertEquals(client.client.state, "open");
 * await client.close();
 * assertEquals(await client.ended, undefined);
 * await server.close();
 * protocol.sessions.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SessionClient implements AsyncDisposable {
  /** The session: send with it, read its numbers. */
  readonly session: Session;
  /** The connection that carries the session: its state, counters and handle. */
  readonly client: Client;
  readonly #options: ClientSessionOptions;
  readonly #serverName: string;
  readonly #loggedIn = Promise.withResolvers<void>();
  readonly #ended: Promise<Error | undefined>;
  #fatal: SessionError | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Opens the session file and starts connecting; prefer {@linkcode connectSession}, which
   * waits for the first login.
   *
   * @param options Where to connect, the session's names and directory, the handler.
   * @throws {SessionFileError} When the session file is corrupt or truncated.
   * @throws {RangeError} When a name or a bound is invalid.
   */
  constructor(options: SessionClientOptions) {
    const { session: sessionOptions, reconnect, ...connectOptions } = options ?? {};
    if (typeof sessionOptions !== "object" || sessionOptions === null) {
      throw new TypeError(`connectSession needs session options, got ${String(sessionOptions)}`);
    }
    if (typeof sessionOptions.dir !== "string" || sessionOptions.dir === "") {
      throw new TypeError(
        `dir must be a directory path, got ${JSON.stringify(sessionOptions.dir)}`,
      );
    }
    if (typeof sessionOptions.onMessage !== "function") {
      throw new TypeError(
        `onMessage must be a function (message, session), got ${typeof sessionOptions.onMessage}`,
      );
    }
    for (const hook of ["onLogin", "onFileError", "onSequenceMismatch", "onError"] as const) {
      if (sessionOptions[hook] !== undefined && typeof sessionOptions[hook] !== "function") {
        throw new TypeError(`${hook} must be a function, got ${typeof sessionOptions[hook]}`);
      }
    }
    checkName("name", sessionOptions.name);
    const secret = sessionOptions.secret;
    if (secret !== undefined) {
      if (typeof secret !== "string") {
        throw new TypeError(`secret must be a string, got ${typeof secret}`);
      }
      const length = new TextEncoder().encode(secret).length;
      if (length > MAX_SECRET_LENGTH) {
        throw new RangeError(
          `secret must be at most ${MAX_SECRET_LENGTH} bytes of UTF-8, got ${length}`,
        );
      }
    }
    this.#serverName = sessionOptions.serverName ?? "server";
    checkName("serverName", this.#serverName);
    const { connectionTimeout } = resolveSessionOptions(sessionOptions);
    resolveStoreOptions(sessionOptions);
    this.#options = sessionOptions;
    let store: SessionStore;
    try {
      store = SessionStore.open({
        dir: sessionOptions.dir,
        localName: sessionOptions.name,
        peerName: this.#serverName,
        fsync: sessionOptions.fsync,
        compactThreshold: sessionOptions.compactThreshold,
        reset: sessionOptions.reset,
        onWarning: (warning) => this.#report(warning),
      });
    } catch (error) {
      if (error instanceof SessionFileError) {
        this.#hook(() => sessionOptions.onFileError?.(error));
      }
      throw error;
    }
    this.session = new Session(
      this.#serverName,
      store,
      sessionOptions,
      sessionOptions.onMessage,
      (error) => this.#report(error),
    );
    this.#loggedIn.promise.catch(() => {});
    const link: ClientLink = {
      session: this.session,
      connectionTimeout,
      loginFrame: () => this.#loginFrame(),
      loggedIn: () => {
        this.#loggedIn.resolve();
        this.#hook(() => sessionOptions.onLogin?.(this.session));
      },
      fail: (error) => this.#fail(error),
    };
    try {
      this.client = new Client({
        ...connectOptions,
        reconnect: reconnect ?? true,
        protocol: { create: (context) => new SessionClientHandler(link, context) },
      });
    } catch (error) {
      this.session.close();
      throw error;
    }
    this.client.opened.catch((error) => this.#loggedIn.reject(error));
    this.#ended = this.client.ended.then((reason) => {
      this.#loggedIn.reject(this.#fatal ?? reason ?? new Error("The session client was closed"));
      if (!this.#fatal) return reason;
      this.session.close();
      return this.#fatal;
    });
  }

  /** Whether the session is logged in over an open connection now. */
  get connected(): boolean {
    return this.session.connected;
  }

  /** Resolves at the first login; rejects when the client stops before it. */
  get loggedIn(): Promise<void> {
    return this.#loggedIn.promise;
  }

  /**
   * Settles when the client has stopped for good: with `undefined` after
   * {@linkcode SessionClient.close}, or with the error that stopped it (a rejected login, a
   * sequence mismatch, or the connection's end when reconnecting is off).
   */
  get ended(): Promise<Error | undefined> {
    return this.#ended;
  }

  /**
   * Stores the session's state, sends the acknowledgement due, closes the connection once
   * flushed, and closes the session file.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.session.close();
      await this.client.close();
      await this.#ended;
    })();
    return this.#closing;
  }

  /** Same as {@linkcode SessionClient.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #loginFrame(): Uint8Array {
    this.session.flush();
    return encoder.encode(
      FrameType.login,
      encodeLogin({
        name: this.#options.name,
        serverName: this.#serverName,
        secret: this.#options.secret,
        ...this.session.sequences,
      }),
    );
  }

  /** Stops for good: the error is final. */
  #fail(error: SessionError): void {
    this.#fatal ??= error;
    if (error instanceof SessionMismatchError) {
      this.#hook(() => this.#options.onSequenceMismatch?.(error));
    }
    this.#report(error);
    this.client.close();
  }

  #hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    const onError = this.#options.onError;
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

/** What a client's connections use of it. */
interface ClientLink {
  readonly session: Session;
  readonly connectionTimeout: number;
  loginFrame(): Uint8Array;
  loggedIn(): void;
  fail(error: SessionError): void;
}

/**
 * One connection of a session client:
 *
 * ```
 * open (login sent) -> login reply: accepted -> data* -> close
 *                                   └ rejected, mismatch: the client stops
 * ```
 */
class SessionClientHandler implements ProtocolHandler {
  readonly #client: ClientLink;
  readonly #context: ProtocolContext;
  readonly #decoder = new HeaderDecoder();
  #attached = false;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(client: ClientLink, context: ProtocolContext) {
    this.#client = client;
    this.#context = context;
  }

  open(): void {
    this.#context.handle.write(this.#client.loginFrame());
    this.#loginTimer = setTimeout(
      () => this.#context.handle.close(),
      this.#client.connectionTimeout,
    );
  }

  data(chunk: Uint8Array): void {
    const decoder = this.#decoder;
    const session = this.#client.session;
    decoder.feed(chunk);
    try {
      for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
        if (this.#attached) session.receive(decoder.type, decoder.ackSeq, payload);
        else if (!this.#loginReply(decoder.type, payload)) return;
      }
    } catch (error) {
      // What was delivered before the fault is stored; the connection closes, and a new one
      // resumes the session.
      session.flush();
      throw error;
    }
    session.flush();
  }

  close(): void {
    clearTimeout(this.#loginTimer);
    if (this.#attached) this.#client.session.detach(this.#context.handle);
    this.#attached = false;
  }

  #loginReply(type: number, payload: Uint8Array): boolean {
    const handle = this.#context.handle;
    const client = this.#client;
    const session = client.session;
    const reply = type === FrameType.loginReply ? decodeLoginReply(payload) : undefined;
    if (reply === undefined || typeof reply === "string") {
      handle.close();
      throw new Error(
        `Expected a login reply, got ${reply ?? `a frame of type ${type}`}`,
      );
    }
    clearTimeout(this.#loginTimer);
    if (reply.status === LoginStatus.refused) {
      client.fail(new SessionRefusedError(reply.reason));
      return false;
    }
    if (reply.status === LoginStatus.rejected) {
      client.fail(new SessionRejectedError(reply.reason));
      return false;
    }
    if (reply.status !== LoginStatus.accepted || !sequencesMatch(session.sequences, reply)) {
      const withheld = ((reply.flags ?? 0) & LoginReplyFlag.numbersWithheld) !== 0;
      client.fail(
        new SessionMismatchError(session.peer, session.sequences, withheld ? undefined : reply),
      );
      return false;
    }
    this.#attached = true;
    session.attach(handle, reply.received);
    client.loggedIn();
    return true;
  }
}

/**
 * Opens a session with a session server: opens (or creates) its file under `dir`, connects,
 * logs in with the client's name and numbers, and resumes: both sides send again what the
 * other has not received. The client reconnects (by default) until it is closed.
 *
 * @param options Where to connect, the session's names and directory, the handler.
 * @returns The client, once logged in.
 * @throws {SessionFileError} When the session file is corrupt or truncated (reset it with the
 *   `reset` option or {@linkcode resetSession}).
 * @throws {SessionRefusedError} When the server's authenticator refuses the login (no
 *   `secret`, or a wrong one).
 * @throws {SessionRejectedError} When the server rejects the login otherwise.
 * @throws {SessionMismatchError} When the two sides' numbers contradict each other.
 *
 * @example Messages sent before a restart of the client are delivered once
 * ```ts
 * import { Server } from "@speedo/speedo";
 * import { connectSession, sessionProtocol } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const seen: number[] = [];
 * const protocol = sessionProtocol({
 *   dir: `${dir}/server`,
 *   onMessage: (message) => void seen.push(message.seq),
 * });
 * const server = new Server({ protocol });
 * const { port } = await server.listen();
 * const options = { port, session: { dir: `${dir}/client`, name: "c1", onMessage() {} } };
 * const first = await connectSession(options);
 * first.session.send(1, new Uint8Array([1]));
 * await first.session.whenAcknowledged(1);
 * await first.close();
 *
 * const second = await connectSession(options);
 * assertEquals(second.session.lastSentSeq, 1);
 * second.session.send(1, new Uint8Array([2]));
 * await second.session.whenAcknowledged(2);
 * assertEquals(seen, [1, 2]);
 * await second.close();
 * await server.close();
 * protocol.sessions.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function connectSession(options: SessionClientOptions): Promise<SessionClient> {
  const client = new SessionClient(options);
  try {
    await client.loggedIn;
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
