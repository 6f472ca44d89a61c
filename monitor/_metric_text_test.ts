import { assertEquals, assertThrows } from "@std/assert";
import { escapeHelp, escapeLabelValue, formatValue, MetricText } from "./_metric_text.ts";

Deno.test("escapeLabelValue escapes backslash, double quote and line feed only", () => {
  assertEquals(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
  assertEquals(escapeLabelValue("plain ✓"), "plain ✓");
});

Deno.test("escapeHelp escapes backslash and line feed, not quotes", () => {
  assertEquals(escapeHelp('say "hi"\\\nbye'), 'say "hi"\\\\\\nbye');
});

Deno.test("formatValue spells NaN and infinities as the format does", () => {
  assertEquals([NaN, Infinity, -Infinity, 42, 0.5].map(formatValue), [
    "NaN",
    "+Inf",
    "-Inf",
    "42",
    "0.5",
  ]);
});

Deno.test("MetricText writes HELP and TYPE once per family, its samples together", () => {
  const out = new MetricText();
  out.family("a_total", "counter", "A's count.");
  out.family("b", "gauge", "B now.");
  out.sample("a_total", { protocol: "echo", loop: 0 }, 1);
  out.sample("b", {}, 7);
  out.family("a_total", "counter", "A's count."); // declared again: still once
  out.sample("a_total", { protocol: 'we"ird\n', loop: 1 }, 2);
  out.family("unused", "gauge", "No samples, not written.");
  assertEquals(
    out.text(),
    [
      "# HELP a_total A's count.",
      "# TYPE a_total counter",
      'a_total{protocol="echo",loop="0"} 1',
      'a_total{protocol="we\\"ird\\n",loop="1"} 2',
      "# HELP b B now.",
      "# TYPE b gauge",
      "b 7",
      "",
    ].join("\n"),
  );
});

Deno.test("MetricText writes a histogram's series under one family", () => {
  const out = new MetricText();
  out.family("t_seconds", "histogram", "Times.");
  out.sample("t_seconds", { le: 0.1 }, 1, "_bucket");
  out.sample("t_seconds", { le: "+Inf" }, 2, "_bucket");
  out.sample("t_seconds", {}, 0.3, "_sum");
  out.sample("t_seconds", {}, 2, "_count");
  assertEquals(out.text().split("\n").filter((line) => line.startsWith("#")), [
    "# HELP t_seconds Times.",
    "# TYPE t_seconds histogram",
  ]);
  assertEquals(out.text().split("\n").slice(2, 6), [
    't_seconds_bucket{le="0.1"} 1',
    't_seconds_bucket{le="+Inf"} 2',
    "t_seconds_sum 0.3",
    "t_seconds_count 2",
  ]);
});

Deno.test("MetricText refuses bad names, undeclared families and a changed type", () => {
  const out = new MetricText();
  assertThrows(() => out.family("1bad", "gauge", ""), TypeError, '"1bad"');
  assertThrows(() => out.sample("nope", {}, 1), TypeError, '"nope"');
  out.family("ok", "gauge", "");
  assertThrows(() => out.family("ok", "counter", ""), TypeError, "is a gauge, not a counter");
  assertThrows(() => out.sample("ok", { "bad-label": 1 }, 1), TypeError, '"bad-label"');
});
