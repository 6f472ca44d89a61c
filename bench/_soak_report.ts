/**
 * The soak test's figures (`soak.ts`), from its once-a-second samples: a table by window (a
 * minute; 10 seconds for runs shorter than 2 minutes) and the verdict, as Markdown. Pure: no
 * sockets, no `/proc`, so that it is tested with made-up samples.
 *
 * The verdict has three parts, each with its target:
 *
 * | part   | compares                                                  | target               |
 * | ------ | --------------------------------------------------------- | -------------------- |
 * | RSS    | median of the last minute / median of the first minute    | within 10 % ("flat") |
 * | fds    | the server's open descriptors after the load closed / before it | back to the start |
 * | errors | every error the load counted                              | 0                    |
 *
 * A run shorter than 2 minutes has no first and last minute apart: its first and last 20 % of
 * samples stand in, and the verdict says so.
 *
 * @module
 */

/** One second of the run, as the sampler saw it. */
export interface SoakSample {
  /** Seconds since the load started, at the end of the sample. */
  t: number;
  /** Seconds the sample covers (about 1; more when the sampler was late). */
  dt: number;
  /** The server's resident memory, in bytes. */
  rss: number;
  /** The server's open file descriptors. */
  fds: number;
  /** Echo lines answered and checked in the sample. */
  echo: number;
  /** Pub/sub deliveries received and checked. */
  pubsub: number;
  /** HTTP responses received and checked. */
  http: number;
  /** Connections the load opened, all protocols. */
  connections: number;
  /** Errors the load counted, all protocols. */
  errors: number;
  /** CPU the server used, in seconds. */
  serverCpu: number;
  /** CPU the load (this process) used, in seconds. */
  loadCpu: number;
}

/** One row of the table: a window of samples. */
export interface SoakRow {
  /** `1`, `2`... for minutes; `0-10`, `10-20`... for 10-second windows. */
  label: string;
  rssMedianMb: number;
  fdsMedian: number;
  echoPerSecond: number;
  pubsubPerSecond: number;
  httpPerSecond: number;
  connectionsPerSecond: number;
  errors: number;
  /** Cores the server used (1 = one core busy). */
  serverCores: number;
  /** Cores the load used. */
  loadCores: number;
}

/** What happened after the load: the server's descriptors and memory once every client left. */
export interface SoakEnd {
  /** Descriptors before the load (after a warm-up connection of each protocol). */
  fdsBefore: number;
  /** Descriptors once they settled after the load, or at the deadline. */
  fdsAfter: number;
  /** Time from the load's stop to `fdsAfter`, in milliseconds. */
  fdsSettleMs: number;
  /** Resident memory after the load, in bytes. */
  rssAfter: number;
}

/** The verdict of a run. */
export interface SoakVerdict {
  /** What was compared: `"minute"`, or `"20%"` for runs shorter than 2 minutes. */
  basis: "minute" | "20%";
  rssFirstMb: number;
  rssLastMb: number;
  /** `rssLastMb / rssFirstMb`. */
  rssRatio: number;
  /** RSS within 10 % (or lower). */
  rssFlat: boolean;
  fdsBack: boolean;
  errors: number;
  /** All three targets met. */
  pass: boolean;
}

/** RSS growth from the first to the last window above which memory is not called flat. */
export const RSS_TOLERANCE = 0.1;
const MB = 2 ** 20;

/**
 * The window of the table for a run of this length.
 *
 * @param seconds The run's length.
 * @returns 60, or 10 for runs shorter than 2 minutes.
 */
export function windowSeconds(seconds: number): number {
  return seconds >= 120 ? 60 : 10;
}

/**
 * Groups samples into windows of `window` seconds, by each sample's midpoint.
 *
 * @param samples The run's samples, in order.
 * @param window Seconds per row.
 * @returns One row per window that holds samples.
 */
export function soakRows(samples: SoakSample[], window: number): SoakRow[] {
  const groups: SoakSample[][] = [];
  for (const sample of samples) {
    const index = Math.floor((sample.t - sample.dt / 2) / window);
    (groups[index] ??= []).push(sample);
  }
  const rows: SoakRow[] = [];
  groups.forEach((group, index) => {
    if (group === undefined) return;
    const seconds = sum(group, (s) => s.dt);
    const rate = (pick: (s: SoakSample) => number) => sum(group, pick) / seconds;
    rows.push({
      label: window === 60 ? String(index + 1) : `${index * window}-${(index + 1) * window}`,
      rssMedianMb: median(group.map((s) => s.rss)) / MB,
      fdsMedian: median(group.map((s) => s.fds)),
      echoPerSecond: rate((s) => s.echo),
      pubsubPerSecond: rate((s) => s.pubsub),
      httpPerSecond: rate((s) => s.http),
      connectionsPerSecond: rate((s) => s.connections),
      errors: sum(group, (s) => s.errors),
      serverCores: rate((s) => s.serverCpu),
      loadCores: rate((s) => s.loadCpu),
    });
  });
  return rows;
}

