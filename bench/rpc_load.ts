/**
 * RPC and sessions under load: Speedo RPC round trips per second (inline and with workers)
 * next to a raw `Deno.listen` echo carrying the same 32 bytes each way, at 1 and 50
 * concurrent callers on one connection; then persistent-session round trips per second under
 * each fsync policy.
 *
 * ```
 * deno run -A bench/rpc_load.ts [--seconds 3] [--warmup 1] [--rounds 3] [--quick]
 *   [--workers N] [--callers 1,50] [--servers raw-deno,rpc-inline,rpc-workers,rpc-workers-ordered]
 *   [--pin none|split|shared] [--fsync never,100,always] [--session-seconds 3]
 * ```
 *
 * Every server is its own child process on 127.0.0.1, port 0 (started and stopped with
 * `_server_process.ts`, watching its stdin), and so is the load generator of each run
 * (`_rpc_load_client.ts`, `_rpc_session_client.ts`). Rounds are interleaved and the median is
 * reported. Session files go to a temporary directory, removed at the end. The whole run is
 * bounded in time; every child is stopped at the end, on error, and on SIGINT/SIGTERM. The
 * exit code is 0 when every run produced a result.
 *
 * What makes the rows comparable. Every RPC row and its raw baseline have the same shape: one
 * connection, C requests outstanding on it (C callers each waiting for its reply before the
 * next call, or the raw loop sending as many new requests as it read replies, in one write),
 * 32 bytes each way per round trip (a 16-byte RPC header pair and a 16-byte body; the raw echo
 * carries 32 bytes too), Nagle off on both ends, and the same clock: the raw loop reads the
 * time once per read for all the replies in it, the RPC callers once per turn for all the
 * callers that run in it (a reading per call would charge the RPC side alone ~80 ns per call).
 * Three rows per server and load:
 *
 * - `raw Deno.listen echo`: the raw loop against a bare read-write echo; the ceiling.
 * - `pipelined frames (no RpcClient)`: the same raw loop, sending pre-encoded RPC requests to
 *   the Speedo RPC server: the server's cost alone, against the same client as the ceiling.
 * - `RpcClient`: C callers on one `RpcClient`: the server's cost plus the client's per-call
 *   work (a promise, the table of pending calls by id, a copy of each reply's body).
 *
 * With one connection and C outstanding, a run is a ping-pong of one batch of C requests: the
 * rate is C divided by the batch's round trip, which is both sides' work plus two wake-ups of
 * a sleeping process. Neither side saturates a core, and on a small VM a wake-up across cores
 * costs tens of microseconds (more than 50 RPCs' work), while one on the same core costs a
 * context switch: where the scheduler puts the two processes can change a rate fivefold, from
 * one run to the next when other load comes and goes. `--pin` fixes the placement, the same
 * for every row: `split` runs servers on CPU 0 and generators on CPU 1 (the wake-up latency
 * dominates), `shared` runs both on CPU 0 (the CPU cost per round trip dominates); `none`
 * (the default) leaves it to the scheduler. Pinning uses `taskset`; the workers of
 * `rpc-workers` share their server's CPUs.
 *
 * @module
 */

import { runBench, running, stopAll } from "./_bench_main.ts";
import { readSettings } from "./_bench_common.ts";
import { parseArgs } from "@std/cli/parse-args";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import type { EchoLoadResult } from "./_echo_load_client.ts";
import { loadAverage } from "./_echo_servers.ts";
import { type ServerCommand, type ServerProcess, startServer } from "./_server_process.ts";

const USAGE = `Usage: deno run -A bench/rpc_load.ts [options]

  --seconds N          measured seconds per RPC run (default 3; 1 with --quick)
  --warmup N           unmeasured seconds before each window (default 1; 0.5 with --quick)
  --rounds N           rounds of RPC runs, the median is reported (default 3; 1 with --quick)
  --quick              a smoke run: 1 s, 1 round
  --workers N          workers of the "rpc-workers" server (default: cores - 1, at least 1)
  --callers LIST       comma-separated concurrent callers (default 1,50)
  --servers LIST       raw-deno,rpc-inline,rpc-workers (the default), rpc-workers-ordered
                       (workers with concurrency 1: requests of a connection one at a time)
  --pin MODE           none (default), split (servers on CPU 0, generators on CPU 1) or
                       shared (both on CPU 0), with taskset
  --fsync LIST         session fsync policies: never, always, or milliseconds (default never,100,always)
  --session-seconds N  measured seconds per session run (default 3; 1 with --quick)`;

