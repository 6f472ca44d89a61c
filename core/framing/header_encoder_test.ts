import { assertEquals, assertThrows } from "@std/assert";
import { HeaderEncoder } from "./header_encoder.ts";
import { alignedFrameLength } from "./message_header.ts";

Deno.test("HeaderEncoder writes size without padding, type and ackSeq little-endian, zero padding", () => {
  const target = new Uint8Array(24).fill(0xee);
  const written = new HeaderEncoder().encodeInto(
    target,
    0,
    0xabcd,
    new Uint8Array([1, 2, 3]),
    0x11223344,
  );
  assertEquals(written, 16);
  assertEquals(
    target,
    new Uint8Array([
      ...[11, 0, 0xcd, 0xab, 0x44, 0x33, 0x22, 0x11],
      ...[1, 2, 3, 0, 0, 0, 0, 0],
      ...new Array(8).fill(0xee),
    ]),
  );
});

Deno.test("HeaderEncoder frame lengths are the aligned sizes", () => {
  const encoder = new HeaderEncoder();
  for (let length = 0; length < 40; length++) {
    const frame = encoder.encode(1, new Uint8Array(length));
    assertEquals(frame.length, encoder.frameLength(length));
    assertEquals(frame.length, alignedFrameLength(8 + length));
    assertEquals(frame.length % 8, 0);
  }
});

Deno.test("HeaderEncoder refuses payloads past maxFrameSize and fields out of range", () => {
  const encoder = new HeaderEncoder({ maxFrameSize: 16 });
  assertEquals(encoder.encode(1, new Uint8Array(8)).length, 16);
  assertThrows(
    () => encoder.encode(1, new Uint8Array(9)),
    RangeError,
    "Payload of 9 bytes exceeds the limit of 8 bytes",
  );
  assertThrows(() => encoder.encode(65536, new Uint8Array(0)), RangeError, "got 65536");
  assertThrows(() => encoder.encode(-1, new Uint8Array(0)), RangeError);
  assertThrows(() => encoder.encode(1, new Uint8Array(0), 2 ** 32), RangeError, "ackSeq");
  for (const ackSeq of [-1, 1.5, NaN, Infinity]) {
    assertThrows(() => encoder.encode(1, new Uint8Array(0), ackSeq), RangeError, "ackSeq");
  }
  assertEquals(encoder.encode(1, new Uint8Array(0), 2 ** 32 - 1)[7], 0xff);
  assertThrows(
    () => encoder.encodeInto(new Uint8Array(15), 0, 1, new Uint8Array(1)),
    RangeError,
    "does not fit",
  );
  assertThrows(() => new HeaderEncoder({ maxFrameSize: 70_000 }), RangeError, "got 70000");
  assertEquals(new HeaderEncoder().maxPayloadLength, 65527);
});
