import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import {
  ControlLineTooLongError,
  InvalidArgumentsError,
  PayloadSizeMismatchError,
  PayloadTooLargeError,
  PubSubError,
  UnknownOperationError,
} from "./pubsub_errors.ts";
import { type PubSubOp, PubSubParser, type PubSubParserOptions } from "./pubsub_parser.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An operation as text, so that a whole stream compares with one assertEquals. */
function describe(op: PubSubOp): string {
  const text = (bytes: Uint8Array) => decoder.decode(bytes);
  switch (op.kind) {
    case "pub":
      return `pub ${text(op.subject)} reply=${text(op.reply)} ${JSON.stringify(text(op.payload))}`;
    case "hpub":
      return `hpub ${text(op.subject)} reply=${text(op.reply)} headers=${op.headerSize} ${
        JSON.stringify(text(op.payload))
      }`;
    case "sub":
      return `sub ${text(op.subject)} queue=${text(op.queue)} sid=${text(op.sid)}`;
    case "unsub":
      return `unsub sid=${text(op.sid)} max=${op.max}`;
    case "connect":
      return `connect ${text(op.options)}`;
    default:
      return op.kind;
  }
}

/**
 * Parses chunks in order. Each chunk is a copy that is overwritten once parsed, as a socket's
 * reused read buffer would be: an operation that kept a view of an old chunk shows garbage.
 */
function parse(chunks: Uint8Array[], options?: PubSubParserOptions): string[] {
  const parser = new PubSubParser(options);
  const ops: string[] = [];
  for (const chunk of chunks) {
    const buffer = chunk.slice();
    parser.feed(buffer);
    for (let op = parser.next(); op !== null; op = parser.next()) ops.push(describe(op));
    buffer.fill(0xee);
  }
  return ops;
}

/** Asserts that `error` is an instance of `type`, and returns it typed. */
function expectError<T extends Error>(
  error: unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => T,
  message?: string,
): T {
  assertInstanceOf(error, type, message);
  return error as T;
}

/** Parses until the parser throws; returns the operations before, and the error. */
function parseUntilError(
  input: string | Uint8Array,
  options?: PubSubParserOptions,
  chunkSize?: number,
): { ops: string[]; error: unknown } {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const parser = new PubSubParser(options);
  const ops: string[] = [];
  const size = chunkSize ?? Math.max(1, bytes.length);
  try {
    for (let at = 0; at < bytes.length; at += size) {
      parser.feed(bytes.slice(at, at + size));
      for (let op = parser.next(); op !== null; op = parser.next()) ops.push(describe(op));
    }
  } catch (error) {
    return { ops, error };
  }
  return { ops, error: undefined };
}

const CONVERSATION = [
  'CONNECT {"verbose":false, "headers":true}\r\n',
  "SUB orders.* 1\r\n",
  "sub  orders.>\tworkers  2\n",
  "PUB orders.42 5\r\nhello\r\n",
  "pub orders.42 _INBOX.x.1 7\nbig\r\nok\n",
  "HPUB orders.7 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
  "hpub orders.7 reply.to 18 21\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n\0\r\n",
  "PUB empty 0\r\n\r\n",
  "\r\n",
  "UNSUB 1\r\n",
  "unsub 2 10\r\0",
  "PING\r\n",
  "PoNg\r\0",
  "   ping  \r\n",
  "PUB bin 3\r\n\n\r\0\r\0",
].join("");

const EXPECTED = [
  'connect {"verbose":false, "headers":true}',
  "sub orders.* queue= sid=1",
  "sub orders.> queue=workers sid=2",
  'pub orders.42 reply= "hello"',
  'pub orders.42 reply=_INBOX.x.1 "big\\r\\nok"',
  'hpub orders.7 reply= headers=12 "NATS/1.0\\r\\n\\r\\nhi"',
  'hpub orders.7 reply=reply.to headers=18 "NATS/1.0\\r\\nA: b\\r\\n\\r\\n\\r\\n\\u0000"',
  'pub empty reply= ""',
  "unsub sid=1 max=-1",
  "unsub sid=2 max=10",
  "ping",
  "pong",
  "ping",
  'pub bin reply= "\\n\\r\\u0000"',
];

Deno.test("PubSubParser parses every operation the same at every chunk size", () => {
  forEachChunkSize(CONVERSATION, (chunks, size) => {
    assertEquals(parse(chunks), EXPECTED, `chunk size ${size}`);
  });
});

Deno.test("PubSubParser reads payloads by count: line endings inside them are data", () => {
  const payload = "a\r\nPUB x 1\r\nb\n\r\0";
  const input = `PUB data ${payload.length}\r\n${payload}\r\nPING\r\n`;
  forEachChunkSize(input, (chunks, size) => {
    assertEquals(
      parse(chunks),
      [`pub data reply= ${JSON.stringify(payload)}`, "ping"],
      `chunk size ${size}`,
    );
  });
});

Deno.test("PubSubParser gives a payload from the chunk without copying when it is all there", () => {
  const parser = new PubSubParser();
  const chunk = encoder.encode("PUB a 3\r\nabc\r\n");
  parser.feed(chunk);
  const op = parser.next()!;
  assertEquals(op.payload.buffer, chunk.buffer);
  assertEquals(decoder.decode(op.payload), "abc");
});

