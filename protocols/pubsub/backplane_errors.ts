/**
 * Errors of a pub/sub server's backplane (`PubSubProtocolOptions.backplane`): they reach
 * `ServerOptions.onError`-style reporting through the backplane's `onError` option and its
 * stats (`BackplaneStats.lastError`); the backplane reconnects after each of them.
 *
 * @module
 */

/**
 * Base class of the backplane's errors: the connection to the NATS system failed or was
 * refused. The backplane reconnects, to the next server listed, with backoff.
 *
 * @example
 * ```ts
 * import { BackplaneError, BackplaneProtocolError } from "@speedo/speedo/pubsub";
 * import { assert } from "@std/assert";
 *
 * assert(new BackplaneProtocolError("unknown operation") instanceof BackplaneError);
 * ```
 */
export class BackplaneError extends Error {
  /**
   * Makes the error.
   *
   * @param message What went wrong, in a sentence.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackplaneError";
  }
}

/**
 * The NATS server sent bytes that are not the NATS protocol (or past the backplane's bounds):
 * the connection is closed and made again.
 *
 * @example
 * ```ts
 * import { BackplaneProtocolError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new BackplaneProtocolError("control line too long").name, "BackplaneProtocolError");
 * ```
 */
export class BackplaneProtocolError extends BackplaneError {
  /**
   * Makes the error.
   *
   * @param message What was wrong with the bytes.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(`Backplane protocol error: ${message}`, options);
    this.name = "BackplaneProtocolError";
  }
}

/**
 * A NATS server refused the backplane's connection (`-ERR` during the handshake, such as
 * `'Authorization Violation'`), or did not complete the handshake in time.
 *
 * @example
 * ```ts
 * import { BackplaneConnectError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new BackplaneConnectError("nats://127.0.0.1:4222", "Authorization Violation");
 * assertEquals(error.server, "nats://127.0.0.1:4222");
 * ```
 */
export class BackplaneConnectError extends BackplaneError {
  /** The server (URL, without credentials) that refused. */
  readonly server: string;

  /**
   * Makes the error.
   *
   * @param server The server's URL, without credentials.
   * @param reason Why, as the server said it or as observed.
   * @param options Standard error options, such as `cause`.
   */
  constructor(server: string, reason: string, options?: ErrorOptions) {
    super(`Backplane server ${server} refused the connection: ${reason}`, options);
    this.name = "BackplaneConnectError";
    this.server = server;
  }
}
