/**
 * The load generator of `echo_load.ts`, run as its own process so that it has a core of its own
 * and cannot slow the server under test through a shared event loop.
 *
 * ```
 * deno run -A bench/_echo_load_client.ts --port P --connections 50 --depth 16 \
 *   [--warmup 1] [--seconds 3] [--server-pid PID]
 * ```
 *
 * Each connection keeps `depth` 16-byte lines outstanding: it writes `depth` lines, and each
 * time it has read back complete lines (it counts newlines) it sends as many new ones, in one
 * write. A request's latency runs from its write to the read that completes its reply. Nothing
 * is measured during the warm-up; the measured window then lasts `seconds`. The result is one
 * JSON line on stdout ({@linkcode EchoLoadResult}); the exit code is 1 if the run failed.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { LatencyHistogram } from "./_latency_histogram.ts";
import { processCpuSeconds } from "./_process_cpu.ts";

/** What one load run measured, printed as one JSON line. */
export interface EchoLoadResult {
  /** Replies (lines) received in the measured window. */
  requests: number;
  /** Length of the measured window in seconds. */
  seconds: number;
  /** Replies per second. */
  rate: number;
  /** Median latency in milliseconds. */
  p50: number;
  /** 99th percentile latency in milliseconds. */
  p99: number;
  /** CPU the server used in the window, in cores (1 = one core busy); `null` if unknown. */
  serverCpu: number | null;
  /** CPU this generator used in the window, in cores; `null` if unknown. */
  clientCpu: number | null;
  /** Why the run failed, if it did. */
  error?: string;
}

const LINE = new TextEncoder().encode("0123456789abcde\n");
const LINE_LENGTH = LINE.length;
const NEWLINE = 0x0a;
const READ_BUFFER = 64 * 1024;

/** State all connections of a run share. */
interface Run {
  measuring: boolean;
  stopping: boolean;
  completed: number;
  readonly histogram: LatencyHistogram;
  /** `writes[k]` is k lines, ready to write: no allocation per write. */
  readonly writes: Uint8Array[];
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Drives one connection until the run stops; throws on anything but a clean echo. */
async function drive(conn: Deno.TcpConn, depth: number, run: Run): Promise<void> {
  // Send times of the outstanding requests, oldest at `head`: replies come back in order.
  const sentAt = new Float64Array(depth);
  let head = 0;
  let tail = 0;
  let outstanding = depth;
  /** Bytes received of a reply line not yet complete: always 0 to 15 on a correct echo. */
  let partial = 0;
  const buffer = new Uint8Array(READ_BUFFER);
  sentAt.fill(performance.now());
  await writeAll(conn, run.writes[depth]);
  while (!run.stopping) {
    const count = await conn.read(buffer);
    if (count === null) throw new Error("The server closed a connection during the run");
    const now = performance.now();
    let lines = 0;
    for (let i = 0; i < count; i++) if (buffer[i] === NEWLINE) lines++;
    partial += count - lines * LINE_LENGTH;
    if (lines > outstanding || partial < 0 || partial >= LINE_LENGTH) {
      throw new Error(
        `The echo is out of step: ${lines} lines in ${count} bytes with ${outstanding} requests outstanding`,
      );
    }
    if (lines === 0) continue;
    if (run.measuring) {
      run.completed += lines;
      for (let i = 0; i < lines; i++) {
        run.histogram.record(now - sentAt[head]);
        head = head + 1 === depth ? 0 : head + 1;
      }
    } else {
      head = (head + lines) % depth;
    }
    outstanding -= lines;
    if (run.stopping) return;
    for (let i = 0; i < lines; i++) {
      sentAt[tail] = now;
      tail = tail + 1 === depth ? 0 : tail + 1;
    }
    outstanding += lines;
    await writeAll(conn, run.writes[lines]);
  }
}

function positiveNumber(args: Record<string, unknown>, name: string): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`--${name} must be a positive number, got "${args[name]}"`);
  }
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs one load and returns what it measured.
 *
 * @param options Where to connect and how hard to push.
 * @returns The result; `error` is set when the run failed.
 */
