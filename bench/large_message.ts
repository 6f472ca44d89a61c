/**
 * Large messages: for each echo server, one connection streams 1 MiB lines (keeping a window
 * of them in flight) and reads the echo back; reports MB/s and the ratio to raw `Deno.listen`.
 * Speedo runs with a 2 MiB line limit, so every line is framed, handled and echoed whole.
 * `raw-deno-lines` is the floor of that: raw `Deno.listen` that frames whole lines too, reads
 * into each line's own buffer and writes it whole, with nothing else
 * (`_raw_deno_line_echo.ts`).
 *
 * ```
 * deno run -A bench/large_message.ts [--seconds 3] [--rounds 3] [--window 8] [--servers ...]
 * ```
 *
 * 127.0.0.1 only; bounded in time; every child is stopped at the end.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import {
  echoServerCommand,
  loadAverage,
  nodeVersion,
  rootPath,
  SERVER_IDS,
  type ServerId,
} from "./_echo_servers.ts";
import { startServer } from "./_server_process.ts";

const LINE_BYTES = 1024 * 1024;

const args = parseArgs(Deno.args, {
  string: ["seconds", "rounds", "window", "servers", "workers"],
  default: {
    seconds: "3",
    rounds: "3",
    window: "8",
    servers: "",
    workers: String(defaultWorkerCount()),
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const window = Number(args.window);
/** The echo servers, and the floor of framing whole lines. */
const LARGE_SERVER_IDS = ["raw-deno", "raw-deno-lines", ...SERVER_IDS.slice(1)] as const;
type LargeServerId = ServerId | "raw-deno-lines";
const servers =
  (args.servers === "" ? [...LARGE_SERVER_IDS] : args.servers.split(",")) as LargeServerId[];
for (const id of servers) {
  if (!(LARGE_SERVER_IDS as readonly string[]).includes(id)) {
    throw new Error(`Unknown server "${id}"; known: ${LARGE_SERVER_IDS}`);
  }
}
if (!(seconds > 0 && seconds <= 30) || !(rounds >= 1 && rounds <= 10) || !(window >= 1)) {
  throw new RangeError("--seconds must be in (0, 30], --rounds in [1, 10], --window >= 1");
}

const line = new Uint8Array(LINE_BYTES).fill(0x61);
line[LINE_BYTES - 1] = 0x0a;

/** Streams lines for `seconds`; returns echoed bytes per second. */
async function stream(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  let sent = 0;
  let received = 0;
  let stop = false;
  const started = performance.now();
  const writer = (async () => {
    while (!stop) {
      // Keep at most `window` lines in flight, so neither side buffers without bound.
      if (sent - received >= window * LINE_BYTES) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        continue;
      }
      for (let at = 0; at < LINE_BYTES;) at += await conn.write(line.subarray(at));
      sent += LINE_BYTES;
    }
  })();
  const buffer = new Uint8Array(256 * 1024);
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("The server closed the stream");
    received += n;
  }
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  conn.close();
  await writer.catch(() => {});
  return received / elapsed;
}

const node = await nodeVersion();
console.log(`# Large messages: 1 MiB lines, one connection\n`);
console.log(`- date: ${new Date().toISOString()}`);
console.log(
  `- deno: ${Deno.version.deno}; node: ${node ?? "none"}; cores: ${navigator.hardwareConcurrency}`,
);
console.log(`- ${seconds} s per run, median of ${rounds}, window of ${window} lines in flight`);
console.log(`- load average (1 min) before: ${loadAverage()}\n`);

const results = new Map<LargeServerId, number[]>();
const names = new Map<LargeServerId, string>();
for (let round = 0; round < rounds; round++) {
  for (const id of servers) {
    if (id === "node" && node === undefined) continue;
    const command = id === "raw-deno-lines"
      ? {
        name: "raw Deno.listen, whole lines (floor)",
        command: Deno.execPath(),
        args: [
          "run",
          "-A",
          "--config",
          `${rootPath}deno.json`,
          `${rootPath}bench/_raw_deno_line_echo.ts`,
          "--until-stdin-closes",
        ],
      }
      : echoServerCommand(id, Number(args.workers), ["--max-line-length", "2097152"]);
    const server = await startServer(command, { cwd: rootPath, timeoutMs: 15_000 });
    names.set(id, server.name);
    try {
      const rate = await stream(server.port);
      results.set(id, [...(results.get(id) ?? []), rate]);
      console.error(`round ${round + 1} ${server.name}: ${(rate / 1e6).toFixed(0)} MB/s`);
    } finally {
      await server.stop();
    }
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
const raw = results.has("raw-deno") ? median(results.get("raw-deno")!) : undefined;
console.log("| server | MB/s echoed | vs raw Deno |");
console.log("| --- | ---: | ---: |");
for (const [id, rates] of results) {
  const rate = median(rates);
  const ratio = raw === undefined ? "-" : `${(rate / raw).toFixed(2)}x`;
  console.log(`| ${names.get(id)} | ${(rate / 1e6).toFixed(0)} | ${ratio} |`);
}
if (node === undefined) console.log("\nNode net skipped: no node on PATH.");
console.log(`\n- load average (1 min) after: ${loadAverage()}`);
