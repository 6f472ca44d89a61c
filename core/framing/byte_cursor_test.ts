import { assert, assertEquals, assertLessOrEqual, assertThrows } from "@std/assert";
import { FrameTooLongError } from "../errors.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { ByteCursor } from "./byte_cursor.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();
const bytes = (value: string): Uint8Array => utf8.encode(value);

/** A step of a stream that mixes lines and counted bytes. */
type Item = { line: string } | { count: number; data: Uint8Array };

function encode(items: Item[]): Uint8Array {
  const parts = items.map((item) =>
    "line" in item ? bytes(item.line + (item.line.length % 2 ? "\r\n" : "\n")) : item.data
  );
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Reads `items` from `chunks`, each chunk a fresh copy wiped right after `feed` (the cursor
 * copies); every view of a feed cycle is checked again at the end of the cycle, when later
 * reads have been made.
 */
function read(cursor: ByteCursor, chunks: Uint8Array[], items: Item[]): string[] {
  const out: string[] = [];
  let index = 0;
  for (const chunk of chunks) {
    const copy = chunk.slice();
    cursor.feed(copy);
    copy.fill(0x7e);
    const views: [Uint8Array, string][] = [];
    while (index < items.length) {
      const item = items[index];
      const view = "line" in item ? cursor.readLine() : cursor.readBytes(item.count);
      if (view === null) break;
      const got = "line" in item ? text.decode(view) : `#${view.join(",")}`;
      views.push([view, got]);
      out.push(got);
      index++;
    }
    for (const [view, got] of views) {
      assertEquals(got.startsWith("#") ? `#${view.join(",")}` : text.decode(view), got);
    }
  }
  return out;
}

function expected(items: Item[]): string[] {
  return items.map((item) => "line" in item ? item.line : `#${item.data.join(",")}`);
}

Deno.test("ByteCursor reads lines and counted bytes in turn at every chunk size", () => {
  const items: Item[] = [
    { line: "$5" },
    { count: 5, data: bytes("he\r\no") },
    { line: "" },
    { count: 0, data: new Uint8Array(0) },
    { line: "a\rb" },
    { count: 3, data: new Uint8Array([10, 13, 0]) },
    { line: "last" },
  ];
  const input = encode(items);
  forEachChunkSize(input, (chunks, size) => {
    const cursor = new ByteCursor();
    assertEquals(read(cursor, chunks, items), expected(items), `chunk size ${size}`);
    assertEquals(cursor.buffered, 0);
  });
});

Deno.test("ByteCursor matches a copying reader on random streams and chunkings", () => {
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const items: Item[] = [];
    for (let i = random(40); i >= 0; i--) {
      if (random(2) === 0) {
        items.push({ line: "x".repeat(random(random(8) === 0 ? 3000 : 40)) });
      } else {
        const count = random(random(8) === 0 ? 5000 : 60);
        items.push({ count, data: Uint8Array.from({ length: count }, () => random(256)) });
      }
    }
    const input = encode(items);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < input.length;) {
      const size = 1 + random(random(4) === 0 ? 4096 : 64);
      chunks.push(input.subarray(at, at + size));
      at += size;
    }
    const cursor = new ByteCursor();
    assertEquals(read(cursor, chunks, items), expected(items), `round ${round}`);
    assertEquals(cursor.buffered, 0, `round ${round}`);
    assertLessOrEqual(cursor.capacity, 16 * 1024, `round ${round}`);
  }
});

Deno.test("ByteCursor returns null without consuming when bytes are missing", () => {
  const cursor = new ByteCursor();
  assertEquals(cursor.readLine(), null);
  assertEquals(cursor.readBytes(1), null);
  assertEquals(cursor.readBytes(0), new Uint8Array(0));
  cursor.feed(bytes("abc\r"));
  assertEquals([cursor.readLine(), cursor.readBytes(5)], [null, null]);
  assertEquals([cursor.buffered, cursor.position], [4, 0]);
  cursor.feed(bytes("\nxy"));
  assertEquals(text.decode(cursor.readLine()!), "abc");
  assertEquals(cursor.lastEndingLength, 2);
  assertEquals(cursor.readBytes(2), bytes("xy"));
});

Deno.test("ByteCursor copies a chunk at feed and keeps views until the next feed", () => {
  const cursor = new ByteCursor();
  const chunk = bytes("one\ntwo\n12345");
  cursor.feed(chunk);
  chunk.fill(0);
  const one = cursor.readLine()!;
  const two = cursor.readLine()!;
  const start = cursor.position;
  const digits = cursor.readBytes(5)!;
  cursor.rewind(start);
  assertEquals(cursor.skip(2), 2);
  assertEquals([text.decode(one), text.decode(two), text.decode(digits)], ["one", "two", "12345"]);
  assertEquals(one.buffer, digits.buffer, "views of one buffer");
});

Deno.test("ByteCursor reuses its buffer when what was read makes room (no growth)", () => {
  const cursor = new ByteCursor();
  // 100-byte chunks of 30-byte lines: a partial line is always left over.
  const stream = bytes("0123456789012345678901234567\r\n".repeat(10_000));
  let lines = 0;
  for (let at = 0; at < stream.length; at += 100) {
    cursor.feed(stream.subarray(at, at + 100));
    while (cursor.readLine() !== null) lines++;
    assertEquals(cursor.capacity, 256, `at ${at}`);
  }
  assertEquals(lines, 10_000);
});

