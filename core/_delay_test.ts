import { assert, assertEquals, assertRejects } from "@std/assert";
import { delay } from "./_delay.ts";

Deno.test("delay resolves after its time", async () => {
  const started = performance.now();
  await delay(20);
  assert(performance.now() - started >= 19);
});

Deno.test("delay rejects with the signal's reason when it aborts, before or during the wait", async () => {
  const before = new AbortController();
  before.abort(new Error("stopped before"));
  await assertRejects(() => delay(10_000, before.signal), Error, "stopped before");
  const during = new AbortController();
  const started = performance.now();
  const waiting = delay(10_000, during.signal);
  setTimeout(() => during.abort(new Error("stopped during")), 5);
  await assertRejects(() => waiting, Error, "stopped during");
  assert(performance.now() - started < 5_000, "the timer did not hold the wait");
});

Deno.test("delay leaves no listener on a signal once it resolved", async () => {
  const controller = new AbortController();
  await delay(1, controller.signal);
  let calls = 0;
  controller.signal.addEventListener("abort", () => calls++);
  controller.abort();
  assertEquals(calls, 1, "only the test's own listener ran");
});
