/**
 * Memory of idle connections: for each echo server (raw `Deno.listen` with a 64 KiB buffer per
 * connection, Node `net`, Speedo inline, Speedo with workers, and `raw-deno-64`: raw
 * `Deno.listen` with a 64-byte buffer, the floor of what an idle Deno connection with a pending
 * read costs), opens N connections from this process, makes each echo one line (so the server
 * has set it up fully), waits `--settle` seconds, then reads the server's resident memory and
 * reports KB per connection.
 *
 * ```
 * deno run -A bench/idle_memory.ts [--connections 10000] [--settle 1]
 *   [--servers raw-deno,node,speedo-inline,speedo-workers,raw-deno-64]
 * ```
 *
 * V8's flags change the figures (its young generation grows to tens of MB by default): run with
 * `DENO_V8_FLAGS=--max-semi-space-size=1` to see them with a 1 MiB semi-space, in every child.
 *
 * 127.0.0.1 only; every socket and child is closed at the end.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import { deadline } from "@std/async/deadline";
import {
  echoServerCommand,
  loadAverage,
  nodeVersion,
  rootPath,
  SERVER_IDS,
  type ServerId,
} from "./_echo_servers.ts";
import { type ServerCommand, startServer } from "./_server_process.ts";

/** Raw `Deno.listen` echo with a 64-byte buffer per connection: Deno's own floor. */
const FLOOR = "raw-deno-64";

/** The command of a server of this bench. */
function serverCommand(id: ServerId | typeof FLOOR): ServerCommand {
  if (id !== FLOOR) return echoServerCommand(id, workers);
  const raw = echoServerCommand("raw-deno", 0);
  return {
    ...raw,
    name: "raw Deno.listen, 64 B buffer",
    args: [...raw.args, "--buffer-size", "64"],
  };
}

const args = parseArgs(Deno.args, {
  string: ["connections", "servers", "workers", "settle"],
  default: {
    connections: "10000",
    servers: [...SERVER_IDS, FLOOR].join(","),
    workers: String(defaultWorkerCount()),
    settle: "1",
  },
});
const count = Number(args.connections);
const workers = Number(args.workers);
const settleSeconds = Number(args.settle);
const servers = args.servers.split(",") as (ServerId | typeof FLOOR)[];
for (const id of servers) {
  if (id !== FLOOR && !SERVER_IDS.includes(id)) {
    throw new Error(`Unknown server "${id}"; known: ${SERVER_IDS},${FLOOR}`);
  }
}
if (!(settleSeconds >= 0 && settleSeconds <= 60)) {
  throw new RangeError(`--settle must be from 0 to 60 seconds, got ${args.settle}`);
}
if (!Number.isInteger(count) || count < 1 || count > 15_000) {
  throw new RangeError(`--connections must be from 1 to 15000, got ${args.connections}`);
}

/** Resident memory of a process, in KiB, from /proc. */
function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const line = new TextEncoder().encode("0123456789abcde\n");

/** Opens a connection, echoes one line through it, and keeps it open. */
async function openIdle(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  await conn.write(line);
  const buffer = new Uint8Array(line.length);
  let read = 0;
  while (read < line.length) {
    const n = await conn.read(buffer.subarray(read));
    if (n === null) throw new Error("The server closed an idle connection");
    read += n;
  }
  return conn;
}

const node = await nodeVersion();
console.log(`# Idle connections: memory per connection\n`);
console.log(`- date: ${new Date().toISOString()}`);
console.log(
  `- deno: ${Deno.version.deno}; node: ${node ?? "none"}; cores: ${navigator.hardwareConcurrency}`,
);
console.log(
  `- connections: ${count}, each echoed one 16-byte line, then left idle ${settleSeconds} s`,
);
console.log(`- DENO_V8_FLAGS: ${Deno.env.get("DENO_V8_FLAGS") ?? "(none)"}`);
console.log(`- load average (1 min) before: ${loadAverage()}\n`);
console.log("| server | RSS before (MB) | RSS with connections (MB) | KB per connection |");
console.log("| --- | ---: | ---: | ---: |");

for (const id of servers) {
  if (id === "node" && node === undefined) {
    console.log("| Node net | - | - | skipped: no node on PATH |");
    continue;
  }
  const server = await startServer(serverCommand(id), {
    cwd: rootPath,
    timeoutMs: 15_000,
  });
  const conns: Deno.TcpConn[] = [];
  try {
    const before = rssKiB(server.pid);
    // Batches keep the accept queue short and the run bounded.
    for (let opened = 0; opened < count;) {
      const batch = Math.min(500, count - opened);
      const made = await deadline(
        Promise.all(Array.from({ length: batch }, () => openIdle(server.port))),
        30_000,
      );
      conns.push(...made);
      opened += batch;
    }
    // Let the server settle (GC, freed transient buffers; Speedo trims buffers of connections
    // idle for 5 s) before reading its memory.
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    const after = rssKiB(server.pid);
    const perConnection = ((after - before) * 1024) / count / 1000;
    console.log(
      `| ${server.name} | ${(before / 1024).toFixed(1)} | ${(after / 1024).toFixed(1)} | ${
        perConnection.toFixed(1)
      } |`,
    );
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed by the server already.
      }
    }
    await server.stop();
  }
}
console.log(`\n- load average (1 min) after: ${loadAverage()}`);
