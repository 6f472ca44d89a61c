import {
  BadRequestError,
  ContentTooLargeError,
  HeaderFieldsTooLargeError,
  HttpVersionNotSupportedError,
  NotImplementedError,
  UriTooLongError,
} from "./http_errors.ts";
import { HTTP_METHODS, HttpMessageFlag, HttpMessageKind } from "./http_message.ts";

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SEMICOLON = 0x3b;

/** The default {@linkcode RequestParserOptions.maxHeaderSize}: 8 KiB. */
export const DEFAULT_MAX_HEADER_SIZE = 8 * 1024;
/** The default {@linkcode RequestParserOptions.maxUriLength}: 8 KiB. */
export const DEFAULT_MAX_URI_LENGTH = 8 * 1024;
/** The default {@linkcode RequestParserOptions.maxBodySize}: 1 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024;
/** The default {@linkcode RequestParserOptions.maxHeaderCount}. */
export const DEFAULT_MAX_HEADER_COUNT = 100;

/** Longest chunk-size line (size and extensions), in bytes. */
const MAX_CHUNK_LINE = 1024;
/** Empty lines tolerated before a request line (RFC 9112 2.2 asks for at least one). */
const MAX_LEADING_EMPTY_LINES = 8;
/** Longest method accepted before the first space. */
const MAX_METHOD_LENGTH = 32;
/**
 * First size of the buffer of a body that spans chunks, past the bytes already there: bodies
 * up to this size are allocated once, larger ones grow as they arrive.
 */
const INITIAL_BODY_CAPACITY = 16 * 1024;

/** Options of {@linkcode RequestParser}: every bound has a default. */
export interface RequestParserOptions {
  /**
   * Largest header section (the field lines after the request line, with their CRLFs, and the
   * trailers of a chunked body), in bytes; past it, {@linkcode HeaderFieldsTooLargeError} (431).
   *
   * @default {8192}
   */
  maxHeaderSize?: number;
  /**
   * Longest request target, in bytes; past it, {@linkcode UriTooLongError} (414).
   *
   * @default {8192}
   */
  maxUriLength?: number;
  /**
   * Largest body (after chunked decoding), in bytes; past it, {@linkcode ContentTooLargeError}
   * (413).
   *
   * @default {1048576}
   */
  maxBodySize?: number;
  /**
   * Most header fields in one request; past it, {@linkcode HeaderFieldsTooLargeError} (431).
   *
   * @default {100}
   */
  maxHeaderCount?: number;
}

const enum State {
  /** Reading the request line and header fields. */
  Head,
  /** Reading a `Content-Length` body. */
  Body,
  /** Reading a chunk-size line. */
  ChunkSize,
  /** Reading chunk data. */
  ChunkData,
  /** Reading the CRLF after chunk data. */
  ChunkEnd,
  /** Reading the trailer section of a chunked body. */
  Trailers,
  /** Stopped: after an error, a request that closes the connection, or an upgrade request. */
  Stopped,
}

function table(ranges: string, extra: string): Uint8Array {
  const t = new Uint8Array(256);
  for (const range of ranges.split(",")) {
    if (range === "") continue;
    const [from, to] = range.split("-").map((x) => parseInt(x, 16));
    for (let i = from; i <= to; i++) t[i] = 1;
  }
  for (const char of extra) t[char.charCodeAt(0)] = 1;
  return t;
}

/** RFC 9110 tchar: the bytes of a method or field name. */
const TCHAR = table("30-39,41-5a,61-7a", "!#$%&'*+-.^_`|~");
/** Field value bytes: VCHAR, SP, HTAB, obs-text. */
const FIELD_VALUE = table("21-7e,80-ff", " \t");
/** Request-target bytes: VCHAR (no SP, no CTL, no DEL, no obs-text). */
const TARGET = table("21-7e", "");
/** Host bytes: reg-name, IPv4, IP-literal and port; no `/`, `?`, `#`, `@` or space. */
const HOST = table("30-39,41-5a,61-7a", "-._~%!$&'()*+,;=:[]");
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

const latin1 = (bytes: Uint8Array, start: number, end: number): string => {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]);
  return text;
};

