/**
 * Echo under load: Speedo's echo server (inline and with workers) against a raw `Deno.listen`
 * echo and a Node `net` echo, in one run on one machine, so that Speedo's overhead reads as a
 * ratio to the raw Deno echo at the same load.
 *
 * ```
 * deno run -A bench/echo_load.ts [--seconds 3] [--warmup 1] [--rounds 3] [--quick]
 *   [--workers N] [--servers raw-deno,node,speedo-inline,speedo-workers,speedo-ring]
 *   [--loads 1x1,50x1,50x16,200x1] [--loops 1,2] [--monitor]
 * ```
 *
 * Every server is its own child process on 127.0.0.1, port 0, and so is the load generator of
 * each run (`_echo_load_client.ts`): the server and the generator each get a core of their own,
 * and this process only schedules and reports. A load `CxD` is C connections each keeping D
 * 16-byte lines outstanding. Rounds are interleaved (every server at every load, then the next
 * round) so that drift in the machine's load spreads over all servers alike, and the median of
 * the rounds is reported. The server and generator CPU columns tell which side was saturated.
 *
 * With `--monitor` (issue 20's check), every Speedo server runs twice: as it is, and as a twin
 * with a monitor in its process (`_speedo_echo.ts --monitor`) whose `/metrics` and `/varz` this
 * process scrapes once a second while each load runs (`_monitor_scrape.ts`). The twin runs
 * right after its server in every round, and a line per server gives the ratio of their medians
 * against the target (>= 0.97x).
 *
 * Every child is stopped at the end, on error, and on SIGINT/SIGTERM; the servers also exit on
 * their own when this process dies (they watch their stdin). The exit code is 0 when every run
 * produced a result.
 *
 * @module
 */

import { runBench, running, stopAll } from "./_bench_main.ts";
import { parseArgs } from "@std/cli/parse-args";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import type { EchoLoadResult } from "./_echo_load_client.ts";
import {
  echoServerCommand,
  loadAverage,
  nodeVersion,
  rootPath,
  SERVER_IDS,
  type ServerId,
} from "./_echo_servers.ts";
import { type ServerProcess, startServer } from "./_server_process.ts";
import { runEchoLoad } from "./_echo_load_run.ts";
import {
  monitorCostLine,
  scrapedWhile,
  type ScrapeTally,
  UNMONITORED_NOTE,
} from "./_monitor_scrape.ts";

const USAGE = `Usage: deno run -A bench/echo_load.ts [options]

  --seconds N     measured seconds per run (default 3; 1 with --quick)
  --warmup N      unmeasured seconds before each run's window (default 1; 0.5 with --quick)
  --rounds N      rounds, the median is reported (default 3; 1 with --quick)
  --quick         a smoke run: 1 s, 1 round
  --workers N     workers of the "Speedo workers" servers (default: cores - 1, at least 1)
  --servers LIST  comma-separated: raw-deno,node,speedo-inline,speedo-workers,speedo-ring (default: all)
  --loads LIST    comma-separated CONNECTIONSxDEPTH (default 1x1,50x1,50x16,200x1)
  --loops LIST    comma-separated I/O loop counts each Speedo server runs with (default 1);
                  with more than one, a line per load gives each count's ratio to the first
  --monitor       each Speedo server also runs with a monitor, scraped every 1 s (/metrics,
                  /varz) during its runs; a line per server gives monitored vs not`;

/** Time a child server has to print its port. */
const SERVER_START_TIMEOUT_MS = 15_000;
/** Expected cost of a run beyond its warm-up and window, for the total time bound. */
const RUN_OVERHEAD_SECONDS = 1;

interface Load {
  label: string;
  connections: number;
  depth: number;
}

interface Settings {
  seconds: number;
  warmup: number;
  rounds: number;
  workers: number;
  servers: string[];
  loads: Load[];
  loops: number[];
  monitor: boolean;
}