const SERVER_START_TIMEOUT_MS = 15_000;
const RUN_SLACK_SECONDS = 20;

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);
const benchPath = (file: string): string => `${rootPath}bench/${file}`;

const SERVER_IDS = ["raw-deno", "rpc-inline", "rpc-workers", "rpc-workers-ordered"] as const;
/** What runs without --servers: `rpc-workers-ordered` (concurrency 1) is there to compare. */
const DEFAULT_SERVERS = ["raw-deno", "rpc-inline", "rpc-workers"] as const;
/** Load shapes: the RpcClient's callers, or pre-encoded frames pipelined (server cost alone). */
type Target = "raw" | "raw-calls" | "rpc" | "rpc-pipelined";
type ServerId = typeof SERVER_IDS[number];
const PIN_MODES = ["none", "split", "shared"] as const;
type PinMode = typeof PIN_MODES[number];

interface Settings {
  seconds: number;
  warmup: number;
  rounds: number;
  workers: number;
  callers: number[];
  servers: ServerId[];
  pin: PinMode;
  fsync: string[];
  sessionSeconds: number;
}

function parseSettings(argv: string[]): Settings | undefined {
  const args = parseArgs(argv, {
    string: [
      "seconds",
      "warmup",
      "rounds",
      "workers",
      "callers",
      "servers",
      "pin",
      "fsync",
      "session-seconds",
    ],
    boolean: ["quick", "help"],
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
  const servers = (args.servers?.split(",") ?? [...DEFAULT_SERVERS]) as ServerId[];
  for (const id of servers) {
    if (!SERVER_IDS.includes(id)) {
      throw new RangeError(`--servers: unknown server "${id}"; known: ${SERVER_IDS.join(",")}`);
    }
  }
  const pin = (args.pin ?? "none") as PinMode;
  if (!PIN_MODES.includes(pin)) {
    throw new RangeError(`--pin must be one of ${PIN_MODES.join(", ")}, got "${args.pin}"`);
  }
  const callers: number[] = (args.callers ?? "1,50").split(",").map((c: string) => Number(c));
  if (callers.some((c: number) => !Number.isInteger(c) || c < 1)) {
    throw new RangeError(`--callers must be positive integers, got "${args.callers}"`);
  }
  const fsync = (args.fsync ?? "never,100,always").split(",");
  for (const policy of fsync) {
    if (
      policy !== "never" && policy !== "always" &&
      !(Number.isInteger(Number(policy)) && Number(policy) >= 1)
    ) {
      throw new RangeError(`--fsync: "${policy}" is not never, always or a number of milliseconds`);
    }
  }
  return {
    seconds: number("seconds", args.quick ? 1 : 3, 0.1),
    warmup: number("warmup", args.quick ? 0.5 : 1, 0),
    rounds: Math.floor(number("rounds", args.quick ? 1 : 3, 1)),
    workers: Math.floor(number("workers", defaultWorkerCount(), 1)),
    callers,
    servers,
    pin,
    fsync,
    sessionSeconds: number("session-seconds", args.quick ? 1 : 3, 0.1),
  };
}

function deno(script: string, ...args: string[]): string[] {
  return ["run", "-A", "--config", `${rootPath}deno.json`, benchPath(script), ...args];
}

/** The CPUs of the servers and of the generators under a pin mode (`undefined`: any). */
interface Placement {
  readonly server: string | undefined;
  readonly client: string | undefined;
}

function placementOf(pin: PinMode): Placement {
  if (pin === "none") return { server: undefined, client: undefined };
  if (pin === "split" && navigator.hardwareConcurrency < 2) {
    throw new RangeError("--pin split needs at least 2 CPUs");
  }
  try {
    new Deno.Command("taskset", { args: ["-c", "0", "true"], stdout: "null", stderr: "null" })
      .outputSync();
  } catch (error) {
    throw new Error(`--pin ${pin} needs taskset: ${(error as Error).message}`);
  }
  return pin === "split" ? { server: "0", client: "1" } : { server: "0", client: "0" };
}

/** A Deno command, run on `cpu` through taskset (which execs it: the pid stays Deno's). */
function denoCommand(cpu: string | undefined, args: string[]): { command: string; args: string[] } {
  return cpu === undefined
    ? { command: Deno.execPath(), args }
    : { command: "taskset", args: ["-c", cpu, Deno.execPath(), ...args] };
}

function serverCommand(id: ServerId, workers: number, cpu: string | undefined): ServerCommand {
  switch (id) {
    case "raw-deno":
      return {
        name: "raw Deno.listen echo",
        ...denoCommand(cpu, deno("_raw_deno_echo.ts", "--until-stdin-closes")),
      };
    case "rpc-inline":
      return {
        name: "Speedo RPC inline",
        ...denoCommand(cpu, deno("_rpc_server.ts", "--workers", "0", "--until-stdin-closes")),
      };
    case "rpc-workers":
      return {
        name: `Speedo RPC ${workers} workers`,
        ...denoCommand(
          cpu,
          deno("_rpc_server.ts", "--workers", String(workers), "--until-stdin-closes"),
        ),
      };
    case "rpc-workers-ordered":
      return {
        name: `Speedo RPC ${workers} workers, concurrency 1`,
        ...denoCommand(
          cpu,
          deno(
            "_rpc_server.ts",
            "--workers",
            String(workers),
            "--concurrency",
            "1",
            "--until-stdin-closes",
          ),
        ),
      };
  }
}

/** Runs a generator child to its JSON line; never throws. */
async function runChild<T>(
  args: string[],
  limitSeconds: number,
  cpu?: string,
): Promise<T | { error: string }> {
  const command = denoCommand(cpu, args);
  const child = new Deno.Command(command.command, {
    args: command.args,
    cwd: rootPath,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const handle = {
    stop: () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      return Promise.resolve();
    },
  };
  running.add(handle);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    handle.stop();
  }, limitSeconds * 1000);
  try {
    const { stdout, stderr } = await child.output();
    if (timedOut) return { error: `the generator ran past ${limitSeconds} s and was killed` };
    try {
      return JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "");
    } catch {
      return { error: `no result; stderr: ${new TextDecoder().decode(stderr).slice(0, 2000)}` };
    }
  } finally {
    clearTimeout(timer);
    running.delete(handle);
  }
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fixed = (value: number, digits: number, suffix = ""): string =>
  Number.isFinite(value) ? `${value.toFixed(digits)}${suffix}` : "-";

interface Row {
  server: ServerId;
  target: Target;
  name: string;
  callers: number;
  results: EchoLoadResult[];
}

function targetsOf(id: ServerId): Target[] {
  return id === "raw-deno" ? ["raw", "raw-calls"] : ["rpc", "rpc-pipelined"];
}

function rowName(server: ServerProcess, target: Target): string {
  return target === "rpc-pipelined"
    ? `${server.name}, pipelined frames (no RpcClient)`
    : target === "raw-calls"
    ? `${server.name}, a promise per call (floor of a call API)`
    : target === "rpc"
    ? `${server.name}, RpcClient`
    : server.name;
}

function rpcTable(rows: Row[]): string {
  const lines = [
    "| server | callers | round trips/s | p50 (ms) | p99 (ms) | vs raw Deno echo | spread | server CPU | client CPU |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rate = (row: Row) => median(row.results.map((r) => r.rate));
  for (const row of rows) {
    const value = rate(row);
    const baseline = rows.find((r) => r.target === "raw" && r.callers === row.callers);
    const rates = row.results.map((r) => r.rate);
    const spread = rates.length > 1 ? (Math.max(...rates) - Math.min(...rates)) / value * 100 : NaN;
    const cpu = (pick: (r: EchoLoadResult) => number | null) =>
      fixed(median(row.results.map((r) => pick(r) ?? NaN)), 2);
    lines.push(
      `| ${row.name} | ${row.callers} | ${
        Number.isFinite(value) ? integer.format(value) : "failed"
      } | ${fixed(median(row.results.map((r) => r.p50 ?? NaN)), 3)} | ${
        fixed(median(row.results.map((r) => r.p99 ?? NaN)), 3)
      } | ${baseline ? fixed(value / rate(baseline), 2, "x") : "-"} | ${fixed(spread, 0, "%")} | ${
        cpu((r) => r.serverCpu)
      } | ${cpu((r) => r.clientCpu)} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const settings = readSettings(parseSettings, USAGE);
  if (typeof settings === "number") return settings;
  let placement: Placement;
  try {
    placement = placementOf(settings.pin);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const rpcRuns = settings.servers.reduce((sum, id) => sum + targetsOf(id).length, 0) *
    settings.callers.length * settings.rounds;
  const budget = rpcRuns * (settings.warmup + settings.seconds + 1) +
    settings.fsync.length * 2 * (settings.warmup + settings.sessionSeconds + 3) + 60;
  const deadline = performance.now() + budget * 1000;
  const notes: string[] = [];
  let failures = 0;

  console.log("# Speedo RPC and session load");
  console.log("");
  console.log(
    `- date: ${
      new Date().toISOString()
    }; deno ${Deno.version.deno}; cores: ${navigator.hardwareConcurrency}`,
  );
  console.log(
    `- RPC: ${settings.seconds} s measured after ${settings.warmup} s warm-up, median of ${settings.rounds} round(s); one connection with C requests outstanding for every row (C callers each waiting for their reply, or the raw loop keeping C requests out); 16-byte bodies (32-byte frames each way, the raw echo carries the same 32 bytes); time read once per read (raw loop) or per turn (RPC callers)`,
  );
  console.log(
    `- placement (--pin ${settings.pin}): ${
      settings.pin === "none"
        ? "left to the scheduler"
        : `servers on CPU ${placement.server}, load generators on CPU ${placement.client}`
    }`,
  );
  console.log(`- load average (1 min) before: ${loadAverage()}`);
  console.log("");

  const servers = new Map<ServerId, ServerProcess>();
  const rows: Row[] = [];
  try {
    for (const id of settings.servers) {
      const spec = serverCommand(id, settings.workers, placement.server);
      try {
        const server = await startServer(spec, {
          cwd: rootPath,
          timeoutMs: SERVER_START_TIMEOUT_MS,
        });
        servers.set(id, server);
        running.add(server);
      } catch (error) {
        failures++;
        notes.push(`${spec.name} did not start: ${(error as Error).message}`);
      }
    }
    for (const callers of settings.callers) {
      for (const [id, server] of servers) {
        for (const target of targetsOf(id)) {
          rows.push({ server: id, target, name: rowName(server, target), callers, results: [] });
        }
      }
    }
    const total = rows.length * settings.rounds;
    let done = 0;
    outer: for (let round = 1; round <= settings.rounds; round++) {
      for (const callers of settings.callers) {
        for (const row of rows.filter((r) => r.callers === callers)) {
          const server = servers.get(row.server)!;
          if (performance.now() > deadline) {
            notes.push(
              `Stopped after ${done} of ${total} RPC runs: the time bound (${budget} s) passed.`,
            );
            failures++;
            break outer;
          }
          const result = await runChild<EchoLoadResult>(
            deno(
              "_rpc_load_client.ts",
              "--port",
              String(server.port),
              "--target",
              row.target,
              "--callers",
              String(callers),
              "--warmup",
              String(settings.warmup),
              "--seconds",
              String(settings.seconds),
              "--server-pid",
              String(server.pid),
            ),
            settings.warmup + settings.seconds + RUN_SLACK_SECONDS,
            placement.client,
          );
          done++;
          if ("error" in result && result.error !== undefined) {
            failures++;
            notes.push(`${row.name}, ${callers} callers, round ${round}: ${result.error}`);
            console.error(`[${done}/${total}] ${row.name} x${callers}: FAILED`);
          } else {
            row.results.push(result as EchoLoadResult);
            console.error(
              `[${done}/${total}] ${row.name} x${callers}: ${
                integer.format((result as EchoLoadResult).rate)
              }/s`,
            );
          }
        }
      }
    }
  } finally {
    await stopAll();
  }
  console.log(rpcTable(rows));
  console.log("");
  console.log(`- load average (1 min) after the RPC runs: ${loadAverage()}`);
  console.log("");

  // Sessions: one server child and one client child per fsync policy, fresh files each.
  const dir = await Deno.makeTempDir({ prefix: "speedo-rpc-load-" });
  const sessionRows: { policy: string; mode: string; rate: number }[] = [];
  const modes = [["streaming", []], ["one at a time", ["--one-at-a-time"]]] as const;
  try {
    for (const policy of settings.fsync) {
      for (const [mode, flags] of modes) {
        if (performance.now() > deadline) {
          notes.push(`Session run (fsync ${policy}, ${mode}) skipped: the time bound passed.`);
          failures++;
          continue;
        }
        const runDir = `${dir}/${policy}-${mode.replaceAll(" ", "-")}`;
        let server: ServerProcess | undefined;
        try {
          server = await startServer({
            name: `session server (fsync ${policy})`,
            ...denoCommand(
              placement.server,
              deno(
                "_rpc_session_server.ts",
                "--dir",
                `${runDir}/server`,
                "--fsync",
                policy,
                "--until-stdin-closes",
              ),
            ),
          }, { cwd: rootPath, timeoutMs: SERVER_START_TIMEOUT_MS });
          running.add(server);
          const result = await runChild<{ rate: number }>(
            deno(
              "_rpc_session_client.ts",
              "--port",
              String(server.port),
              "--dir",
              `${runDir}/client`,
              "--fsync",
              policy,
              "--warmup",
              String(settings.warmup),
              "--seconds",
              String(settings.sessionSeconds),
              ...flags,
            ),
            settings.warmup + settings.sessionSeconds + RUN_SLACK_SECONDS,
            placement.client,
          );
          if ("error" in result) {
            failures++;
            sessionRows.push({ policy, mode, rate: NaN });
            notes.push(`session, fsync ${policy}, ${mode}: ${result.error}`);
          } else {
            sessionRows.push({ policy, mode, rate: result.rate });
            console.error(`session fsync ${policy}, ${mode}: ${integer.format(result.rate)}/s`);
          }
        } catch (error) {
          failures++;
          notes.push(`session, fsync ${policy}, ${mode}: ${(error as Error).message}`);
        } finally {
          await server?.stop();
          if (server) running.delete(server);
        }
      }
    }
  } finally {
    await stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(
    `- sessions: ${settings.sessionSeconds} s measured after ${settings.warmup} s warm-up; one client sending 16-byte messages (streaming: as many as the window allows; one at a time: the next after the answer), the server answering each; both sides store every message under the fsync policy; files under ${
      dir.replace(/[^/]*$/, "")
    }`,
  );
  console.log("");
  console.log("| fsync | mode | session round trips/s | vs never |");
  console.log("| --- | --- | ---: | ---: |");
  for (const row of sessionRows) {
    const label = row.policy === "never" || row.policy === "always"
      ? row.policy
      : `every ${row.policy} ms`;
    const never = sessionRows.find((r) => r.policy === "never" && r.mode === row.mode)?.rate ??
      NaN;
    console.log(
      `| ${label} | ${row.mode} | ${
        Number.isFinite(row.rate) ? integer.format(row.rate) : "failed"
      } | ${fixed(row.rate / never, 2, "x")} |`,
    );
  }
  console.log("");
  for (const note of notes) console.log(`- ${note}`);
  return failures === 0 ? 0 : 1;
}

await runBench("rpc_load", main);