Deno.test("PubSubParser returns null for a partial operation and tells what it holds", () => {
  const parser = new PubSubParser();
  parser.feed(encoder.encode("SUB fo"));
  assertEquals(parser.next(), null);
  assertEquals(parser.buffered, 6);
  parser.feed(encoder.encode("o 1\r\nPUB foo 4\r\nab"));
  assertEquals(parser.next()?.kind, "sub");
  assertEquals(parser.next(), null);
  assertEquals(parser.buffered, 2);
  parser.feed(encoder.encode("cd\r"));
  assertEquals(parser.next(), null);
  parser.feed(encoder.encode("\n"));
  assertEquals(decoder.decode(parser.next()!.payload), "abcd");
  assertEquals(parser.buffered, 0);
});

Deno.test("PubSubParser accepts a control line of exactly maxControlLine bytes", () => {
  const subject = "s".repeat(100 - "SUB  1".length);
  const line = `SUB ${subject} 1`;
  assertEquals(line.length, 100);
  forEachChunkSize(`${line}\r\nPING\r\n`, (chunks, size) => {
    assertEquals(
      parse(chunks, { maxControlLine: 100 }),
      [`sub ${subject} queue= sid=1`, "ping"],
      `chunk size ${size}`,
    );
  });
});

Deno.test("PubSubParser refuses a control line over maxControlLine, ended or not", () => {
  for (const input of [`SUB ${"s".repeat(100)} 1\r\n`, `PUB ${"s".repeat(200)}`]) {
    for (const chunkSize of [1, 7, 1000]) {
      const { ops, error: thrown } = parseUntilError(
        `PING\r\n${input}`,
        { maxControlLine: 100 },
        chunkSize,
      );
      assertEquals(ops, ["ping"]);
      const error = expectError(thrown, ControlLineTooLongError);
      assertEquals(error.maxLength, 100);
      assertEquals(error.errText, "Maximum Control Line Exceeded");
    }
  }
});

Deno.test("PubSubParser refuses a payload over maxPayload on its control line, before the payload", () => {
  for (const line of ["PUB a 11\r\n", "PUB a reply 11\r\n", "HPUB a 5 11\r\n"]) {
    const { ops, error: thrown } = parseUntilError(`PING\r\n${line}`, { maxPayload: 10 });
    assertEquals(ops, ["ping"], line);
    const error = expectError(thrown, PayloadTooLargeError);
    assertEquals([error.size, error.maxPayload], [11, 10]);
  }
  assertEquals(parseUntilError("PUB a 10\r\n0123456789\r\n", { maxPayload: 10 }).error, undefined);
});

Deno.test("PubSubParser refuses unknown operations, and client-side ones such as MSG", () => {
  for (const line of ["FOO bar", "MSG a 1 1", "PUBLISH a 1", "+OK", "-ERR 'x'", "INFO {}", "P"]) {
    const { error: thrown } = parseUntilError(`${line}\r\n`);
    const error = expectError(thrown, UnknownOperationError, line);
    assertEquals(error.errText, "Unknown Protocol Operation");
  }
});

Deno.test("PubSubParser refuses arguments that do not fit the operation", () => {
  for (
    const line of [
      "PUB foo",
      "PUB foo bar",
      "PUB foo bar baz 1",
      "PUB foo -1",
      "PUB foo 1x",
      "HPUB foo 5",
      "HPUB foo 20 10",
      "HPUB a b c 1 2",
      "SUB foo",
      "SUB foo q 1 2",
      "UNSUB",
      "UNSUB 1 2 3",
      "UNSUB 1 x",
      "CONNECT",
    ]
  ) {
    const { error: thrown } = parseUntilError(`${line}\r\n`);
    const error = expectError(thrown, InvalidArgumentsError, line);
    assertEquals(error.errText, `Invalid ${line.split(" ")[0]} Arguments`);
  }
});

Deno.test("PubSubParser refuses a payload that is not followed by a line ending", () => {
  for (const input of ["PUB a 2\r\nabc\r\n", "PUB a 2\r\nab\rX", "PUB a 0\r\nX"]) {
    for (const chunkSize of [1, 3, 100]) {
      const { error: thrown } = parseUntilError(input, {}, chunkSize);
      const error = expectError(thrown, PayloadSizeMismatchError, input);
      assertEquals(error.errText, "Payload Size Mismatch");
    }
  }
});

Deno.test("PubSubParser stays failed after an error: the stream cannot be resynchronised", () => {
  const parser = new PubSubParser();
  parser.feed(encoder.encode("BOGUS\r\nPING\r\n"));
  const error = assertThrows(() => parser.next(), PubSubError);
  assertInstanceOf(error, UnknownOperationError);
  assertEquals(parser.next(), null);
  parser.feed(encoder.encode("PING\r\n"));
  assertEquals(parser.next(), null);
});

Deno.test("PubSubParser takes a NUL as a line ending only after a CR", () => {
  const parser = new PubSubParser();
  parser.feed(encoder.encode("SUB a\0b 1\r\0PING\r\n"));
  assertEquals(describe(parser.next()!), "sub a\0b queue= sid=1");
  assertEquals(parser.next()?.kind, "ping");
});

Deno.test("PubSubParser rejects limits that are not positive integers", () => {
  assertThrows(() => new PubSubParser({ maxPayload: 0 }), RangeError, "maxPayload");
  assertThrows(() => new PubSubParser({ maxControlLine: 1.5 }), RangeError, "maxControlLine");
});
