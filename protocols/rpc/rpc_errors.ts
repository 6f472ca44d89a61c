/**
 * Typed errors of RPC calls, so a caller can tell a timeout from a remote failure from a lost
 * connection.
 *
 * @module
 */

/**
 * Base class of every error an RPC call rejects with (except an abort, which rejects with the
 * signal's reason, as `fetch` does).
 *
 * @example
 * ```ts
 * import { RpcError, RpcTimeoutError } from "@speedo/speedo/rpc";
 * import { assert } from "@std/assert";
 *
 * assert(new RpcTimeoutError(1, 2, 100) instanceof RpcError);
 * ```
 */
export class RpcError extends Error {
  /**
   * Makes the error.
   *
   * @param message What went wrong.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RpcError";
  }
}

/**
 * No reply came within the call's timeout. The server may still run the request; a reply that
 * comes later is dropped.
 *
 * @example
 * ```ts
 * import { RpcTimeoutError } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new RpcTimeoutError(3, 17, 15_000);
 * assertEquals([error.type, error.id, error.timeout], [3, 17, 15_000]);
 * assertEquals(error.message, "Call 17 to service 3 got no reply within 15000 ms");
 * ```
 */
export class RpcTimeoutError extends RpcError {
  /** The message type called. */
  readonly type: number;
  /** The call's request id. */
  readonly id: number;
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Makes the error.
   *
   * @param type The message type called.
   * @param id The request id.
   * @param timeout The timeout, in milliseconds.
   */
  constructor(type: number, id: number, timeout: number) {
    super(`Call ${id} to service ${type} got no reply within ${timeout} ms`);
    this.name = "RpcTimeoutError";
    this.type = type;
    this.id = id;
    this.timeout = timeout;
  }
}

/**
 * The remote handler failed: it threw or rejected, and the server replied with the error's
 * name and message.
 *
 * @example
 * ```ts
 * import { RpcRemoteError } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new RpcRemoteError(2, "RangeError", "n must be positive");
 * assertEquals([error.remoteName, error.remoteMessage], ["RangeError", "n must be positive"]);
 * assertEquals(error.message, "Service 2 failed: RangeError: n must be positive");
 * ```
 */
export class RpcRemoteError extends RpcError {
  /** The message type called (0 for an error about the connection as a whole). */
  readonly type: number;
  /** The `name` of the remote error. */
  readonly remoteName: string;
  /** The `message` of the remote error. */
  readonly remoteMessage: string;

  /**
   * Makes the error.
   *
   * @param type The message type called.
   * @param remoteName The remote error's name.
   * @param remoteMessage The remote error's message.
   */
  constructor(type: number, remoteName: string, remoteMessage: string) {
    super(`Service ${type} failed: ${remoteName}: ${remoteMessage}`);
    this.name = "RpcRemoteError";
    this.type = type;
    this.remoteName = remoteName;
    this.remoteMessage = remoteMessage;
  }
}

/**
 * The server has no service registered for the message type called.
 *
 * @example
 * ```ts
 * import { RpcRemoteError, RpcUnknownTypeError } from "@speedo/speedo/rpc";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error = new RpcUnknownTypeError(9, "No service for message type 9");
 * assert(error instanceof RpcRemoteError);
 * assertEquals(error.remoteName, "RpcUnknownTypeError");
 * ```
 */
export class RpcUnknownTypeError extends RpcRemoteError {
  /**
   * Makes the error.
   *
   * @param type The message type called.
   * @param remoteMessage The server's message.
   */
  constructor(type: number, remoteMessage: string) {
    super(type, "RpcUnknownTypeError", remoteMessage);
    this.name = "RpcUnknownTypeError";
  }
}

/**
 * The server's authenticator (`ServerOptions.authenticate`) refused the client's credentials
 * (`connectRpc({ credentials })`), or the client called before authenticating on a server
 * that requires it. The server closes the connection after it, and the client does not
 * reconnect: the same credentials cannot do better.
 *
 * @example
 * ```ts
 * import { RpcAuthenticationError, RpcRemoteError } from "@speedo/speedo/rpc";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error = new RpcAuthenticationError(0, "Authentication failed");
 * assert(error instanceof RpcRemoteError);
 * assertEquals(error.message, "Authentication failed");
 * ```
 */
export class RpcAuthenticationError extends RpcRemoteError {
  /**
   * Makes the error.
   *
   * @param type The message type called (0 for the credentials themselves).
   * @param remoteMessage The server's message.
   */
  constructor(type: number, remoteMessage: string) {
    super(type, "RpcAuthenticationError", remoteMessage);
    this.message = remoteMessage;
    this.name = "RpcAuthenticationError";
  }
}

/**
 * The call could not complete over the connection: there was none, or it closed with the call
 * pending. A pending call is never sent again on the next connection, since the server may
 * have run it.
 *
 * @example
 * ```ts
 * import { RpcConnectionError } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new RpcConnectionError("Not connected").name, "RpcConnectionError");
 * ```
 */
export class RpcConnectionError extends RpcError {
  /**
   * Makes the error.
   *
   * @param message What happened to the connection.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RpcConnectionError";
  }
}

/**
 * The client already has `maxPendingCalls` calls waiting for replies.
 *
 * @example
 * ```ts
 * import { RpcOverloadError } from "@speedo/speedo/rpc";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new RpcOverloadError(1024).maxPendingCalls, 1024);
 * ```
 */
export class RpcOverloadError extends RpcError {
  /** The limit reached. */
  readonly maxPendingCalls: number;

  /**
   * Makes the error.
   *
   * @param maxPendingCalls The limit reached.
   */
  constructor(maxPendingCalls: number) {
    super(`Too many calls waiting for replies (maxPendingCalls: ${maxPendingCalls})`);
    this.name = "RpcOverloadError";
    this.maxPendingCalls = maxPendingCalls;
  }
}
