/**
 * Benchmarks of {@linkcode MessageQueue}: `deno bench -A bench/`.
 *
 * The baseline is the naive alternative, a plain array used as a FIFO (`push`/`shift`), which
 * has no bound and no accounting: the ratios show what the ring buffer and its outstanding count
 * gain or cost against it. Each iteration
 * moves 1024 messages, so the per-call overhead of the bench harness does not dominate.
 *
 * @module
 */

import { type Message, MessageQueue } from "../mod.ts";

const MESSAGES = 1024;
const payload = new Uint8Array(16);
const messages: Message[] = Array.from(
  { length: MESSAGES },
  (_, i) => ({ connectionId: i % 50, type: 0, payload }),
);

const GROUP = "1024 messages per iteration";

Deno.bench({
  name: "Array push/shift, one at a time (naive FIFO)",
  group: GROUP,
  baseline: true,
  fn() {
    const items: Message[] = [];
    for (const message of messages) {
      items.push(message);
      items.shift();
    }
  },
});

// The inline server's pattern at light load: one message read, handled and completed per turn.
const single = new MessageQueue<Message>();
Deno.bench({
  name: "push, shift, complete(1), one at a time",
  group: GROUP,
  fn() {
    for (const message of messages) {
      single.push(message);
      single.shift();
      single.complete(1);
    }
  },
});

// The server's pattern under load: a read chunk dispatches many messages, the pool's drain
// shifts them all, and completion is counted once per drain.
const batched = new MessageQueue<Message>();
Deno.bench({
  name: "push 64, shift 64, complete(64)",
  group: GROUP,
  fn() {
    for (let at = 0; at < MESSAGES; at += 64) {
      for (let i = at; i < at + 64; i++) batched.push(messages[i]);
      while (batched.shift() !== undefined);
      batched.complete(64);
    }
  },
});

// A backlog: all 1024 wait before any is taken (the ring holds them all, after its first growth).
const backlog = new MessageQueue<Message>();
Deno.bench({
  name: "push 1024, shift 1024, complete(1024)",
  group: GROUP,
  fn() {
    for (const message of messages) backlog.push(message);
    while (backlog.shift() !== undefined);
    backlog.complete(MESSAGES);
  },
});

// Backpressure: a small capacity fills and drains 16 times per iteration, calling onDrain.
let drains = 0;
const bounded = new MessageQueue<Message>({ capacity: 64, onDrain: () => drains++ });
function fillAndDrain(): void {
  for (let at = 0; at < MESSAGES; at += 64) {
    for (let i = at; i < at + 64; i++) bounded.push(messages[i]);
    if (!bounded.full) throw new Error("The queue should be full at capacity");
    while (bounded.shift() !== undefined);
    bounded.complete(64);
  }
}
// Checked once: a bench whose onDrain never fires would time nothing useful.
fillAndDrain();
if (drains !== MESSAGES / 64) throw new Error(`onDrain fired ${drains} times, expected 16`);
Deno.bench({
  name: "capacity 64: fill, drain, onDrain (16 times)",
  group: GROUP,
  fn: fillAndDrain,
});

// A fresh queue per iteration: the cost of growing the ring from its initial 16 slots.
Deno.bench({
  name: "new queue, push 1024 (grows), shift 1024",
  group: GROUP,
  fn() {
    const queue = new MessageQueue<Message>();
    for (const message of messages) queue.push(message);
    while (queue.shift() !== undefined);
    queue.complete(MESSAGES);
  },
});
