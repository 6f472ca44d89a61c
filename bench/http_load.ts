/**
 * HTTP under load: Speedo's HTTP server against `Deno.serve` and Node's `http`, in one run on
 * one machine, driven by wrk (keep-alive, a small response), so that Speedo's overhead reads as
 * ratios to both.
 *
 * ```
 * deno run -A bench/http_load.ts [--seconds 5] [--connections 50] [--rounds 1] [--warmup 1]
 *   [--servers speedo,deno-serve,node-http,floor-io,floor-objects] [--tls] [--quick]
 *   [--loops 1,2]
 * ```
 *
 * Two floors run with them (`_http_floor.ts`): `Deno.listen` servers that parse nothing and
 * answer each request head with the same response, one as fixed bytes (the reads and writes
 * alone), one through a `Request` and a `Response` built per request (the least a
 * `Request` -> `Response` API costs over `Deno.listen`). Speedo's ratio to the objects floor
 * is the cost of its parser and writer; the floor's ratio to `Deno.serve` bounds what any such
 * server can reach.
 *
 * Every server is its own child process on 127.0.0.1, port 0 (`_http_*.ts`, `_http_node.mjs`),
 * started through `_server_process.ts`; wrk (`-t1 -cN -dS --latency`) runs against each in turn,
 * after an unmeasured warm-up run. Rounds are interleaved (every server, then the next round) and
 * the median is reported. The CPU columns (from `/proc`) tell whether the server or wrk used up
 * its core. `--tls` serves every server over TLS with a throwaway certificate made by `openssl`.
 * Node is skipped when the `node` on PATH is Deno's own shim.
 *
 * The exit code is 0 when every run produced a result.
 *
 * @module
 */

import { runBench, running, stopAll } from "./_bench_main.ts";
import { parseArgs } from "@std/cli/parse-args";
import { processCpuSeconds } from "./_process_cpu.ts";
import { type ServerCommand, type ServerProcess, startServer } from "./_server_process.ts";

const USAGE = `Usage: deno run -A bench/http_load.ts [options]

  --seconds N       measured seconds per run (default 5; 2 with --quick)
  --warmup N        unmeasured seconds before each server's first run (default 1)
  --connections N   wrk connections (default 50)
  --rounds N        rounds, the median is reported (default 1)
  --servers LIST    comma-separated: speedo,deno-serve,node-http,floor-io,floor-objects
                    (default: all)
  --tls             every server over TLS (needs openssl)
  --quick           a smoke run: 2 s`;

const SERVER_IDS = ["speedo", "deno-serve", "node-http", "floor-io", "floor-objects"] as const;
type ServerId = typeof SERVER_IDS[number];

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);
const benchPath = (file: string): string => `${rootPath}bench/${file}`;

interface Settings {
  seconds: number;
  warmup: number;
  connections: number;
  rounds: number;
  servers: ServerId[];
  tls: boolean;
  /** Loop counts Speedo runs with; `undefined`: one loop, its handler a function. */
  loops: number[] | undefined;
}

interface WrkResult {
  rate: number;
  avg: number;
  p50: number;
  p99: number;
  serverCpu: number | null;
  clientCpu: number | null;
  errors: string;
}

function parseSettings(argv: string[]): Settings | undefined {
  const args = parseArgs(argv, {
    string: ["seconds", "warmup", "connections", "rounds", "servers", "loops"],
    boolean: ["quick", "help", "tls"],
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
  const servers = (args.servers?.split(",") ?? [...SERVER_IDS]) as ServerId[];
  for (const id of servers) {
    if (!(SERVER_IDS as readonly string[]).includes(id)) {
      throw new RangeError(`--servers: unknown server "${id}"; known: ${SERVER_IDS.join(",")}`);
    }
  }
  const loops = args.loops?.split(",").map((text: string) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new RangeError(`--loops: "${text}" is not a loop count from 1 to 64`);
    }
    return count;
  });
  return {
    loops,
    seconds: Math.floor(number("seconds", args.quick ? 2 : 5, 1)),
    warmup: Math.floor(number("warmup", 1, 0)),
    connections: Math.floor(number("connections", 50, 1)),
    rounds: Math.floor(number("rounds", 1, 1)),
    servers,
    tls: args.tls,
  };
}

