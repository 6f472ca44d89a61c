/**
 * Serialises web-standard `Response`s onto a connection: the head and a body of known length
 * in one write; streamed bodies chunked (HTTP/1.1) or up to the close (HTTP/1.0).
 *
 * @module
 */

import type { ConnectionHandle } from "../../core/connection_handle.ts";
import type { HttpError } from "./http_errors.ts";
import { HTTP_METHODS, HttpMessageFlag } from "./http_message.ts";

/** Bodies up to this size go out in the same buffer as the head. */
const ONE_BUFFER_BODY = 64 * 1024;

/** Reason phrases of the statuses a server sends. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();
let scratch = new Uint8Array(4096);

/** `HTTP/1.1 <status> <reason>\r\n` by status, made on first use. */
const STATUS_LINES: string[] = [];

function statusLine(status: number, statusText: string): string {
  if (statusText !== "") return `HTTP/1.1 ${status} ${statusText}\r\n`;
  return STATUS_LINES[status] ??= `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\n`;
}

let dateExpires = 0;
let dateLine = "";

/** The `date` header line, formatted once per second. */
function date(): string {
  const now = Date.now();
  if (now >= dateExpires) {
    dateExpires = now - (now % 1000) + 1000;
    dateLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * Encodes a head (a ByteString: chars up to 0xFF) and a body into one reused buffer.
 * `encodeInto` writes UTF-8, which is the bytes wanted when the head is ASCII: one byte per
 * char. A head with chars above 0x7F comes out longer, and is then written again byte by byte.
 */
function encodeHead(head: string, body: Uint8Array | null): Uint8Array {
  const bodyLength = body === null ? 0 : body.length;
  const needed = head.length * 2 + bodyLength;
  if (needed > scratch.length) {
    let size = scratch.length * 2;
    while (size < needed) size *= 2;
    scratch = new Uint8Array(size);
  }
  const length = head.length;
  if (encoder.encodeInto(head, scratch).written !== length) {
    for (let i = 0; i < length; i++) scratch[i] = head.charCodeAt(i);
  }
  if (body !== null) scratch.set(body, length);
  return scratch.subarray(0, length + bodyLength);
}

const HEAD_METHOD = HTTP_METHODS.indexOf("HEAD") << 8;

/** Whether the request (its message type) was `HEAD`: no body is sent. */
function isHead(type: number): boolean {
  return (type & 0x0f00) === HEAD_METHOD;
}

// What `collectField` gathers from a response's headers; read right after `forEach`.
let fields = "";
let userLength = -1;
let hasDate = false;
let asksClose = false;

/** A `Headers.forEach` callback without a closure: the state is the module's. */
function collectField(value: string, name: string): void {
  switch (name) {
    case "connection":
      if (/(^|,)\s*close\s*(,|$)/i.test(value)) asksClose = true;
      return;
    case "content-length":
      userLength = Number(value);
      return;
    case "keep-alive":
    case "transfer-encoding":
      // Set by the writer itself.
      return;
    case "date":
      hasDate = true;
  }
  fields += `${name}: ${value}\r\n`;
}

/**
 * Writes a response to the connection, then closes it unless it stays alive.
 *
 * @param connection Where to write.
 * @param response The response.
 * @param type The request's message type: its method, `keepAlive` and `http10` flags.
 * @returns A promise when the body must be read (almost always), settled once it is written.
 */
export function writeResponse(
  connection: ConnectionHandle,
  response: Response,
  type: number,
): Promise<void> | void {
  const status = response.status;
  fields = "";
  userLength = -1;
  hasDate = false;
  asksClose = false;
  // forEach: measured ~3x cheaper than the headers' iterator.
  response.headers.forEach(collectField);
  const keepAlive = !asksClose && (type & HttpMessageFlag.keepAlive) !== 0;
  let head = statusLine(status, response.statusText) + fields;
  if (!hasDate) head += date();
  const length = userLength;
  fields = "";
  const noBody = status < 200 || status === 204 || status === 304;
  const body = response.body;
  if (body === null || noBody) {
    if (body !== null) body.cancel().catch(() => {});
    const framing = noBody
      ? ""
      : isHead(type) && length >= 0
      ? `content-length: ${length}\r\n`
      : "content-length: 0\r\n";
    finish(connection, `${head}${framing}${connectionField(keepAlive, type)}\r\n`, null, keepAlive);
    return;
  }
  return writeBody(connection, head, body, type, keepAlive, length);
}

function connectionField(keepAlive: boolean, type: number): string {
  if (!keepAlive) return "connection: close\r\n";
  return (type & HttpMessageFlag.http10) !== 0 ? "connection: keep-alive\r\n" : "";
}

function finish(
  connection: ConnectionHandle,
  head: string,
  body: Uint8Array | null,
  keepAlive: boolean,
): void {
  if (body !== null && body.length > ONE_BUFFER_BODY) {
    // Two writes in the same turn: the connection coalesces them into one socket write.
    connection.write(head);
    connection.write(body);
  } else {
    connection.write(encodeHead(head, body));
  }
  if (!keepAlive) connection.close();
}

async function writeBody(
  connection: ConnectionHandle,
  head: string,
  stream: ReadableStream<Uint8Array>,
  type: number,
  keepAlive: boolean,
  userLength: number,
): Promise<void> {
  const reader = stream.getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  let second: ReadableStreamReadResult<Uint8Array> | undefined;
  try {
    // A body given whole is one chunk, then the end: known after two reads, one after the
    // other (measured cheaper than both at once with Promise.all). A stream's second chunk is
    // what tells it is a stream.
    first = await reader.read();
    if (!first.done) second = await reader.read();
  } catch (error) {
    reader.releaseLock();
    throw error;
  }
  if (second === undefined || second.done) {
    // The whole body is known: one write with its length.
    const bytes = first.done ? EMPTY : toBytes(first.value);
    finish(
      connection,
      `${head}content-length: ${bytes.length}\r\n${connectionField(keepAlive, type)}\r\n`,
      isHead(type) ? null : bytes,
      keepAlive,
    );
    return;
  }
  if (isHead(type)) {
    reader.cancel().catch(() => {});
    const length = userLength >= 0 ? `content-length: ${userLength}\r\n` : "";
    finish(
      connection,
      `${head}${length}${connectionField(keepAlive, type)}\r\n`,
      null,
      keepAlive,
    );
    return;
  }
  await streamBody(
    connection,
    reader,
    head,
    [first.value!, second.value],
    type,
    keepAlive,
    userLength,
  );
}

async function streamBody(
  connection: ConnectionHandle,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  head: string,
  firstChunks: Uint8Array[],
  type: number,
  keepAlive: boolean,
  userLength: number,
): Promise<void> {
  // A length given by the handler is kept (a file, say); without it, chunked in HTTP/1.1, or
  // up to the close in HTTP/1.0.
  const delimited = userLength >= 0;
  const chunked = !delimited && (type & HttpMessageFlag.http10) === 0;
  if (!delimited && !chunked) keepAlive = false;
  const framing = delimited
    ? `content-length: ${userLength}\r\n`
    : chunked
    ? "transfer-encoding: chunked\r\n"
    : "";
  let sent = 0;
  const send = (bytes: Uint8Array, prefix: string): boolean => {
    sent += bytes.length;
    if (delimited && sent > userLength) return false;
    if (!chunked) return connection.write(encodeHead(prefix, bytes));
    if (bytes.length === 0) return prefix === "" ? true : connection.write(prefix);
    return connection.write(
      encodeHead(`${prefix}${bytes.length.toString(16)}\r\n`, withCrlf(bytes)),
    );
  };
  let prefix = `${head}${framing}${connectionField(keepAlive, type)}\r\n`;
  try {
    for (const chunk of firstChunks) {
      if (!send(toBytes(chunk), prefix)) return abort(connection, reader);
      prefix = "";
    }
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!send(toBytes(value), "")) return abort(connection, reader);
    }
  } catch {
    // The stream failed mid-body: the peer can only tell by the connection closing.
    connection.close();
    return;
  }
  if (chunked) connection.write("0\r\n\r\n");
  if (delimited && sent !== userLength) {
    connection.close();
    return;
  }
  if (!keepAlive) connection.close();
}

