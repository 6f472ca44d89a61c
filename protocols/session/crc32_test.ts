import { assertEquals, assertNotEquals } from "@std/assert";
import { crc32 } from "./crc32.ts";

Deno.test("crc32 gives the standard check values", () => {
  const ascii = (text: string) => new TextEncoder().encode(text);
  assertEquals(crc32(new Uint8Array(0)), 0);
  assertEquals(crc32(ascii("a")), 0xe8b7be43);
  assertEquals(crc32(ascii("123456789")), 0xcbf43926);
  assertEquals(crc32(ascii("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assertEquals(crc32(new Uint8Array(32)), 0x190a55ad);
  assertEquals(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
});

Deno.test("crc32 continues over pieces and sees a single flipped bit", () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
  const whole = crc32(bytes);
  for (const cut of [0, 1, 500, 999, 1000]) {
    assertEquals(crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut))), whole, `cut ${cut}`);
  }
  for (let bit = 0; bit < 8; bit++) {
    const flipped = bytes.slice();
    flipped[123] ^= 1 << bit;
    assertNotEquals(crc32(flipped), whole);
  }
});