function serverCommand(id: ServerId, tlsArgs: string[], loops?: number): ServerCommand {
  const deno = (script: string, ...args: string[]): string[] => [
    "run",
    "-A",
    "--config",
    `${rootPath}deno.json`,
    benchPath(script),
    "--until-stdin-closes",
    ...tlsArgs,
    ...args,
  ];
  switch (id) {
    case "speedo":
      return loops === undefined
        ? { name: "Speedo http", command: Deno.execPath(), args: deno("_http_speedo.ts") }
        : {
          name: `Speedo http, ${loops} loop${loops === 1 ? "" : "s"} (handler module)`,
          command: Deno.execPath(),
          args: deno("_http_speedo.ts", "--loops", String(loops)),
        };
    case "deno-serve":
      return { name: "Deno.serve", command: Deno.execPath(), args: deno("_http_deno_serve.ts") };
    case "floor-io":
      return {
        name: "floor: Deno.listen, fixed bytes",
        command: Deno.execPath(),
        args: deno("_http_floor.ts", "--mode", "io"),
      };
    case "floor-objects":
      return {
        name: "floor: Deno.listen, Request and Response",
        command: Deno.execPath(),
        args: deno("_http_floor.ts", "--mode", "objects"),
      };
    case "node-http":
      return {
        name: "Node http",
        command: "node",
        args: [benchPath("_http_node.mjs"), "--until-stdin-closes", ...tlsArgs],
      };
  }
}

/** The real Node's version, or `undefined` (none, or Deno's own `node` shim). */
async function nodeVersion(): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("node", {
      args: ["-p", 'process.versions.deno ? "deno" : process.version'],
      stdout: "piped",
      stderr: "null",
    }).output();
    const version = new TextDecoder().decode(stdout).trim();
    return success && /^v\d+\.\d+\.\d+$/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

async function wrkVersion(): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await new Deno.Command("wrk", {
      args: ["-v"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    return /wrk (\S+)/.exec(text)?.[1] ?? "unknown";
  } catch {
    return undefined;
  }
}

/** Makes a throwaway self-signed certificate for 127.0.0.1; returns the file paths. */
async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`openssl failed: ${new TextDecoder().decode(stderr)}`);
  return { cert, key };
}

/** Milliseconds of a wrk duration such as `812.00us`, `1.20ms`, `2.01s`. */
function milliseconds(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? "");
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === "us"
    ? value / 1000
    : match[2] === "ms"
    ? value
    : match[2] === "s"
    ? value * 1000
    : value * 60_000;
}

