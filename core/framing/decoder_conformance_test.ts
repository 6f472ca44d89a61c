/**
 * One conformance suite for every {@linkcode Decoder}: the same checks of the contract, for
 * valid streams, corrupt streams, and frames over the limit, at every chunk size.
 *
 * @module
 */

import { assert, assertEquals, assertInstanceOf, assertLess } from "@std/assert";
import { FrameTooLongError, ProtocolError } from "../errors.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { ByteCursor, type ByteCursorOptions } from "./byte_cursor.ts";
import type { Decoder } from "./decoder.ts";
import { MalformedFrameError } from "./framing_errors.ts";
import { HeaderDecoder } from "./header_decoder.ts";
import { HeaderEncoder } from "./header_encoder.ts";
import { LengthPrefixedDecoder } from "./length_prefixed_decoder.ts";
import { LengthPrefixedEncoder } from "./length_prefixed_encoder.ts";
import { LineDecoder } from "./line_decoder.ts";

// ---------------------------------------------------------------------------------------------
// Decoders built on ByteCursor, so that the cursor is held to the same contract.

/** Lines, read with {@linkcode ByteCursor.readLine}. */
class CursorLineDecoder implements Decoder<Uint8Array> {
  readonly #cursor: ByteCursor;

  constructor(options?: ByteCursorOptions) {
    this.#cursor = new ByteCursor(options);
  }

  get buffered(): number {
    return this.#cursor.buffered;
  }

  feed(chunk: Uint8Array): void {
    this.#cursor.feed(chunk);
  }

  next(): Uint8Array | null {
    return this.#cursor.readLine();
  }
}

/** A RESP bulk string that cannot be framed. */
class MalformedBulkStringError extends ProtocolError {
  constructor(message: string) {
    super(message);
    this.name = "MalformedBulkStringError";
  }
}

const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;

/**
 * RESP bulk strings, `$<n> CR LF <n bytes> CR LF`, read with a line and then counted bytes. It
 * holds no parse state: an incomplete string is rewound and parsed again after the next feed.
 * A string over `maxBytes` is skipped as it arrives; a malformed one ends the stream.
 */
class RespBulkStringDecoder implements Decoder<Uint8Array> {
  readonly #cursor: ByteCursor;
  /** Bytes still to skip of a string over the limit (with its CR LF). */
  #skip = 0;
  #error: MalformedBulkStringError | undefined;

  constructor(options?: ByteCursorOptions) {
    this.#cursor = new ByteCursor(options);
  }

  get buffered(): number {
    return this.#cursor.buffered;
  }

  feed(chunk: Uint8Array): void {
    this.#cursor.feed(chunk);
  }

