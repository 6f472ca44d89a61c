import { ProtocolError } from "../../core/errors.ts";

/**
 * Base class of the pub/sub protocol's errors. Each carries {@linkcode PubSubError.errText},
 * the text the server sends to the peer as `-ERR '<errText>'`, in the words nats-server uses,
 * so that NATS clients recognise it.
 *
 * @example Telling the peer
 * ```ts
 * import { PayloadTooLargeError, PubSubError } from "@speedo/speedo/pubsub";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error: Error = new PayloadTooLargeError(2_000_000, 1_048_576);
 * assert(error instanceof PubSubError);
 * assertEquals((error as PubSubError).errText, "Maximum Payload Violation");
 * ```
 */
export class PubSubError extends ProtocolError {
  /** The text of the `-ERR '<text>'` line that tells the peer. */
  readonly errText: string;

  /**
   * Makes a pub/sub error.
   *
   * @param message What went wrong, in a sentence.
   * @param errText The text of the `-ERR` line for the peer.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, errText: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PubSubError";
    this.errText = errText;
  }
}

/**
 * A control line (an operation and its arguments, before any payload) is longer than the limit
 * (4 KiB by default). The stream cannot be resynchronised: the connection is closed.
 *
 * @example
 * ```ts
 * import { ControlLineTooLongError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new ControlLineTooLongError(5000, 4096);
 * assertEquals([error.length, error.maxLength], [5000, 4096]);
 * assertEquals(error.errText, "Maximum Control Line Exceeded");
 * ```
 */
export class ControlLineTooLongError extends PubSubError {
  /** Bytes of the control line seen when the limit was passed. */
  readonly length: number;
  /** The limit that was passed. */
  readonly maxLength: number;

  /**
   * Makes the error.
   *
   * @param length Bytes of the control line seen so far.
   * @param maxLength The limit.
   */
  constructor(length: number, maxLength: number) {
    super(
      `Control line of at least ${length} bytes exceeds the limit of ${maxLength} bytes`,
      "Maximum Control Line Exceeded",
    );
    this.name = "ControlLineTooLongError";
    this.length = length;
    this.maxLength = maxLength;
  }
}

/**
 * A `PUB` or `HPUB` announces a payload larger than `max_payload`. It is raised on the control
 * line, before any payload byte is read; the connection is closed.
 *
 * @example
 * ```ts
 * import { PayloadTooLargeError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new PayloadTooLargeError(2_000_000, 1_048_576);
 * assertEquals([error.size, error.maxPayload], [2_000_000, 1_048_576]);
 * ```
 */
export class PayloadTooLargeError extends PubSubError {
  /** The payload size announced, in bytes. */
  readonly size: number;
  /** The limit, in bytes. */
  readonly maxPayload: number;

  /**
   * Makes the error.
   *
   * @param size The payload size announced.
   * @param maxPayload The limit.
   */
  constructor(size: number, maxPayload: number) {
    super(
      `Payload of ${size} bytes exceeds max_payload (${maxPayload} bytes)`,
      "Maximum Payload Violation",
    );
    this.name = "PayloadTooLargeError";
    this.size = size;
    this.maxPayload = maxPayload;
  }
}

/**
 * A control line names no known operation. The connection is closed.
 *
 * @example
 * ```ts
 * import { UnknownOperationError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new UnknownOperationError("FOO");
 * assertEquals(error.operation, "FOO");
 * assertEquals(error.errText, "Unknown Protocol Operation");
 * ```
 */
export class UnknownOperationError extends PubSubError {
  /** The start of the line that was not understood (at most 32 characters). */
  readonly operation: string;

