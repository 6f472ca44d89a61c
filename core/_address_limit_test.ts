import { assert, assertEquals } from "@std/assert";
import {
  ADDRESS_BUCKETS,
  addressCounts,
  AddressLimit,
  bucketOf,
  OVER_LIMIT,
  releaseLoop,
  UNCOUNTED,
} from "./_address_limit.ts";

const peer = (hostname: string): Deno.NetAddr => ({ transport: "tcp", hostname, port: 1 });

Deno.test("AddressLimit takes up to the limit per address, and a give frees a place", () => {
  const limit = new AddressLimit(2, addressCounts(1));
  const a = limit.take(peer("10.0.0.1"));
  const b = limit.take(peer("10.0.0.1"));
  assert(a >= 0 && b === a);
  assertEquals(limit.take(peer("10.0.0.1")), OVER_LIMIT);
  limit.give(a);
  assertEquals(limit.take(peer("10.0.0.1")), a);
});

Deno.test("AddressLimit counts nothing without a limit, or for a Unix peer", () => {
  assertEquals(new AddressLimit(0, addressCounts(1)).take(peer("10.0.0.1")), UNCOUNTED);
  const unix: Deno.UnixAddr = { transport: "unix", path: "/tmp/s" };
  assertEquals(new AddressLimit(1, addressCounts(1)).take(unix), UNCOUNTED);
  new AddressLimit(1, addressCounts(1)).give(UNCOUNTED);
});

Deno.test("AddressLimit shares the count between loops, and a dead loop's places come back", () => {
  const shared = addressCounts(2);
  const zero = new AddressLimit(2, shared, 0);
  const one = new AddressLimit(2, shared, 1);
  assert(zero.take(peer("::1")) >= 0);
  assert(one.take(peer("::1")) >= 0);
  assertEquals(zero.take(peer("::1")), OVER_LIMIT);
  assertEquals(one.take(peer("::1")), OVER_LIMIT);
  releaseLoop(shared, 1);
  assert(zero.take(peer("::1")) >= 0);
  assertEquals(one.take(peer("::1")), OVER_LIMIT);
});

Deno.test("bucketOf spreads addresses and depends on the seed", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(bucketOf(`10.0.${i >> 8}.${i & 255}`, 12345));
  // 1,000 addresses in 16,384 buckets: about 30 collisions expected, not hundreds.
  assert(seen.size > 900, `${seen.size} buckets`);
  let moved = 0;
  for (let i = 0; i < 100; i++) {
    const address = `192.168.1.${i}`;
    const bucket = bucketOf(address, 1);
    assert(bucket >= 0 && bucket < ADDRESS_BUCKETS);
    if (bucket !== bucketOf(address, 2)) moved++;
  }
  assert(moved > 90, `${moved} of 100 moved with the seed`);
});
