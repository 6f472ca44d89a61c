import { assertAlmostEquals, assertEquals, assertMatch } from "@std/assert";
import {
  formatSoakVerdict,
  type SoakEnd,
  soakRows,
  type SoakSample,
  soakVerdict,
  windowSeconds,
} from "./_soak_report.ts";

const MB = 2 ** 20;

function samples(seconds: number, rssMb: (t: number) => number, errorsAt = -1): SoakSample[] {
  return Array.from({ length: seconds }, (_, i) => ({
    t: i + 1,
    dt: 1,
    rss: rssMb(i + 1) * MB,
    fds: 60,
    echo: 1000,
    pubsub: 500,
    http: 100,
    connections: 10,
    errors: i === errorsAt ? 1 : 0,
    serverCpu: 0.3,
    loadCpu: 0.2,
  }));
}

const end: SoakEnd = { fdsBefore: 34, fdsAfter: 34, fdsSettleMs: 100, rssAfter: 100 * MB };

Deno.test("windowSeconds is a minute from 2 minutes on, 10 seconds below", () => {
  assertEquals(windowSeconds(119), 10);
  assertEquals(windowSeconds(120), 60);
  assertEquals(windowSeconds(600), 60);
});

Deno.test("soakRows groups samples by minute with medians and per-second rates", () => {
  const rows = soakRows(samples(150, (t) => (t <= 60 ? 100 : 120)), 60);
  assertEquals(rows.map((row) => row.label), ["1", "2", "3"]);
  assertEquals(rows[0].rssMedianMb, 100);
  assertEquals(rows[1].rssMedianMb, 120);
  assertEquals(rows[0].echoPerSecond, 1000);
  assertEquals(rows[2].connectionsPerSecond, 10);
  assertAlmostEquals(rows[0].serverCores, 0.3);
});

Deno.test("soakVerdict compares the first and last minute of a long run", () => {
  const flat = soakVerdict(samples(600, (t) => (t <= 60 ? 100 : 105)), end);
  assertEquals(flat.basis, "minute");
  assertEquals(flat.rssFlat, true);
  assertEquals(flat.pass, true);
  // Medians at 30.5 s and 570.5 s: 103.05 MB and 157.05 MB.
  const grown = soakVerdict(samples(600, (t) => 100 + t / 10), end);
  assertEquals(grown.rssFlat, false);
  assertEquals(grown.pass, false);
  assertMatch(formatSoakVerdict(grown, end), /grew 52\.4%/);
});

Deno.test("soakVerdict compares the first and last 20% of a run under 2 minutes", () => {
  // 60 samples: the first 12 at 100 MB, the last 12 at 120 MB.
  const verdict = soakVerdict(samples(60, (t) => (t <= 48 ? 100 : 120)), end);
  assertEquals(verdict.basis, "20%");
  assertEquals(verdict.rssRatio, 1.2);
  assertMatch(formatSoakVerdict(verdict, end), /first 20%/);
});

Deno.test("soakVerdict fails on one error or on descriptors left open", () => {
  assertEquals(soakVerdict(samples(60, () => 100, 30), end).errors, 1);
  assertEquals(soakVerdict(samples(60, () => 100, 30), end).pass, false);
  const leaked = soakVerdict(samples(60, () => 100), { ...end, fdsAfter: 40 });
  assertEquals(leaked.fdsBack, false);
  assertMatch(formatSoakVerdict(leaked, { ...end, fdsAfter: 40 }), /NOT back.*6 left open/);
});
