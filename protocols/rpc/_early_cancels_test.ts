import { assertEquals, assertThrows } from "@std/assert";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { EARLY_CANCELS_PER_CONNECTION, EarlyCancels } from "./_early_cancels.ts";

Deno.test("EarlyCancels keeps each connection's cancels apart, bounded per connection", () => {
  const cancels = new EarlyCancels(3);
  const a = new MemoryTransport(1);
  const b = new MemoryTransport(2);
  cancels.remember(a.handle, 7);
  for (let id = 1; id <= 10; id++) cancels.remember(b.handle, id);
  assertEquals([cancels.count(1), cancels.count(2)], [1, 3]);
  assertEquals(cancels.take(1, 7), true);
  assertEquals(cancels.take(1, 7), false, "taken once");
  assertEquals([cancels.take(2, 7), cancels.take(2, 8), cancels.take(2, 1)], [false, true, false]);
  assertEquals(cancels.connections, 1, "a connection with none left is dropped");
  assertEquals(new EarlyCancels().count(1), 0);
  assertEquals(EARLY_CANCELS_PER_CONNECTION, 1024);
  assertThrows(() => new EarlyCancels(0), RangeError, "got 0");
});

Deno.test("EarlyCancels.forget drops a connection's cancels", () => {
  const cancels = new EarlyCancels();
  const a = new MemoryTransport(1);
  cancels.remember(a.handle, 1);
  cancels.remember(a.handle, 2);
  cancels.forget(1);
  assertEquals([cancels.connections, cancels.count(1), cancels.take(1, 1)], [0, 0, false]);
});

Deno.test("EarlyCancels drops closed connections' cancels without a close hook, so memory stays bounded by the open ones", () => {
  const cancels = new EarlyCancels(4);
  const open = Array.from({ length: 10 }, (_, i) => new MemoryTransport(i + 1));
  for (const transport of open) cancels.remember(transport.handle, 1);
  // 10,000 connections come, cancel, and go, and no hook tells the memory.
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    const transport = new MemoryTransport(1000 + i);
    for (let id = 1; id <= 4; id++) cancels.remember(transport.handle, id);
    transport.handle.close();
    most = Math.max(most, cancels.connections);
  }
  assertEquals(most <= 2 * 64, true, `at most ${most} connections kept`);
  // The open connections' cancels were kept.
  for (const transport of open) assertEquals(cancels.take(transport.id, 1), true);
});
