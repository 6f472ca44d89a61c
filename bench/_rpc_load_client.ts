/**
 * The load generator of `rpc_load.ts`, its own process: C callers over one connection, each
 * waiting for its reply before its next request, against the Speedo RPC echo service
 * (`--target rpc`, one `RpcClient`, replies matched by id) or against a raw echo server
 * (`--target raw`, the same 32 bytes per request and reply: a 16-byte frame header and a
 * 16-byte body, C requests kept outstanding), or against the Speedo RPC server with that same
 * pipelining loop sending pre-encoded request frames (`--target rpc-pipelined`: the server's
 * cost alone, without the `RpcClient`'s per-call work), or against the raw echo server with C
 * callers that each await a promise per request (`--target raw-calls`: requests written once per
 * turn, replies resolved in order; the least any call API that returns a promise costs, with no
 * ids, framing or copies). The loops read the clock the same way:
 * the raw loop once per read, for every reply in it; the RPC callers once per turn, shared by
 * every caller that runs in it.
 *
 * ```
 * deno run -A bench/_rpc_load_client.ts --port P --target rpc|raw|raw-calls|rpc-pipelined \
 *   --callers 50 \
 *   [--warmup 1] [--seconds 3] [--server-pid PID]
 * ```
 *
 * Prints one JSON line ({@linkcode EchoLoadResult}); exits 1 if the run failed.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { HeaderEncoder } from "../core/framing/header_encoder.ts";
import { connectRpc } from "../protocols/rpc/mod.ts";
import type { EchoLoadResult } from "./_echo_load_client.ts";
import { LatencyHistogram } from "./_latency_histogram.ts";
import { processCpuSeconds } from "./_process_cpu.ts";
import { ECHO } from "./_rpc_services.ts";

const REQUEST = 32;
const BODY = new Uint8Array(16).fill(0x61);

const args = parseArgs(Deno.args, {
  string: ["port", "target", "callers", "warmup", "seconds", "server-pid"],
  default: { target: "rpc", callers: "1", warmup: "1", seconds: "3" },
});
const port = Number(args.port);
const callers = Number(args.callers);
const warmup = Number(args.warmup);
const seconds = Number(args.seconds);
const serverPid = args["server-pid"] === undefined ? undefined : Number(args["server-pid"]);

interface Run {
  measuring: boolean;
  stopping: boolean;
  completed: number;
  readonly histogram: LatencyHistogram;
}

/** The time of the current turn, or -1 when it has not been read in this turn yet. */
let turnTime = -1;

/**
 * The time, read once per turn and shared by the callers that run in it, as the raw loop reads
 * it once per read for all the replies in it: a reading per call (~80 ns here) would charge the
 * RPC side a cost the raw side does not pay.
 */
function turnNow(): number {
  if (turnTime < 0) {
    turnTime = performance.now();
    queueMicrotask(forgetTurnTime);
  }
  return turnTime;
}

function forgetTurnTime(): void {
  turnTime = -1;
}

async function rpcLoad(run: Run): Promise<void> {
  const rpc = await connectRpc({ port, timeout: 10_000 });
  try {
    await Promise.all(Array.from({ length: callers }, async () => {
      while (!run.stopping) {
        const started = turnNow();
        const reply = await rpc.call(ECHO, BODY);
        if (reply.length !== BODY.length) throw new Error(`Bad reply of ${reply.length} bytes`);
        if (run.measuring) {
          run.completed++;
          run.histogram.record(turnNow() - started);
        }
      }
    }));
  } finally {
    await rpc.close();
  }
}