  /**
   * Makes the error.
   *
   * @param operation The start of the unknown line.
   */
  constructor(operation: string) {
    super(`Unknown operation "${operation}"`, "Unknown Protocol Operation");
    this.name = "UnknownOperationError";
    this.operation = operation;
  }
}

/**
 * A known operation has arguments that do not fit its grammar (a missing sid, a size that is not
 * a number, too many arguments...). The connection is closed (nats-server closes it too, without
 * a word; Speedo says why).
 *
 * @example
 * ```ts
 * import { InvalidArgumentsError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new InvalidArgumentsError("PUB", "foo bar");
 * assertEquals(error.errText, "Invalid PUB Arguments");
 * assertEquals(error.message, 'Invalid arguments for PUB: "foo bar"');
 * ```
 */
export class InvalidArgumentsError extends PubSubError {
  /** The operation, upper case: `PUB`, `HPUB`, `SUB`, `UNSUB`. */
  readonly operation: string;

  /**
   * Makes the error.
   *
   * @param operation The operation, upper case.
   * @param args The arguments given (cut to 64 characters).
   */
  constructor(operation: string, args: string) {
    super(
      `Invalid arguments for ${operation}: ${JSON.stringify(args)}`,
      `Invalid ${operation} Arguments`,
    );
    this.name = "InvalidArgumentsError";
    this.operation = operation;
  }
}

/**
 * A payload is not followed by its line ending: the peer sent more or fewer bytes than its
 * `PUB` announced. The stream cannot be resynchronised: the connection is closed.
 *
 * @example
 * ```ts
 * import { PayloadSizeMismatchError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new PayloadSizeMismatchError(5);
 * assertEquals(error.size, 5);
 * assertEquals(error.errText, "Payload Size Mismatch");
 * ```
 */
export class PayloadSizeMismatchError extends PubSubError {
  /** The payload size announced, in bytes. */
  readonly size: number;

  /**
   * Makes the error.
   *
   * @param size The payload size announced.
   */
  constructor(size: number) {
    super(
      `Payload of ${size} bytes is not followed by a line ending: its size does not match`,
      "Payload Size Mismatch",
    );
    this.name = "PayloadSizeMismatchError";
    this.size = size;
  }
}

/**
 * A `CONNECT` is not valid: its JSON does not parse, or it asks for what cannot be granted
 * (`no_responders` without `headers`). The connection is closed.
 *
 * @example
 * ```ts
 * import { InvalidConnectError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new InvalidConnectError("Bad JSON").errText, "Invalid CONNECT Options");
 * ```
 */
export class InvalidConnectError extends PubSubError {
  /**
   * Makes the error.
   *
   * @param message What is wrong.
   * @param errText The text for the peer.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, errText = "Invalid CONNECT Options", options?: ErrorOptions) {
    super(message, errText, options);
    this.name = "InvalidConnectError";
  }
}

/**
 * A client sent `HPUB` without declaring `headers: true` in its `CONNECT`. The connection is
 * closed, as nats-server does.
 *
 * @example
 * ```ts
 * import { HeadersNotSupportedError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new HeadersNotSupportedError().name, "HeadersNotSupportedError");
 * ```
 */
export class HeadersNotSupportedError extends PubSubError {
  /** Makes the error. */
  constructor() {
    super(
      "HPUB from a client that did not declare headers support in CONNECT",
      "Message Headers Not Supported",
    );
    this.name = "HeadersNotSupportedError";
  }
}

/**
 * A subject is not valid: an empty token (`a..b`, `.a`, `a.`), or `>` before the last token.
 * On `SUB` the peer is told `-ERR 'Invalid Subject'` and the connection stays; a pedantic
 * client publishing to a subject with wildcards is told `-ERR 'Invalid Publish Subject'`.
 *
 * @example
 * ```ts
 * import { InvalidSubjectError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new InvalidSubjectError("a..b");
 * assertEquals(error.subject, "a..b");
 * assertEquals(error.errText, "Invalid Subject");
 * assertEquals(new InvalidSubjectError("a.*", "publish").errText, "Invalid Publish Subject");
 * ```
 */
export class InvalidSubjectError extends PubSubError {
  /** The subject refused. */
  readonly subject: string;

