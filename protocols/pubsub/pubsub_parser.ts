import {
  ControlLineTooLongError,
  InvalidArgumentsError,
  PayloadSizeMismatchError,
  PayloadTooLargeError,
  UnknownOperationError,
} from "./pubsub_errors.ts";
import { positiveInteger } from "../../core/_option_checks.ts";

/** The default {@linkcode PubSubParserOptions.maxControlLine}: 4 KiB, as nats-server. */
export const DEFAULT_MAX_CONTROL_LINE = 4096;
/** The default {@linkcode PubSubParserOptions.maxPayload}: 1 MiB, as nats-server. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** The operations a client sends. */
export type PubSubOpKind = "connect" | "pub" | "hpub" | "sub" | "unsub" | "ping" | "pong";

/**
 * One operation from a client, as {@linkcode PubSubParser.next} returns it. The parser reuses
 * one object: its fields are valid until the next call to `next` or `feed`. Byte fields are
 * views, not copies; a field the operation does not have is empty (or -1 for numbers).
 */
export interface PubSubOp {
  /** Which operation. */
  kind: PubSubOpKind;
  /** `PUB`, `HPUB`, `SUB`: the subject. */
  subject: Uint8Array;
  /** `PUB`, `HPUB`: the reply subject, empty when none. */
  reply: Uint8Array;
  /** `SUB`: the queue group, empty when none. */
  queue: Uint8Array;
  /** `SUB`, `UNSUB`: the subscription id. */
  sid: Uint8Array;
  /** `UNSUB`: deliveries after which the subscription ends, or -1 (at once). */
  max: number;
  /** `HPUB`: bytes of the headers at the start of the payload; -1 for `PUB`. */
  headerSize: number;
  /** `PUB`, `HPUB`: the payload (headers included for `HPUB`), without its line ending. */
  payload: Uint8Array;
  /** `CONNECT`: the JSON options, as bytes. */
  options: Uint8Array;
}

/** Options of {@linkcode PubSubParser}. */
export interface PubSubParserOptions {
  /**
   * Longest control line accepted (an operation and its arguments, without line ending), in
   * bytes. A longer one raises {@linkcode ControlLineTooLongError}.
   *
   * @default {4096}
   */
  maxControlLine?: number;
  /**
   * Largest payload accepted, in bytes. A `PUB`/`HPUB` announcing more raises
   * {@linkcode PayloadTooLargeError} on its control line, before the payload arrives.
   *
   * @default {1048576}
   */
  maxPayload?: number;
}

const EMPTY = new Uint8Array(0);
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SPACE = 0x20;
const TAB = 0x09;
const LOWER = 0x20;
/** A payload buffer larger than this is released once its message is out. */
const SHRINK_ABOVE = 64 * 1024;
/** Arguments recorded per line: one more than any operation takes, to detect extras. */
const MAX_ARGS = 5;
const decoder = new TextDecoder();

const enum State {
  Line,
  Payload,
  /** The payload is complete: a line ending (CRLF, LF, CR NUL) must follow. */
  PayloadEnd,
  /** A CR followed the payload: LF or NUL must follow. */
  PayloadEndCr,
  Failed,
}

