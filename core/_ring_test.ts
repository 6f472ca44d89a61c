import { assert, assertEquals, assertThrows } from "@std/assert";
import { within } from "../testing/_socket_client.ts";
import { ByteRing } from "./_ring.ts";

/** A blob of `length` bytes whose content tells its number. */
function blob(number: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (number * 31 + i) & 0xff;
  return bytes;
}

Deno.test("ByteRing passes blobs in order, whole, across wrap-around and sizes past capacity", () => {
  const producer = ByteRing.create(4096);
  const consumer = new ByteRing(producer.buffer);
  // Sizes from tiny to several times the capacity, so blobs wrap and split into parts.
  const sizes = [1, 7, 8, 9, 100, 1000, 4000, 4096, 5000, 20_000, 3, 2048, 4089];
  const pending: { number: number; bytes: Uint8Array; offset: number }[] = [];
  const received: number[] = [];
  let next = 0;
  for (let step = 0; step < 400; step++) {
    if (pending.length < 3) {
      const number = next++;
      pending.push({ number, bytes: blob(number, sizes[number % sizes.length]), offset: 0 });
    }
    // Write what fits, in order: a blob is started only once the one before is all in.
    for (const item of pending) {
      if (item.offset < item.bytes.length) {
        item.offset = producer.write(item.bytes, item.offset);
        if (item.offset < item.bytes.length) break;
      }
    }
    // Read every other step, so the ring fills up at times.
    if (step % 2 === 0) {
      for (let got = consumer.read(); got !== null; got = consumer.read()) {
        const expected = pending.shift()!;
        assertEquals(got, expected.bytes, `blob ${expected.number}`);
        received.push(expected.number);
      }
    }
  }
  assert(received.length > 100, `only ${received.length} blobs went through`);
  assertEquals(received, Array.from({ length: received.length }, (_, i) => i));
});

Deno.test("ByteRing streams a blob larger than the ring, part by part", () => {
  const producer = ByteRing.create(4096);
  const consumer = new ByteRing(producer.buffer);
  const big = blob(1, 50_000);
  let offset = 0;
  let got: Uint8Array | null = null;
  for (let rounds = 0; got === null && rounds < 100; rounds++) {
    offset = producer.write(big, offset);
    got = consumer.read();
    if (got === null) assert(offset < big.length, "the whole blob is in but not read");
  }
  assertEquals(got, big);
  assertEquals(consumer.read(), null);
  assertEquals(consumer.hasNews, false);
});

Deno.test("ByteRing wakes a waiting consumer, and close ends the wait", async () => {
  const producer = ByteRing.create(4096);
  const consumer = new ByteRing(producer.buffer);
  const waiting = consumer.waitForData();
  producer.write(blob(2, 10));
  await within(waiting, "the consumer to wake");
  assertEquals(consumer.read(), blob(2, 10));
  const ended = consumer.waitForData();
  consumer.close();
  await within(ended, "close to end the wait");
  assert(consumer.closed);
});

Deno.test("ByteRing.create refuses a capacity that is not a power of two", () => {
  assertThrows(() => ByteRing.create(5000), RangeError, "got 5000");
});
