/**
 * Benchmarks of {@linkcode LineDecoder}: `deno bench -A bench/`.
 *
 * Each group has a baseline that is the floor of the same work (a bare `indexOf` scan, or a
 * copy into a buffer that is reused), so the ratios show what the decoder adds on top of it.
 * Every iteration decodes the whole stream of its case, and every case is checked once at load
 * so that a bench can never time a decoder that frames wrongly.
 *
 * @module
 */

import { LineDecoder } from "../core/framing/mod.ts";
import { chunks } from "../testing/mod.ts";

const CHUNK = 64 * 1024;
const LF = 0x0a;
const encoder = new TextEncoder();

/** `count` copies of `line`, as one stream. */
function repeat(line: string, count: number): Uint8Array {
  return encoder.encode(line.repeat(count));
}

/** Feeds every chunk and pulls every line; returns the number of lines. */
function decodeAll(decoder: LineDecoder, parts: Uint8Array[]): number {
  let lines = 0;
  for (const part of parts) {
    decoder.feed(part);
    for (let line = decoder.next(); line !== null; line = decoder.next()) lines++;
  }
  return lines;
}

/** The floor: find each LF with `indexOf`, no state, no views. */
function scanAll(parts: Uint8Array[]): number {
  let lines = 0;
  for (const part of parts) {
    for (let at = part.indexOf(LF); at >= 0; at = part.indexOf(LF, at + 1)) lines++;
  }
  return lines;
}

function check(name: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new Error(`Bench case "${name}" decoded ${actual} lines, expected ${expected}`);
  }
}

// 16-byte lines (the echo load's line) in 64 KiB chunks: the common case, all views, no copies.
const shortStream = repeat("0123456789abcde\n", 4096 * 4);
const shortParts = chunks(shortStream, CHUNK);
const shortLines = 4096 * 4;
const shortDecoder = new LineDecoder();
const shortKeepDecoder = new LineDecoder({ keepEnding: true });
check("16-byte lines", decodeAll(shortDecoder, shortParts), shortLines);
check("16-byte lines, keepEnding", decodeAll(shortKeepDecoder, shortParts), shortLines);
check("16-byte lines, scan", scanAll(shortParts), shortLines);

// The same lines in 1500-byte chunks (one Ethernet MTU): one line in 94 straddles two chunks,
// so the partial-line path is taken often.
const mtuParts = chunks(shortStream, 1500);
const mtuDecoder = new LineDecoder();
check("16-byte lines, 1500-byte chunks", decodeAll(mtuDecoder, mtuParts), shortLines);

Deno.bench({
  name: "indexOf scan (floor)",
  group: "16-byte lines, 64 KiB chunks (256 KiB per iteration)",
  baseline: true,
  fn() {
    scanAll(shortParts);
  },
});

Deno.bench({
  name: "LineDecoder",
  group: "16-byte lines, 64 KiB chunks (256 KiB per iteration)",
  fn() {
    decodeAll(shortDecoder, shortParts);
  },
});

Deno.bench({
  name: "LineDecoder keepEnding",
  group: "16-byte lines, 64 KiB chunks (256 KiB per iteration)",
  fn() {
    decodeAll(shortKeepDecoder, shortParts);
  },
});

Deno.bench({
  name: "LineDecoder, 1500-byte chunks",
  group: "16-byte lines, 64 KiB chunks (256 KiB per iteration)",
  fn() {
    decodeAll(mtuDecoder, mtuParts);
  },
});

// Endings: the same 16-byte records ending in LF, in a CRLF/LF mix, and in a mix with telnet's
// CR NUL, which makes the decoder track NULs as well as LFs.
const crlfStream = repeat("0123456789abcd\r\n0123456789abcde\n", 4096 * 2);
const crlfParts = chunks(crlfStream, CHUNK);
const crlfDecoder = new LineDecoder();
check("CRLF mix", decodeAll(crlfDecoder, crlfParts), shortLines);

const crNulStream = repeat(
  "0123456789abcde\n0123456789abcd\r\n0123456789abcde\n0123456789abcd\r\0",
  4096,
);
const crNulParts = chunks(crNulStream, CHUNK);
const crNulDecoder = new LineDecoder();
check("CR NUL mix", decodeAll(crNulDecoder, crNulParts), shortLines);

Deno.bench({
  name: "LF only",
  group: "16-byte lines by ending, 64 KiB chunks (256 KiB per iteration)",
  baseline: true,
  fn() {
    decodeAll(shortDecoder, shortParts);
  },
});

Deno.bench({
  name: "CRLF and LF, alternating",
  group: "16-byte lines by ending, 64 KiB chunks (256 KiB per iteration)",
  fn() {
    decodeAll(crlfDecoder, crlfParts);
  },
});

Deno.bench({
  name: "LF, CRLF and CR NUL (one line in 4 ends CR NUL)",
  group: "16-byte lines by ending, 64 KiB chunks (256 KiB per iteration)",
  fn() {
    decodeAll(crNulDecoder, crNulParts);
  },
});

// 1 MiB lines in 64 KiB chunks: every line is assembled from 17 chunks in the decoder's own
// buffer. The floor copies the same bytes into one buffer that is kept between lines.
const LONG = 1024 * 1024;
const longLine = new Uint8Array(LONG + 1).fill(0x61);
longLine[LONG] = LF;
const longStream = new Uint8Array((LONG + 1) * 4);
for (let i = 0; i < 4; i++) longStream.set(longLine, i * (LONG + 1));
const longParts = chunks(longStream, CHUNK);
const longDecoder = new LineDecoder({ maxLineLength: 2 * LONG });
check("1 MiB lines", decodeAll(longDecoder, longParts), 4);
const assembly = new Uint8Array(2 * LONG);

function copyAll(parts: Uint8Array[]): number {
  let lines = 0;
  let length = 0;
  for (const part of parts) {
    let from = 0;
    for (let at = part.indexOf(LF); at >= 0; at = part.indexOf(LF, at + 1)) {
      assembly.set(part.subarray(from, at + 1), length);
      length = 0;
      from = at + 1;
      lines++;
    }
    assembly.set(part.subarray(from), length);
    length += part.length - from;
  }
  return lines;
}
check("1 MiB lines, copy", copyAll(longParts), 4);

Deno.bench({
  name: "copy into a reused buffer (floor)",
  group: "1 MiB lines, 64 KiB chunks (4 MiB per iteration)",
  baseline: true,
  fn() {
    copyAll(longParts);
  },
});

Deno.bench({
  name: "LineDecoder",
  group: "1 MiB lines, 64 KiB chunks (4 MiB per iteration)",
  fn() {
    decodeAll(longDecoder, longParts);
  },
});