/**
 * The pub/sub protocol's parser: a pure object, bytes in, operations out; no sockets, no
 * timers. It reads the NATS client protocol: a control line, and for `PUB`/`HPUB` a payload of
 * exactly the announced size followed by a line ending.
 *
 * ```
 *  control line (≤ maxControlLine bytes)                     ending
 * ┌──────────────────────────────────────────────────────┐┌────────┐
 * │ CONNECT {json}                                        ││ CR LF  │
 * │ PUB <subject> [reply-to] <#bytes>                     ││ LF     │
 * │ HPUB <subject> [reply-to] <#header bytes> <#bytes>    ││ CR NUL │
 * │ SUB <subject> [queue group] <sid>                     │└────────┘
 * │ UNSUB <sid> [max-msgs]                                │
 * │ PING | PONG                                           │
 * └──────────────────────────────────────────────────────┘
 *  then, after PUB and HPUB only:
 * ┌─ payload: exactly <#bytes> (≤ maxPayload) ─┐┌ ending ┐
 * │ [headers: <#header bytes>] data            ││ CR LF  │  (LF or CR NUL accepted too)
 * └────────────────────────────────────────────┘└────────┘
 * ```
 *
 * Operation names are case-insensitive; arguments are separated by spaces or tabs. Empty lines
 * are skipped (handy over telnet). The payload is read by count, never searched for line ends,
 * so it may hold any bytes.
 *
 * Use it as a pull parser: {@linkcode PubSubParser.feed} a chunk, then call
 * {@linkcode PubSubParser.next} until it returns `null` ("need more bytes"). A corrupt stream
 * makes `next` throw a {@linkcode PubSubError} subclass; the stream cannot be resynchronised
 * after it, so the parser stays failed (later calls return `null`) and the connection should
 * end.
 *
 * @example Operations split across chunks
 * ```ts
 * import { PubSubParser } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const parser = new PubSubParser();
 * const text = new TextDecoder();
 * const seen: string[] = [];
 * for (const chunk of ["SUB foo 1\r\npub foo 5\r\nhel", "lo\r\nPING\n"]) {
 *   parser.feed(new TextEncoder().encode(chunk));
 *   for (let op = parser.next(); op !== null; op = parser.next()) {
 *     seen.push(op.kind === "pub" ? `pub ${text.decode(op.payload)}` : op.kind);
 *   }
 * }
 * assertEquals(seen, ["sub", "pub hello", "ping"]);
 * ```
 *
 * @example A payload over the limit is refused on its control line
 * ```ts
 * import { PayloadTooLargeError, PubSubParser } from "@speedo/speedo/pubsub";
 * import { assertThrows } from "@std/assert";
 *
 * const parser = new PubSubParser({ maxPayload: 10 });
 * parser.feed(new TextEncoder().encode("PUB foo 11\r\n"));
 * assertThrows(() => parser.next(), PayloadTooLargeError);
 * ```
 */
