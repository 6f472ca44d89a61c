import { assertEquals } from "@std/assert";
import { HANDLER_TIME_BUCKETS, HandlerTimeHistogram } from "./handler_time_histogram.ts";

Deno.test("HandlerTimeHistogram counts a time at its bound in that bucket (le), cumulatively", () => {
  const histogram = new HandlerTimeHistogram();
  histogram.observe(0.001); // exactly a bound
  histogram.observe(0.0010001);
  histogram.observe(0);
  const { cumulative, count, sum, bounds } = histogram.snapshot();
  assertEquals(bounds, HANDLER_TIME_BUCKETS);
  assertEquals(cumulative[0], 1);
  assertEquals(cumulative[bounds.indexOf(0.001)], 2);
  assertEquals(cumulative[bounds.indexOf(0.0025)], 3);
  assertEquals(cumulative.at(-1), 3);
  assertEquals(count, 3);
  assertEquals(Math.abs(sum - 0.0020001) < 1e-12, true);
});

Deno.test("HandlerTimeHistogram counts times above the last bound in +Inf only", () => {
  const histogram = new HandlerTimeHistogram();
  const observe = histogram.observe; // bound: passed around as a function
  observe(60);
  const { cumulative, count } = histogram.snapshot();
  assertEquals(cumulative.every((n) => n === 0), true);
  assertEquals(count, 1);
});