/** Whether `bytes[start, start + name.length)` equals `name` (lower case) ignoring case. */
function nameIs(bytes: Uint8Array, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    if ((bytes[start + i] | 0x20) !== name.charCodeAt(i)) return false;
  }
  return true;
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/**
 * A pure, bounded, incremental HTTP/1.1 request parser: bytes in, requests out; no sockets, no
 * timers. It checks everything a server must check before trusting a request (RFC 9112) and
 * frames each request into one message for a message handler.
 *
 * ```
 *  request-line  = method SP request-target SP HTTP-version CRLF     (≤ maxUriLength target)
 *  field-line    = field-name ":" OWS field-value OWS CRLF           (≤ maxHeaderSize in all)
 *  CRLF
 *  body          = Content-Length bytes                              (≤ maxBodySize)
 *                | *( chunk-size [ ext ] CRLF data CRLF ) "0" CRLF *( trailer CRLF ) CRLF
 * ```
 *
 * Each request comes out as a payload laid out as below, with its message type (kind, flags and
 * method, see {@linkcode HttpMessageFlag}) in {@linkcode RequestParser.lastType}:
 *
 * ```
 *  ┌ request line and field lines as received, CRLF CRLF ┬ body (chunked decoding undone) ┐
 * ```
 *
 * What it refuses, with the error thrown (the status the server answers):
 *
 * | input                                                        | error (status)           |
 * | ------------------------------------------------------------ | ------------------------ |
 * | bare LF, header without colon, space before colon, obs-fold  | `BadRequestError` (400)  |
 * | missing or malformed version, bad method or target bytes     | `BadRequestError` (400)  |
 * | bad, negative, or duplicate `Content-Length`; CL with TE       | `BadRequestError` (400)  |
 * | `Transfer-Encoding` not ending in chunked, or in HTTP/1.0     | `BadRequestError` (400)  |
 * | missing, duplicate or malformed `Host` in HTTP/1.1           | `BadRequestError` (400)  |
 * | invalid chunk size or chunk framing                          | `BadRequestError` (400)  |
 * | body larger than `maxBodySize`                               | `ContentTooLargeError` (413) |
 * | target longer than `maxUriLength`                            | `UriTooLongError` (414)  |
 * | header section over `maxHeaderSize` or `maxHeaderCount`      | `HeaderFieldsTooLargeError` (431) |
 * | unknown method, `CONNECT`, `TRACE`, transfer codings         | `NotImplementedError` (501) |
 * | `HTTP/x.y` other than 1.0 and 1.1                            | `HttpVersionNotSupportedError` (505) |
 *
 * After an error, after a request that ends the connection (`Connection: close`, HTTP/1.0
 * without keep-alive), and after an upgrade request, the parser stops: `next` returns `null`.
 * {@linkcode RequestParser.rest} gives the bytes after an upgrade request, and
 * {@linkcode RequestParser.resume} goes on parsing when the upgrade is declined.
 *
 * A payload is a view of the chunk fed when the whole request lies in it (no copy), or a buffer
 * of its own otherwise; the parser never writes into a payload it returned.
 *
 * @example Two pipelined requests, fed one byte at a time
 * ```ts
 * import { HttpMessageFlag, RequestParser } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * const parser = new RequestParser();
 * const input = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
 * const requests: string[] = [];
 * for (const byte of new TextEncoder().encode(input)) {
 *   parser.feed(new Uint8Array([byte]));
 *   for (let payload = parser.next(); payload !== null; payload = parser.next()) {
 *     requests.push(new TextDecoder().decode(payload));
 *     assertEquals(parser.lastType & HttpMessageFlag.keepAlive, HttpMessageFlag.keepAlive);
 *   }
 * }
 * assertEquals(requests, [
 *   "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
 *   "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
 * ]);
 * ```
 *
 * @example A bad request
 * ```ts
 * import { BadRequestError, RequestParser } from "@speedo/speedo/http";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const parser = new RequestParser();
 * parser.feed(new TextEncoder().encode("GET / HTTP/1.1\r\nHost x\r\n\r\n"));
 * const error = assertThrows(() => parser.next(), BadRequestError);
 * assertEquals(error.status, 400);
 * assertEquals(parser.next(), null);
 * ```
 */
export class RequestParser {
  /** Largest header section, in bytes. */
  readonly maxHeaderSize: number;
  /** Longest request target, in bytes. */
  readonly maxUriLength: number;
  /** Largest body, in bytes. */
  readonly maxBodySize: number;
  /** Most header fields. */
  readonly maxHeaderCount: number;

  #state: State = State.Head;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #lastType = 0;
  #continue = false;
  /** Where the request began in the chunk, or -1 when it began in an earlier chunk. */
  #headStart = 0;
  /** The head bytes of earlier chunks (only when the head spans chunks). */
  #scratch: Uint8Array = new Uint8Array(0);
  #scratchLength = 0;
  /** Start in the scratch of the line being read, when the head spans chunks. */
  #lineStart = 0;
  #leadingEmptyLines = 0;
  // Per request:
  #sawRequestLine = false;
  #headerBytes = 0;
  #headerCount = 0;
  #method = 0;
  #http10 = false;
  #latin1 = false;
  #contentLength = -1;
  #chunked = false;
  #hosts = 0;
  #close = false;
  #keepAliveToken = false;
  #upgradeToken = false;
  #upgradeHeader = false;
  #expectContinue = false;
  #sawTransferEncoding = false;
  // Body:
  #body: Uint8Array = new Uint8Array(0);
  #bodyLength = 0;
  #remaining = 0;
  #line: Uint8Array = new Uint8Array(0);
  #lineLength = 0;

