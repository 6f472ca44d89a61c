/**
 * Typed errors of persistent sessions.
 *
 * @module
 */

/**
 * Base class of the errors sessions raise.
 *
 * @example
 * ```ts
 * import { SessionError, SessionFullError } from "@speedo/speedo/session";
 * import { assert } from "@std/assert";
 *
 * assert(new SessionFullError(10, 1024) instanceof SessionError);
 * ```
 */
export class SessionError extends Error {
  /**
   * Makes the error.
   *
   * @param message What went wrong.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SessionError";
  }
}

/**
 * Why a session file cannot be used:
 *
 * | reason       | meaning                                                                  |
 * | ------------ | ------------------------------------------------------------------------ |
 * | `"header"`   | it does not start with the session file's magic bytes                    |
 * | `"truncated"`| it ends before its first cursor (a partial write, a cut copy)            |
 * | `"checksum"` | a record's CRC-32 does not match its bytes, and whole records follow it  |
 * | `"record"`   | a record has an unknown kind or a bad length                             |
 * | `"names"`    | it belongs to other session names than the ones opening it               |
 * | `"sequence"` | its sequence numbers contradict each other                               |
 */
export type SessionFileProblem =
  | "header"
  | "truncated"
  | "checksum"
  | "record"
  | "names"
  | "sequence";

/**
 * A session file is corrupt or truncated. The session refuses to start rather than deliver
 * garbage; reset it (the `reset` option, or {@linkcode resetSession}) on both sides to start
 * the session over. A file that only ends in a torn write is not refused: it is cut back to
 * its last whole write ({@linkcode SessionTornWriteError}).
 *
 * @example
 * ```ts
 * import { SessionFileError } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new SessionFileError("/tmp/a.session", "checksum", 96, "checksum mismatch");
 * assertEquals([error.problem, error.offset], ["checksum", 96]);
 * assertEquals(
 *   error.message,
 *   "Session file /tmp/a.session is corrupt at byte 96: checksum mismatch; reset the session to start over",
 * );
 * ```
 */
export class SessionFileError extends SessionError {
  /** The file's path. */
  readonly path: string;
  /** What is wrong. */
  readonly problem: SessionFileProblem;
  /** Where in the file, in bytes. */
  readonly offset: number;

  /**
   * Makes the error.
   *
   * @param path The file's path.
   * @param problem What is wrong.
   * @param offset Where, in bytes from the start.
   * @param detail A sentence saying what was found.
   */
  constructor(path: string, problem: SessionFileProblem, offset: number, detail: string) {
    super(
      `Session file ${path} is ${
        problem === "truncated" ? "truncated" : "corrupt"
      } at byte ${offset}: ${detail}; reset the session to start over`,
    );
    this.name = "SessionFileError";
    this.path = path;
    this.problem = problem;
    this.offset = offset;
  }
}

/**
 * A warning, not a refusal: the session file ended in a torn write (a crash or a full disk
 * cut the last write short, or left it unchecked), and the file was cut back to the end of
 * its last whole write, where it opens. A write ends with the cursor record that commits it,
 * so the messages and the cursor of the torn write go together: the messages it held were
 * never sent, and what it marked received was never acknowledged from this file. The peer
 * sends those again at the next login; with `fsync` other than `"always"`, a peer that was
 * told of them before the crash makes the login report a sequence mismatch instead.
 *
 * It goes to the `onWarning` option of {@linkcode SessionStore.open}, and to `onError` of the
 * session server and client.
 *
 * @example
 * ```ts
 * import { SessionError, SessionTornWriteError } from "@speedo/speedo/session";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const warning = new SessionTornWriteError("/tmp/a.session", 109, 120, "checksum mismatch");
 * assertEquals([warning.offset, warning.length, warning.dropped], [109, 109, 11]);
 * assert(warning instanceof SessionError);
 * assertEquals(
 *   warning.message,
 *   "Session file /tmp/a.session ended in a torn write at byte 109 (checksum mismatch): cut back to its last whole write, 109 bytes (11 dropped)",
 * );
 * ```
 */
export class SessionTornWriteError extends SessionError {
  /** The file's path. */
  readonly path: string;
  /** Where the first bad record starts, in bytes. */
  readonly offset: number;
  /** The file's length now: the end of its last whole write. */
  readonly length: number;
  /** The bytes cut off (the whole records of the torn write, then the bad ones). */
  readonly dropped: number;

  /**
   * Makes the warning.
   *
   * @param path The file's path.
   * @param length The end of the last whole write, where the file was cut.
   * @param size The file's length before the cut.
   * @param detail A sentence saying what was wrong with the first bad record.
   * @param offset Where the first bad record starts; `length` when omitted.
   */
  constructor(path: string, length: number, size: number, detail: string, offset = length) {
    super(
      `Session file ${path} ended in a torn write at byte ${offset} (${detail}): cut back to its last whole write, ${length} bytes (${
        size - length
      } dropped)`,
    );
    this.name = "SessionTornWriteError";
    this.path = path;
    this.offset = offset;
    this.length = length;
    this.dropped = size - length;
  }
}

/**
 * The server refused the login, with its reason (a bad name, the hook's reason, a corrupt
 * session file on its side...). Retrying does not help: the client stops.
 *
 * @example
 * ```ts
 * import { SessionRejectedError } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new SessionRejectedError("unknown client").message, "Login rejected: unknown client");
 * ```
 */
export class SessionRejectedError extends SessionError {
  /** The server's reason. */
  readonly reason: string;

