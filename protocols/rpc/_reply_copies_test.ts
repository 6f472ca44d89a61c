import { assert, assertEquals, assertNotStrictEquals, assertStrictEquals } from "@std/assert";
import { REPLY_SLAB_SIZE, ReplyCopies, SHARED_REPLY_MAX } from "./_reply_copies.ts";

Deno.test("ReplyCopies copies bodies into a shared slab, apart and 8-byte aligned", () => {
  const copies = new ReplyCopies();
  const chunk = new Uint8Array([9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 7, 8, 9, 10, 11]);
  const a = copies.copy(chunk, 2, 3);
  const b = copies.copy(chunk, 7, 8);
  const empty = copies.copy(chunk, 7, 0);
  chunk.fill(0);
  assertEquals(a, new Uint8Array([1, 2, 3]));
  assertEquals(b, new Uint8Array([4, 5, 6, 7, 8, 9, 10, 11]));
  assertEquals(empty.length, 0);
  assertStrictEquals(a.buffer, b.buffer);
  assertEquals([a.byteOffset, b.byteOffset], [0, 8]);
  a.fill(0xff);
  assertEquals(b, new Uint8Array([4, 5, 6, 7, 8, 9, 10, 11]), "a write to one stays in it");
});

Deno.test("ReplyCopies starts a new slab when one is full, and copies large bodies alone", () => {
  const copies = new ReplyCopies();
  const body = new Uint8Array(SHARED_REPLY_MAX).fill(1);
  const slab = REPLY_SLAB_SIZE / SHARED_REPLY_MAX;
  const shared = Array.from({ length: slab + 1 }, () => copies.copy(body, 0, body.length));
  assert(shared.slice(0, slab).every((copy) => copy.buffer === shared[0].buffer));
  assertNotStrictEquals(shared[slab].buffer, shared[0].buffer);
  assertEquals(shared[slab].byteOffset, 0);
  assertEquals(shared[0].buffer.byteLength, REPLY_SLAB_SIZE);

  const large = new Uint8Array(SHARED_REPLY_MAX + 2).fill(2);
  const copy = copies.copy(large, 1, large.length - 1);
  large.fill(0);
  assertEquals(copy, new Uint8Array(SHARED_REPLY_MAX + 1).fill(2));
  assertEquals([copy.byteOffset, copy.buffer.byteLength], [0, SHARED_REPLY_MAX + 1]);
});