Deno.test("ByteCursor grows for a large count and gives the buffer back once it is read", () => {
  const cursor = new ByteCursor();
  const payload = new Uint8Array(200_000).map((_, i) => i & 0xff);
  for (let at = 0; at < payload.length; at += 1000) {
    cursor.feed(payload.subarray(at, at + 1000));
    const bytes = cursor.readBytes(payload.length);
    if (at + 1000 < payload.length) assertEquals(bytes, null);
    else assertEquals(bytes, payload);
  }
  assertEquals(cursor.capacity, 256 * 1024);
  cursor.feed(bytes("ok\n"));
  assertEquals(cursor.capacity, 256, "a small buffer again");
  assertEquals(text.decode(cursor.readLine()!), "ok");
});

Deno.test("ByteCursor keeps a position to rewind to only while its bytes are held", () => {
  const cursor = new ByteCursor();
  cursor.feed(new Uint8Array(200).fill(1));
  const start = cursor.position;
  cursor.readBytes(150);
  cursor.rewind(start);
  assertEquals(cursor.buffered, 200);
  assertThrows(() => cursor.rewind(start + 1), RangeError, "Cannot rewind to position 1");
  cursor.readBytes(150);
  const mark = cursor.position;
  cursor.feed(new Uint8Array(100).fill(2)); // 50 held + 100 do not fit after 200: compacted
  assertEquals(cursor.capacity, 256);
  assertThrows(() => cursor.rewind(start), RangeError, "positions 150 to 150 are held");
  assertEquals(cursor.readBytes(150)!.subarray(48, 52), new Uint8Array([1, 1, 2, 2]));
  cursor.rewind(mark);
  assertEquals(cursor.position, 150);
});

Deno.test("ByteCursor refuses a line over maxLineLength before its end, then drops it", () => {
  const cursor = new ByteCursor({ maxLineLength: 10 });
  cursor.feed(bytes("12345678"));
  assertEquals(cursor.readLine(), null);
  cursor.feed(bytes("9\r")); // 9 bytes and a CR that may begin the ending: not over yet
  assertEquals(cursor.readLine(), null);
  cursor.feed(bytes("ab"));
  const error = assertThrows(() => cursor.readLine(), FrameTooLongError);
  assertEquals([error.length, error.maxLength], [12, 10]);
  assertEquals(cursor.buffered, 0);
  cursor.feed(new Uint8Array(1 << 20).fill(0x61));
  assertEquals([cursor.buffered, cursor.readLine()], [0, null], "the rest is dropped as it comes");
  assert(cursor.capacity <= 256);
  cursor.feed(bytes("zz\r\nexactly 10\r\n"));
  assertEquals(text.decode(cursor.readLine()!), "exactly 10");
});

Deno.test("ByteCursor refuses a complete line over maxLineLength and goes on after it", () => {
  const cursor = new ByteCursor({ maxLineLength: 3 });
  cursor.feed(bytes("abcd\r\nabc\r\n"));
  assertThrows(() => cursor.readLine(), FrameTooLongError, "at least 4 bytes");
  assertEquals(text.decode(cursor.readLine()!), "abc");
});

Deno.test("ByteCursor refuses a count over maxBytes without consuming, and skips it", () => {
  const cursor = new ByteCursor({ maxBytes: 4 });
  cursor.feed(bytes("12345"));
  const error = assertThrows(() => cursor.readBytes(5), FrameTooLongError);
  assertEquals([error.length, error.maxLength], [5, 4]);
  assertEquals(cursor.buffered, 5);
  assertEquals(cursor.skip(7), 5);
  cursor.feed(bytes("67ok\n"));
  assertEquals(cursor.skip(2), 2);
  assertEquals(text.decode(cursor.readLine()!), "ok");
});

Deno.test("ByteCursor rejects bad options and counts with a RangeError", () => {
  assertThrows(() => new ByteCursor({ maxLineLength: 0 }), RangeError, "maxLineLength");
  assertThrows(() => new ByteCursor({ maxBytes: 1.5 }), RangeError, "got 1.5");
  const cursor = new ByteCursor();
  for (const count of [-1, 1.5, NaN]) {
    assertThrows(() => cursor.readBytes(count), RangeError, `got ${count}`);
    assertThrows(() => cursor.skip(count), RangeError, `got ${count}`);
  }
});

Deno.test("ByteCursor scans a long line fed byte by byte once, not once per byte", () => {
  // Rescanning from the line's start at each feed would scan 2^35 bytes here (seconds).
  const length = 256 * 1024;
  const cursor = new ByteCursor({ maxLineLength: length });
  const byte = new Uint8Array([0x61]);
  const started = performance.now();
  for (let i = 0; i < length; i++) {
    cursor.feed(byte);
    if (cursor.readLine() !== null) throw new Error(`A line after ${i + 1} bytes`);
  }
  cursor.feed(bytes("\n"));
  assertEquals(cursor.readLine()!.length, length);
  assertLessOrEqual(performance.now() - started, 1000);
});