  /**
   * Makes a parser.
   *
   * @param options Bounds.
   * @throws {RangeError} When a bound is not a positive integer.
   */
  constructor(options: RequestParserOptions = {}) {
    this.maxHeaderSize = positive(
      "maxHeaderSize",
      options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    );
    this.maxUriLength = positive("maxUriLength", options.maxUriLength ?? DEFAULT_MAX_URI_LENGTH);
    this.maxBodySize = nonNegative("maxBodySize", options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE);
    this.maxHeaderCount = positive(
      "maxHeaderCount",
      options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT,
    );
  }

  /**
   * The message type of the request last returned by {@linkcode RequestParser.next}: kind
   * {@linkcode HttpMessageKind.request}, the {@linkcode HttpMessageFlag} bits and the method.
   *
   * @example
   * ```ts
   * import { HttpMessageFlag, RequestParser, requestMethod } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("HEAD / HTTP/1.0\r\n\r\n"));
   * parser.next();
   * assertEquals(requestMethod(parser.lastType), "HEAD");
   * assertEquals(parser.lastType & HttpMessageFlag.keepAlive, 0);
   * ```
   */
  get lastType(): number {
    return this.#lastType;
  }

  /**
   * Whether bytes of a request not yet complete are held (its head or its body).
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("GET / HT"));
   * assertEquals(parser.next(), null);
   * assertEquals([parser.busy, parser.inHead], [true, true]);
   * ```
   */
  get busy(): boolean {
    if (this.#state === State.Head) return this.#sawRequestLine || this.#scratchLength > 0;
    return this.#state !== State.Stopped;
  }

  /**
   * Whether the head of a request has begun and is not complete.
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc"));
   * assertEquals(parser.next(), null);
   * assertEquals([parser.busy, parser.inHead], [true, false]);
   * ```
   */
  get inHead(): boolean {
    return this.#state === State.Head && (this.#sawRequestLine || this.#scratchLength > 0);
  }

  /**
   * The bytes of buffer the parser holds between chunks (their capacity, not how much of it
   * is used): for a head that spans chunks, a body that spans chunks, a chunk-size line. It
   * grows with the bytes received, never with the length a request announces, so a peer that
   * announces a large body and sends little costs little memory.
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assert } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\na"));
   * parser.next();
   * assert(parser.heldBytes < 100_000);
   * ```
   */
  get heldBytes(): number {
    return this.#scratch.length + this.#body.length + this.#line.length;
  }

  /**
   * Whether the parser stopped (after an error, a request that ends the connection, or an
   * upgrade request).
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assert } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
   * parser.next();
   * assert(parser.stopped);
   * ```
   */
  get stopped(): boolean {
    return this.#state === State.Stopped;
  }

  /**
   * Gives the parser the next chunk of the stream. Call {@linkcode RequestParser.next} until it
   * returns `null` before feeding again.
   *
   * @param chunk Bytes read; untouched until `next` returns `null`. A payload returned may be a
   *   view of it.
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
   * assertEquals(new TextDecoder().decode(parser.next()!), "GET / HTTP/1.0\r\n\r\n");
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
    if (this.#state === State.Head) this.#headStart = this.#scratchLength > 0 ? -1 : 0;
  }

  /**
   * Returns the next complete request, or `null` when the chunk fed is used up (or the parser
   * stopped).
   *
   * @returns The request's payload (head and body), or `null`.
   * @throws {HttpError} When the request is refused; the parser then stops.
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
   * assertEquals(
   *   new TextDecoder().decode(parser.next()!),
   *   "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nabc",
   * );
   * ```
   */
  next(): Uint8Array | null {
    try {
      return this.#next();
    } catch (error) {
      this.#state = State.Stopped;
      this.#release();
      throw error;
    }
  }

  /**
   * Whether the request whose head was just read asked for `100 Continue` before sending its
   * body; true once per such request, while its body is not complete.
   *
   * @returns Whether to send `HTTP/1.1 100 Continue` now.
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
   * assertEquals(parser.next(), null);
   * assertEquals(parser.takeContinue(), true);
   * assertEquals(parser.takeContinue(), false);
   * ```
   */
  takeContinue(): boolean {
    const value = this.#continue;
    this.#continue = false;
    return value;
  }

  /**
   * The bytes of the current chunk after the last request returned: after an upgrade request,
   * the first bytes of the new protocol.
   *
   * @returns A view of the chunk fed.
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nhi"));
   * parser.next();
   * assertEquals(new TextDecoder().decode(parser.rest()), "hi");
   * ```
   */
  rest(): Uint8Array {
    return this.#chunk.subarray(this.#pos);
  }

  /**
   * Goes on parsing after an upgrade request that was not taken (served as a plain request).
   *
   * @example
   * ```ts
   * import { RequestParser } from "@speedo/speedo/http";
   * import { assert } from "@std/assert";
   *
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"));
   * parser.next();
   * assert(parser.stopped);
   * parser.resume();
   * assert(parser.next() !== null);
   * ```
   */
  resume(): void {
    if (this.#state !== State.Stopped || (this.#lastType & HttpMessageFlag.upgrade) === 0) return;
    if ((this.#lastType & HttpMessageFlag.keepAlive) === 0) return;
    this.#state = State.Head;
    this.#headStart = this.#pos;
  }

  #next(): Uint8Array | null {
    const chunk = this.#chunk;
    while (this.#pos < chunk.length) {
      switch (this.#state) {
        case State.Head: {
          const payload = this.#readHead();
          if (payload !== null) return payload;
          break;
        }
        case State.Body: {
          const take = Math.min(this.#remaining, chunk.length - this.#pos);
          this.#appendBody(chunk.subarray(this.#pos, this.#pos + take));
          this.#pos += take;
          this.#remaining -= take;
          if (this.#remaining === 0) return this.#finish(this.#body.subarray(0, this.#bodyLength));
          break;
        }
        case State.ChunkSize:
          this.#readChunkSize();
          break;
        case State.ChunkData: {
          const take = Math.min(this.#remaining, chunk.length - this.#pos);
          this.#appendBody(chunk.subarray(this.#pos, this.#pos + take));
          this.#pos += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#state = State.ChunkEnd;
            this.#lineLength = 0;
          }
          break;
        }
        case State.ChunkEnd: {
          // CR then LF, possibly in different chunks.
          const byte = chunk[this.#pos++];
          if (this.#lineLength === 0) {
            if (byte !== CR) throw new BadRequestError("Chunk data not followed by CRLF");
            this.#lineLength = 1;
          } else {
            if (byte !== LF) throw new BadRequestError("Chunk data not followed by CRLF");
            this.#state = State.ChunkSize;
            this.#lineLength = 0;
          }
          break;
        }
        case State.Trailers: {
          const payload = this.#readTrailers();
          if (payload !== null) return payload;
          break;
        }
        case State.Stopped:
          return null;
      }
    }
    if (this.#state === State.Head && this.#headStart >= 0 && this.#headStart < chunk.length) {
      this.#saveHead(chunk.subarray(this.#headStart), chunk.length - this.#pos);
      this.#headStart = -1;
    }
    return null;
  }

  /** Reads head lines; returns the payload of a request with no body to wait for. */
  #readHead(): Uint8Array | null {
    const chunk = this.#chunk;
    const lf = chunk.indexOf(LF, this.#pos);
    if (lf < 0) {
      // An incomplete line: check the bounds now, so a line that never ends is cut early.
      const partial = chunk.length - this.#pos +
        (this.#headStart < 0 ? this.#scratchLength - this.#lineStart : 0);
      this.#checkLineBound(partial, chunk, this.#pos);
      if (this.#headStart >= 0) {
        this.#saveHead(chunk.subarray(this.#headStart), chunk.length - this.#pos);
        this.#headStart = -1;
      } else {
        this.#appendScratch(chunk.subarray(this.#pos));
      }
      this.#pos = chunk.length;
      return null;
    }
    let bytes: Uint8Array;
    let start: number;
    let end: number;
    if (this.#headStart < 0) {
      // The head began in an earlier chunk: finish the line in the scratch buffer.
      this.#appendScratch(chunk.subarray(this.#pos, lf + 1));
      bytes = this.#scratch;
      start = this.#lineStart;
      end = this.#scratchLength - 1;
      this.#lineStart = this.#scratchLength;
    } else {
      bytes = chunk;
      start = this.#pos;
      end = lf;
    }
    this.#pos = lf + 1;
    if (end === start || bytes[end - 1] !== CR) throw new BadRequestError("Bare LF in the head");
    end--;
    if (!this.#sawRequestLine) {
      if (end === start) {
        // An empty line before the request line: tolerated, and not part of the request.
        if (++this.#leadingEmptyLines > MAX_LEADING_EMPTY_LINES) {
          throw new BadRequestError("Too many empty lines before the request line");
        }
        this.#scratchLength = this.#lineStart = 0;
        this.#headStart = this.#pos;
        return null;
      }
      this.#requestLine(bytes, start, end);
      return null;
    }
    if (end > start) {
      this.#headerBytes += end - start + 2;
      if (this.#headerBytes > this.maxHeaderSize) {
        throw new HeaderFieldsTooLargeError(
          `Header section of at least ${this.#headerBytes} bytes exceeds the limit of ${this.maxHeaderSize} bytes`,
        );
      }
      if (++this.#headerCount > this.maxHeaderCount) {
        throw new HeaderFieldsTooLargeError(
          `More than ${this.maxHeaderCount} header fields`,
        );
      }
      this.#field(bytes, start, end);
      return null;
    }
    return this.#endOfHead();
  }

  #checkLineBound(partial: number, chunk: Uint8Array, from: number): void {
    if (!this.#sawRequestLine) {
      const limit = this.maxUriLength + MAX_METHOD_LENGTH + 12;
      if (partial > limit) {
        // A method too long to be one is malformed; otherwise the target is too long.
        const space = chunk.subarray(from, from + MAX_METHOD_LENGTH + 1).indexOf(SP);
        if (this.#headStart >= 0 && space < 0) {
          throw new BadRequestError("Request line has no method");
        }
        throw new UriTooLongError(partial, this.maxUriLength);
      }
    } else if (this.#headerBytes + partial > this.maxHeaderSize + 1) {
      throw new HeaderFieldsTooLargeError(
        `Header section of at least ${
          this.#headerBytes + partial
        } bytes exceeds the limit of ${this.maxHeaderSize} bytes`,
      );
    }
  }

  /** Keeps the head bytes of this chunk for the next one, within the head's bounds. */
  #saveHead(bytes: Uint8Array, partialLine: number): void {
    const lineOffset = bytes.length - partialLine;
    const base = this.#scratchLength;
    this.#appendScratch(bytes);
    this.#lineStart = base + lineOffset;
  }

  #appendScratch(bytes: Uint8Array): void {
    const needed = this.#scratchLength + bytes.length;
    if (needed > this.#scratch.length) {
      let size = Math.max(256, this.#scratch.length * 2);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#scratch.subarray(0, this.#scratchLength));
      this.#scratch = grown;
    }
    this.#scratch.set(bytes, this.#scratchLength);
    this.#scratchLength = needed;
  }

  #requestLine(bytes: Uint8Array, start: number, end: number): void {
    this.#sawRequestLine = true;
    // method
    let i = start;
    while (i < end && TCHAR[bytes[i]] === 1) i++;
    if (i === start || i >= end || bytes[i] !== SP) {
      throw new BadRequestError("Request line must be: method SP target SP version");
    }
    const methodEnd = i;
    // target
    const targetStart = ++i;
    while (i < end && TARGET[bytes[i]] === 1) i++;
    const targetEnd = i;
    if (targetEnd - targetStart > this.maxUriLength) {
      throw new UriTooLongError(targetEnd - targetStart, this.maxUriLength);
    }
    if (targetEnd === targetStart) throw new BadRequestError("Request target is empty");
    if (i >= end) throw new BadRequestError("Request line has no HTTP version");
    if (bytes[i] !== SP) throw new BadRequestError("Request target has a forbidden byte");
    // version: HTTP/DIGIT.DIGIT
    const versionStart = ++i;
    const major = bytes[versionStart + 5];
    const minor = bytes[versionStart + 7];
    const wellFormed = end - versionStart === 8 &&
      HTTP_SLASH.every((byte, k) => bytes[versionStart + k] === byte) &&
      bytes[versionStart + 6] === 0x2e && isDigit(major) && isDigit(minor);
    if (!wellFormed) {
      throw new BadRequestError(
        `Malformed HTTP version "${latin1(bytes, versionStart, Math.min(end, versionStart + 16))}"`,
      );
    }
    if (major !== 0x31 || minor > 0x31) {
      throw new HttpVersionNotSupportedError(latin1(bytes, versionStart, end));
    }
    this.#http10 = bytes[versionStart + 7] === 0x30;
    // method last: a 505 or a 400 says more than a 501 about an unknown method
    const index = methodIndex(bytes, start, methodEnd);
    if (index < 0) {
      const method = latin1(bytes, start, Math.min(methodEnd, start + MAX_METHOD_LENGTH));
      throw new NotImplementedError(`Method "${method}" is not implemented`);
    }
    this.#method = index;
    // target forms: origin ("/..."), absolute ("http://..."), asterisk (OPTIONS only)
    const first = bytes[targetStart];
    if (first === 0x2a) {
      if (targetEnd - targetStart !== 1 || HTTP_METHODS[index] !== "OPTIONS") {
        throw new BadRequestError('Request target "*" is for OPTIONS only');
      }
    } else if (first !== 0x2f) {
      const target = latin1(bytes, targetStart, Math.min(targetEnd, targetStart + 8)).toLowerCase();
      if (!target.startsWith("http://") && !target.startsWith("https://")) {
        throw new BadRequestError("Request target must be a path or an absolute http URL");
      }
    }
  }

  #field(bytes: Uint8Array, start: number, end: number): void {
    const first = bytes[start];
    if (first === SP || first === HTAB) {
      throw new BadRequestError("Obsolete line folding in a header field");
    }
    let i = start;
    while (i < end && TCHAR[bytes[i]] === 1) i++;
    if (i === end || (bytes[i] !== COLON && bytes.subarray(i, end).indexOf(COLON) < 0)) {
      throw new BadRequestError("Header line has no colon");
    }
    if (bytes[i] !== COLON) {
      throw new BadRequestError(
        bytes[i] === SP || bytes[i] === HTAB
          ? "Whitespace between a header name and its colon"
          : "Header name has a forbidden byte",
      );
    }
    if (i === start) throw new BadRequestError("Header name is empty");
    const nameLength = i - start;
    // value, without leading and trailing whitespace
    let valueStart = i + 1;
    while (valueStart < end && (bytes[valueStart] === SP || bytes[valueStart] === HTAB)) {
      valueStart++;
    }
    let valueEnd = end;
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === SP || bytes[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    for (let k = valueStart; k < valueEnd; k++) {
      const byte = bytes[k];
      if (FIELD_VALUE[byte] !== 1) throw new BadRequestError("Header value has a control byte");
      if (byte >= 0x80) this.#latin1 = true;
    }
    switch (nameLength) {
      case 4:
        if (nameIs(bytes, start, "host")) {
          if (++this.#hosts > 1) throw new BadRequestError("More than one Host header");
          for (let k = valueStart; k < valueEnd; k++) {
            if (HOST[bytes[k]] !== 1) throw new BadRequestError("Host header is malformed");
          }
          if (valueEnd === valueStart && !this.#http10) {
            throw new BadRequestError("Host header is empty");
          }
        }
        break;
      case 6:
        if (nameIs(bytes, start, "expect")) {
          this.#expectContinue = latin1(bytes, valueStart, valueEnd).toLowerCase() ===
            "100-continue";
        }
        break;
      case 7:
        if (nameIs(bytes, start, "upgrade")) this.#upgradeHeader = valueEnd > valueStart;
        break;
      case 10:
        if (nameIs(bytes, start, "connection")) {
          for (const token of latin1(bytes, valueStart, valueEnd).toLowerCase().split(",")) {
            const t = token.trim();
            if (t === "close") this.#close = true;
            else if (t === "keep-alive") this.#keepAliveToken = true;
            else if (t === "upgrade") this.#upgradeToken = true;
          }
        }
        break;
      case 14:
        if (nameIs(bytes, start, "content-length")) {
          if (this.#contentLength >= 0) {
            throw new BadRequestError("More than one Content-Length header");
          }
          if (valueEnd === valueStart) throw new BadRequestError("Content-Length is empty");
          let length = 0;
          for (let k = valueStart; k < valueEnd; k++) {
            const digit = bytes[k] - 0x30;
            if (digit < 0 || digit > 9) {
              throw new BadRequestError("Content-Length is not a non-negative integer");
            }
            // Past the limit the exact value no longer matters: keep it bounded.
            length = Math.min(length * 10 + digit, Number.MAX_SAFE_INTEGER);
          }
          this.#contentLength = length;
        }
        break;
      case 17:
        if (nameIs(bytes, start, "transfer-encoding")) {
          if (this.#sawTransferEncoding) {
            throw new BadRequestError("More than one Transfer-Encoding header");
          }
          this.#sawTransferEncoding = true;
          const codings = latin1(bytes, valueStart, valueEnd).toLowerCase().split(",").map((c) =>
            c.trim()
          );
          if (codings.at(-1) !== "chunked") {
            throw new BadRequestError("Transfer-Encoding must end with chunked");
          }
          if (codings.length > 1) {
            throw new NotImplementedError(
              `Transfer coding "${
                codings.slice(0, -1).join(", ").slice(0, 64)
              }" is not implemented`,
            );
          }
          this.#chunked = true;
        }
        break;
    }
  }

  #endOfHead(): Uint8Array | null {
    if (this.#sawTransferEncoding && this.#contentLength >= 0) {
      throw new BadRequestError("Both Content-Length and Transfer-Encoding");
    }
    if (this.#sawTransferEncoding && this.#http10) {
      throw new BadRequestError("Transfer-Encoding in an HTTP/1.0 request");
    }
    if (this.#hosts === 0 && !this.#http10) {
      throw new BadRequestError("HTTP/1.1 request without Host");
    }
    if (this.#contentLength > this.maxBodySize) {
      throw new ContentTooLargeError(this.#contentLength, this.maxBodySize);
    }
    const keepAlive = !this.#close && (!this.#http10 || this.#keepAliveToken);
    this.#lastType = HttpMessageKind.request |
      (keepAlive ? HttpMessageFlag.keepAlive : 0) |
      (this.#http10 ? HttpMessageFlag.http10 : 0) |
      (this.#latin1 ? HttpMessageFlag.latin1 : 0) |
      (this.#upgradeToken && this.#upgradeHeader ? HttpMessageFlag.upgrade : 0) |
      (this.#method << 8);
    // The head, as one view (of the chunk) or copy (of the scratch).
    let head: Uint8Array;
    const inChunk = this.#headStart >= 0;
    if (inChunk) head = this.#chunk.subarray(this.#headStart, this.#pos);
    else head = this.#scratch.subarray(0, this.#scratchLength);
    const length = this.#contentLength;
    if (this.#chunked) {
      this.#body = new Uint8Array(Math.max(256, head.length * 2));
      this.#body.set(head);
      this.#bodyLength = this.#headLengthInBody = head.length;
      this.#bodyLimit = head.length + this.maxBodySize;
      this.#state = State.ChunkSize;
      this.#lineLength = 0;
      this.#continue = this.#expectContinue;
      this.#resetHead();
      return null;
    }
    if (length <= 0) {
      const payload = inChunk ? head : head.slice();
      this.#resetHead();
      return this.#finish(payload);
    }
    if (inChunk && this.#pos + length <= this.#chunk.length) {
      this.#pos += length;
      const payload = this.#chunk.subarray(this.#headStart, this.#pos);
      this.#resetHead();
      return this.#finish(payload);
    }
    // Sized by what arrived, not by what the head announced (see #appendBody); a small body
    // gets its whole size at once.
    this.#bodyLimit = head.length + length;
    const arrived = this.#chunk.length - this.#pos;
    this.#body = new Uint8Array(
      Math.min(this.#bodyLimit, head.length + Math.max(arrived, INITIAL_BODY_CAPACITY)),
    );
    this.#body.set(head);
    this.#bodyLength = this.#headLengthInBody = head.length;
    this.#remaining = length;
    this.#state = State.Body;
    this.#continue = this.#expectContinue;
    this.#resetHead();
    return null;
  }

  #readChunkSize(): void {
    const chunk = this.#chunk;
    const lf = chunk.indexOf(LF, this.#pos);
    const end = lf < 0 ? chunk.length : lf + 1;
    if (this.#lineLength + end - this.#pos > MAX_CHUNK_LINE) {
      throw new BadRequestError(`Chunk-size line longer than ${MAX_CHUNK_LINE} bytes`);
    }
    this.#appendLine(chunk.subarray(this.#pos, end));
    this.#pos = end;
    if (lf < 0) return;
    const line = this.#line;
    const length = this.#lineLength;
    this.#lineLength = 0;
    if (length < 2 || line[length - 2] !== CR) throw new BadRequestError("Bare LF in chunked body");
    const contentEnd = length - 2;
    let size = 0;
    let i = 0;
    for (; i < contentEnd; i++) {
      const digit = HEX[line[i]];
      if (digit < 0) break;
      size = size * 16 + digit;
      const total = this.#bodyLength - this.#headLengthInBody + size;
      if (total > this.maxBodySize) throw new ContentTooLargeError(total, this.maxBodySize);
    }
    if (i === 0) throw new BadRequestError("Invalid chunk size");
    // Only extensions may follow the size: BWS ";" ...
    while (i < contentEnd && (line[i] === SP || line[i] === HTAB)) i++;
    if (i < contentEnd && line[i] !== SEMICOLON) throw new BadRequestError("Invalid chunk size");
    for (; i < contentEnd; i++) {
      if (FIELD_VALUE[line[i]] !== 1) {
        throw new BadRequestError("Chunk extension has a control byte");
      }
    }
    if (size === 0) {
      this.#state = State.Trailers;
      this.#lineLength = 0;
      this.#headerBytes = 0;
      return;
    }
    this.#remaining = size;
    this.#state = State.ChunkData;
  }

  /** Reads the trailer section; returns the payload once it ends. Trailers are dropped. */
  #readTrailers(): Uint8Array | null {
    const chunk = this.#chunk;
    const lf = chunk.indexOf(LF, this.#pos);
    const end = lf < 0 ? chunk.length : lf + 1;
    this.#headerBytes += end - this.#pos;
    if (this.#headerBytes > this.maxHeaderSize + 2) {
      throw new HeaderFieldsTooLargeError(
        `Trailer section exceeds the limit of ${this.maxHeaderSize} bytes`,
      );
    }
    this.#appendLine(chunk.subarray(this.#pos, end));
    this.#pos = end;
    if (lf < 0) return null;
    const line = this.#line;
    const length = this.#lineLength;
    this.#lineLength = 0;
    if (length < 2 || line[length - 2] !== CR) throw new BadRequestError("Bare LF in trailers");
    if (length === 2) {
      this.#line = EMPTY_LINE;
      return this.#finish(this.#body.subarray(0, this.#bodyLength));
    }
    checkTrailer(line, length - 2);
    return null;
  }

  /** Bytes of the head in front of the body in `#body`. */
  #headLengthInBody = 0;
  /** Most bytes `#body` can need: the head and the announced length, or `maxBodySize`. */
  #bodyLimit = 0;

  /**
   * Appends received body bytes. The buffer grows with what arrives, doubling so that the
   * copies stay linear in the body's length, and never past `#bodyLimit`: a peer that
   * announces 1 MiB and sends 1 byte must not cost 1 MiB for as long as `requestTimeout`.
   */
  #appendBody(bytes: Uint8Array): void {
    const needed = this.#bodyLength + bytes.length;
    if (needed > this.#body.length) {
      const size = Math.max(needed, Math.min(this.#bodyLimit, this.#body.length * 2));
      const grown = new Uint8Array(size);
      grown.set(this.#body.subarray(0, this.#bodyLength));
      this.#body = grown;
    }
    this.#body.set(bytes, this.#bodyLength);
    this.#bodyLength = needed;
  }

  #appendLine(bytes: Uint8Array): void {
    const needed = this.#lineLength + bytes.length;
    if (needed > this.#line.length) {
      const grown = new Uint8Array(Math.max(64, needed * 2));
      grown.set(this.#line.subarray(0, this.#lineLength));
      this.#line = grown;
    }
    this.#line.set(bytes, this.#lineLength);
    this.#lineLength = needed;
  }

  /** The head is done: reset the per-head state (the scratch is released if it grew). */
  #resetHead(): void {
    this.#scratchLength = 0;
    this.#lineStart = 0;
    if (this.#scratch.length > 4096) this.#scratch = EMPTY_LINE;
    this.#sawRequestLine = false;
    this.#leadingEmptyLines = 0;
    this.#headerBytes = 0;
    this.#headerCount = 0;
    this.#latin1 = false;
    this.#contentLength = -1;
    this.#chunked = false;
    this.#hosts = 0;
    this.#close = false;
    this.#keepAliveToken = false;
    this.#upgradeToken = false;
    this.#upgradeHeader = false;
    this.#expectContinue = false;
    this.#sawTransferEncoding = false;
  }

  /** A request is complete: stop or go on with the next head. */
  #finish(payload: Uint8Array): Uint8Array {
    this.#body = EMPTY_LINE;
    this.#bodyLength = 0;
    this.#headLengthInBody = 0;
    this.#continue = false;
    const type = this.#lastType;
    if ((type & HttpMessageFlag.keepAlive) === 0 || (type & HttpMessageFlag.upgrade) !== 0) {
      this.#state = State.Stopped;
    } else {
      this.#state = State.Head;
      this.#headStart = this.#pos;
    }
    return payload;
  }

  #release(): void {
    this.#body = EMPTY_LINE;
    this.#scratch = EMPTY_LINE;
    this.#line = EMPTY_LINE;
    this.#scratchLength = this.#bodyLength = this.#lineLength = 0;
  }
}

const EMPTY_LINE = new Uint8Array(0);

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

const METHOD_BYTES = HTTP_METHODS.map((method) => new TextEncoder().encode(method));

/** Index of the method in {@linkcode HTTP_METHODS}, or -1. */
function methodIndex(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  outer: for (let m = 0; m < METHOD_BYTES.length; m++) {
    const method = METHOD_BYTES[m];
    if (method.length !== length) continue;
    for (let i = 0; i < length; i++) if (bytes[start + i] !== method[i]) continue outer;
    return m;
  }
  return -1;
}

/** Checks a trailer line's syntax (name, colon, value bytes); trailers are then dropped. */
function checkTrailer(line: Uint8Array, end: number): void {
  let i = 0;
  while (i < end && TCHAR[line[i]] === 1) i++;
  if (i === 0 || i === end || line[i] !== COLON) {
    throw new BadRequestError("Malformed trailer field");
  }
  for (i++; i < end; i++) {
    if (FIELD_VALUE[line[i]] !== 1) throw new BadRequestError("Trailer value has a control byte");
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}
