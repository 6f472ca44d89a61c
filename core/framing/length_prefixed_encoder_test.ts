import { assertEquals, assertThrows } from "@std/assert";
import { LengthPrefixedEncoder } from "./length_prefixed_encoder.ts";

Deno.test("LengthPrefixedEncoder writes each prefix size in each byte order", () => {
  const payload = new Uint8Array(0x0102);
  const prefix = (
    options: ConstructorParameters<typeof LengthPrefixedEncoder>[0],
  ) => [...new LengthPrefixedEncoder(options).encode(payload).subarray(0, options!.lengthSize)];
  assertEquals(prefix({ lengthSize: 4, endian: "big" }), [0, 0, 1, 2]);
  assertEquals(prefix({ lengthSize: 4, endian: "little" }), [2, 1, 0, 0]);
  assertEquals(prefix({ lengthSize: 2, endian: "big" }), [1, 2]);
  assertEquals(prefix({ lengthSize: 2, endian: "little" }), [2, 1]);
});

Deno.test("LengthPrefixedEncoder refuses a payload over maxFrameLength or a target without room", () => {
  const encoder = new LengthPrefixedEncoder({ maxFrameLength: 4 });
  assertEquals(encoder.encode(new Uint8Array(4)).length, 8);
  assertThrows(
    () => encoder.encode(new Uint8Array(5)),
    RangeError,
    "Payload of 5 bytes exceeds maxFrameLength (4)",
  );
  assertThrows(() => encoder.encodeInto(new Uint8Array(7), 0, new Uint8Array(4)), RangeError);
  assertThrows(
    () => new LengthPrefixedEncoder({ lengthSize: 2 }).encode(new Uint8Array(65536)),
    RangeError,
    "65535",
  );
});
