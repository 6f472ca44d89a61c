/**
 * CPU-bound work under load: what workers buy when each message costs real CPU. The echo
 * protocol with a handler that spends about `--work-us` microseconds hashing each line
 * (`_work_handler.ts`) runs inline, on 1 worker and on 2 workers, in one run on one machine,
 * and each reports its messages per second as a ratio to inline.
 *
 * ```
 * deno task bench:work [--seconds 3] [--warmup 1] [--rounds 3] [--connections 50] [--work-us 50]
 * ```
 *
 * The hashing rounds that make `--work-us` are calibrated once, here, at the start (printed),
 * and given to every server as its handler's startup data, so that all do the same work per
 * message. Every server is its own child process on 127.0.0.1, port 0, and so is the load
 * generator of each run (`_echo_load_client.ts`, each connection keeping one line
 * outstanding). Rounds are interleaved (every server, then the next round) and the median of
 * the rounds is reported. Everything is bounded in time; every child is stopped at the end, on
 * error, and on SIGINT/SIGTERM. The exit code is 0 when every run produced a result.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { runBench, running, stopAll } from "./_bench_main.ts";
import type { EchoLoadResult } from "./_echo_load_client.ts";
import { benchPath, loadAverage, rootPath } from "./_echo_servers.ts";
import { type ServerProcess, startServer } from "./_server_process.ts";
import workHandler from "./_work_handler.ts";
import { runEchoLoad } from "./_echo_load_run.ts";

const USAGE = `Usage: deno task bench:work [options]

  --seconds N      measured seconds per run (default 3)
  --warmup N       unmeasured seconds before each run's window (default 1)
  --rounds N       rounds, the median is reported (default 3)
  --connections N  connections, each keeping one 16-byte line outstanding (default 50)
  --work-us N      CPU per message, in microseconds (default 50)`;

/** The servers compared, by worker count: 0 is inline. */
const SERVERS = [
  { name: "inline", workers: 0 },
  { name: "1 worker", workers: 1 },
  { name: "2 workers", workers: 2 },
] as const;
const SERVER_START_TIMEOUT_MS = 15_000;
const LINE = new TextEncoder().encode("0123456789abcde\n");

interface Settings {
  seconds: number;
  warmup: number;
  rounds: number;
  connections: number;
  workUs: number;
}

