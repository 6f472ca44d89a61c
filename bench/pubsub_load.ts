/**
 * Pub/sub under load: Speedo pub/sub against nats-server and Redis, in one run on one machine,
 * with the same load written here (`_pubsub_load_client.ts`): one publisher and N subscribers
 * on one subject, 100-byte payloads, over the NATS text protocol (Speedo, nats-server) or RESP
 * `PUBLISH`/`SUBSCRIBE` (Redis). It prints deliveries per second (a message reaching 10
 * subscribers is 10 deliveries) and Speedo's ratios to nats-server and Redis.
 *
 * ```
 * deno run -A bench/pubsub_load.ts [--seconds 3] [--warmup 1] [--rounds 3] [--quick]
 *   [--subscribers 1,10] [--servers speedo,nats-server,redis]
 * ```
 *
 * Each server is its own child process on 127.0.0.1 (a server missing here is skipped with a
 * note), and so is the load generator of each run, so that the server and the load each get a
 * core. Rounds are interleaved (every server at every load, then the next round) and the median
 * is reported. The CPU columns (in cores) tell which side was saturated. Every run must end
 * `complete`: each subscriber received exactly every message published. Every child is stopped
 * at the end, on error and on SIGINT/SIGTERM; they also end on their own when this process dies.
 * The exit code is 0 when every run produced a complete result.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import type { PubSubLoadResult } from "./_pubsub_load_client.ts";
import {
  type BenchServer,
  missing,
  SERVER_KINDS,
  type ServerKind,
  startBenchServer,
} from "./_pubsub_servers.ts";

const USAGE = `Usage: deno run -A bench/pubsub_load.ts [options]

  --seconds N        measured seconds per run (default 3; 1 with --quick)
  --warmup N         unmeasured seconds before each run's window (default 1; 0.5 with --quick)
  --rounds N         rounds, the median is reported (default 3; 1 with --quick)
  --quick            a smoke run: 1 s, 1 round
  --subscribers LIST comma-separated subscriber counts (default 1,10)
  --servers LIST     comma-separated: speedo,nats-server,redis (default: all)`;

/** Time a run may take beyond its warm-up and window: start, drain, close. */
const RUN_SLACK_SECONDS = 25;

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);
const decoder = new TextDecoder();

interface Settings {
  seconds: number;
  warmup: number;
  rounds: number;
  subscribers: number[];
  servers: ServerKind[];
}

function parseSettings(argv: string[]): Settings | undefined {
  const args = parseArgs(argv, {
    string: ["seconds", "warmup", "rounds", "subscribers", "servers"],
    boolean: ["quick", "help"],
  });
  if (args.help) return undefined;
  const number = (name: "seconds" | "warmup" | "rounds", fallback: number, min: number) => {
    const raw = args[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) {
      throw new RangeError(`--${name} must be a number of at least ${min}, got "${raw}"`);
    }
    return value;
  };
  const servers = (args.servers?.split(",") ?? [...SERVER_KINDS]) as ServerKind[];
  for (const kind of servers) {
    if (!SERVER_KINDS.includes(kind)) {
      throw new RangeError(`--servers: unknown server "${kind}"; known: ${SERVER_KINDS.join(",")}`);
    }
  }
  const subscribers = (args.subscribers ?? "1,10").split(",").map((text: string) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > 1000) {
      throw new RangeError(`--subscribers: "${text}" is not a count from 1 to 1000`);
    }
    return count;
  });
  return {
    seconds: number("seconds", args.quick ? 1 : 3, 0.1),
    warmup: number("warmup", args.quick ? 0.5 : 1, 0),
    rounds: Math.floor(number("rounds", args.quick ? 1 : 3, 1)),
    subscribers,
    servers,
  };
}

