/**
 * Soak test: minutes of mixed load with connection churn on Speedo's echo, pub/sub and HTTP
 * servers at once, all three in one server child (`_soak_server.ts`), to see whether memory
 * and file descriptors stay flat and every answer stays right over time.
 *
 * ```
 * deno run -A bench/soak.ts [--seconds 600] [--json FILE] [--echo-workers N] [--loops N]
 * ```
 *
 * The load runs in this process, on 127.0.0.1 only, paced so that the two sides share a
 * 2-core machine without saturating it:
 *
 * - echo (`_soak_echo_load.ts`): 16 clients send pipelined batches of lines and check every
 *   echoed byte; each leaves after 50 to 500 round trips (close, half-close or abort) and
 *   reconnects;
 * - pub/sub (`_soak_pubsub_load.ts`): 2 publishers, 4 subscribers on `soak.>` and a 2-member
 *   queue group; subscribers churn; every delivery's payload, sid and order is checked;
 * - HTTP (`_soak_http_load.ts`): 8 keep-alive clients on raw sockets, pipelining GETs and
 *   POSTs, with `Connection: close` after 20 to 200 requests; every response is checked.
 *
 * Every second, the server's RSS (`VmRSS`) and open descriptors (`/proc/<pid>/fd`) are sampled,
 * with the operations and errors of that second. At the end the load stops and closes every
 * socket, the server's descriptors are polled until they are back to their count before the
 * load (or a deadline), and the server is stopped. The report (Markdown, on stdout) gives the
 * load average, a table by minute (by 10 seconds for runs under 2 minutes), and the verdict:
 * RSS flat (last minute within 10 % of the first), fds back to the start, 0 errors. Progress
 * goes to stderr. The exit code is 0 when all three hold, 1 when not, 2 on bad flags.
 * `Ctrl-C` ends the load early and still reports.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { processCpuSeconds } from "./_process_cpu.ts";
import { SoakConnection } from "./_soak_connection.ts";
import { startEchoLoad } from "./_soak_echo_load.ts";
import { startHttpLoad } from "./_soak_http_load.ts";
import type { SoakLoad } from "./_soak_load.ts";
import { loadAverages, openFds, residentBytes } from "./_soak_proc.ts";
import { startPubSubLoad } from "./_soak_pubsub_load.ts";
import {
  formatSoakTable,
  formatSoakVerdict,
  type SoakEnd,
  soakRows,
  type SoakSample,
  soakVerdict,
  windowSeconds,
} from "./_soak_report.ts";
import type { SoakPorts } from "./_soak_server.ts";
import { type SoakServerProcess, startSoakServer } from "./_soak_server_process.ts";

const USAGE = `Usage: deno run -A bench/soak.ts [options]

  --seconds N       length of the load (default 600; at most ${3600})
  --json FILE       also write the raw samples and totals to FILE
  --echo-workers N  workers of the echo server (default: its own, cores - 1)
  --loops N         I/O loops of each server (default 1)`;

/** Longest run accepted: a soak that outlives an hour belongs to a scheduled job, not a bench. */
const MAX_SECONDS = 3600;
/** Longest wait for the server's descriptors to come back after the load (linger is 2 s). */
const FDS_DEADLINE_MS = 15_000;
/** Period of the descriptor polls before and after the load. */
const POLL_MS = 100;
/** The descriptor count before the load is taken once it held this long. */
const STABLE_MS = 1000;

interface Settings {
  seconds: number;
  json: string | undefined;
  echoWorkers: number | undefined;
  loops: number;
}

function parseSettings(argv: string[]): Settings {
  const args = parseArgs(argv, {
    string: ["seconds", "json", "echo-workers", "loops"],
    boolean: ["help"],
    default: { seconds: "600" },
    unknown: (flag: string) => usage(`Unknown option "${flag}"`),
  });
  if (args.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const seconds = Number(args.seconds);
  if (!Number.isFinite(seconds) || seconds < 1) {
    usage(`--seconds must be a number of at least 1, got "${args.seconds}"`);
  }
  if (seconds > MAX_SECONDS) {
    usage(`--seconds is at most ${MAX_SECONDS} (one hour), got "${args.seconds}"`);
  }
  let echoWorkers: number | undefined;
  if (args["echo-workers"] !== undefined) {
    echoWorkers = Number(args["echo-workers"]);
    if (!Number.isInteger(echoWorkers) || echoWorkers < 0) {
      usage(`--echo-workers must be a non-negative integer, got "${args["echo-workers"]}"`);
    }
  }
  const loops = Number(args.loops ?? "1");
  if (!Number.isInteger(loops) || loops < 1 || loops > 64) {
    usage(`--loops must be an integer from 1 to 64, got "${args.loops}"`);
  }
  return { seconds, json: args.json, echoWorkers, loops };
}

function usage(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  Deno.exit(2);
}

/**
 * One exchange per protocol before the descriptors are counted: whatever a server sets up on
 * its first connection (the echo workers' channels, say) is then in the count before the load,
 * and does not pass for a leak after it.
 */
async function warmUp(ports: SoakPorts): Promise<void> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const exchange = async (port: number, send: string, until: (line: string) => boolean) => {
    const connection = await SoakConnection.open(port);
    try {
      await connection.write(encoder.encode(send));
      while (!until(decoder.decode(await connection.readLine("warming up")))) {
        // Lines before the one awaited (INFO, HTTP headers) are skipped.
      }
    } finally {
      connection.close();
    }
  };
  await exchange(ports.echo, "warm\n", (line) => line === "warm");
  await exchange(
    ports.pubsub,
    'CONNECT {"verbose":false}\r\nPING\r\n',
    (line) => line === "PONG",
  );
  await exchange(
    ports.http,
    "GET /warm HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    (line) => line === "",
  );
}

