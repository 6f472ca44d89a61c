import { assertEquals, assertThrows } from "@std/assert";
import { FrameTooLongError } from "../errors.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { LengthPrefixedDecoder, type LengthPrefixOptions } from "./length_prefixed_decoder.ts";
import { LengthPrefixedEncoder } from "./length_prefixed_encoder.ts";

/** Decodes chunks; errors show up as "!<length>" entries. */
function decode(chunks: Uint8Array[], options?: LengthPrefixOptions): string[] {
  const decoder = new LengthPrefixedDecoder(options);
  const out: string[] = [];
  for (const chunk of chunks) {
    const copy = chunk.slice();
    decoder.feed(copy);
    while (true) {
      try {
        const payload = decoder.next();
        if (payload === null) break;
        out.push(payload.join(","));
      } catch (error) {
        if (!(error instanceof FrameTooLongError)) throw error;
        out.push(`!${error.length}>${error.maxLength}`);
      }
    }
    copy.fill(0x7e);
  }
  return out;
}

function frames(options: LengthPrefixOptions, payloads: number[][]): Uint8Array {
  const encoder = new LengthPrefixedEncoder({ ...options, maxFrameLength: undefined });
  const parts = payloads.map((payload) => encoder.encode(new Uint8Array(payload)));
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const FORMATS: LengthPrefixOptions[] = [
  { lengthSize: 4, endian: "big" },
  { lengthSize: 4, endian: "little" },
  { lengthSize: 2, endian: "big" },
  { lengthSize: 2, endian: "little" },
];

for (const format of FORMATS) {
  const label = `u${format.lengthSize! * 8} ${format.endian}-endian`;

  Deno.test(`LengthPrefixedDecoder frames ${label} payloads at every chunk size`, () => {
    const payloads = [[], [1], [2, 3], Array.from({ length: 300 }, (_, i) => i & 0xff), [4, 5, 6]];
    const input = frames(format, payloads);
    forEachChunkSize(input, (chunks, size) => {
      assertEquals(decode(chunks, format), payloads.map((p) => p.join(",")), `chunk size ${size}`);
    });
  });

  Deno.test(`LengthPrefixedDecoder skips a ${label} frame over maxFrameLength and goes on`, () => {
    const input = frames(format, [[1, 2, 3], [1, 2, 3, 4], Array(1000).fill(9), [5]]);
    forEachChunkSize(input, (chunks, size) => {
      assertEquals(
        decode(chunks, { ...format, maxFrameLength: 3 }),
        ["1,2,3", "!4>3", "!1000>3", "5"],
        `chunk size ${size}`,
      );
    });
  });
}

Deno.test("LengthPrefixedDecoder reads the prefix in the byte order asked", () => {
  const bytes = new Uint8Array([0, 0, 1, 0]);
  const big = new LengthPrefixedDecoder({ maxFrameLength: 100 });
  big.feed(bytes);
  assertThrows(() => big.next(), FrameTooLongError, "256");
  const little = new LengthPrefixedDecoder({ endian: "little", maxFrameLength: 0x10000 });
  little.feed(bytes);
  assertEquals(little.next(), null);
  assertEquals(little.buffered, 4, "a 65536-byte frame is awaited");
});

Deno.test("LengthPrefixedDecoder does not buffer a frame it skips", () => {
  const decoder = new LengthPrefixedDecoder({ maxFrameLength: 10 });
  decoder.feed(new Uint8Array([0, 0x10, 0, 0, 1, 2]));
  const error = assertThrows(() => decoder.next(), FrameTooLongError);
  assertEquals([error.length, error.maxLength], [0x100000, 10]);
  assertEquals(decoder.next(), null);
  assertEquals(decoder.buffered, 0);
  // 2 payload bytes were in the first chunk: 15 x 64 KiB + (64 KiB - 2) skip the rest exactly.
  for (let i = 0; i < 16; i++) {
    decoder.feed(new Uint8Array(i < 15 ? 0x10000 : 0x10000 - 2));
    assertEquals(decoder.next(), null);
    assertEquals(decoder.buffered, 0);
  }
  decoder.feed(new Uint8Array([0, 0, 0, 1, 42]));
  assertEquals(decoder.next(), new Uint8Array([42]));
});

Deno.test("LengthPrefixedDecoder limits u16 prefixes to 65535 and rejects bad options", () => {
  assertEquals(new LengthPrefixedDecoder({ lengthSize: 2 }).maxFrameLength, 65535);
  assertEquals(new LengthPrefixedDecoder().maxFrameLength, 1024 * 1024);
  assertThrows(
    () => new LengthPrefixedDecoder({ lengthSize: 3 as 2 }),
    RangeError,
    "lengthSize must be 2 or 4, got 3",
  );
  assertThrows(
    () => new LengthPrefixedDecoder({ endian: "middle" as "big" }),
    RangeError,
    'got "middle"',
  );
  assertThrows(() => new LengthPrefixedDecoder({ maxFrameLength: 0 }), RangeError, "got 0");
});
