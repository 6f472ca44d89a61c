/**
 * Typed errors of the HTTP protocol: each carries the status code the server answers with
 * before it closes the connection.
 *
 * @module
 */

import { ProtocolError } from "../../core/errors.ts";

/**
 * A request the server cannot serve, with the status it answers: the base of every HTTP
 * parse error. The connection is answered with `status` and closed.
 *
 * @example Catching any HTTP error by status
 * ```ts
 * import { BadRequestError, HttpError } from "@speedo/speedo/http";
 * import { ProtocolError } from "@speedo/speedo";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const error: Error = new BadRequestError("Header line has no colon");
 * assert(error instanceof HttpError && error instanceof ProtocolError);
 * assertEquals((error as HttpError).status, 400);
 * ```
 */
export class HttpError extends ProtocolError {
  /** The status code of the answer (400, 408, 413, 414, 431, 501, 505). */
  readonly status: number;

  /**
   * Makes an HTTP error.
   *
   * @param status The status code of the answer.
   * @param message What was wrong, in a sentence.
   * @param options Standard error options, such as `cause`.
   */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
  }
}

/**
 * 400: the request is malformed (a bare LF, a header line without a colon, a bad
 * `Content-Length`, `Content-Length` with `Transfer-Encoding`, an invalid chunk size...).
 *
 * @example
 * ```ts
 * import { BadRequestError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new BadRequestError("Bare LF").status, 400);
 * ```
 */
export class BadRequestError extends HttpError {
  /**
   * Makes the error.
   *
   * @param message What was malformed.
   */
  constructor(message: string) {
    super(400, message);
    this.name = "BadRequestError";
  }
}

/**
 * 408: the request's head (or the whole request) did not arrive in time.
 *
 * @example
 * ```ts
 * import { RequestTimeoutError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new RequestTimeoutError(10_000);
 * assertEquals([error.status, error.timeout], [408, 10_000]);
 * ```
 */
export class RequestTimeoutError extends HttpError {
  /** The timeout passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Makes the error.
   *
   * @param timeout The timeout passed, in milliseconds.
   * @param what What did not arrive in time.
   */
  constructor(timeout: number, what = "Request headers") {
    super(408, `${what} not received within ${timeout} ms`);
    this.name = "RequestTimeoutError";
    this.timeout = timeout;
  }
}

/**
 * 413: the request's body is larger than `maxBodySize`.
 *
 * @example
 * ```ts
 * import { ContentTooLargeError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new ContentTooLargeError(2_000_000, 1_048_576);
 * assertEquals([error.status, error.length, error.maxLength], [413, 2_000_000, 1_048_576]);
 * ```
 */
export class ContentTooLargeError extends HttpError {
  /** Bytes of body announced or seen (at least `maxLength + 1`). */
  readonly length: number;
  /** The limit that was passed. */
  readonly maxLength: number;

  /**
   * Makes the error.
   *
   * @param length Bytes of body announced or seen.
   * @param maxLength The limit.
   */
  constructor(length: number, maxLength: number) {
    super(413, `Body of at least ${length} bytes exceeds the limit of ${maxLength} bytes`);
    this.name = "ContentTooLargeError";
    this.length = length;
    this.maxLength = maxLength;
  }
}

/**
 * 414: the request target is longer than `maxUriLength`.
 *
 * @example
 * ```ts
 * import { UriTooLongError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new UriTooLongError(9000, 8192).status, 414);
 * ```
 */
export class UriTooLongError extends HttpError {
  /** Bytes of the request line seen. */
  readonly length: number;
  /** The limit that was passed. */
  readonly maxLength: number;

  /**
   * Makes the error.
   *
   * @param length Bytes seen.
   * @param maxLength The limit.
   */
  constructor(length: number, maxLength: number) {
    super(
      414,
      `Request target of at least ${length} bytes exceeds the limit of ${maxLength} bytes`,
    );
    this.name = "UriTooLongError";
    this.length = length;
    this.maxLength = maxLength;
  }
}

/**
 * 431: the header section is larger than `maxHeaderSize`, or has more than `maxHeaderCount`
 * fields.
 *
 * @example
 * ```ts
 * import { HeaderFieldsTooLargeError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new HeaderFieldsTooLargeError("Header section too large").status, 431);
 * ```
 */
export class HeaderFieldsTooLargeError extends HttpError {
  /**
   * Makes the error.
   *
   * @param message Which bound was passed.
   */
  constructor(message: string) {
    super(431, message);
    this.name = "HeaderFieldsTooLargeError";
  }
}

/**
 * 501: a method or transfer coding the server does not implement (`CONNECT`, `TRACE`,
 * `Transfer-Encoding: gzip, chunked`...).
 *
 * @example
 * ```ts
 * import { NotImplementedError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new NotImplementedError('Method "BREW" is not implemented').status, 501);
 * ```
 */
export class NotImplementedError extends HttpError {
  /**
   * Makes the error.
   *
   * @param message What is not implemented.
   */
  constructor(message: string) {
    super(501, message);
    this.name = "NotImplementedError";
  }
}

/**
 * 505: a well-formed HTTP version other than 1.0 and 1.1 (`HTTP/2.0`, `HTTP/0.9`...).
 *
 * @example
 * ```ts
 * import { HttpVersionNotSupportedError } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new HttpVersionNotSupportedError("HTTP/2.0");
 * assertEquals([error.status, error.version], [505, "HTTP/2.0"]);
 * ```
 */
export class HttpVersionNotSupportedError extends HttpError {
  /** The version the request gave. */
  readonly version: string;

  /**
   * Makes the error.
   *
   * @param version The version the request gave.
   */
  constructor(version: string) {
    super(505, `HTTP version "${version}" is not supported`);
    this.name = "HttpVersionNotSupportedError";
    this.version = version;
  }
}
