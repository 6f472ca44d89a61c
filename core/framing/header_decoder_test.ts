import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { ProtocolError } from "../errors.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { MalformedFrameError } from "./framing_errors.ts";
import { HeaderDecoder, type HeaderDecoderOptions } from "./header_decoder.ts";
import { HeaderEncoder } from "./header_encoder.ts";

const encoder = new HeaderEncoder();
const text = new TextEncoder();

/**
 * Decodes chunks into "type:ackSeq:payload-bytes" entries; a malformed header ends the list.
 * With `advance`, frames with {@linkcode HeaderDecoder.advance} instead of `next`.
 */
function decode(
  chunks: Uint8Array[],
  options?: HeaderDecoderOptions,
  advance = false,
): string[] {
  const decoder = new HeaderDecoder(options);
  const out: string[] = [];
  const nextPayload = (): Uint8Array | null => {
    if (!advance) return decoder.next();
    const length = decoder.advance();
    if (length < 0) return null;
    const start = decoder.payloadStart;
    return decoder.source.subarray(start, start + length);
  };
  for (const chunk of chunks) {
    // A fresh copy per chunk, wiped after use, catches payloads that outlive their chunk.
    const copy = chunk.slice();
    decoder.feed(copy);
    try {
      for (let payload = nextPayload(); payload !== null; payload = nextPayload()) {
        out.push(`${decoder.type}:${decoder.ackSeq}:${decoder.size}:${payload.join(",")}`);
      }
    } catch (error) {
      if (!(error instanceof MalformedFrameError)) throw error;
      out.push(`!${error.reason}:${error.size}`);
      return out;
    } finally {
      copy.fill(0x7e);
    }
  }
  return out;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

Deno.test("HeaderDecoder frames payloads of every padding at every chunk size", () => {
  const frames: Uint8Array[] = [];
  const expected: string[] = [];
  for (let length = 0; length <= 17; length++) {
    const payload = Uint8Array.from({ length }, (_, i) => (i * 7 + length) & 0xff);
    frames.push(encoder.encode(length + 1, payload, length * 1000));
    expected.push(`${length + 1}:${length * 1000}:${8 + length}:${payload.join(",")}`);
  }
  const input = join(...frames);
  forEachChunkSize(input, (chunks, size) => {
    assertEquals(decode(chunks), expected, `chunk size ${size}`);
  });
});

Deno.test("HeaderDecoder reads every header field little-endian at their extremes", () => {
  const input = join(
    encoder.encode(0xffff, new Uint8Array([1]), 0xffffffff),
    encoder.encode(0, new Uint8Array(0), 0),
    encoder.encode(0x0102, new Uint8Array(0), 0x01020304),
  );
  assertEquals(input.subarray(0, 8), new Uint8Array([9, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  forEachChunkSize(input, (chunks, size) => {
    assertEquals(
      decode(chunks),
      ["65535:4294967295:9:1", "0:0:8:", "258:16909060:8:"],
      `chunk size ${size}`,
    );
  });
});

Deno.test("HeaderDecoder accepts a frame of exactly maxFrameSize and refuses one byte more", () => {
  const max = 40;
  const fits = encoder.encode(1, new Uint8Array(max - 8).fill(3));
  const tooLong = encoder.encode(2, new Uint8Array(max - 7));
  forEachChunkSize(join(fits, tooLong), (chunks, size) => {
    assertEquals(
      decode(chunks, { maxFrameSize: max }),
      [`1:0:40:${new Array(32).fill(3).join(",")}`, "!too-long:41"],
      `chunk size ${size}`,
    );
  });
});

Deno.test("HeaderDecoder accepts the largest frame a u16 size can carry", () => {
  const payload = new Uint8Array(65535 - 8).fill(9);
  const frame = encoder.encode(5, payload, 1);
  assertEquals(frame.length, 65536);
  const decoder = new HeaderDecoder();
  for (const [from, to] of [[0, 3], [3, 40_000], [40_000, 65536]]) {
    decoder.feed(frame.subarray(from, to));
    const got = decoder.next();
    if (to === 65536) assertEquals(got, payload);
    else assertEquals(got, null);
  }
});

Deno.test("HeaderDecoder ends the stream at a size below the header, at every chunk size", () => {
  for (const size of [0, 1, 7]) {
    const bad = new Uint8Array([size, 0, 1, 0, 0, 0, 0, 0]);
    const input = join(
      encoder.encode(1, text.encode("ok")),
      bad,
      encoder.encode(1, text.encode("x")),
    );
    forEachChunkSize(input, (chunks, chunkSize) => {
      assertEquals(decode(chunks), ["1:0:10:111,107", `!too-short:${size}`], `chunk ${chunkSize}`);
    });
  }
});

Deno.test("HeaderDecoder ends the stream at non-zero padding (an unpadded peer)", () => {
  // A peer that does not pad: the next header starts where padding should be.
  const unpadded = new Uint8Array([9, 0, 1, 0, 0, 0, 0, 0, 0x61, 9, 0, 1, 0, 0, 0, 0, 0, 0x62]);
  forEachChunkSize(join(unpadded, new Uint8Array(14)), (chunks, size) => {
    assertEquals(decode(chunks), ["!misaligned:9"], `chunk size ${size}`);
  });
});

Deno.test("HeaderDecoder raises the malformed-header error as soon as the header is read", () => {
  const decoder = new HeaderDecoder({ maxFrameSize: 64 });
  decoder.feed(new Uint8Array([0xff, 0xff, 1, 0]));
  assertEquals(decoder.next(), null);
  decoder.feed(new Uint8Array([0, 0, 0, 0]));
  const error = assertThrows(() => decoder.next(), MalformedFrameError);
  assertInstanceOf(error, ProtocolError);
  assertEquals([error.reason, error.size, error.maxSize], ["too-long", 65535, 64]);
  assertEquals(error.name, "MalformedFrameError");
  assertEquals(error.message, "Malformed frame header: size 65535 exceeds the limit of 64 bytes");
  assertEquals(decoder.buffered, 0, "nothing of the bad frame is held");
  decoder.feed(encoder.encode(1, new Uint8Array(0)));
  assertThrows(() => decoder.next(), MalformedFrameError, "size 65535", "the stream stays ended");
});

Deno.test("HeaderDecoder returns a zero-copy view when the frame lies in one chunk", () => {
  const chunk = join(
    encoder.encode(1, new Uint8Array([1, 2, 3])),
    encoder.encode(2, new Uint8Array([4])),
  );
  const decoder = new HeaderDecoder();
  decoder.feed(chunk);
  const first = decoder.next()!;
  assertEquals(first.buffer, chunk.buffer);
  assertEquals(first.byteOffset, 8);
  assertEquals(decoder.next(), new Uint8Array([4]));
  assertEquals(decoder.next(), null);
  assertEquals(decoder.buffered, 0);
});

Deno.test("HeaderDecoder rejects a bad maxFrameSize with a RangeError", () => {
  assertThrows(() => new HeaderDecoder({ maxFrameSize: 7 }), RangeError, "got 7");
  assertThrows(() => new HeaderDecoder({ maxFrameSize: 65536 }), RangeError, "got 65536");
  assertThrows(() => new HeaderDecoder({ maxFrameSize: 8.5 }), RangeError);
});

Deno.test("HeaderDecoder.advance frames as next does, at every chunk size", () => {
  const input = join(
    encoder.encode(1, text.encode("hello"), 7),
    encoder.encode(2, new Uint8Array(0), 8),
    encoder.encode(3, new Uint8Array(300).fill(5), 9),
    new Uint8Array([9, 0, 1, 0, 0, 0, 0, 0, 0x61, 0, 0, 0, 0, 0, 0, 1]),
  );
  forEachChunkSize(input, (chunks, size) => {
    const framed = decode(chunks, undefined, true);
    assertEquals(framed, decode(chunks), `chunk size ${size}`);
    assertEquals(framed.length, 4, `chunk size ${size}`);
    assertEquals(framed[3], "!misaligned:9");
  });
  // A frame in one chunk lies in that chunk: no copy.
  const decoder = new HeaderDecoder();
  decoder.feed(input);
  assertEquals(decoder.advance(), 5);
  assertEquals([decoder.source === input, decoder.payloadStart], [true, 8]);
  assertEquals(decoder.advance(), 0);
  assertEquals(decoder.payloadStart, 24);
});