/** Polls the descriptors until they held one value for `STABLE_MS`, or the deadline. */
async function stableFds(pid: number): Promise<number> {
  const start = Date.now();
  let value = openFds(pid) ?? NaN;
  let since = Date.now();
  while (Date.now() - since < STABLE_MS && Date.now() - start < FDS_DEADLINE_MS) {
    await sleep(POLL_MS);
    const now = openFds(pid) ?? NaN;
    if (now !== value) {
      value = now;
      since = Date.now();
    }
  }
  return value;
}

/** Polls the descriptors until they are down to `target`, or the deadline. */
async function fdsBackTo(pid: number, target: number): Promise<{ fds: number; ms: number }> {
  const start = Date.now();
  let fds = openFds(pid) ?? NaN;
  while (!(fds <= target) && Date.now() - start < FDS_DEADLINE_MS) {
    await sleep(POLL_MS);
    fds = openFds(pid) ?? NaN;
  }
  return { fds, ms: Date.now() - start };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Samples the server and the loads once a second; `stop()` takes a last, partial sample. */
function startSampler(server: SoakServerProcess, loads: Record<string, SoakLoad>) {
  const samples: SoakSample[] = [];
  const started = performance.now();
  let last = started;
  const count = (pick: (load: SoakLoad) => number) =>
    Object.values(loads).reduce((total, load) => total + pick(load), 0);
  let previous = {
    echo: 0,
    pubsub: 0,
    http: 0,
    connections: 0,
    errors: 0,
    serverCpu: processCpuSeconds(server.pid) ?? 0,
    loadCpu: processCpuSeconds("self") ?? 0,
  };
  const take = () => {
    const now = performance.now();
    const current = {
      echo: loads.echo.tally.ops,
      pubsub: loads.pubsub.tally.ops,
      http: loads.http.tally.ops,
      connections: count((load) => load.tally.connections),
      errors: count((load) => load.tally.errors),
      serverCpu: processCpuSeconds(server.pid) ?? previous.serverCpu,
      loadCpu: processCpuSeconds("self") ?? previous.loadCpu,
    };
    samples.push({
      t: (now - started) / 1000,
      dt: (now - last) / 1000,
      rss: residentBytes(server.pid) ?? NaN,
      fds: openFds(server.pid) ?? NaN,
      echo: current.echo - previous.echo,
      pubsub: current.pubsub - previous.pubsub,
      http: current.http - previous.http,
      connections: current.connections - previous.connections,
      errors: current.errors - previous.errors,
      serverCpu: current.serverCpu - previous.serverCpu,
      loadCpu: current.loadCpu - previous.loadCpu,
    });
    previous = current;
    last = now;
  };
  const timer = setInterval(take, 1000);
  return {
    samples,
    stop() {
      clearInterval(timer);
      // The part second since the last tick, so that no operation or error goes uncounted.
      if (performance.now() - last > 50) take();
    },
  };
}

/**
 * Resolves after `seconds`, or at the first Ctrl-C; a Ctrl-C after that (while the load stops
 * and the descriptors are awaited) exits at once.
 */
function runFor(
  seconds: number,
  progress: (elapsed: number) => void,
): Promise<"done" | "interrupted"> {
  return new Promise((resolve) => {
    const started = Date.now();
    const every = windowSeconds(seconds) * 1000;
    const ticker = setInterval(() => progress((Date.now() - started) / 1000), every);
    let finished = false;
    const finish = (how: "done" | "interrupted") => {
      finished = true;
      clearInterval(ticker);
      clearTimeout(timer);
      resolve(how);
    };
    // One listener for the whole run: one added while a signal is dispatched would see it too.
    // The server child ends with this process anyway, as its stdin closes.
    Deno.addSignalListener("SIGINT", () => finished ? Deno.exit(130) : finish("interrupted"));
    const timer = setTimeout(() => finish("done"), seconds * 1000);
  });
}

async function main(): Promise<number> {
  const settings = parseSettings(Deno.args);
  const command = ["deno run -A bench/soak.ts", ...Deno.args].join(" ");
  const loadAtStart = loadAverages();
  const server = await startSoakServer({
    echoWorkers: settings.echoWorkers,
    loops: settings.loops,
  });
  let samples: SoakSample[];
  let end: SoakEnd;
  let loads: Record<string, SoakLoad>;
  let interrupted: boolean;
  let loadAtEnd: string;
  try {
    await warmUp(server.ports);
    const fdsBefore = await stableFds(server.pid);
    console.error(
      `soak: server pid ${server.pid}, ports ${JSON.stringify(server.ports)}, ${fdsBefore} fds ` +
        `before the load; running ${settings.seconds} s`,
    );
    loads = {
      echo: startEchoLoad(server.ports.echo),
      pubsub: startPubSubLoad(server.ports.pubsub),
      http: startHttpLoad(server.ports.http),
    };
    const sampler = startSampler(server, loads);
    const how = await runFor(settings.seconds, (elapsed) => {
      const s = sampler.samples.at(-1);
      if (s === undefined) return;
      console.error(
        `soak: ${elapsed.toFixed(0)} s, RSS ${(s.rss / 2 ** 20).toFixed(1)} MB, ${s.fds} fds, ` +
          `errors ${Object.values(loads).reduce((n, load) => n + load.tally.errors, 0)}`,
      );
    });
    interrupted = how === "interrupted";
    sampler.stop();
    samples = sampler.samples;
    await Promise.all(Object.values(loads).map((load) => load.stop()));
    const back = await fdsBackTo(server.pid, fdsBefore);
    end = {
      fdsBefore,
      fdsAfter: back.fds,
      fdsSettleMs: back.ms,
      rssAfter: residentBytes(server.pid) ?? NaN,
    };
    loadAtEnd = loadAverages();
    if (!server.running) throw new Error("The soak server exited during the run");
  } finally {
    await server.stop();
  }

  const verdict = soakVerdict(samples, end);
  const seconds = samples.at(-1)?.t ?? 0;
  const window = windowSeconds(seconds);
  const out: string[] = [];
  out.push(`# Speedo soak test\n`);
  out.push(`- Command: \`${command}\``);
  out.push(
    `- Servers (one process, pid ${server.pid}): echo ${server.ports.echo}, ` +
      `pub/sub ${server.ports.pubsub}, HTTP ${server.ports.http}`,
  );
  out.push(
    `- Ran ${seconds.toFixed(1)} s${interrupted ? " (interrupted by Ctrl-C)" : ""}, ` +
      `${samples.length} samples`,
  );
  out.push(`- Load average (1, 5, 15 min): ${loadAtStart} at the start, ${loadAtEnd} at the end`);
  out.push("");
  out.push(
    window === 60 ? "## By minute\n" : "## By 10 seconds (the run is shorter than 2 minutes)\n",
  );
  out.push(formatSoakTable(soakRows(samples, window), window));
  out.push("\n## Totals\n");
  out.push("| load | operations | connections | errors | errors by kind |");
  out.push("| --- | ---: | ---: | ---: | --- |");
  for (const load of Object.values(loads)) {
    const { tally } = load;
    const kinds = [...tally.byKind].map(([kind, n]) => `${kind} ${n}`).join(", ") || "-";
    out.push(
      `| ${tally.name} | ${tally.ops} | ${tally.connections} | ${tally.errors} | ${kinds} |`,
    );
  }
  out.push("\n## Verdict\n");
  out.push(formatSoakVerdict(verdict, end));
  const examples = Object.values(loads).flatMap((load) => load.tally.examples);
  if (examples.length > 0) {
    out.push("\n## First errors\n");
    out.push("```\n" + examples.join("\n") + "\n```");
  }
  const stderr = server.stderr().trim();
  if (stderr !== "") {
    out.push("\n## Server stderr (first 16 KiB)\n");
    out.push("```\n" + stderr + "\n```");
  }
  console.log(out.join("\n"));

  if (settings.json !== undefined) {
    const raw = {
      command,
      seconds,
      interrupted,
      ports: server.ports,
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      end,
      verdict,
      loads: Object.values(loads).map(({ tally }) => ({
        name: tally.name,
        ops: tally.ops,
        connections: tally.connections,
        errors: tally.errors,
        byKind: Object.fromEntries(tally.byKind),
        examples: tally.examples,
      })),
      serverStderr: stderr,
      samples,
    };
    await Deno.writeTextFile(settings.json, JSON.stringify(raw, null, 2) + "\n");
  }
  return verdict.pass ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