  /**
   * Makes the error.
   *
   * @param subject The subject refused.
   * @param use Whether it was to subscribe to, or to publish to.
   */
  constructor(subject: string, use: "subscribe" | "publish" = "subscribe") {
    super(
      `Invalid ${use === "publish" ? "publish " : ""}subject ${JSON.stringify(subject)}`,
      use === "publish" ? "Invalid Publish Subject" : "Invalid Subject",
    );
    this.name = "InvalidSubjectError";
    this.subject = subject;
  }
}

/**
 * The reason a connection is closed after it left `maxPingsOut` server PINGs unanswered and sent
 * nothing meanwhile. The peer is told `-ERR 'Stale Connection'`.
 *
 * @example
 * ```ts
 * import { StaleConnectionError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new StaleConnectionError(2).pingsOut, 2);
 * ```
 */
export class StaleConnectionError extends PubSubError {
  /** PINGs left unanswered. */
  readonly pingsOut: number;

  /**
   * Makes the error.
   *
   * @param pingsOut PINGs left unanswered.
   */
  constructor(pingsOut: number) {
    super(`Connection left ${pingsOut} PINGs unanswered`, "Stale Connection");
    this.name = "StaleConnectionError";
    this.pingsOut = pingsOut;
  }
}

/**
 * A `SUB` past the connection's `maxSubscriptions`. The subscription is not made; the peer is
 * told `-ERR 'maximum subscriptions exceeded'` (nats-server's words) and stays connected.
 *
 * @example
 * ```ts
 * import { TooManySubscriptionsError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new TooManySubscriptionsError(10_000);
 * assertEquals(error.maxSubscriptions, 10_000);
 * assertEquals(error.errText, "maximum subscriptions exceeded");
 * ```
 */
export class TooManySubscriptionsError extends PubSubError {
  /** The limit. */
  readonly maxSubscriptions: number;

  /**
   * Makes the error.
   *
   * @param maxSubscriptions The limit.
   */
  constructor(maxSubscriptions: number) {
    super(
      `A connection may hold at most ${maxSubscriptions} subscriptions`,
      "maximum subscriptions exceeded",
    );
    this.name = "TooManySubscriptionsError";
    this.maxSubscriptions = maxSubscriptions;
  }
}

/**
 * A client was refused by the server's authenticator, sent something before `CONNECT` where
 * credentials are required, or did not log in in time: told `-ERR 'Authorization Violation'`
 * (or `'Authentication Timeout'`), as nats-server tells it, and closed. The reason the
 * authenticator gave stays in `message`, for logs; the peer learns nothing more.
 *
 * @example
 * ```ts
 * import { AuthorizationViolationError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new AuthorizationViolationError("bad password").errText, "Authorization Violation");
 * ```
 */
export class AuthorizationViolationError extends PubSubError {
  /**
   * Makes the error.
   *
   * @param reason Why, for logs.
   * @param errText The text for the peer.
   */
  constructor(reason: string, errText = "Authorization Violation") {
    super(`Authorization refused: ${reason}`, errText);
    this.name = "AuthorizationViolationError";
  }
}

/**
 * A client published or subscribed where its permissions do not reach: told nats-server's
 * words (`-ERR 'Permissions Violation for Publish to "x"'`, `... for Subscription to "x"`),
 * the operation dropped; the connection stays.
 *
 * @example
 * ```ts
 * import { PermissionsViolationError } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new PermissionsViolationError('Permissions Violation for Publish to "a"');
 * assertEquals(error.errText, 'Permissions Violation for Publish to "a"');
 * ```
 */
export class PermissionsViolationError extends PubSubError {
  /**
   * Makes the error.
   *
   * @param errText The text for the peer, as `publishViolation` or `subscribeViolation` word it.
   */
  constructor(errText: string) {
    super(errText, errText);
    this.name = "PermissionsViolationError";
  }
}
