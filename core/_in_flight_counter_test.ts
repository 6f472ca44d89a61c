import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { InFlightCounter } from "./_in_flight_counter.ts";

Deno.test("InFlightCounter is full at capacity and drains at lowWater", () => {
  let drained = 0;
  const counter = new InFlightCounter({ capacity: 2, onDrain: () => drained++ });
  counter.admit();
  counter.admit();
  assert(counter.full);
  counter.complete(1);
  assertEquals(drained, 1);
  assertFalse(counter.full);
});

Deno.test("InFlightCounter is full at capacity, counting messages being handled", () => {
  const counter = new InFlightCounter({ capacity: 3 });
  counter.admit(2);
  assertFalse(counter.full);
  counter.admit(1);
  assert(counter.full);
  assertEquals(counter.count, 3);
  counter.complete(2);
  assertFalse(counter.full);
});

Deno.test("InFlightCounter never refuses past capacity and drains at lowWater once", () => {
  let drains = 0;
  const counter = new InFlightCounter({ capacity: 4, lowWater: 1, onDrain: () => drains++ });
  for (let i = 0; i < 10; i++) counter.admit();
  assertEquals(counter.count, 10, "a producer's last chunk is kept whole");
  counter.complete(8);
  assertEquals(drains, 0, "2 in flight is above lowWater");
  counter.complete(1);
  assertEquals(drains, 1);
  counter.complete(1);
  assertEquals(drains, 1, "onDrain fires once per full period");
});

Deno.test("InFlightCounter refuses to complete more than it admitted", () => {
  const counter = new InFlightCounter();
  assertThrows(() => counter.complete(1), RangeError, "only 0 are in flight");
  counter.admit(1);
  counter.complete(1);
  assertEquals(counter.count, 0);
});

Deno.test("InFlightCounter rejects bad bounds with a RangeError", () => {
  assertThrows(() => new InFlightCounter({ capacity: 0 }), RangeError, "got 0");
  assertThrows(() => new InFlightCounter({ capacity: 4, lowWater: 4 }), RangeError, "got 4");
});