  next(): Uint8Array | null {
    if (this.#error !== undefined) throw this.#error;
    const cursor = this.#cursor;
    if (this.#skip > 0) {
      this.#skip -= cursor.skip(this.#skip);
      if (this.#skip > 0) return null;
    }
    const start = cursor.position;
    const header = cursor.readLine();
    if (header === null) return null;
    if (header[0] !== DOLLAR || cursor.lastEndingLength !== 2) this.#fail("not a bulk string");
    const count = decimal(header, 1);
    if (count < 0) this.#fail("bad length");
    let payload: Uint8Array | null;
    try {
      payload = cursor.readBytes(count);
    } catch (error) {
      if (error instanceof FrameTooLongError) this.#skip = count + 2;
      throw error;
    }
    const ending = payload === null ? null : cursor.readBytes(2);
    if (ending === null) {
      cursor.rewind(start);
      return null;
    }
    if (ending[0] !== CR || ending[1] !== LF) this.#fail("no CR LF after the payload");
    return payload;
  }

  #fail(reason: string): never {
    this.#error = new MalformedBulkStringError(`Malformed bulk string: ${reason}`);
    throw this.#error;
  }
}

/** The decimal number of `bytes` from `from`, or -1. */
function decimal(bytes: Uint8Array, from: number): number {
  if (from >= bytes.length || bytes.length - from > 15) return -1;
  let value = 0;
  for (let i = from; i < bytes.length; i++) {
    const digit = bytes[i] - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The cases.

/** One frame of a valid stream: its bytes on the wire and the frame it decodes to. */
interface Frame {
  wire: Uint8Array;
  frame: Uint8Array;
}

/** A stream over a limit: its error must come once `failsBy` bytes have been fed. */
interface OverLimit {
  name: string;
  input: Uint8Array;
  /** Bytes after which the error must have been thrown: fewer than the over-long frame's. */
  failsBy: number;
  /** Frames decoded after the error, or `null` when the decoder stays failed. */
  after: Uint8Array[] | null;
}

/** A corrupt stream: the frames before the error, and the error's class. */
interface Corrupt {
  name: string;
  input: Uint8Array;
  before: Uint8Array[];
  // deno-lint-ignore no-explicit-any
  error: new (...args: any[]) => ProtocolError;
}

interface Conformance {
  name: string;
  make: () => Decoder<Uint8Array>;
  valid: { name: string; frames: Frame[] }[];
  corrupt: Corrupt[];
  overLimit: OverLimit[];
}

const utf8 = new TextEncoder();
const bytes = (text: string): Uint8Array => utf8.encode(text);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bytes 0..255 in a repeating pattern, with CR, LF and NUL among them. */
function pattern(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

function lines(...texts: [string, string][]): Frame[] {
  return texts.map(([wire, frame]) => ({ wire: bytes(wire), frame: bytes(frame) }));
}

const header = new HeaderEncoder();
function headerFrames(...payloads: Uint8Array[]): Frame[] {
  return payloads.map((payload, i) => ({ wire: header.encode(i + 1, payload, i), frame: payload }));
}

function prefixedFrames(encoder: LengthPrefixedEncoder, ...payloads: Uint8Array[]): Frame[] {
  return payloads.map((payload) => ({ wire: encoder.encode(payload), frame: payload }));
}

function bulkStrings(...payloads: Uint8Array[]): Frame[] {
  return payloads.map((payload) => ({
    wire: concat([bytes(`$${payload.length}\r\n`), payload, bytes("\r\n")]),
    frame: payload,
  }));
}

const u32 = new LengthPrefixedEncoder();
const u16le = new LengthPrefixedEncoder({ lengthSize: 2, endian: "little" });

const CASES: Conformance[] = [
  {
    name: "LineDecoder",
    make: () => new LineDecoder({ maxLineLength: 8 }),
    valid: [
      {
        name: "LF, CRLF and CR NUL",
        frames: lines(["one\n", "one"], ["two\r\n", "two"], ["3\r\0", "3"]),
      },
      {
        name: "empty lines and a lone CR",
        frames: lines(["\n", ""], ["\r\n", ""], ["a\rb\n", "a\rb"]),
      },
      { name: "a line of exactly the limit", frames: lines(["12345678\r\n", "12345678"]) },
    ],
    corrupt: [{
      name: "a complete line over the limit",
      input: bytes("ok\n123456789\n"),
      before: [bytes("ok")],
      error: FrameTooLongError,
    }],
    overLimit: [{
      name: "a 100-byte line",
      input: bytes("x".repeat(100) + "\nnext\n"),
      failsBy: 9,
      after: [bytes("next")],
    }],
  },
  {
    name: "HeaderDecoder",
    make: () => new HeaderDecoder({ maxFrameSize: 40 }),
    valid: [
      {
        name: "payloads of every padding",
        frames: headerFrames(...[0, 1, 7, 8, 9, 32].map((n) => pattern(n, n))),
      },
    ],
    corrupt: [
      {
        name: "a size below the header",
        input: concat([header.encode(1, bytes("ok")), new Uint8Array([4, 0, 1, 0, 0, 0, 0, 0])]),
        before: [bytes("ok")],
        error: MalformedFrameError,
      },
      {
        name: "non-zero padding",
        input: new Uint8Array([9, 0, 1, 0, 0, 0, 0, 0, 0x61, 1, 0, 0, 0, 0, 0, 0]),
        before: [],
        error: MalformedFrameError,
      },
    ],
    overLimit: [{
      name: "a header announcing 1000 bytes",
      input: concat([new Uint8Array([0xe8, 0x03, 1, 0, 0, 0, 0, 0]), new Uint8Array(992)]),
      failsBy: 8,
      after: null,
    }],
  },
  {
    name: "LengthPrefixedDecoder (u32 big-endian)",
    make: () => new LengthPrefixedDecoder({ maxFrameLength: 16 }),
    valid: [
      {
        name: "payloads from 0 to 16 bytes",
        frames: prefixedFrames(u32, ...[0, 1, 10, 16].map((n) => pattern(n, n))),
      },
    ],
    corrupt: [{
      name: "a complete frame over the limit",
      input: u32.encode(pattern(17)),
      before: [],
      error: FrameTooLongError,
    }],
    overLimit: [{
      name: "a frame announcing 1000 bytes",
      input: concat([u32.encode(pattern(1000)), u32.encode(bytes("next"))]),
      failsBy: 4,
      after: [bytes("next")],
    }],
  },
  {
    name: "LengthPrefixedDecoder (u16 little-endian)",
    make: () => new LengthPrefixedDecoder({ lengthSize: 2, endian: "little", maxFrameLength: 16 }),
    valid: [
      {
        name: "payloads from 0 to 16 bytes",
        frames: prefixedFrames(u16le, ...[0, 2, 16].map((n) => pattern(n, n))),
      },
    ],
    corrupt: [{
      name: "a complete frame over the limit",
      input: concat([u16le.encode(bytes("ok")), u16le.encode(pattern(17))]),
      before: [bytes("ok")],
      error: FrameTooLongError,
    }],
    overLimit: [{
      name: "a frame announcing 1000 bytes",
      input: concat([u16le.encode(pattern(1000)), u16le.encode(bytes("next"))]),
      failsBy: 2,
      after: [bytes("next")],
    }],
  },
  {
    name: "ByteCursor.readLine",
    make: () => new CursorLineDecoder({ maxLineLength: 8 }),
    valid: [
      { name: "LF and CRLF", frames: lines(["one\n", "one"], ["two\r\n", "two"], ["\n", ""]) },
      {
        name: "a lone CR, NUL, CR before CRLF",
        frames: lines(["a\rb\0\n", "a\rb\0"], ["c\r\r\n", "c\r"]),
      },
      { name: "a line of exactly the limit", frames: lines(["12345678\r\n", "12345678"]) },
    ],
    corrupt: [{
      name: "a complete line over the limit",
      input: bytes("ok\n123456789\r\n"),
      before: [bytes("ok")],
      error: FrameTooLongError,
    }],
    overLimit: [{
      name: "a 100-byte line",
      input: bytes("x".repeat(100) + "\r\nnext\r\n"),
      failsBy: 9,
      after: [bytes("next")],
    }],
  },
  {
    name: "RESP bulk strings on ByteCursor",
    make: () => new RespBulkStringDecoder({ maxLineLength: 16, maxBytes: 32 }),
    valid: [
      {
        name: "hello, empty, 32 bytes of any value",
        frames: bulkStrings(bytes("hello"), new Uint8Array(0), pattern(32, 3)),
      },
      {
        name: "payloads holding CR LF",
        frames: bulkStrings(bytes("a\r\nb"), bytes("\r\n"), bytes("\n")),
      },
    ],
    corrupt: [
      {
        name: "not a bulk string",
        input: bytes("$2\r\nok\r\n+OK\r\n"),
        before: [bytes("ok")],
        error: MalformedBulkStringError,
      },
      { name: "a bad length", input: bytes("$x\r\n"), before: [], error: MalformedBulkStringError },
      {
        name: "no CR LF after the payload",
        input: bytes("$2\r\nokay\r\n"),
        before: [],
        error: MalformedBulkStringError,
      },
      {
        name: "an LF-only header",
        input: bytes("$2\nok\r\n"),
        before: [],
        error: MalformedBulkStringError,
      },
      {
        name: "a payload over the limit",
        input: bytes(`$33\r\n${"x".repeat(33)}\r\n`),
        before: [],
        error: FrameTooLongError,
      },
    ],
    overLimit: [
      {
        name: "a header announcing 1000 bytes",
        input: concat([bytes("$1000\r\n"), pattern(1000), bytes("\r\n$4\r\nnext\r\n")]),
        failsBy: 7,
        after: [bytes("next")],
      },
      {
        name: "a 100-byte header line",
        input: bytes("$" + "1".repeat(99) + "\r\n$4\r\nnext\r\n"),
        failsBy: 17,
        after: [bytes("next")],
      },
    ],
  },
];

// ---------------------------------------------------------------------------------------------
// The checks.

type Outcome = Uint8Array | ProtocolError;

/**
 * Feeds the chunks in turn, each as a fresh copy wiped once `next` has returned `null` (so a
 * frame read from a chunk after its time shows up), and pulls frames until `null`. Frames are
 * copied as they come, errors recorded in their place; after an error, `next` is called again
 * only when `goOn`.
 */
function drive(
  decoder: Decoder<Uint8Array>,
  chunks: Uint8Array[],
  goOn: boolean,
  onChunk?: (fed: number, outcomes: Outcome[]) => void,
): Outcome[] {
  const out: Outcome[] = [];
  let fed = 0;
  for (const chunk of chunks) {
    const copy = chunk.slice();
    decoder.feed(copy);
    fed += chunk.length;
    while (true) {
      let frame: Uint8Array | null;
      try {
        frame = decoder.next();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        out.push(error);
        if (goOn) continue;
        onChunk?.(fed, out);
        return out;
      }
      if (frame === null) break;
      assertInstanceOf(frame, Uint8Array);
      out.push(frame.slice());
    }
    copy.fill(0x7e);
    onChunk?.(fed, out);
  }
  return out;
}

for (const { name, make, valid, corrupt, overLimit } of CASES) {
  for (const stream of valid) {
    const input = concat(stream.frames.map((f) => f.wire));
    const expected = stream.frames.map((f) => f.frame);

    Deno.test(`${name} decodes ${stream.name} at every chunk size, holding 0 bytes after`, () => {
      forEachChunkSize(input, (chunks, size) => {
        const decoder = make();
        assertEquals(decoder.next(), null, "a new decoder needs bytes");
        assertEquals(drive(decoder, chunks, false), expected, `chunk size ${size}`);
        assertEquals(decoder.buffered, 0, `chunk size ${size}`);
        decoder.feed(new Uint8Array(0));
        assertEquals(decoder.next(), null, "an empty chunk frames nothing");
      });
    });

    Deno.test(`${name} keeps the bytes of ${stream.name} cut anywhere ("need more" consumes nothing)`, () => {
      // At each cut: the frames wholly before it come out, then null, twice, with every byte
      // after the last of them held; the rest of the stream brings the others.
      for (let cut = 1; cut < input.length; cut++) {
        const decoder = make();
        const first = drive(decoder, [input.subarray(0, cut)], false);
        let complete = 0;
        let framedEnd = 0;
        for (const frame of stream.frames) {
          if (framedEnd + frame.wire.length > cut) break;
          framedEnd += frame.wire.length;
          complete++;
        }
        assertEquals(first, expected.slice(0, complete), `cut at ${cut}`);
        assertEquals(decoder.buffered, cut - framedEnd, `bytes held at cut ${cut}`);
        assertEquals(decoder.next(), null, `cut at ${cut}: null again`);
        assertEquals(decoder.buffered, cut - framedEnd, `cut at ${cut}: still held`);
        const rest = drive(decoder, [input.subarray(cut)], false);
        assertEquals(rest, expected.slice(complete), `cut at ${cut}: the rest`);
        assertEquals(decoder.buffered, 0, `cut at ${cut}: nothing held at the end`);
      }
    });
  }

  for (const stream of corrupt) {
    Deno.test(`${name} throws ${stream.error.name} for ${stream.name} at every chunk size`, () => {
      forEachChunkSize(stream.input, (chunks, size) => {
        const out = drive(make(), chunks, false);
        const error = out.pop();
        assertInstanceOf(error, stream.error, `chunk size ${size}`);
        assertEquals(out, stream.before, `chunk size ${size}`);
      });
    });
  }

  for (const stream of overLimit) {
    Deno.test(`${name} refuses ${stream.name} while it arrives, at every chunk size`, () => {
      assertLess(stream.failsBy, stream.input.length);
      forEachChunkSize(stream.input, (chunks, size) => {
        const decoder = make();
        let thrownAt = -1;
        let heldBefore = 0;
        let heldAfter = 0;
        const out = drive(decoder, chunks, stream.after !== null, (fed, outcomes) => {
          if (thrownAt >= 0) {
            heldAfter = Math.max(heldAfter, decoder.buffered);
            return;
          }
          heldBefore = Math.max(heldBefore, decoder.buffered);
          if (outcomes.some((o) => o instanceof ProtocolError)) thrownAt = fed;
        });
        const label = `chunk size ${size}`;
        // The error comes with the chunk that brings the fed bytes to failsBy, with fewer than
        // failsBy bytes held before that chunk; the rest of the frame is not buffered after it
        // (only the short frame that follows it may be).
        const due = Math.min(Math.ceil(stream.failsBy / size) * size, stream.input.length);
        assertEquals(thrownAt, due, label);
        assertLess(heldBefore, stream.failsBy + size, `${label}: held before the error`);
        assertLess(heldAfter, size + 16, `${label}: held after the error`);
        const errors = out.filter((o) => o instanceof ProtocolError);
        assertEquals(errors.length, 1, `${label}: one error`);
        assert(
          errors[0] instanceof FrameTooLongError || errors[0] instanceof MalformedFrameError,
          label,
        );
        if (stream.after !== null) {
          assertEquals(out.filter((o) => !(o instanceof ProtocolError)), stream.after, label);
          assertEquals(decoder.buffered, 0, label);
        }
      });
    });
  }
}