function parseSettings(argv: string[]): Settings | undefined {
  const args = parseArgs(argv, {
    string: ["seconds", "warmup", "rounds", "workers", "servers", "loads", "loops"],
    boolean: ["quick", "help", "monitor"],
  });
  if (args.help) return undefined;
  const number = (name: string, fallback: number, min: number): number => {
    const raw = (args as Record<string, unknown>)[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) {
      throw new RangeError(`--${name} must be a number of at least ${min}, got "${raw}"`);
    }
    return value;
  };
  const servers = args.servers === undefined ? [...SERVER_IDS] : args.servers.split(",");
  for (const id of servers) {
    if (!(SERVER_IDS as readonly string[]).includes(id)) {
      throw new RangeError(`--servers: unknown server "${id}"; known: ${SERVER_IDS.join(",")}`);
    }
  }
  const loads = (args.loads ?? "1x1,50x1,50x16,200x1").split(",").map((label: string): Load => {
    const match = /^(\d+)x(\d+)$/.exec(label);
    const connections = Number(match?.[1]);
    const depth = Number(match?.[2]);
    if (!match || connections < 1 || depth < 1) {
      throw new RangeError(`--loads: "${label}" is not CONNECTIONSxDEPTH, such as 50x16`);
    }
    return { label, connections, depth };
  });
  const loops = (args.loops ?? "1").split(",").map((raw: string) => {
    const count = Number(raw);
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new RangeError(`--loops: "${raw}" is not a loop count from 1 to 64`);
    }
    return count;
  });
  return {
    loops,
    monitor: args.monitor,
    seconds: number("seconds", args.quick ? 1 : 3, 0.1),
    warmup: number("warmup", args.quick ? 0.5 : 1, 0),
    rounds: Math.floor(number("rounds", args.quick ? 1 : 3, 1)),
    workers: Math.floor(number("workers", defaultWorkerCount(), 1)),
    servers,
    loads,
  };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function fixed(value: number, digits: number, suffix = ""): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}${suffix}` : "-";
}

interface Row {
  server: string;
  load: string;
  results: EchoLoadResult[];
  failures: string[];
}

function table(rows: Row[], baselineName: string): string {
  const lines = [
    "| server | load | req/s | p50 (ms) | p99 (ms) | vs raw Deno | req/s spread | server CPU | client CPU |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rateOf = new Map<string, number>();
  for (const row of rows) {
    rateOf.set(`${row.server}|${row.load}`, median(row.results.map((r) => r.rate)));
  }
  for (const row of rows) {
    const rates = row.results.map((r) => r.rate);
    const rate = rateOf.get(`${row.server}|${row.load}`)!;
    const baseline = rateOf.get(`${baselineName}|${row.load}`) ?? NaN;
    const spread = rates.length > 1 ? (Math.max(...rates) - Math.min(...rates)) / rate * 100 : NaN;
    const cpu = (values: (number | null)[]) => fixed(median(values.map((v) => v ?? NaN)), 2);
    const failed = row.failures.length > 0 ? ` (${row.failures.length} failed)` : "";
    lines.push(
      `| ${row.server} | ${row.load} | ${
        Number.isFinite(rate) ? integer.format(rate) : "failed"
      }${failed} | ${fixed(median(row.results.map((r) => r.p50)), 3)} | ${
        fixed(median(row.results.map((r) => r.p99)), 3)
      } | ${fixed(rate / baseline, 2, "x")} | ${fixed(spread, 0, "%")} | ${
        cpu(row.results.map((r) => r.serverCpu))
      } | ${cpu(row.results.map((r) => r.clientCpu))} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  let settings: Settings | undefined;
  try {
    settings = parseSettings(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    return 2;
  }
  if (settings === undefined) {
    console.log(USAGE);
    return 0;
  }
  const notes: string[] = [];
  const node = await nodeVersion();
  let serverIds = settings.servers as ServerId[];
  if (node === undefined && serverIds.includes("node")) {
    serverIds = serverIds.filter((id) => id !== "node");
    notes.push("Node net skipped: no `node` on PATH (Deno's own `node` shim does not count).");
  }
  if (!serverIds.includes("raw-deno")) {
    notes.push("raw Deno.listen not run: the ratio column is empty.");
  }

  const twins = settings.monitor ? 2 : 1;
  const serverCount = serverIds.reduce(
    (count, id) => count + (id.startsWith("speedo") ? settings.loops.length * twins : 1),
    0,
  );
  const runs = serverCount * settings.loads.length * settings.rounds;
  const budget = runs * (settings.warmup + settings.seconds + RUN_OVERHEAD_SECONDS) +
    serverCount * 5 + 60;
  const deadline = performance.now() + budget * 1000;

  console.log("# Speedo echo load");
  console.log("");
  console.log(`- date: ${new Date().toISOString()}`);
  console.log(`- deno: ${Deno.version.deno}; node: ${node ?? "not found"}`);
  console.log(`- navigator.hardwareConcurrency: ${navigator.hardwareConcurrency}`);
  console.log(
    `- runs: ${settings.seconds} s measured after ${settings.warmup} s warm-up, median of ${settings.rounds} round(s), 16-byte lines, load = connections x pipeline depth`,
  );
  console.log(`- load average (1 min) before: ${loadAverage()}`);
  console.log("");

  const servers = new Map<string, ServerProcess>();
  const rows: Row[] = [];
  let failures = 0;
  // A monitored twin starts right after its server, so that in each round it runs right after.
  const starts = serverIds.flatMap((id) =>
    id.startsWith("speedo")
      ? settings.loops.flatMap((loops) => [
        { id, loops, key: `${id}@${loops}`, monitored: false },
        ...(settings.monitor
          ? [{ id, loops, key: `${id}@${loops}+monitor`, monitored: true }]
          : []),
      ])
      : [{ id, loops: 1, key: id, monitored: false }]
  );
  const scrapes = new Map<string, ScrapeTally>();
  try {
    for (const { id, loops, key, monitored } of starts) {
      const spec = echoServerCommand(id, settings.workers, monitored ? ["--monitor"] : [], loops);
      if (monitored) spec.name += ", monitored";
      try {
        const server = await startServer(spec, {
          cwd: rootPath,
          timeoutMs: SERVER_START_TIMEOUT_MS,
        });
        servers.set(key, server);
        running.add(server);
      } catch (error) {
        failures++;
        notes.push(`${spec.name} did not start: ${(error as Error).message}`);
      }
    }
    for (const load of settings.loads) {
      for (const [, server] of servers) {
        rows.push({ server: server.name, load: load.label, results: [], failures: [] });
      }
    }
    const rowOf = (server: ServerProcess, load: Load) =>
      rows.find((row) => row.server === server.name && row.load === load.label)!;

    let done = 0;
    const total = servers.size * settings.loads.length * settings.rounds;
    outer: for (let round = 1; round <= settings.rounds; round++) {
      for (const load of settings.loads) {
        for (const [, server] of servers) {
          if (performance.now() > deadline) {
            notes.push(
              `Stopped after ${done} of ${total} runs: the time bound (${budget} s) passed.`,
            );
            failures++;
            break outer;
          }
          const result = await scrapedWhile(
            server.monitorPort,
            scrapes,
            server.name,
            () =>
              runEchoLoad(server, { ...load, warmup: settings.warmup, seconds: settings.seconds }),
          );
          const row = rowOf(server, load);
          done++;
          if (result.error !== undefined) {
            failures++;
            row.failures.push(result.error);
            notes.push(`${server.name} at ${load.label}, round ${round}: ${result.error}`);
            console.error(`[${done}/${total}] round ${round} ${load.label} ${server.name}: FAILED`);
          } else {
            row.results.push(result);
            console.error(
              `[${done}/${total}] round ${round} ${load.label} ${server.name}: ${
                integer.format(result.rate)
              } req/s`,
            );
          }
        }
      }
    }
  } finally {
    await stopAll();
  }

  const baselineName = servers.get("raw-deno")?.name ?? "raw Deno.listen";
  console.log(table(rows, baselineName));
  console.log("");
  if (settings.loops.length > 1) {
    const first = settings.loops[0];
    for (const id of serverIds.filter((id) => id.startsWith("speedo"))) {
      for (const loops of settings.loops.slice(1)) {
        const ratios = settings.loads.map((load) => {
          const rate = (count: number) => {
            const server = servers.get(`${id}@${count}`);
            const row = rows.find((r) => r.server === server?.name && r.load === load.label);
            return median(row?.results.map((result) => result.rate) ?? []);
          };
          return `${load.label} ${fixed(rate(loops) / rate(first), 2, "x")}`;
        });
        console.log(`- ${id}, ${loops} loops vs ${first}: ${ratios.join(", ")}`);
      }
    }
  }
  const ratesOf = (name: string | undefined, load: Load) =>
    rows.find((r) => r.server === name && r.load === load.label)?.results.map((r) => r.rate) ??
      [];
  for (const { key } of starts.filter((start) => start.monitored)) {
    const twin = servers.get(key);
    const plain = servers.get(key.slice(0, -"+monitor".length));
    if (twin === undefined || plain === undefined) continue;
    const loads = settings.loads.map((load) => ({
      load: load.label,
      without: ratesOf(plain.name, load),
      with: ratesOf(twin.name, load),
    }));
    console.log(`- ${monitorCostLine(plain.name, loads, scrapes.get(twin.name))}`);
    const failed = scrapes.get(twin.name)?.failures.length ?? 0;
    if (failed > 0) {
      failures++;
      notes.push(`${twin.name}: ${failed} scrape requests failed`);
    }
  }
  if (settings.monitor) console.log(`- ${UNMONITORED_NOTE}`);
  console.log(`- load average (1 min) after: ${loadAverage()}`);
  console.log(
    "- req/s spread: (max - min) / median over the rounds. server CPU, client CPU: cores busy in the measured window (1.00 = one core); a client near 1.00 means the load generator's core was full, so that row may be bound by the generator rather than the server.",
  );
  for (const [, server] of servers) {
    const stderr = server.stderr().trim();
    if (stderr !== "") notes.push(`${server.name} wrote on stderr:\n${stderr}`);
  }
  for (const note of notes) console.log(`- ${note}`);
  return failures === 0 ? 0 : 1;
}

await runBench("echo_load", main);
