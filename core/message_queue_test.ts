import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { MessageQueue } from "./message_queue.ts";

Deno.test("MessageQueue keeps FIFO order across growth and wrap-around", () => {
  const queue = new MessageQueue<number>({ capacity: 1000 });
  const out: number[] = [];
  let next = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 37; i++) queue.push(next++);
    for (let i = 0; i < 30; i++) out.push(queue.shift()!);
    queue.complete(30);
  }
  while (queue.length > 0) out.push(queue.shift()!);
  assertEquals(out, Array.from({ length: next }, (_, i) => i));
  assertEquals(queue.shift(), undefined);
});

Deno.test("MessageQueue is full at capacity, counting messages being handled", () => {
  const queue = new MessageQueue<string>({ capacity: 3 });
  queue.push("a");
  queue.push("b");
  assertFalse(queue.full);
  queue.push("c");
  assert(queue.full);
  queue.shift();
  queue.shift();
  assertEquals(queue.length, 1);
  assertEquals(queue.outstanding, 3);
  assert(queue.full, "taken but not completed still counts");
  queue.complete(2);
  assertFalse(queue.full);
});

Deno.test("MessageQueue never drops past capacity and drains at lowWater once", () => {
  let drains = 0;
  const queue = new MessageQueue<number>({ capacity: 4, lowWater: 1, onDrain: () => drains++ });
  for (let i = 0; i < 10; i++) queue.push(i);
  assertEquals(queue.length, 10, "a producer's last chunk is kept whole");
  for (let i = 0; i < 10; i++) assertEquals(queue.shift(), i);
  queue.complete(8);
  assertEquals(drains, 0, "2 outstanding is above lowWater");
  queue.complete(1);
  assertEquals(drains, 1);
  queue.complete(1);
  assertEquals(drains, 1, "onDrain fires once per full period");
});

Deno.test("MessageQueue refuses to complete more than it handed out", () => {
  const queue = new MessageQueue<number>();
  queue.push(1);
  assertThrows(() => queue.complete(1), RangeError, "only 0 are being handled");
  queue.shift();
  queue.complete(1);
  assertEquals(queue.outstanding, 0);
});

Deno.test("MessageQueue rejects bad bounds with a RangeError", () => {
  assertThrows(() => new MessageQueue({ capacity: 0 }), RangeError, "got 0");
  assertThrows(() => new MessageQueue({ capacity: 4, lowWater: 4 }), RangeError, "got 4");
});
