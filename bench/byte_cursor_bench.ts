/**
 * Benchmarks of {@linkcode ByteCursor}: `deno bench -A bench/byte_cursor_bench.ts`.
 *
 * The work is a stream of RESP bulk strings (`$<n> CR LF <n bytes> CR LF`), read as a line and
 * then counted bytes, the shape of RESP, NATS `PUB` and memcached values. Each group compares
 * the cursor (views of one buffer) with two readers that copy:
 *
 * - "copy per split": the bytes held are kept with an offset, and each line and payload is
 *   copied out with `slice`: one copy per split.
 * - "naive": the common first attempt, `concat` at each chunk and `slice` at each split, the
 *   rest re-sliced after each message: it copies what is left of the chunk per message.
 *
 * Every reader sums the payload lengths and the first byte of each payload, checked once at
 * load, so a bench cannot time a reader that frames wrongly.
 *
 * @module
 */

import { ByteCursor } from "../core/framing/byte_cursor.ts";
import { chunks } from "../testing/mod.ts";

const LF = 0x0a;
const encoder = new TextEncoder();

/** `count` bulk strings of `size` bytes each (payload byte i is `i & 0xff`), as one stream. */
function stream(size: number, count: number): Uint8Array {
  const header = encoder.encode(`$${size}\r\n`);
  const message = new Uint8Array(header.length + size + 2);
  message.set(header);
  for (let i = 0; i < size; i++) message[header.length + i] = (i + 1) & 0xff;
  message.set([0x0d, LF], header.length + size);
  const out = new Uint8Array(message.length * count);
  for (let i = 0; i < count; i++) out.set(message, i * message.length);
  return out;
}

function count(line: Uint8Array, from: number, to: number): number {
  let value = 0;
  for (let i = from + 1; i < to; i++) value = value * 10 + line[i] - 0x30;
  return value;
}

/** Reads every bulk string with the cursor: a line, then n + 2 bytes, views only. */
function readWithCursor(cursor: ByteCursor, parts: Uint8Array[]): number {
  let sum = 0;
  for (const part of parts) {
    cursor.feed(part);
    while (true) {
      const start = cursor.position;
      const line = cursor.readLine();
      if (line === null) break;
      const n = count(line, 0, line.length);
      const payload = cursor.readBytes(n + 2);
      if (payload === null) {
        cursor.rewind(start);
        break;
      }
      sum += n + (n > 0 ? payload[0] : 0);
    }
  }
  return sum;
}

/** Keeps the bytes held with an offset; copies each line and payload out with `slice`. */
function readWithCopies(parts: Uint8Array[]): number {
  let held = new Uint8Array(0);
  let at = 0;
  let sum = 0;
  for (const part of parts) {
    const joined = new Uint8Array(held.length - at + part.length);
    joined.set(held.subarray(at));
    joined.set(part, held.length - at);
    held = joined;
    at = 0;
    while (true) {
      const lf = held.indexOf(LF, at);
      if (lf < 0) break;
      const line = held.slice(at, lf - 1);
      const n = count(line, 0, line.length);
      if (held.length - (lf + 1) < n + 2) break;
      const payload = held.slice(lf + 1, lf + 1 + n);
      at = lf + 1 + n + 2;
      sum += n + (n > 0 ? payload[0] : 0);
    }
  }
  return sum;
}

/** `concat` per chunk, `slice` per split, the rest re-sliced after each message. */
function readNaively(parts: Uint8Array[]): number {
  let held = new Uint8Array(0);
  let sum = 0;
  for (const part of parts) {
    const joined = new Uint8Array(held.length + part.length);
    joined.set(held);
    joined.set(part, held.length);
    held = joined;
    while (true) {
      const lf = held.indexOf(LF);
      if (lf < 0) break;
      const line = held.slice(0, lf - 1);
      const n = count(line, 0, line.length);
      if (held.length - (lf + 1) < n + 2) break;
      const payload = held.slice(lf + 1, lf + 1 + n);
      held = held.slice(lf + 1 + n + 2);
      sum += n + (n > 0 ? payload[0] : 0);
    }
  }
  return sum;
}

function check(name: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new Error(`Bench case "${name}" read ${actual}, expected ${expected}`);
  }
}

interface Case {
  group: string;
  parts: Uint8Array[];
  cursor: ByteCursor;
  naive: boolean;
}

function makeCase(group: string, size: number, messages: number, chunkSize: number): Case {
  const parts = chunks(stream(size, messages), chunkSize);
  const cursor = new ByteCursor({ maxBytes: size + 2 });
  const expected = messages * (size + (size > 0 ? 1 : 0));
  check(`${group}, cursor`, readWithCursor(cursor, parts), expected);
  check(`${group}, copies`, readWithCopies(parts), expected);
  // The naive reader is quadratic in messages per chunk: left out where it would take seconds.
  const naive = chunkSize / (size + 8) < 200;
  if (naive) check(`${group}, naive`, readNaively(parts), expected);
  return { group, parts, cursor, naive };
}

const CASES: Case[] = [
  makeCase("16-byte strings, 64 KiB chunks (16,384 strings, 384 KiB)", 16, 16_384, 64 * 1024),
  makeCase("16-byte strings, 1500-byte chunks (16,384 strings, 384 KiB)", 16, 16_384, 1500),
  makeCase("1 KiB strings, 64 KiB chunks (1,024 strings, 1 MiB)", 1024, 1024, 64 * 1024),
  makeCase("64 KiB strings, 16 KiB chunks (64 strings, 4 MiB)", 64 * 1024, 64, 16 * 1024),
];

for (const { group, parts, cursor, naive } of CASES) {
  Deno.bench({
    name: "ByteCursor (views)",
    group,
    baseline: true,
    fn() {
      readWithCursor(cursor, parts);
    },
  });
  Deno.bench({
    name: "copy per split (slice)",
    group,
    fn() {
      readWithCopies(parts);
    },
  });
  if (naive) {
    Deno.bench({
      name: "naive (concat, slice, re-slice the rest)",
      group,
      fn() {
        readNaively(parts);
      },
    });
  }
}
