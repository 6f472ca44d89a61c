/**
 * Typed errors that Speedo raises, so callers can tell a bad peer from a bad handler.
 *
 * @module
 */

/**
 * Base class of every error a protocol raises for bad input from a peer. A protocol error
 * concerns one connection only.
 *
 * @example Catching any protocol error
 * ```ts
 * import { FrameTooLongError, ProtocolError } from "@speedo/speedo";
 * import { assert } from "@std/assert";
 *
 * const error: Error = new FrameTooLongError(70_000, 65_536);
 * assert(error instanceof ProtocolError);
 * ```
 */
export class ProtocolError extends Error {
  /**
   * Makes a protocol error.
   *
   * @param message What went wrong, in a sentence.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

/**
 * A frame (a line, a length-prefixed message...) is longer than the decoder's limit. The
 * decoder discards the frame and goes on with the next one.
 *
 * @example Reading the lengths
 * ```ts
 * import { FrameTooLongError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new FrameTooLongError(70_000, 65_536);
 * assertEquals([error.length, error.maxLength], [70_000, 65_536]);
 * ```
 */
export class FrameTooLongError extends ProtocolError {
  /** Bytes of the frame seen when the limit was passed (at least `maxLength + 1`). */
  readonly length: number;
  /** The limit that was passed. */
  readonly maxLength: number;

  /**
   * Makes the error.
   *
   * @param length Bytes of the frame seen so far.
   * @param maxLength The decoder's limit.
   */
  constructor(length: number, maxLength: number) {
    super(`Frame of at least ${length} bytes exceeds the limit of ${maxLength} bytes`);
    this.name = "FrameTooLongError";
    this.length = length;
    this.maxLength = maxLength;
  }
}

/**
 * A message handler failed for a message: it threw, its promise rejected, or the worker that
 * held the message died. The protocol handler of the message's connection is told through
 * {@linkcode ProtocolHandler.failed}.
 *
 * @example
 * ```ts
 * import { MessageFailedError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new MessageFailedError(7, "Worker 0 died");
 * assertEquals(error.connectionId, 7);
 * ```
 */
export class MessageFailedError extends Error {
  /** The connection whose message failed. */
  readonly connectionId: number;

  /**
   * Makes the error.
   *
   * @param connectionId The connection whose message failed.
   * @param message What went wrong.
   * @param options Standard error options, such as `cause`.
   */
  constructor(connectionId: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MessageFailedError";
    this.connectionId = connectionId;
  }
}

/**
 * A worker of the pool could not start: its handler module failed to load, or it has no
 * `onMessage`.
 *
 * @example
 * ```ts
 * import { WorkerStartError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new WorkerStartError("Module not found").name, "WorkerStartError");
 * ```
 */
export class WorkerStartError extends Error {
  /**
   * Makes the error.
   *
   * @param message What went wrong.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WorkerStartError";
  }
}

/**
 * The reason a connection was closed for saying nothing for longer than the server's
 * `idleTimeout`.
 *
 * @example
 * ```ts
 * import { IdleTimeoutError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new IdleTimeoutError(30_000).timeout, 30_000);
 * ```
 */
export class IdleTimeoutError extends Error {
  /** The idle timeout passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Makes the error.
   *
   * @param timeout The idle timeout passed, in milliseconds.
   */
  constructor(timeout: number) {
    super(`Connection idle for more than ${timeout} ms`);
    this.name = "IdleTimeoutError";
    this.timeout = timeout;
  }
}

/**
 * The reason a connection was closed for not reading what the server writes: its pending
 * output passed `maxWriteBuffer`, or a write could not drain within `writeTimeout`.
 *
 * @example
 * ```ts
 * import { SlowConsumerError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new SlowConsumerError("test").name, "SlowConsumerError");
 * ```
 */
export class SlowConsumerError extends Error {
  /**
   * Makes the error.
   *
   * @param message Which bound was passed.
   */
  constructor(message: string) {
    super(message);
    this.name = "SlowConsumerError";
  }
}

/**
 * The reason connections are closed when the server shuts down.
 *
 * @example
 * ```ts
 * import { ServerClosedError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new ServerClosedError().message, "Server closed");
 * ```
 */
export class ServerClosedError extends Error {
  /**
   * Makes the error.
   *
   * @param message Why.
   */
  constructor(message = "Server closed") {
    super(message);
    this.name = "ServerClosedError";
  }
}

/**
 * An I/O loop of a server of several (`ServerOptions.loops`) died: each of its connections is
 * reported closed with this reason, and the loop is replaced.
 *
 * @example
 * ```ts
 * import { LoopDiedError } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new LoopDiedError(1, "out of memory").loop, 1);
 * ```
 */
export class LoopDiedError extends Error {
  /** The loop's index. */
  readonly loop: number;

  /**
   * Makes the error.
   *
   * @param loop The loop's index.
   * @param cause What killed it, as reported.
   */
  constructor(loop: number, cause: string) {
    super(`I/O loop ${loop} died: ${cause}`);
    this.name = "LoopDiedError";
    this.loop = loop;
  }
}