export class PubSubParser {
  /** Longest control line accepted, in bytes. */
  readonly maxControlLine: number;
  /** Largest payload accepted, in bytes. */
  readonly maxPayload: number;
  readonly #op: PubSubOp = {
    kind: "ping",
    subject: EMPTY,
    reply: EMPTY,
    queue: EMPTY,
    sid: EMPTY,
    max: -1,
    headerSize: -1,
    payload: EMPTY,
    options: EMPTY,
  };
  #state: State = State.Line;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  /** Index of the next NUL in the chunk at or after #pos, -1 if none; NUL is rare in lines. */
  #nul = -1;
  /** A control line begun in earlier chunks, or one copied to outlive its chunk. */
  #line: Uint8Array = new Uint8Array(256);
  #lineLength = 0;
  /** The bytes holding the current control line, and where it starts in them. */
  #lineBytes: Uint8Array = EMPTY;
  #lineBase = 0;
  /** Start and end offsets (from #lineBase) of the arguments of the current line. */
  readonly #args = new Int32Array(MAX_ARGS * 2);
  #argCount = 0;
  /** Payload of the current PUB/HPUB: size announced, and bytes gathered across chunks. */
  #size = 0;
  #payload: Uint8Array = EMPTY;
  #payloadLength = 0;
  /** The subject of the last PUB/HPUB, and the buffer holding it. */
  #subject: Uint8Array = EMPTY;
  #subjectBuffer: Uint8Array = new Uint8Array(64);

  /**
   * Makes a parser.
   *
   * @param options Limits.
   * @throws {RangeError} When a limit is not a positive integer.
   */
  constructor(options: PubSubParserOptions = {}) {
    this.maxControlLine = positiveInteger(
      "maxControlLine",
      options.maxControlLine ?? DEFAULT_MAX_CONTROL_LINE,
    );
    this.maxPayload = positiveInteger("maxPayload", options.maxPayload ?? DEFAULT_MAX_PAYLOAD);
  }

  /**
   * Gives the parser the next chunk of the stream. Call {@linkcode PubSubParser.next} until it
   * returns `null` before feeding again: bytes not yet parsed are dropped by the next feed.
   *
   * @param chunk Bytes read; they must stay untouched until `next` returns `null`.
   *
   * @example
   * ```ts
   * import { PubSubParser } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new PubSubParser();
   * parser.feed(new TextEncoder().encode("PONG\r\n"));
   * assertEquals(parser.next()?.kind, "pong");
   * assertEquals(parser.next(), null);
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
    this.#nul = chunk.indexOf(NUL);
  }

  /**
   * Takes the bytes of the chunk fed that `next` has not reached yet, copied: a caller that
   * must stop between operations (a `CONNECT` whose credentials are being checked) keeps them
   * and feeds them again later. An operation begun in an earlier chunk stays with the parser.
   *
   * @returns The bytes not yet parsed (empty when none).
   *
   * @example
   * ```ts
   * import { PubSubParser } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new PubSubParser();
   * parser.feed(new TextEncoder().encode("PING\r\nPONG\r\n"));
   * assertEquals(parser.next()?.kind, "ping");
   * assertEquals(new TextDecoder().decode(parser.takeUnparsed()), "PONG\r\n");
   * assertEquals(parser.next(), null);
   * ```
   */
  takeUnparsed(): Uint8Array {
    const rest = this.#chunk.slice(this.#pos);
    this.#chunk = EMPTY;
    this.#pos = 0;
    this.#nul = -1;
    return rest;
  }

  /**
   * Bytes held of an operation not yet complete (a partial control line or payload).
   *
   * @example
   * ```ts
   * import { PubSubParser } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new PubSubParser();
   * parser.feed(new TextEncoder().encode("PUB foo 5\r\nhel"));
   * assertEquals(parser.next(), null);
   * assertEquals(parser.buffered, 3);
   * ```
   */
  get buffered(): number {
    return this.#state === State.Line ? this.#lineLength : this.#payloadLength;
  }

  /**
   * Returns the next complete operation, or `null` when the chunk fed is used up.
   *
   * @returns The parser's one operation object, filled in, valid until the next call; or `null`.
   * @throws {ControlLineTooLongError} A control line passed `maxControlLine`.
   * @throws {PayloadTooLargeError} A `PUB`/`HPUB` announced more than `maxPayload`.
   * @throws {UnknownOperationError} A control line names no known operation.
   * @throws {InvalidArgumentsError} A known operation with arguments that do not fit.
   * @throws {PayloadSizeMismatchError} A payload not followed by a line ending.
   *
   * @example
   * ```ts
   * import { PubSubParser } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new PubSubParser();
   * parser.feed(new TextEncoder().encode("SUB orders.* workers 7\r\nUNSUB 7 10\r\n"));
   * const sub = parser.next()!;
   * assertEquals(new TextDecoder().decode(sub.queue), "workers");
   * const unsub = parser.next()!;
   * assertEquals([unsub.kind, unsub.max], ["unsub", 10]);
   * ```
   */
  next(): PubSubOp | null {
    const chunk = this.#chunk;
    while (true) {
      switch (this.#state) {
        case State.Line: {
          if (this.#pos >= chunk.length) return null;
          const op = this.#nextLine(chunk);
          if (op !== undefined) return op;
          break;
        }
        case State.Payload: {
          const pos = this.#pos;
          const size = this.#size;
          // Fast path: the whole payload and its ending are in this chunk, after the line.
          if (this.#payloadLength === 0 && pos + size < chunk.length) {
            const end = pos + size;
            const first = chunk[end];
            let endingLength = 0;
            if (first === LF) endingLength = 1;
            else if (first === CR && end + 1 < chunk.length) {
              const second = chunk[end + 1];
              if (second !== LF && second !== NUL) this.#fail(new PayloadSizeMismatchError(size));
              endingLength = 2;
            } else if (first !== CR) this.#fail(new PayloadSizeMismatchError(size));
            if (endingLength > 0) {
              this.#pos = end + endingLength;
              return this.#payloadOp(chunk.subarray(pos, end));
            }
          }
          if (pos >= chunk.length) return null;
          this.#gatherPayload(chunk);
          break;
        }
        case State.PayloadEnd: {
          if (this.#pos >= chunk.length) return null;
          const byte = chunk[this.#pos++];
          if (byte === LF) return this.#payloadOp(this.#payload.subarray(0, this.#size));
          if (byte !== CR) this.#fail(new PayloadSizeMismatchError(this.#size));
          this.#state = State.PayloadEndCr;
          break;
        }
        case State.PayloadEndCr: {
          if (this.#pos >= chunk.length) return null;
          const byte = chunk[this.#pos++];
          if (byte !== LF && byte !== NUL) this.#fail(new PayloadSizeMismatchError(this.#size));
          return this.#payloadOp(this.#payload.subarray(0, this.#size));
        }
        case State.Failed:
          return null;
      }
    }
  }

  /** Frames and parses one control line; `undefined` when it needs more bytes or was empty. */
  #nextLine(chunk: Uint8Array): PubSubOp | undefined {
    const start = this.#pos;
    const endIndex = this.#findEnd(chunk, start);
    if (endIndex < 0) {
      this.#pos = chunk.length;
      const held = this.#lineLength + chunk.length - start;
      // A trailing CR may be the start of the line's ending.
      const content = chunk[chunk.length - 1] === CR ? held - 1 : held;
      if (content > this.maxControlLine) {
        this.#fail(new ControlLineTooLongError(content, this.maxControlLine));
      }
      this.#appendLine(chunk, start, chunk.length);
      return undefined;
    }
    this.#pos = endIndex + 1;
    let bytes: Uint8Array;
    let base: number;
    let end: number;
    if (this.#lineLength === 0) {
      bytes = chunk;
      base = start;
      end = endIndex + 1;
    } else {
      this.#appendLine(chunk, start, endIndex + 1);
      bytes = this.#line;
      base = 0;
      end = this.#lineLength;
      this.#lineLength = 0;
    }
    // Drop the ending: LF, CR LF, or CR NUL (a NUL ends a line only after a CR).
    end--;
    if (end > base && bytes[end - 1] === CR) end--;
    if (end - base > this.maxControlLine) {
      this.#fail(new ControlLineTooLongError(end - base, this.maxControlLine));
    }
    return this.#parseLine(bytes, base, end);
  }

  /** Index of the last byte of the next line ending (LF, or NUL after CR), or -1. */
  #findEnd(chunk: Uint8Array, from: number): number {
    const lf = chunk.indexOf(LF, from);
    if (this.#nul === -1) return lf;
    if (this.#nul < from) this.#nul = chunk.indexOf(NUL, from);
    while (this.#nul >= 0 && (lf < 0 || this.#nul < lf)) {
      const nul = this.#nul;
      const before = nul > from
        ? chunk[nul - 1]
        : (this.#lineLength > 0 ? this.#line[this.#lineLength - 1] : -1);
      if (before === CR) return nul;
      this.#nul = chunk.indexOf(NUL, nul + 1);
    }
    return lf;
  }

  #parseLine(bytes: Uint8Array, base: number, end: number): PubSubOp | undefined {
    let at = base;
    while (at < end && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
    if (at === end) return undefined;
    const opStart = at;
    while (at < end && bytes[at] !== SPACE && bytes[at] !== TAB) at++;
    const kind = operationKind(bytes, opStart, at - opStart);
    if (kind === undefined) {
      this.#fail(new UnknownOperationError(preview(bytes, opStart, end, 32)));
    }
    this.#lineBytes = bytes;
    this.#lineBase = base;
    const op = this.#op;
    op.kind = kind;
    op.subject =
      op.reply =
      op.queue =
      op.sid =
      op.payload =
      op.options =
        EMPTY;
    op.max = op.headerSize = -1;
    switch (kind) {
      case "pub":
      case "hpub": {
        const count = this.#splitArgs(bytes, base, at, end);
        const args = this.#args;
        const withHeaders = kind === "hpub";
        const min = withHeaders ? 3 : 2;
        if (count < min || count > min + 1) this.#invalid(kind, bytes, at, end);
        const total = decimal(bytes, base + args[2 * count - 2], base + args[2 * count - 1]);
        let headerSize = -1;
        if (withHeaders) {
          headerSize = decimal(bytes, base + args[2 * count - 4], base + args[2 * count - 3]);
          if (headerSize < 0 || total < headerSize) this.#invalid(kind, bytes, at, end);
        }
        if (total < 0) this.#invalid(kind, bytes, at, end);
        if (total > this.maxPayload) this.#fail(new PayloadTooLargeError(total, this.maxPayload));
        this.#argCount = count === min + 1 ? 2 : 1;
        op.headerSize = headerSize;
        this.#size = total;
        this.#payloadLength = 0;
        this.#state = State.Payload;
        // The line must outlive its chunk when the payload and its ending may not all be in it.
        if (bytes === this.#chunk && this.#pos + total + 2 > this.#chunk.length) {
          this.#keepLine(bytes, base, end);
        }
        return undefined;
      }
      case "sub": {
        const count = this.#splitArgs(bytes, base, at, end);
        if (count < 2 || count > 3) this.#invalid(kind, bytes, at, end);
        op.subject = this.#arg(0);
        op.queue = count === 3 ? this.#arg(1) : EMPTY;
        op.sid = this.#arg(count - 1);
        return op;
      }
      case "unsub": {
        const count = this.#splitArgs(bytes, base, at, end);
        if (count < 1 || count > 2) this.#invalid(kind, bytes, at, end);
        op.sid = this.#arg(0);
        op.max = -1;
        if (count === 2) {
          op.max = decimal(bytes, base + this.#args[2], base + this.#args[3]);
          if (op.max < 0) this.#invalid(kind, bytes, at, end);
        }
        return op;
      }
      case "connect": {
        while (at < end && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
        if (at === end) this.#invalid(kind, bytes, at, end);
        op.options = bytes.subarray(at, end);
        return op;
      }
      default:
        return op;
    }
  }

  /** Records the arguments of a line; returns their count (up to MAX_ARGS). */
  #splitArgs(bytes: Uint8Array, base: number, from: number, end: number): number {
    const args = this.#args;
    let count = 0;
    let at = from;
    while (at < end && count < MAX_ARGS) {
      while (at < end && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
      if (at === end) break;
      const start = at;
      while (at < end && bytes[at] !== SPACE && bytes[at] !== TAB) at++;
      args[2 * count] = start - base;
      args[2 * count + 1] = at - base;
      count++;
    }
    return count;
  }

  /**
   * The subject of the current PUB/HPUB, as a view of the parser's own copy: a publisher
   * usually sends many messages to one subject, and then the same view serves them all.
   */
  #publishSubject(): Uint8Array {
    const bytes = this.#lineBytes;
    const start = this.#lineBase + this.#args[0];
    const length = this.#lineBase + this.#args[1] - start;
    const last = this.#subject;
    if (last.length === length) {
      let i = 0;
      while (i < length && last[i] === bytes[start + i]) i++;
      if (i === length) return last;
    }
    if (this.#subjectBuffer.length < length) this.#subjectBuffer = new Uint8Array(length * 2);
    // A new buffer each time the subject changes would do; reusing one keeps old views valid
    // only until the subject changes, which is what `next` promises.
    this.#subjectBuffer.set(bytes.subarray(start, start + length));
    this.#subject = this.#subjectBuffer.subarray(0, length);
    return this.#subject;
  }

  #arg(index: number): Uint8Array {
    const base = this.#lineBase;
    return this.#lineBytes.subarray(base + this.#args[2 * index], base + this.#args[2 * index + 1]);
  }

  /** Copies the current line (from its chunk) into the parser's line buffer. */
  #keepLine(bytes: Uint8Array, base: number, end: number): void {
    this.#lineLength = 0;
    this.#appendLine(bytes, base, end);
    this.#lineLength = 0;
    this.#lineBytes = this.#line;
    this.#lineBase = 0;
  }

  #gatherPayload(chunk: Uint8Array): void {
    const size = this.#size;
    if (this.#payload.length < size) {
      this.#payload = new Uint8Array(
        Math.max(size, Math.min(2 * this.#payload.length, SHRINK_ABOVE)),
      );
    }
    const take = Math.min(size - this.#payloadLength, chunk.length - this.#pos);
    this.#payload.set(chunk.subarray(this.#pos, this.#pos + take), this.#payloadLength);
    this.#payloadLength += take;
    this.#pos += take;
    if (this.#payloadLength === size) this.#state = State.PayloadEnd;
  }

  #payloadOp(payload: Uint8Array): PubSubOp {
    const op = this.#op;
    op.subject = this.#publishSubject();
    op.reply = this.#argCount === 2 ? this.#arg(1) : EMPTY;
    op.payload = payload;
    this.#state = State.Line;
    if (this.#payloadLength > 0) {
      this.#payloadLength = 0;
      // Give back a buffer grown by a large payload; the view returned keeps it alive meanwhile.
      if (this.#payload.length > SHRINK_ABOVE) this.#payload = EMPTY;
    }
    return op;
  }

  #appendLine(bytes: Uint8Array, from: number, to: number): void {
    const needed = this.#lineLength + to - from;
    if (needed > this.#line.length) {
      let size = this.#line.length * 2;
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#line.subarray(0, this.#lineLength));
      this.#line = grown;
    }
    this.#line.set(bytes.subarray(from, to), this.#lineLength);
    this.#lineLength = needed;
  }

  #invalid(kind: PubSubOpKind, bytes: Uint8Array, from: number, end: number): never {
    this.#fail(new InvalidArgumentsError(kind.toUpperCase(), preview(bytes, from, end, 64).trim()));
  }

  #fail(error: Error): never {
    this.#state = State.Failed;
    this.#lineLength = 0;
    this.#payload = EMPTY;
    this.#payloadLength = 0;
    throw error;
  }
}

/** The operation named by `length` bytes at `start`, case-insensitively; PUB is tried first. */
function operationKind(bytes: Uint8Array, start: number, length: number): PubSubOpKind | undefined {
  const first = bytes[start] | LOWER;
  switch (length) {
    case 3:
      if ((bytes[start + 1] | LOWER) !== U || (bytes[start + 2] | LOWER) !== B) return undefined;
      return first === P ? "pub" : first === S ? "sub" : undefined;
    case 4:
      if (first === H) return matches(bytes, start, HPUB) ? "hpub" : undefined;
      if (matches(bytes, start, PING)) return "ping";
      return matches(bytes, start, PONG) ? "pong" : undefined;
    case 5:
      return matches(bytes, start, UNSUB) ? "unsub" : undefined;
    case 7:
      return matches(bytes, start, CONNECT) ? "connect" : undefined;
    default:
      return undefined;
  }
}

const P = 0x70;
const U = 0x75;
const B = 0x62;
const S = 0x73;
const H = 0x68;
const HPUB = new TextEncoder().encode("hpub");
const PING = new TextEncoder().encode("ping");
const PONG = new TextEncoder().encode("pong");
const UNSUB = new TextEncoder().encode("unsub");
const CONNECT = new TextEncoder().encode("connect");

/** Whether the bytes at `start` spell `name` (lower case), in any case. */
function matches(bytes: Uint8Array, start: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) {
    if ((bytes[start + i] | LOWER) !== name[i]) return false;
  }
  return true;
}

/** A non-negative decimal of at most 15 digits, or -1. */
function decimal(bytes: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i] - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function preview(bytes: Uint8Array, start: number, end: number, max: number): string {
  return decoder.decode(bytes.subarray(start, Math.min(end, start + max)));
}