function abort(
  connection: ConnectionHandle,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): void {
  reader.cancel().catch(() => {});
  connection.close();
}

const EMPTY = new Uint8Array(0);

function withCrlf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 2);
  out.set(bytes);
  out[bytes.length] = 0x0d;
  out[bytes.length + 1] = 0x0a;
  return out;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("A response body chunk must be a Uint8Array");
}

/**
 * The bytes of a plain-text response, with `connection: close`.
 *
 * @param status The status code.
 * @param text The body's text (a newline is added).
 * @param extra Header lines to add, each ending with CRLF.
 * @returns The response's bytes.
 */
export function plainResponse(status: number, text: string, extra = ""): Uint8Array {
  const body = encoder.encode(`${text}\n`);
  return encoder.encode(
    `HTTP/1.1 ${status} ${
      STATUS_TEXT[status] ?? ""
    }\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n${extra}connection: close\r\n\r\n${
      new TextDecoder().decode(body)
    }`,
  );
}

/**
 * The response to an HTTP error: its status, and its message as the body.
 *
 * @param error The error.
 * @returns The response's bytes (the connection closes after it).
 */
export function errorResponse(error: HttpError): Uint8Array {
  return plainResponse(
    error.status,
    `${error.status} ${STATUS_TEXT[error.status] ?? ""}: ${error.message}`,
  );
}
