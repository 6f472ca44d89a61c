import { assertEquals } from "@std/assert";
import { RateMeter } from "./_rates.ts";

Deno.test("RateMeter gives nothing for the first sample, then increases per second", () => {
  const meter = new RateMeter(["messagesIn", "bytesOut"]);
  assertEquals(meter.sample({ messagesIn: 5, bytesOut: 50 }, 1000), undefined);
  assertEquals(meter.sample({ messagesIn: 15, bytesOut: 50 }, 2000), {
    messagesIn: 10,
    bytesOut: 0,
  });
  // Half a second: the increase is doubled.
  assertEquals(meter.sample({ messagesIn: 20, bytesOut: 150 }, 2500), {
    messagesIn: 10,
    bytesOut: 200,
  });
});

Deno.test("RateMeter reads only its own counters from a sample", () => {
  const meter = new RateMeter(["a"]);
  const first = { a: 1, other: 7 };
  const second = { a: 3, other: 1e9 };
  meter.sample(first, 0);
  assertEquals(meter.sample(second, 1000), { a: 2 });
});

Deno.test("RateMeter counts a counter that went down as no increase, and measures from its new value", () => {
  const meter = new RateMeter(["messagesIn"]);
  meter.sample({ messagesIn: 1000 }, 0);
  assertEquals(meter.sample({ messagesIn: 400 }, 1000), { messagesIn: 0 });
  assertEquals(meter.sample({ messagesIn: 500 }, 2000), { messagesIn: 100 });
});

Deno.test("RateMeter ignores a sample no later than the previous one", () => {
  const meter = new RateMeter(["n"]);
  meter.sample({ n: 0 }, 1000);
  assertEquals(meter.sample({ n: 10 }, 1000), undefined);
  assertEquals(meter.sample({ n: 10 }, 500), undefined);
  assertEquals(meter.sample({ n: 20 }, 2000), { n: 20 });
});

Deno.test("RateMeter keeps its own copy of a sample", () => {
  const meter = new RateMeter(["n"]);
  const sample = { n: 0 };
  meter.sample(sample, 0);
  sample.n = 1000;
  assertEquals(meter.sample({ n: 10 }, 1000), { n: 10 });
});
