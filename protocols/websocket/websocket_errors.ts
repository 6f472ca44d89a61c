/**
 * Typed errors of the WebSocket protocol: each carries the close code sent to the peer.
 *
 * @module
 */

import { ProtocolError } from "../../core/errors.ts";

/** Close codes of RFC 6455 section 7.4.1 that Speedo sends. */
export const CloseCode = {
  /** The purpose of the connection was fulfilled. */
  normal: 1000,
  /** The server is going away (idle timeout, shutdown). */
  goingAway: 1001,
  /** The peer broke the protocol. */
  protocolError: 1002,
  /** A data type the endpoint cannot accept. */
  unsupportedData: 1003,
  /** No status code was present (never sent in a frame). */
  noStatus: 1005,
  /** A text message (or close reason) that is not valid UTF-8. */
  invalidPayload: 1007,
  /** A policy was violated (a slow consumer, say). */
  policyViolation: 1008,
  /** A message larger than `maxMessageSize`. */
  messageTooBig: 1009,
  /** The server failed to handle a message. */
  internalError: 1011,
} as const;

/**
 * The peer broke the WebSocket protocol: the server sends a close frame with `code` and closes
 * the connection.
 *
 * @example
 * ```ts
 * import { CloseCode, WebSocketError } from "@speedo/speedo/websocket";
 * import { ProtocolError } from "@speedo/speedo";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error = new WebSocketError(CloseCode.protocolError, "Client frames must be masked");
 * assert(error instanceof ProtocolError);
 * assertEquals(error.code, 1002);
 * ```
 */
export class WebSocketError extends ProtocolError {
  /** The close code to send. */
  readonly code: number;

  /**
   * Makes the error.
   *
   * @param code The close code to send (see {@linkcode CloseCode}).
   * @param message What was wrong; sent as the close reason (up to 123 bytes).
   */
  constructor(code: number, message: string) {
    super(message);
    this.name = "WebSocketError";
    this.code = code;
  }
}

/**
 * A message larger than `maxMessageSize` (close code 1009).
 *
 * @example
 * ```ts
 * import { MessageTooBigError } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new MessageTooBigError(2_000_000, 1_048_576);
 * assertEquals([error.code, error.length, error.maxLength], [1009, 2_000_000, 1_048_576]);
 * ```
 */
export class MessageTooBigError extends WebSocketError {
  /** Bytes of the message announced or seen. */
  readonly length: number;
  /** The limit that was passed. */
  readonly maxLength: number;

  /**
   * Makes the error.
   *
   * @param length Bytes of the message announced or seen.
   * @param maxLength The limit.
   */
  constructor(length: number, maxLength: number) {
    super(
      CloseCode.messageTooBig,
      `Message of at least ${length} bytes exceeds the limit of ${maxLength} bytes`,
    );
    this.name = "MessageTooBigError";
    this.length = length;
    this.maxLength = maxLength;
  }
}