function parseSettings(argv: string[]): Settings | undefined {
  const args = parseArgs(argv, {
    string: ["seconds", "warmup", "rounds", "connections", "work-us"],
    boolean: ["help"],
    unknown: (flag: string) => {
      throw new RangeError(`Unknown option ${flag}`);
    },
  });
  if (args.help) return undefined;
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = (args as Record<string, unknown>)[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new RangeError(`--${name} must be a number from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
  return {
    seconds: number("seconds", 3, 0.1, 600),
    warmup: number("warmup", 1, 0, 60),
    rounds: Math.floor(number("rounds", 3, 1, 50)),
    connections: Math.floor(number("connections", 50, 1, 10_000)),
    workUs: number("work-us", 50, 1, 100_000),
  };
}

/**
 * The hashing rounds that make the handler spend `us` microseconds on a 16-byte line, timed
 * here through the handler itself, one message per call, on a view of a larger buffer (as a
 * server's payloads are).
 */
async function calibrate(us: number): Promise<{ rounds: number; measuredUs: number }> {
  const readBuffer = new Uint8Array(64 * 1024);
  const messages = Array.from({ length: 64 }, (_, i) => {
    readBuffer.set(LINE, i * 256);
    return { connectionId: 1, type: 0, payload: readBuffer.subarray(i * 256, i * 256 + 16) };
  });
  const handle = { id: 1, open: true, write: () => true, close: () => true };
  const context = { workerIndex: -1, handle: () => handle };
  const time = async (rounds: number, count: number): Promise<number> => {
    await workHandler.init!({ rounds }, context);
    const started = performance.now();
    for (let i = 0; i < count; i++) workHandler.onMessage(messages[i & 63], handle, context);
    return (performance.now() - started) * 1000 / count;
  };
  await time(100, 5000); // warm the JIT up
  let rounds = 16;
  // Grow until a message takes a measurable share of the target, then scale to it.
  while (await time(rounds, 200) < us / 4) rounds *= 2;
  for (let pass = 0; pass < 3; pass++) {
    const measured = median([
      await time(rounds, 500),
      await time(rounds, 500),
      await time(rounds, 500),
    ]);
    rounds = Math.max(1, Math.round(rounds * us / measured));
  }
  const measuredUs = median([
    await time(rounds, 1000),
    await time(rounds, 1000),
    await time(rounds, 1000),
  ]);
  return { rounds, measuredUs };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function fixed(value: number, digits: number, suffix = ""): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}${suffix}` : "-";
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

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
  const calibration = await calibrate(settings.workUs);
  console.log("# Speedo work load");
  console.log("");
  console.log(`- date: ${new Date().toISOString()}`);
  console.log(`- deno: ${Deno.version.deno}`);
  console.log(`- navigator.hardwareConcurrency: ${navigator.hardwareConcurrency}`);
  console.log(
    `- calibration: ${calibration.rounds} FNV-1a rounds over a 16-byte line = ${
      calibration.measuredUs.toFixed(1)
    } us per message on this thread (asked ${settings.workUs} us)`,
  );
  console.log(
    `- runs: ${settings.seconds} s measured after ${settings.warmup} s warm-up, median of ${settings.rounds} round(s), ${settings.connections} connections x 1 line outstanding, 127.0.0.1`,
  );
  console.log(`- load average (1 min) before: ${loadAverage()}`);
  console.log("");

  const budget = settings.rounds * SERVERS.length * (settings.warmup + settings.seconds + 2) + 60;
  const deadline = performance.now() + budget * 1000;
  const servers: ServerProcess[] = [];
  const results = new Map<string, EchoLoadResult[]>();
  const notes: string[] = [];
  let failures = 0;
  try {
    for (const { name, workers } of SERVERS) {
      try {
        const server = await startServer({
          name,
          command: Deno.execPath(),
          args: [
            "run",
            "-A",
            "--config",
            `${rootPath}deno.json`,
            benchPath("_work_server.ts"),
            "--workers",
            String(workers),
            "--rounds",
            String(calibration.rounds),
            "--until-stdin-closes",
          ],
        }, { cwd: rootPath, timeoutMs: SERVER_START_TIMEOUT_MS });
        servers.push(server);
        running.add(server);
        results.set(name, []);
      } catch (error) {
        failures++;
        notes.push(`${name} did not start: ${(error as Error).message}`);
      }
    }
    const total = servers.length * settings.rounds;
    let done = 0;
    outer: for (let round = 1; round <= settings.rounds; round++) {
      for (const server of servers) {
        if (performance.now() > deadline) {
          notes.push(
            `Stopped after ${done} of ${total} runs: the time bound (${budget} s) passed.`,
          );
          failures++;
          break outer;
        }
        const result = await runEchoLoad(server, {
          connections: settings.connections,
          depth: 1,
          warmup: settings.warmup,
          seconds: settings.seconds,
        });
        done++;
        if (result.error !== undefined) {
          failures++;
          notes.push(`${server.name}, round ${round}: ${result.error}`);
          console.error(`[${done}/${total}] round ${round} ${server.name}: FAILED`);
        } else {
          results.get(server.name)!.push(result);
          console.error(
            `[${done}/${total}] round ${round} ${server.name}: ${
              integer.format(result.rate)
            } msgs/s`,
          );
        }
      }
    }
  } finally {
    await stopAll();
  }

  const rate = (name: string) => median((results.get(name) ?? []).map((r) => r.rate));
  const inline = rate("inline");
  console.log(
    "| server | msgs/s | vs inline | msgs/s spread | p50 (ms) | p99 (ms) | server CPU | client CPU |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const { name } of SERVERS) {
    const runs = results.get(name) ?? [];
    const rates = runs.map((r) => r.rate);
    const median_ = rate(name);
    const spread = rates.length > 1
      ? (Math.max(...rates) - Math.min(...rates)) / median_ * 100
      : NaN;
    const cpu = (values: (number | null)[]) => fixed(median(values.map((v) => v ?? NaN)), 2);
    console.log(
      `| ${name} | ${Number.isFinite(median_) ? integer.format(median_) : "failed"} | ${
        fixed(median_ / inline, 2, "x")
      } | ${fixed(spread, 0, "%")} | ${fixed(median(runs.map((r) => r.p50)), 3)} | ${
        fixed(median(runs.map((r) => r.p99)), 3)
      } | ${cpu(runs.map((r) => r.serverCpu))} | ${cpu(runs.map((r) => r.clientCpu))} |`,
    );
  }
  console.log("");
  // Workers cannot make a message cost less CPU than inline does, and the generator shares
  // the machine: at best every core is busy with inline's CPU per message (server + client).
  const inlineRuns = results.get("inline") ?? [];
  const inlineCores = median(inlineRuns.map((r) => (r.serverCpu ?? NaN) + (r.clientCpu ?? NaN)));
  const cores = navigator.hardwareConcurrency;
  if (Number.isFinite(inlineCores) && inlineCores > 0) {
    console.log(
      `- ceiling on this machine: ${cores} cores / ${
        inlineCores.toFixed(2)
      } cores per inline message stream (server + client CPU) = ${
        (cores / inlineCores).toFixed(2)
      }x inline, if workers added no CPU per message and no core ever idled.`,
    );
  }
  console.log(`- load average (1 min) after: ${loadAverage()}`);
  console.log(
    "- msgs/s spread: (max - min) / median over the rounds. server CPU, client CPU: cores busy in the measured window (1.00 = one core).",
  );
  for (const server of servers) {
    const stderr = server.stderr().trim();
    if (stderr !== "") notes.push(`${server.name} wrote on stderr:\n${stderr}`);
  }
  for (const note of notes) console.log(`- ${note}`);
  return failures === 0 ? 0 : 1;
}

await runBench("work_load", main);