  /**
   * Makes the error.
   *
   * @param reason The server's reason.
   */
  constructor(reason: string) {
    super(`Login rejected: ${reason}`);
    this.name = "SessionRejectedError";
    this.reason = reason;
  }
}

/**
 * The server's authenticator (`ServerOptions.authenticate`) refused the login: no secret, a
 * wrong one, or an identity that may not use the session's name. The server says nothing more
 * (not even whether the session exists), and the client stops: retrying with the same
 * credential cannot help.
 *
 * @example
 * ```ts
 * import { SessionRefusedError, SessionRejectedError } from "@speedo/speedo/session";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error = new SessionRefusedError("Authentication failed");
 * assert(error instanceof SessionRejectedError);
 * assertEquals(error.message, "Login refused: Authentication failed");
 * ```
 */
export class SessionRefusedError extends SessionRejectedError {
  /**
   * Makes the error.
   *
   * @param reason The server's reason (always the same one).
   */
  constructor(reason: string) {
    super(reason);
    this.message = `Login refused: ${reason}`;
    this.name = "SessionRefusedError";
  }
}

/** One side's sequence numbers, as exchanged at login. */
export interface SessionSequences {
  /** The last sequence number received from the peer, in order. */
  received: number;
  /** The last of its own messages the peer acknowledged. */
  acknowledged: number;
  /** The last sequence number it sent (or stored to send). */
  sent: number;
}

/**
 * The two sides' sequence numbers contradict each other: one side claims to have received
 * messages the other never sent, or needs messages the other already discarded (a session
 * file lost or reset on one side only). Fix it by hand, or reset both sides.
 *
 * A server tells a client its numbers only when its authenticator vouched for the login: a
 * server without one withholds them (`remote` is then `undefined` on the client), since they
 * are what a peer needs to take a session over; the server's own `onSequenceMismatch` still
 * has both.
 *
 * @example
 * ```ts
 * import { SessionMismatchError } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new SessionMismatchError(
 *   "client-1",
 *   { received: 0, acknowledged: 0, sent: 0 },
 *   { received: 5, acknowledged: 5, sent: 5 },
 * );
 * assertEquals(error.remote?.received, 5);
 * ```
 */
export class SessionMismatchError extends SessionError {
  /** The peer's name. */
  readonly peer: string;
  /** This side's numbers. */
  readonly local: SessionSequences;
  /** The peer's numbers; `undefined` when the server withheld them. */
  readonly remote: SessionSequences | undefined;

  /**
   * Makes the error.
   *
   * @param peer The peer's name.
   * @param local This side's numbers.
   * @param remote The peer's numbers, if it told them.
   */
  constructor(peer: string, local: SessionSequences, remote?: SessionSequences) {
    super(
      `Sequence numbers of session "${peer}" do not match: here received ${local.received}, acknowledged ${local.acknowledged}, sent ${local.sent}; ${
        remote === undefined
          ? "the server withholds its numbers from a login no authenticator vouched for"
          : `there received ${remote.received}, acknowledged ${remote.acknowledged}, sent ${remote.sent}`
      }`,
    );
    this.name = "SessionMismatchError";
    this.peer = peer;
    this.local = { received: local.received, acknowledged: local.acknowledged, sent: local.sent };
    this.remote = remote === undefined ? undefined : {
      received: remote.received,
      acknowledged: remote.acknowledged,
      sent: remote.sent,
    };
  }
}

/**
 * The session holds `maxUnacked` messages (or `maxUnackedBytes`) that the peer has not
 * acknowledged: wait with `whenWritable()` before sending more.
 *
 * @example
 * ```ts
 * import { SessionFullError } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new SessionFullError(1024, 65_536).unacked, 1024);
 * ```
 */
export class SessionFullError extends SessionError {
  /** Messages waiting for an acknowledgement. */
  readonly unacked: number;
  /** Their bytes. */
  readonly unackedBytes: number;

  /**
   * Makes the error.
   *
   * @param unacked Messages waiting for an acknowledgement.
   * @param unackedBytes Their bytes.
   */
  constructor(unacked: number, unackedBytes: number) {
    super(
      `Session is full: ${unacked} messages (${unackedBytes} bytes) wait for an acknowledgement`,
    );
    this.name = "SessionFullError";
    this.unacked = unacked;
    this.unackedBytes = unackedBytes;
  }
}

/**
 * Nothing was read from the peer within `connectionTimeout` (heartbeats included): the
 * connection is closed, and a client reconnects.
 *
 * @example
 * ```ts
 * import { SessionTimeoutError } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new SessionTimeoutError(10_000).timeout, 10_000);
 * ```
 */
export class SessionTimeoutError extends SessionError {
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Makes the error.
   *
   * @param timeout The timeout, in milliseconds.
   */
  constructor(timeout: number) {
    super(`Nothing heard from the peer for ${timeout} ms`);
    this.name = "SessionTimeoutError";
    this.timeout = timeout;
  }
}