/** Runs wrk once; measures the server's CPU and wrk's over the run. */
async function runWrk(
  url: string,
  server: ServerProcess,
  seconds: number,
  connections: number,
): Promise<WrkResult> {
  const child = new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s", url],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running.add({ stop: () => Promise.resolve(kill(child)) });
  const serverBefore = processCpuSeconds(server.pid);
  const clientBefore = processCpuSeconds(child.pid);
  // Sample wrk's CPU just before it ends (a finished process's /proc entry is gone).
  let clientAfter: number | undefined;
  const sampler = setTimeout(
    () => clientAfter = processCpuSeconds(child.pid),
    Math.max(0, seconds * 1000 - 100),
  );
  const timer = setTimeout(() => kill(child), (seconds + 20) * 1000);
  const { stdout, stderr } = await child.output();
  clearTimeout(timer);
  clearTimeout(sampler);
  const serverAfter = processCpuSeconds(server.pid);
  const text = new TextDecoder().decode(stdout);
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  if (!Number.isFinite(rate)) {
    throw new Error(`wrk printed no rate:\n${text}${new TextDecoder().decode(stderr)}`);
  }
  const cpu = (before: number | undefined, after: number | undefined, span: number) =>
    before !== undefined && after !== undefined ? (after - before) / span : null;
  return {
    rate,
    avg: milliseconds(/Latency\s+(\S+)/.exec(text)?.[1]),
    p50: milliseconds(/\s50%\s+(\S+)/.exec(text)?.[1]),
    p99: milliseconds(/\s99%\s+(\S+)/.exec(text)?.[1]),
    serverCpu: cpu(serverBefore, serverAfter, seconds),
    clientCpu: cpu(clientBefore, clientAfter, seconds - 0.1),
    errors: [/Non-2xx or 3xx responses: \d+/.exec(text)?.[0], /Socket errors: .*/.exec(text)?.[0]]
      .filter(Boolean).join("; "),
  };
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Exited already.
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
  const wrk = await wrkVersion();
  if (wrk === undefined) {
    console.error("wrk is not installed: apt-get install -y wrk");
    return 1;
  }
  const notes: string[] = [];
  const node = await nodeVersion();
  let ids = settings.servers;
  if (node === undefined && ids.includes("node-http")) {
    ids = ids.filter((id) => id !== "node-http");
    notes.push("Node http skipped: no `node` on PATH (Deno's own `node` shim does not count).");
  }
  let tlsArgs: string[] = [];
  let certDir: string | undefined;
  if (settings.tls) {
    certDir = await Deno.makeTempDir({ prefix: "speedo-bench-tls-" });
    const { cert, key } = await makeCertificate(certDir);
    tlsArgs = ["--cert", cert, "--key", key];
  }
  const scheme = settings.tls ? "https" : "http";

  console.log(`# Speedo HTTP load${settings.tls ? " (TLS)" : ""}`);
  console.log("");
  console.log(`- date: ${new Date().toISOString()}`);
  console.log(`- deno: ${Deno.version.deno}; node: ${node ?? "not found"}; wrk: ${wrk}`);
  console.log(`- navigator.hardwareConcurrency: ${navigator.hardwareConcurrency}`);
  console.log(
    `- wrk -t1 -c${settings.connections} -d${settings.seconds}s --latency, keep-alive, GET / -> 200 "Hello, World!" (13 bytes); ${settings.warmup} s warm-up per server; median of ${settings.rounds} round(s)`,
  );
  console.log("");

  const servers = new Map<string, ServerProcess>();
  const results = new Map<string, WrkResult[]>();
  let failures = 0;
  const starts = ids.flatMap((id): { id: ServerId; loops: number | undefined; key: string }[] =>
    id === "speedo" && settings.loops !== undefined
      ? settings.loops.map((loops) => ({ id, loops, key: `speedo@${loops}` }))
      : [{ id, loops: undefined, key: id as string }]
  );
  try {
    for (const { id, loops, key } of starts) {
      const spec = serverCommand(id, tlsArgs, loops);
      try {
        const server = await startServer(spec, { cwd: rootPath, timeoutMs: 15_000 });
        servers.set(key, server);
        running.add(server);
        results.set(key, []);
        if (settings.warmup > 0) {
          await runWrk(
            `${scheme}://127.0.0.1:${server.port}/`,
            server,
            settings.warmup,
            settings.connections,
          );
        }
      } catch (error) {
        failures++;
        notes.push(`${spec.name} did not start: ${(error as Error).message}`);
      }
    }
    for (let round = 1; round <= settings.rounds; round++) {
      for (const [id, server] of servers) {
        try {
          const result = await runWrk(
            `${scheme}://127.0.0.1:${server.port}/`,
            server,
            settings.seconds,
            settings.connections,
          );
          results.get(id)!.push(result);
          if (result.errors !== "") notes.push(`${server.name}, round ${round}: ${result.errors}`);
          console.error(`round ${round} ${server.name}: ${integer.format(result.rate)} req/s`);
        } catch (error) {
          failures++;
          notes.push(`${server.name}, round ${round}: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    await stopAll();
    if (certDir !== undefined) await Deno.remove(certDir, { recursive: true }).catch(() => {});
  }

  const rate = (id: string) => median((results.get(id) ?? []).map((r) => r.rate));
  const denoRate = rate("deno-serve");
  const nodeRate = rate("node-http");
  const floorRate = rate("floor-objects");
  console.log(
    "| server | req/s | avg (ms) | p50 (ms) | p99 (ms) | vs Deno.serve | vs Node http | vs objects floor | server CPU | wrk CPU |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [id, server] of servers) {
    const runs = results.get(id)!;
    const value = (pick: (r: WrkResult) => number | null) =>
      median(runs.map((r) => pick(r) ?? NaN));
    const r = rate(id);
    console.log(
      `| ${server.name} | ${Number.isFinite(r) ? integer.format(r) : "failed"} | ${
        fixed(value((x) => x.avg), 3)
      } | ${fixed(value((x) => x.p50), 3)} | ${fixed(value((x) => x.p99), 3)} | ${
        fixed(r / denoRate, 2, "x")
      } | ${fixed(r / nodeRate, 2, "x")} | ${fixed(r / floorRate, 2, "x")} | ${
        fixed(value((x) => x.serverCpu), 2)
      } | ${fixed(value((x) => x.clientCpu), 2)} |`,
    );
  }
  console.log("");
  console.log(
    "- CPU columns: cores busy during the measured window (1.00 = one core). wrk near 1.00 means the load generator's core was full: that row may be bound by wrk, not the server.",
  );
  if (settings.loops !== undefined && settings.loops.length > 1) {
    const [first, ...more] = settings.loops;
    for (const loops of more) {
      console.log(
        `- Speedo http ${loops} loops vs ${first}: ${
          fixed(rate(`speedo@${loops}`) / rate(`speedo@${first}`), 2, "x")
        }`,
      );
    }
  }
  const speedo = rate(settings.loops === undefined ? "speedo" : `speedo@${settings.loops[0]}`);
  if (Number.isFinite(speedo)) {
    const targets = [
      Number.isFinite(nodeRate)
        ? `>= Node http: ${speedo >= nodeRate ? "met" : "not met"}`
        : undefined,
      Number.isFinite(denoRate)
        ? `>= 0.7x Deno.serve: ${speedo >= 0.7 * denoRate ? "met" : "not met"}`
        : undefined,
    ].filter(Boolean);
    if (targets.length > 0) console.log(`- targets: ${targets.join("; ")}`);
  }
  for (const [, server] of servers) {
    const stderr = server.stderr().trim();
    if (stderr !== "") notes.push(`${server.name} wrote on stderr:\n${stderr}`);
  }
  for (const note of notes) console.log(`- ${note}`);
  return failures === 0 ? 0 : 1;
}

await runBench("http_load", main);
