/**
 * The messages the HTTP protocol dispatches, and how a message handler reads them back.
 *
 * A message's 16-bit type says what it is:
 *
 * ```
 *  bit  15      11       8   7     6        5        4        3        2         1 0
 *      ┌──┬──────┬────────┬───┬──────┬─────────┬────────┬────────┬──────────┬─────┐
 *      │ws│  0   │ method │ 0 │secure│ upgrade │ latin1 │ http10 │keep-alive│kind │
 *      └──┴──────┴────────┴───┴──────┴─────────┴────────┴────────┴──────────┴─────┘
 * ```
 *
 * - `kind` ({@linkcode HttpMessageKind}): a request (the payload is the head as received,
 *   CRLF CRLF, then the body), bytes to write as they are (`100 Continue`, a `101` switching
 *   protocols), or bytes to write before closing (an error response).
 * - `method`: the index in {@linkcode HTTP_METHODS}.
 * - `ws` (bit 15): a message of a connection upgraded to WebSocket (see `@speedo/speedo/websocket`);
 *   the HTTP handler hands those to its `websocket` handler.
 *
 * @module
 */

/** The methods a request may have; the others are answered 501. */
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"] as const;

/** An HTTP method Speedo serves. */
export type HttpMethod = typeof HTTP_METHODS[number];

/** The `kind` bits (0-1) of an HTTP message's type. */
export const HttpMessageKind = {
  /** A request: head and body. */
  request: 0,
  /** Bytes to write as they are, in order with the responses. */
  write: 1,
  /** Bytes to write, then the connection is closed (an error response). */
  writeAndClose: 2,
} as const;

/** The flag bits of an HTTP request message's type. */
export const HttpMessageFlag = {
  /** The connection stays open after the response. */
  keepAlive: 1 << 2,
  /** The request is HTTP/1.0. */
  http10: 1 << 3,
  /** The head has bytes above 0x7F (obs-text), read as Latin-1. */
  latin1: 1 << 4,
  /** The request asks for a protocol upgrade (`Connection: upgrade` and `Upgrade`). */
  upgrade: 1 << 5,
  /** The connection is TLS: the request's URL is `https:`. */
  secure: 1 << 6,
  /** Set on the messages of connections upgraded to WebSocket. */
  websocket: 1 << 15,
} as const;

/** Mask of the kind bits. */
const KIND_MASK = 0b11;

/**
 * The kind of an HTTP message type: one of {@linkcode HttpMessageKind}.
 *
 * @param type The message type.
 * @returns The kind.
 *
 * @example
 * ```ts
 * import { HttpMessageKind, messageKind } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(messageKind(HttpMessageKind.writeAndClose), HttpMessageKind.writeAndClose);
 * ```
 */
export function messageKind(type: number): number {
  return type & KIND_MASK;
}

/**
 * The method of a request message type.
 *
 * @param type The message type.
 * @returns The method.
 *
 * @example
 * ```ts
 * import { requestMethod } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(requestMethod(2 << 8), "POST");
 * ```
 */
export function requestMethod(type: number): HttpMethod {
  return HTTP_METHODS[(type >> 8) & 0x0f] ?? "GET";
}

/** A request as a message handler reads it back from its message. */
export interface RequestHead {
  /** The method. */
  readonly method: HttpMethod;
  /** The request target as sent: a path and query, an absolute URL, or `*`. */
  readonly target: string;
  /** `"HTTP/1.1"` or `"HTTP/1.0"`. */
  readonly version: "HTTP/1.1" | "HTTP/1.0";
  /**
   * The header fields, names in lower case; repeated fields joined with `", "`. A
   * prototype-less object.
   */
  readonly headers: Record<string, string>;
  /** Whether the connection stays open after the response. */
  readonly keepAlive: boolean;
  /** Whether the request asked for a protocol upgrade. */
  readonly upgrade: boolean;
  /** The body (its own copy), or `null` when it has none. */
  readonly body: Uint8Array<ArrayBuffer> | null;
}

const CRLFCRLF = [0x0d, 0x0a, 0x0d, 0x0a];
const ascii = new TextDecoder();

/**
 * Index just past the CRLF CRLF that ends the head of a request payload.
 *
 * @param payload A request message's payload.
 * @returns The length of the head, with its final empty line.
 *
 * @example
 * ```ts
 * import { headLength } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(headLength(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\nbody")), 18);
 * ```
 */
export function headLength(payload: Uint8Array): number {
  let at = payload.indexOf(0x0a, 3);
  while (at >= 0) {
    if (
      payload[at - 1] === CRLFCRLF[0] && payload[at - 2] === CRLFCRLF[1] &&
      payload[at - 3] === CRLFCRLF[0]
    ) {
      return at + 1;
    }
    at = payload.indexOf(0x0a, at + 1);
  }
  return payload.length;
}

/**
 * Reads a request message back: method, target, version, headers and body. The parser checked
 * the head already, so this only splits it.
 *
 * @param payload The message's payload (the head as received, CRLF CRLF, the body).
 * @param type The message's type (kind `request`).
 * @returns The request.
 *
 * @example
 * ```ts
 * import { readRequest, RequestParser } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * const parser = new RequestParser();
 * parser.feed(new TextEncoder().encode("POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 2\r\n\r\nhi"));
 * const request = readRequest(parser.next()!, parser.lastType);
 * assertEquals(request.method, "POST");
 * assertEquals(request.target, "/echo?x=1");
 * assertEquals(request.headers["x-a"], "1, 2");
 * assertEquals(new TextDecoder().decode(request.body!), "hi");
 * ```
 */
export function readRequest(payload: Uint8Array, type: number): RequestHead {
  const length = headLength(payload);
  const head = decodeHead(payload.subarray(0, length - 4), type);
  const lineEnd = head.indexOf("\r\n");
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const firstSpace = requestLine.indexOf(" ");
  const lastSpace = requestLine.lastIndexOf(" ");
  const headers: Record<string, string> = Object.create(null);
  if (lineEnd >= 0) {
    let at = lineEnd + 2;
    while (at < head.length) {
      let end = head.indexOf("\r\n", at);
      if (end < 0) end = head.length;
      const colon = head.indexOf(":", at);
      const name = head.slice(at, colon).toLowerCase();
      const value = head.slice(colon + 1, end).trim();
      const previous = headers[name];
      headers[name] = previous === undefined ? value : `${previous}, ${value}`;
      at = end + 2;
    }
  }
  return {
    method: requestMethod(type),
    target: requestLine.slice(firstSpace + 1, lastSpace),
    version: (type & HttpMessageFlag.http10) !== 0 ? "HTTP/1.0" : "HTTP/1.1",
    headers,
    keepAlive: (type & HttpMessageFlag.keepAlive) !== 0,
    upgrade: (type & HttpMessageFlag.upgrade) !== 0,
    body: length < payload.length ? payload.slice(length) : null,
  };
}

/**
 * Decodes a request head: ASCII, or Latin-1 when the type's `latin1` flag says it has bytes
 * above 0x7F (header values are byte strings).
 *
 * @param bytes The head's bytes.
 * @param type The message's type.
 * @returns The text, one char per byte.
 *
 * @example
 * ```ts
 * import { decodeHead, HttpMessageFlag } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(decodeHead(new Uint8Array([0x61, 0xe9]), HttpMessageFlag.latin1), "a\u00e9");
 * ```
 */
export function decodeHead(bytes: Uint8Array, type: number): string {
  return (type & HttpMessageFlag.latin1) !== 0 ? latin1(bytes) : ascii.decode(bytes);
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}
