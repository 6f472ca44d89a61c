import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { PendingCall, PendingCalls } from "./_pending_calls.ts";

/** Makes and adds a call with the next id. */
function add(calls: PendingCalls, queued = true): PendingCall {
  const call = new PendingCall(calls.nextId(), 1);
  calls.add(call, queued);
  // Settled calls are not awaited by these tests.
  call.promise.catch(() => {});
  return call;
}

Deno.test("PendingCalls hands out ids in sequence and finds calls by id", () => {
  const calls = new PendingCalls();
  const made = Array.from({ length: 5 }, () => add(calls));
  assertEquals(made.map((call) => call.id), [1, 2, 3, 4, 5]);
  assertEquals(calls.size, 5);
  assertStrictEquals(calls.take(3), made[2]);
  assertEquals(calls.take(3), undefined, "a call is taken once");
  assertEquals(calls.take(99), undefined);
  assertEquals(calls.delete(made[0]), true);
  assertEquals(calls.delete(made[0]), false);
  assertEquals(calls.size, 3);
});

Deno.test("PendingCalls skips the ids of calls still waiting, and 0, as ids wrap", () => {
  const calls = new PendingCalls(0xffffffff - 2);
  const old = add(calls);
  assertEquals(old.id, 0xffffffff - 2);
  // Calls made and settled one at a time: the ids wrap past 0, and come round to the slot of
  // `old` (id mod 64, in the first table) twice.
  const ids: number[] = [];
  for (let i = 0; i < 128; i++) {
    const call = add(calls);
    ids.push(call.id);
    calls.take(call.id);
  }
  assertEquals(ids.slice(0, 4), [0xffffffff - 1, 0xffffffff, 1, 2]);
  assert(!ids.includes(0), "0 is never an id");
  assertEquals(ids.filter((id) => id % 64 === old.id % 64), [], "the slot of a call waiting");
  assertStrictEquals(calls.take(old.id), old);
  assertEquals(calls.size, 0);
});

Deno.test("PendingCalls grows past its first size and keeps every call findable", () => {
  const calls = new PendingCalls();
  const made = Array.from({ length: 1000 }, () => add(calls));
  assertEquals(new Set(made.map((call) => call.id)).size, 1000);
  for (const call of made.toReversed()) assertStrictEquals(calls.take(call.id), call);
  assertEquals(calls.size, 0);
  // Beyond 4096 slots, the table goes back to its first size once empty.
  const many = Array.from({ length: 5000 }, () => add(calls));
  for (const call of many) calls.take(call.id);
  assertEquals(calls.size, 0);
  assertEquals(add(calls).id, 6001);
});

Deno.test("PendingCalls gives the oldest queued call still waiting", () => {
  const calls = new PendingCalls();
  assertEquals(calls.oldest(), undefined);
  const [a, b, own, c] = [add(calls), add(calls), add(calls, false), add(calls)];
  assertStrictEquals(calls.oldest(), a);
  calls.take(b.id);
  assertStrictEquals(calls.oldest(), a);
  calls.take(a.id);
  assertStrictEquals(calls.oldest(), c, "settled calls and calls with their own timer are skipped");
  calls.take(c.id);
  assertEquals(calls.oldest(), undefined);
  assertEquals(calls.size, 1);
  assertStrictEquals(calls.take(own.id), own);
});

Deno.test("PendingCalls keeps its queue bounded behind a call that waits long", () => {
  const calls = new PendingCalls();
  const stuck = add(calls);
  // 100,000 calls settled one by one behind it: packed away, not queued up.
  for (let i = 0; i < 100_000; i++) calls.take(add(calls).id);
  assert(calls.queued <= 64, `${calls.queued} calls queued`);
  const later = add(calls);
  assertStrictEquals(calls.oldest(), stuck);
  calls.take(stuck.id);
  assertStrictEquals(calls.oldest(), later);
  assertEquals(calls.size, 1);
});

Deno.test("PendingCalls takes every call at once", () => {
  const calls = new PendingCalls();
  const made = Array.from({ length: 100 }, (_, i) => add(calls, i % 2 === 0));
  const taken = calls.takeAll();
  assertEquals(new Set(taken), new Set(made));
  assertEquals([calls.size, calls.oldest()], [0, undefined]);
  assertEquals(add(calls).id, 101);
});

Deno.test("PendingCall settles its promise", async () => {
  const call = new PendingCall(1, 2);
  call.resolve(new Uint8Array([7]));
  assertEquals(await call.promise, new Uint8Array([7]));
  assertEquals([call.id, call.type, call.deadline], [1, 2, Infinity]);
});
