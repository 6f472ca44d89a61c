/**
 * What a NATS server sends its clients, framed: the pure parser of the backplane's connections
 * (`_backplane_connection.ts`). Bytes in, operations out; no sockets, no timers.
 *
 * ```
 * INFO {json}\r\n
 * MSG  <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n
 * HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>\r\n<headers><body>\r\n
 * PING\r\n | PONG\r\n | +OK\r\n | -ERR '<text>'\r\n
 * ```
 *
 * Bounded: a control line past `maxControlLine` or a payload past `maxPayload` is a
 * {@linkcode BackplaneProtocolError}, which ends the connection (it is then reconnected).
 *
 * @module
 */

import { BackplaneProtocolError } from "./backplane_errors.ts";

/** One operation from the NATS server. Views into the parser's buffer: valid until `feed`. */
export interface BackplaneOp {
  kind: "info" | "msg" | "ping" | "pong" | "ok" | "err";
  subject: Uint8Array;
  /** The subscription id (a decimal sid, as the backplane sends them). */
  sid: number;
  reply: Uint8Array;
  /** Headers (when `headerSize` > 0) and body. */
  payload: Uint8Array;
  /** Bytes of headers at the start of `payload`, or -1 (`MSG`). */
  headerSize: number;
  /** INFO's JSON, or -ERR's text. */
  text: string;
}

/** Bounds of a {@linkcode BackplaneParser}. */
export interface BackplaneParserOptions {
  /** Longest control line (INFO included). @default {65536} */
  maxControlLine?: number;
  /** Largest payload. @default {67108864} */
  maxPayload?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** Parses what a NATS server sends, at any chunk size. */
export class BackplaneParser {
  readonly #maxControlLine: number;
  readonly #maxPayload: number;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  /** Reused: one op object for the life of the parser. */
  readonly #op: BackplaneOp = {
    kind: "ping",
    subject: EMPTY,
    sid: 0,
    reply: EMPTY,
    payload: EMPTY,
    headerSize: -1,
    text: "",
  };

  /**
   * Makes a parser.
   *
   * @param options Its bounds.
   */
  constructor(options: BackplaneParserOptions = {}) {
    this.#maxControlLine = options.maxControlLine ?? 64 * 1024;
    this.#maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
  }

  /**
   * Adds bytes; the views of the last op returned become invalid.
   *
   * @param chunk Bytes read.
   */
  feed(chunk: Uint8Array): void {
    const unread = this.#end - this.#start;
    if (this.#buffer.length - this.#end < chunk.length) {
      if (this.#buffer.length - unread >= chunk.length && this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(this.#buffer.length * 2, unread + chunk.length));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = unread;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next whole operation, or `null` when more bytes are needed.
   *
   * @returns The operation (one reused object), or `null`.
   * @throws {BackplaneProtocolError} On a malformed or oversized operation.
   */
  next(): BackplaneOp | null {
    const buffer = this.#buffer;
    const op = this.#op;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      return null;
    }
    const lf = buffer.subarray(this.#start, this.#end).indexOf(LF);
    if (lf < 0) {
      if (this.#end - this.#start > this.#maxControlLine) {
        throw new BackplaneProtocolError("control line too long");
      }
      return null;
    }
    const lineStart = this.#start;
    let lineEnd = lineStart + lf;
    if (lineEnd - lineStart > this.#maxControlLine) {
      throw new BackplaneProtocolError("control line too long");
    }
    this.#start = lineEnd + 1;
    if (lineEnd > lineStart && buffer[lineEnd - 1] === CR) lineEnd--;
    const fields = this.#split(lineStart, lineEnd);
    if (fields.length === 0) return this.next();
    // Named without decoding: one string per message would be most of the parse.
    const name = nameOf(fields[0]);
    switch (name) {
      case "PING":
        op.kind = "ping";
        return op;
      case "PONG":
        op.kind = "pong";
        return op;
      case "+OK":
        op.kind = "ok";
        return op;
      case "-ERR":
      case "INFO": {
        // The rest of the line, after the name and its space.
        const rest = fields[0].byteOffset - buffer.byteOffset + fields[0].length + 1;
        op.kind = name === "INFO" ? "info" : "err";
        op.text = rest < lineEnd ? decoder.decode(buffer.subarray(rest, lineEnd)).trim() : "";
        return op;
      }
      case "MSG":
      case "HMSG": {
        const headers = name === "HMSG";
        const count = fields.length;
        if (count !== (headers ? 5 : 4) && count !== (headers ? 6 : 5)) {
          throw new BackplaneProtocolError(`malformed ${name} line`);
        }
        const hasReply = count === (headers ? 6 : 5);
        op.kind = "msg";
        op.subject = fields[1];
        op.sid = decimal(fields[2]);
        op.reply = hasReply ? fields[3] : EMPTY;
        const size = decimal(fields[count - 1]);
        op.headerSize = headers ? decimal(fields[count - 2]) : -1;
        if (op.sid < 0 || size < 0 || (headers && (op.headerSize < 0 || op.headerSize > size))) {
          throw new BackplaneProtocolError(`malformed ${name} line`);
        }
        if (size > this.#maxPayload) {
          throw new BackplaneProtocolError(`payload of ${size} bytes over ${this.#maxPayload}`);
        }
        // Nothing is consumed until the payload and its CRLF are here: the line is parsed
        // again then (views into a buffer that `feed` may move are never kept).
        if (this.#end - this.#start < size + 2) {
          this.#start = lineStart;
          return null;
        }
        op.payload = buffer.subarray(this.#start, this.#start + size);
        this.#start += size + 2;
        return op;
      }
      default:
        throw new BackplaneProtocolError(`unknown operation "${name.slice(0, 32)}"`);
    }
  }

  #split(from: number, to: number): Uint8Array[] {
    const buffer = this.#buffer;
    const fields: Uint8Array[] = [];
    let i = from;
    while (i < to) {
      while (i < to && (buffer[i] === SP || buffer[i] === TAB)) i++;
      if (i >= to) break;
      const start = i;
      while (i < to && buffer[i] !== SP && buffer[i] !== TAB) i++;
      fields.push(buffer.subarray(start, i));
    }
    return fields;
  }
}

const NAMES = ["MSG", "HMSG", "PING", "PONG", "+OK", "-ERR", "INFO"];
const NAME_BYTES = NAMES.map((name) => new TextEncoder().encode(name));

/** The operation's name in capitals when it is one the server sends, else the bytes decoded. */
function nameOf(bytes: Uint8Array): string {
  for (let n = 0; n < NAMES.length; n++) {
    const name = NAME_BYTES[n];
    if (name.length !== bytes.length) continue;
    let i = 0;
    // Capital letters also match their lower case; other bytes only themselves.
    while (i < name.length) {
      const want = name[i];
      const got = bytes[i];
      if (got !== want && !(want >= 0x41 && want <= 0x5a && got === (want | 0x20))) break;
      i++;
    }
    if (i === name.length) return NAMES[n];
  }
  return decoder.decode(bytes).toUpperCase();
}

/** A non-negative decimal, or -1 when the bytes are not one. */
function decimal(bytes: Uint8Array): number {
  if (bytes.length === 0 || bytes.length > 15) return -1;
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const digit = bytes[i] - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
