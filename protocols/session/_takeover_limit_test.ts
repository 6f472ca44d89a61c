import { assertEquals } from "@std/assert";
import { TakeoverLimit } from "./_takeover_limit.ts";

Deno.test("TakeoverLimit admits max takeovers of a name per window, then refuses until it moves", () => {
  const limit = new TakeoverLimit(2, 1000);
  assertEquals([limit.admit("a", 0), limit.admit("a", 10), limit.admit("a", 20)], [
    true,
    true,
    false,
  ]);
  assertEquals(limit.exceeded("a", 999), true);
  assertEquals(limit.admit("b", 20), true, "another name has its own count");
  assertEquals(limit.admit("a", 1000), true, "the first one left the window");
  assertEquals(limit.admit("a", 1005), false);
});

Deno.test("TakeoverLimit hands a name's history over to another loop's limit", () => {
  const here = new TakeoverLimit(2, 1000);
  const there = new TakeoverLimit(2, 1000);
  here.admit("a", 0);
  here.admit("a", 5);
  there.merge("a", here.handOver("a"));
  assertEquals(here.exceeded("a", 10), false, "handed over: gone here");
  assertEquals(there.admit("a", 10), false, "the bound follows the name");
});

Deno.test("TakeoverLimit of 0 admits any number", () => {
  const limit = new TakeoverLimit(0, 1000);
  for (let i = 0; i < 100; i++) assertEquals(limit.admit("a", i), true);
});