/** C callers, each awaiting a promise per raw 32-byte request; replies resolve them in order. */
async function rawCallsLoad(run: Run): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const requests = new Uint8Array(REQUEST * callers).fill(0x61);
  const waiting: (() => void)[] = [];
  let head = 0;
  let unsent = 0;
  let flushing = false;
  const flush = async () => {
    while (unsent > 0) {
      const bytes = requests.subarray(0, unsent * REQUEST);
      unsent = 0;
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    }
    flushing = false;
  };
  const call = (): Promise<void> => {
    unsent++;
    if (!flushing) {
      flushing = true;
      queueMicrotask(flush);
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const reader = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    let partial = 0;
    while (!run.stopping) {
      const count = await conn.read(buffer);
      if (count === null) throw new Error("The server closed the connection");
      const total = partial + count;
      partial = total % REQUEST;
      for (let i = Math.floor(total / REQUEST); i > 0; i--) waiting[head++]();
      if (head > 1024 && head * 2 > waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
    }
  })();
  try {
    await Promise.race([
      reader,
      Promise.all(Array.from({ length: callers }, async () => {
        while (!run.stopping) {
          const started = turnNow();
          await call();
          if (run.measuring) {
            run.completed++;
            run.histogram.record(turnNow() - started);
          }
        }
      })),
    ]);
  } finally {
    conn.close();
    await reader.catch(() => {});
  }
}

/** C request frames of the echo service, ready to write: 32 bytes each. */
function rpcRequests(): Uint8Array {
  const writer = new HeaderEncoder();
  const requests = new Uint8Array(REQUEST * callers);
  for (let i = 0; i < callers; i++) {
    const payload = new Uint8Array(24);
    payload[0] = 1; // a request
    new DataView(payload.buffer).setUint32(4, i + 1, true);
    payload.set(BODY, 8);
    writer.encodeInto(requests, i * REQUEST, ECHO, payload);
  }
  return requests;
}

async function rawLoad(run: Run, pipelinedRpc: boolean): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  try {
    const requests = pipelinedRpc ? rpcRequests() : new Uint8Array(REQUEST * callers).fill(0x61);
    const sentAt = new Float64Array(callers);
    let head = 0;
    let tail = 0;
    let partial = 0;
    sentAt.fill(performance.now());
    const writeAll = async (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    };
    await writeAll(requests);
    const buffer = new Uint8Array(64 * 1024);
    while (!run.stopping) {
      const count = await conn.read(buffer);
      if (count === null) throw new Error("The server closed the connection");
      const now = performance.now();
      const total = partial + count;
      const replies = Math.floor(total / REQUEST);
      partial = total % REQUEST;
      for (let i = 0; i < replies; i++) {
        if (run.measuring) {
          run.completed++;
          run.histogram.record(now - sentAt[head]);
        }
        head = (head + 1) % callers;
        sentAt[tail] = now;
        tail = (tail + 1) % callers;
      }
      if (replies > 0) await writeAll(requests.subarray(0, replies * REQUEST));
    }
  } finally {
    conn.close();
  }
}

async function main(): Promise<EchoLoadResult> {
  if (!Number.isInteger(port) || !(callers >= 1) || !(seconds > 0) || !(warmup >= 0)) {
    throw new RangeError(
      "Bad arguments: need --port, --callers >= 1, --seconds > 0, --warmup >= 0",
    );
  }
  const run: Run = {
    measuring: false,
    stopping: false,
    completed: 0,
    histogram: new LatencyHistogram(),
  };
  const load = args.target === "rpc"
    ? rpcLoad(run)
    : args.target === "raw-calls"
    ? rawCallsLoad(run)
    : rawLoad(run, args.target === "rpc-pipelined");
  let failure: unknown;
  load.catch((error) => {
    failure = error;
    run.stopping = true;
  });
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
  const serverBefore = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  const clientBefore = processCpuSeconds("self");
  const started = performance.now();
  run.measuring = true;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  run.measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  const serverAfter = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  const clientAfter = processCpuSeconds("self");
  run.stopping = true;
  await load.catch(() => {});
  if (failure !== undefined) throw failure;
  const cores = (before?: number, after?: number) =>
    before === undefined || after === undefined ? null : (after - before) / elapsed;
  return {
    requests: run.completed,
    seconds: elapsed,
    rate: run.completed / elapsed,
    p50: run.histogram.percentile(50),
    p99: run.histogram.percentile(99),
    serverCpu: cores(serverBefore, serverAfter),
    clientCpu: cores(clientBefore, clientAfter),
  };
}

try {
  console.log(JSON.stringify(await main()));
  Deno.exit(0);
} catch (error) {
  console.error(error);
  Deno.exit(1);
}
