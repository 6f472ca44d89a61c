import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import {
  giveBuffer,
  MAX_POOLED_BYTES,
  MAX_POOLED_SIZE,
  pooledBufferBytes,
  takeBuffer,
} from "./_buffer_pool.ts";

Deno.test("takeBuffer rounds up to a power of two from 256 bytes", () => {
  assertEquals([1, 256, 257, 4000, 65536, 70_000].map((n) => takeBuffer(n).length), [
    256,
    256,
    512,
    4096,
    65536,
    131072,
  ]);
});

Deno.test("giveBuffer makes a buffer reusable by the next take of its size", () => {
  const buffer = takeBuffer(1000);
  const before = pooledBufferBytes();
  giveBuffer(buffer);
  assertEquals(pooledBufferBytes(), before + 1024);
  assertStrictEquals(takeBuffer(600), buffer);
  assertEquals(pooledBufferBytes(), before);
});

Deno.test("giveBuffer keeps no views, odd sizes or buffers above the largest size", () => {
  const before = pooledBufferBytes();
  giveBuffer(new Uint8Array(2048).subarray(0, 1024));
  giveBuffer(new Uint8Array(300));
  giveBuffer(new Uint8Array(MAX_POOLED_SIZE * 2));
  assertEquals(pooledBufferBytes(), before);
  assertEquals(takeBuffer(MAX_POOLED_SIZE * 2).length, MAX_POOLED_SIZE * 2);
});

Deno.test("the pool keeps at most MAX_POOLED_BYTES", () => {
  const buffers = Array.from(
    { length: MAX_POOLED_BYTES / MAX_POOLED_SIZE + 10 },
    () => takeBuffer(MAX_POOLED_SIZE),
  );
  for (const buffer of buffers) giveBuffer(buffer);
  assert(pooledBufferBytes() <= MAX_POOLED_BYTES);
});
