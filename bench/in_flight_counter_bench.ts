/**
 * Benchmarks of the server's bound on messages in flight (`core/_in_flight_counter.ts`):
 * `deno bench -A bench/`.
 *
 * The baseline is the naive alternative, a bare number incremented and decremented, which
 * has no bound and no drain: the ratios show what the bound costs. Each iteration moves 1024
 * messages, so the per-call overhead of the bench harness does not dominate.
 *
 * @module
 */

import { InFlightCounter } from "../core/_in_flight_counter.ts";

const MESSAGES = 1024;
const GROUP = "1024 messages per iteration";

let bare = 0;
Deno.bench({
  name: "a bare number, +1 and -1 (no bound)",
  group: GROUP,
  baseline: true,
  fn() {
    for (let i = 0; i < MESSAGES; i++) {
      bare++;
      bare--;
    }
  },
});

// The inline server's pattern at light load: one message admitted and completed at a time.
const single = new InFlightCounter();
Deno.bench({
  name: "admit(1), complete(1), one at a time",
  group: GROUP,
  fn() {
    for (let i = 0; i < MESSAGES; i++) {
      single.admit(1);
      single.complete(1);
    }
  },
});

// The pool's pattern under load: a chunk's messages admitted one by one, a worker's `done`
// record completing 64 at once.
const batched = new InFlightCounter();
Deno.bench({
  name: "admit(1) x 64, complete(64)",
  group: GROUP,
  fn() {
    for (let at = 0; at < MESSAGES; at += 64) {
      for (let i = 0; i < 64; i++) batched.admit(1);
      batched.complete(64);
    }
  },
});

// Backpressure: a small capacity fills and drains 16 times per iteration, calling onDrain.
let drains = 0;
const bounded = new InFlightCounter({ capacity: 64, onDrain: () => drains++ });
function fillAndDrain(): void {
  for (let at = 0; at < MESSAGES; at += 64) {
    for (let i = 0; i < 64; i++) bounded.admit(1);
    if (!bounded.full) throw new Error("The counter should be full at capacity");
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