/**
 * Judges a run: RSS of its last minute against its first, descriptors after against before,
 * errors.
 *
 * @param samples The run's samples, in order (at least one).
 * @param end The descriptors and memory after the load.
 * @returns The verdict.
 */
export function soakVerdict(samples: SoakSample[], end: SoakEnd): SoakVerdict {
  const seconds = samples.length === 0 ? 0 : samples[samples.length - 1].t;
  const basis = seconds >= 120 ? "minute" : "20%";
  let first: SoakSample[];
  let last: SoakSample[];
  if (basis === "minute") {
    first = samples.filter((s) => s.t - s.dt / 2 < 60);
    last = samples.filter((s) => s.t - s.dt / 2 >= seconds - 60);
  } else {
    const count = Math.max(1, Math.round(samples.length * 0.2));
    first = samples.slice(0, count);
    last = samples.slice(-count);
  }
  const rssFirstMb = median(first.map((s) => s.rss)) / MB;
  const rssLastMb = median(last.map((s) => s.rss)) / MB;
  const rssRatio = rssLastMb / rssFirstMb;
  const rssFlat = rssRatio <= 1 + RSS_TOLERANCE;
  const fdsBack = end.fdsAfter <= end.fdsBefore;
  const errors = sum(samples, (s) => s.errors);
  return {
    basis,
    rssFirstMb,
    rssLastMb,
    rssRatio,
    rssFlat,
    fdsBack,
    errors,
    pass: rssFlat && fdsBack && errors === 0,
  };
}

/**
 * The table as Markdown.
 *
 * @param rows What {@linkcode soakRows} made.
 * @param window Seconds per row, which names the first column.
 * @returns The table, lines joined with `\n`.
 */
export function formatSoakTable(rows: SoakRow[], window: number): string {
  const head = [
    window === 60 ? "minute" : "seconds",
    "RSS median MB",
    "fds median",
    "echo lines/s",
    "pub/sub msgs/s",
    "HTTP req/s",
    "errors",
    "connects/s",
    "server CPU",
    "load CPU",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => " ---: ").join("|")}|`];
  for (const row of rows) {
    const cells = [
      row.label,
      row.rssMedianMb.toFixed(1),
      String(row.fdsMedian),
      row.echoPerSecond.toFixed(0),
      row.pubsubPerSecond.toFixed(0),
      row.httpPerSecond.toFixed(0),
      String(row.errors),
      row.connectionsPerSecond.toFixed(1),
      row.serverCores.toFixed(2),
      row.loadCores.toFixed(2),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * The verdict as Markdown bullets.
 *
 * @param verdict What {@linkcode soakVerdict} judged.
 * @param end The descriptors and memory after the load.
 * @returns The lines, joined with `\n`.
 */
export function formatSoakVerdict(verdict: SoakVerdict, end: SoakEnd): string {
  const change = (verdict.rssRatio - 1) * 100;
  const rssWord = verdict.rssFlat
    ? change < -RSS_TOLERANCE * 100 ? `flat (shrank ${(-change).toFixed(1)}%)` : "flat"
    : `grew ${change.toFixed(1)}%`;
  const span = verdict.basis === "minute"
    ? "last minute vs first minute"
    : "last 20% vs first 20% of the samples (the run is shorter than 2 minutes)";
  const fdsWord = verdict.fdsBack
    ? `back to the start: ${end.fdsAfter} after, ${end.fdsBefore} before (settled ${end.fdsSettleMs} ms after the load stopped)`
    : `NOT back: ${end.fdsAfter} after, ${end.fdsBefore} before (${
      end.fdsAfter - end.fdsBefore
    } left open ${end.fdsSettleMs} ms after the load stopped)`;
  return [
    `- RSS median, ${span}: ${verdict.rssLastMb.toFixed(1)} MB / ${
      verdict.rssFirstMb.toFixed(1)
    } MB = ${verdict.rssRatio.toFixed(3)}: **${rssWord}** (target: within ${
      RSS_TOLERANCE * 100
    }%). After the load: ${(end.rssAfter / MB).toFixed(1)} MB.`,
    `- Server fds: **${fdsWord}** (target: back to the start).`,
    `- Errors: **${verdict.errors}** (target: 0).`,
    `- Verdict: **${verdict.pass ? "PASS" : "FAIL"}**.`,
  ].join("\n");
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function sum(samples: SoakSample[], pick: (s: SoakSample) => number): number {
  let total = 0;
  for (const sample of samples) total += pick(sample);
  return total;
}