/** Runs one load in a child process, bounded in time. */
async function runLoad(
  server: BenchServer,
  subscribers: number,
  settings: Settings,
): Promise<PubSubLoadResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${rootPath}deno.json`,
      `${rootPath}bench/_pubsub_load_client.ts`,
      "--protocol",
      server.protocol,
      "--port",
      String(server.port),
      "--subscribers",
      String(subscribers),
      "--seconds",
      String(settings.seconds),
      "--warmup",
      String(settings.warmup),
      ...(server.pid === undefined ? [] : ["--server-pid", String(server.pid)]),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const limit = (settings.warmup + settings.seconds + RUN_SLACK_SECONDS) * 1000;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }, limit);
  try {
    const { code, stdout, stderr } = await child.output();
    if (code !== 0) {
      throw new Error(
        `The load against ${server.label} failed (exit ${code}): ${
          decoder.decode(stderr).slice(-800)
        }`,
      );
    }
    return JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1)!) as PubSubLoadResult;
  } finally {
    clearTimeout(timer);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "?";
  }
}

function machineInfo(): string[] {
  const cpu = /model name\s*:\s*(.*)/.exec(readText("/proc/cpuinfo"))?.[1] ?? "?";
  const memory = Deno.systemMemoryInfo();
  return [
    `machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${
      (memory.total / 2 ** 30).toFixed(1)
    } GiB RAM, Linux ${Deno.osRelease()}`,
    `deno: ${Deno.version.deno} (V8 ${Deno.version.v8})`,
  ];
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

async function main(): Promise<number> {
  let settings: Settings | undefined;
  try {
    settings = parseSettings(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    console.error(USAGE);
    return 2;
  }
  if (settings === undefined) {
    console.log(USAGE);
    return 0;
  }

  console.log("# Speedo pub/sub load: 1 publisher, N subscribers, 100-byte payloads, one subject");
  for (const line of machineInfo()) console.log(line);
  console.log(`loadavg before: ${readText("/proc/loadavg")}`);

  const servers: BenchServer[] = [];
  const notes: string[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error("Interrupted: stopping the servers");
    Promise.all(servers.map((server) => server.stop())).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let failures = 0;
  try {
    for (const kind of settings.servers) {
      const why = missing(kind);
      if (why !== undefined) {
        notes.push(`${kind} skipped: ${why}`);
        continue;
      }
      try {
        servers.push(await startBenchServer(kind));
      } catch (error) {
        failures++;
        notes.push(`${kind} skipped: it did not start: ${(error as Error).message}`);
      }
    }
    for (const server of servers) {
      console.log(`server: ${server.label} on 127.0.0.1:${server.port}`);
    }
    const runs = settings.rounds * settings.subscribers.length * servers.length;
    console.log(
      `runs: ${runs} (${settings.rounds} rounds x ${settings.subscribers.length} loads x ${servers.length} servers), ${settings.warmup} s warm-up + ${settings.seconds} s each; about ${
        Math.ceil(runs * (settings.warmup + settings.seconds + 1.5))
      } s`,
    );

    const results = new Map<string, PubSubLoadResult[]>();
    for (let round = 0; round < settings.rounds && !interrupted; round++) {
      for (const subscribers of settings.subscribers) {
        for (const server of servers) {
          if (interrupted) break;
          const key = `${server.kind}/${subscribers}`;
          try {
            const result = await runLoad(server, subscribers, settings);
            if (!result.complete) {
              failures++;
              notes.push(`${key} round ${round + 1}: not every message reached every subscriber`);
            }
            results.set(key, [...(results.get(key) ?? []), result]);
            console.error(
              `  round ${round + 1}: ${server.kind} x${subscribers}: ${
                Math.round(result.rate)
              } deliveries/s`,
            );
          } catch (error) {
            failures++;
            notes.push(`${key} round ${round + 1}: ${(error as Error).message}`);
          }
        }
      }
    }

    console.log("");
    const header = [
      pad("subscribers", 11),
      pad("server", 34),
      pad("deliveries/s", 13, true),
      pad("vs nats-server", 15, true),
      pad("vs Redis", 9, true),
      pad("server CPU", 11, true),
      pad("load CPU", 9, true),
    ].join("  ");
    console.log(header);
    console.log("-".repeat(header.length));
    for (const subscribers of settings.subscribers) {
      const rate = (kind: ServerKind) => {
        const list = results.get(`${kind}/${subscribers}`);
        return list === undefined ? undefined : median(list.map((result) => result.rate));
      };
      for (const server of servers) {
        const list = results.get(`${server.kind}/${subscribers}`) ?? [];
        const own = rate(server.kind);
        const ratio = (other: ServerKind) => {
          const base = rate(other);
          return own === undefined || base === undefined ? "-" : `${(own / base).toFixed(2)}x`;
        };
        const cpu = (pick: (result: PubSubLoadResult) => number | undefined) => {
          const values = list.map(pick).filter((value): value is number => value !== undefined);
          return values.length === 0 ? "-" : median(values).toFixed(2);
        };
        console.log([
          pad(String(subscribers), 11),
          pad(server.label, 34),
          pad(own === undefined ? "-" : Math.round(own).toLocaleString("en-US"), 13, true),
          pad(ratio("nats-server"), 15, true),
          pad(ratio("redis"), 9, true),
          pad(cpu((result) => result.serverCpu), 11, true),
          pad(cpu((result) => result.clientCpu), 9, true),
        ].join("  "));
      }
    }
    console.log("");
    console.log(
      `(median of ${settings.rounds} rounds of ${settings.seconds} s; CPU in cores over the window)`,
    );
    for (const note of notes) console.log(`note: ${note}`);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    console.log(`loadavg after: ${readText("/proc/loadavg")}`);
  }
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