export async function runEchoLoad(options: {
  port: number;
  connections: number;
  depth: number;
  warmupSeconds: number;
  seconds: number;
  serverPid?: number;
}): Promise<EchoLoadResult> {
  const { connections, depth } = options;
  const run: Run = {
    measuring: false,
    stopping: false,
    completed: 0,
    histogram: new LatencyHistogram(),
    writes: [],
  };
  const all = new Uint8Array(LINE_LENGTH * depth);
  for (let i = 0; i < depth; i++) all.set(LINE, i * LINE_LENGTH);
  for (let k = 0; k <= depth; k++) run.writes.push(all.subarray(0, k * LINE_LENGTH));

  const result: EchoLoadResult = {
    requests: 0,
    seconds: 0,
    rate: 0,
    p50: NaN,
    p99: NaN,
    serverCpu: null,
    clientCpu: null,
  };
  const conns: Deno.TcpConn[] = [];
  const failure = Promise.withResolvers<void>();
  const fail = (error: unknown) => {
    if (run.stopping) return;
    result.error ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    failure.resolve();
  };
  try {
    const connecting = Array.from(
      { length: connections },
      () => Deno.connect({ hostname: "127.0.0.1", port: options.port }),
    );
    const settled = await Promise.allSettled(connecting);
    for (const outcome of settled) {
      if (outcome.status === "fulfilled") conns.push(outcome.value);
      else fail(outcome.reason);
    }
    if (result.error !== undefined) return result;
    for (const conn of conns) conn.setNoDelay(true);
    const loops = conns.map((conn) => drive(conn, depth, run).catch(fail));

    await Promise.race([sleep(options.warmupSeconds * 1000), failure.promise]);
    if (result.error !== undefined) return result;
    const serverCpuStart = options.serverPid ? processCpuSeconds(options.serverPid) : undefined;
    const clientCpuStart = processCpuSeconds("self");
    const start = performance.now();
    run.measuring = true;

    await Promise.race([sleep(options.seconds * 1000), failure.promise]);
    run.measuring = false;
    const elapsed = (performance.now() - start) / 1000;
    const serverCpuEnd = options.serverPid ? processCpuSeconds(options.serverPid) : undefined;
    const clientCpuEnd = processCpuSeconds("self");
    if (result.error !== undefined) return result;

    result.requests = run.completed;
    result.seconds = elapsed;
    result.rate = run.completed / elapsed;
    result.p50 = run.histogram.percentile(50);
    result.p99 = run.histogram.percentile(99);
    if (serverCpuStart !== undefined && serverCpuEnd !== undefined) {
      result.serverCpu = (serverCpuEnd - serverCpuStart) / elapsed;
    }
    if (clientCpuStart !== undefined && clientCpuEnd !== undefined) {
      result.clientCpu = (clientCpuEnd - clientCpuStart) / elapsed;
    }
    run.stopping = true;
    for (const conn of conns) closeQuietly(conn);
    // Closing interrupts the pending reads; the loops end at once and their errors are ignored.
    await Promise.all(loops);
    return result;
  } finally {
    run.stopping = true;
    for (const conn of conns) closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["port", "connections", "depth", "warmup", "seconds", "server-pid"],
    default: { connections: "1", depth: "1", warmup: "1", seconds: "3" },
  });
  let result: EchoLoadResult;
  try {
    result = await runEchoLoad({
      port: positiveNumber(args, "port"),
      connections: Math.floor(positiveNumber(args, "connections")),
      depth: Math.floor(positiveNumber(args, "depth")),
      warmupSeconds: Number(args.warmup) || 0,
      seconds: positiveNumber(args, "seconds"),
      serverPid: args["server-pid"] ? Number(args["server-pid"]) : undefined,
    });
  } catch (error) {
    result = {
      requests: 0,
      seconds: 0,
      rate: 0,
      p50: NaN,
      p99: NaN,
      serverCpu: null,
      clientCpu: null,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
  console.log(JSON.stringify(result));
  // Exit now: a server that does not close its side must not keep this process alive.
  Deno.exit(result.error === undefined ? 0 : 1);
}
