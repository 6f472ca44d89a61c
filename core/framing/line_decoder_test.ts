import { assertEquals, assertThrows } from "@std/assert";
import { FrameTooLongError } from "../errors.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { LineDecoder, type LineDecoderOptions } from "./line_decoder.ts";

const text = new TextDecoder();

/** Decodes chunks; errors show up as "!<length>" entries. */
function decode(chunks: Uint8Array[], options?: LineDecoderOptions): string[] {
  const decoder = new LineDecoder(options);
  const out: string[] = [];
  for (const chunk of chunks) {
    // A fresh copy per chunk, wiped after use, catches lines that outlive their chunk; it keeps
    // the chunk's alignment in its buffer (the decoder reads long lines a word at a time).
    const align = chunk.byteOffset & 7;
    const copy = new Uint8Array(chunk.length + align).subarray(align);
    copy.set(chunk);
    decoder.feed(copy);
    while (true) {
      try {
        const line = decoder.next();
        if (line === null) break;
        out.push(text.decode(line));
      } catch (error) {
        if (!(error instanceof FrameTooLongError)) throw error;
        out.push(`!${error.maxLength}`);
      }
    }
    copy.fill(0x7e);
  }
  return out;
}

Deno.test("LineDecoder splits LF, CRLF and CR NUL lines at every chunk size", () => {
  const input = "one\ntwo\r\nthree\r\0\nfour\r\n";
  forEachChunkSize(input, (chunks, size) => {
    assertEquals(decode(chunks), ["one", "two", "three", "", "four"], `chunk size ${size}`);
  });
});

Deno.test("LineDecoder keeps endings when asked, at every chunk size", () => {
  const input = "a\nb\r\nc\r\0";
  forEachChunkSize(input, (chunks, size) => {
    assertEquals(decode(chunks, { keepEnding: true }), ["a\n", "b\r\n", "c\r\0"], `size ${size}`);
  });
});

Deno.test("LineDecoder treats a lone CR and a lone NUL as content", () => {
  forEachChunkSize("a\rb\0c\n\r\n", (chunks, size) => {
    assertEquals(decode(chunks), ["a\rb\0c", ""], `chunk size ${size}`);
  });
});

Deno.test("LineDecoder reports the ending length of the last line", () => {
  const decoder = new LineDecoder();
  decoder.feed(new TextEncoder().encode("a\nb\r\nc\r\0"));
  const lengths: number[] = [];
  while (decoder.next() !== null) lengths.push(decoder.lastEndingLength);
  assertEquals(lengths, [1, 2, 2]);
});

Deno.test("LineDecoder accepts a line of exactly maxLineLength at every chunk size", () => {
  forEachChunkSize("abcd\r\nabcde\n", (chunks, size) => {
    assertEquals(decode(chunks, { maxLineLength: 4 }), ["abcd", "!4"], `chunk size ${size}`);
  });
});

Deno.test("LineDecoder discards an over-long line once and recovers at the next ending", () => {
  const input = "ok\n" + "x".repeat(50) + "\r\0after\r\n" + "y".repeat(9) + "\nlast\n";
  forEachChunkSize(input, (chunks, size) => {
    assertEquals(
      decode(chunks, { maxLineLength: 8 }),
      ["ok", "!8", "after", "!8", "last"],
      `chunk size ${size}`,
    );
  });
});

Deno.test("LineDecoder raises FrameTooLongError before the over-long line ends", () => {
  const decoder = new LineDecoder({ maxLineLength: 10 });
  decoder.feed(new Uint8Array(8).fill(0x61));
  assertEquals(decoder.next(), null);
  decoder.feed(new Uint8Array(8).fill(0x61));
  const error = assertThrows(() => decoder.next(), FrameTooLongError);
  assertEquals([error.length, error.maxLength], [16, 10]);
  assertEquals(decoder.buffered, 0, "the discarded line is not held");
  decoder.feed(new Uint8Array(1 << 20).fill(0x61));
  assertEquals(decoder.next(), null, "still discarding, no second error");
  assertEquals(decoder.buffered, 0);
  decoder.feed(new TextEncoder().encode("\nnext\n"));
  assertEquals(text.decode(decoder.next()!), "next");
});

Deno.test("LineDecoder bounds what it buffers by maxLineLength", () => {
  const decoder = new LineDecoder({ maxLineLength: 100 });
  let errors = 0;
  for (let i = 0; i < 1000; i++) {
    decoder.feed(new Uint8Array(7).fill(0x62));
    try {
      decoder.next();
    } catch {
      errors++;
    }
    assertEquals(decoder.buffered <= 101, true);
  }
  assertEquals(errors, 1);
});

Deno.test("LineDecoder rejects a bad maxLineLength with a RangeError", () => {
  assertThrows(() => new LineDecoder({ maxLineLength: 0 }), RangeError, "got 0");
  assertThrows(() => new LineDecoder({ maxLineLength: 1.5 }), RangeError);
});

Deno.test("LineDecoder finds every ending in long lines, at every offset and alignment", () => {
  // Long lines take the word-at-a-time scan: put each kind of ending (and a lone NUL, which is
  // content) at every position of a word, in chunks that start at every byte alignment.
  const lines: string[] = [];
  for (let length = 300; length < 312; length++) {
    // NUL is content unless after CR; 0x02 and 0x08 look like candidates to the word scan.
    lines.push("x".repeat(length >> 1) + "\0\x02\b" + "y".repeat(length >> 1));
  }
  const input = lines.map((line, i) => line + ["\n", "\r\n", "\r\0"][i % 3]).join("");
  const bytes = new TextEncoder().encode(input);
  for (const chunkSize of [bytes.length, 4096, 1000, 333, 257]) {
    for (let align = 0; align < 4; align++) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; at += chunkSize) {
        const part = bytes.subarray(at, at + chunkSize);
        const holder = new Uint8Array(part.length + align);
        holder.set(part, align);
        chunks.push(holder.subarray(align));
      }
      assertEquals(decode(chunks), lines, `chunks of ${chunkSize}, alignment ${align}`);
    }
  }
});
