/**
 * Starts and stops the soak test's server child (`_soak_server.ts`), as `_server_process.ts`
 * does for one-port servers: the child's ports are read from the first line of its stdout (one
 * JSON object here, three ports), its stdin is a pipe that closes when this process ends (so the
 * child never outlives the test, even when the test is killed), and `stop()` ends it for sure
 * (stdin closed, SIGTERM, then SIGKILL).
 *
 * @module
 */

import type { SoakPorts } from "./_soak_server.ts";
import { startChild } from "./_server_process.ts";

/** Options of {@linkcode startSoakServer}. */
export interface StartSoakServerOptions {
  /**
   * Echo workers of the child (`--echo-workers`); undefined keeps the echo server's default.
   *
   * @default {undefined}
   */
  echoWorkers?: number;
  /**
   * I/O loops of each of the child's servers (`--loops`).
   *
   * @default {1}
   */
  loops?: number;
  /**
   * Longest wait for the ports line, in milliseconds; the child is killed past it.
   *
   * @default {30000}
   */
  timeoutMs?: number;
}

/** The running server child. */
export interface SoakServerProcess {
  /** Its process id, to read its RSS, descriptors and CPU time in `/proc`. */
  readonly pid: number;
  /** Its three ports, on 127.0.0.1. */
  readonly ports: SoakPorts;
  /** What it wrote on stderr so far (the first 16 KiB): errors its servers reported. */
  stderr(): string;
  /** Whether it is still running. */
  readonly running: boolean;
  /** Ends it; resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
}

const STDERR_KEPT = 16 * 1024;

/**
 * Starts the server child and waits for its ports.
 *
 * @param options Echo workers and the start's deadline.
 * @returns The running child.
 * @throws {Error} When the child exits, stays silent past the deadline, or prints something
 * else than the ports (it is killed then).
 */
export async function startSoakServer(
  options: StartSoakServerOptions = {},
): Promise<SoakServerProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const root = decodeURIComponent(new URL("../", import.meta.url).pathname);
  const args = [
    "run",
    "-A",
    "--config",
    `${root}deno.json`,
    `${root}bench/_soak_server.ts`,
    "--until-stdin-closes",
  ];
  if (options.echoWorkers !== undefined) args.push("--echo-workers", String(options.echoWorkers));
  if (options.loops !== undefined) args.push("--loops", String(options.loops));
  const started = await startChild(
    { name: "The soak server", command: Deno.execPath(), args },
    {
      cwd: root,
      timeoutMs,
      stderrKept: STDERR_KEPT,
      expected: "ports",
    },
    parsePorts,
  );
  return {
    pid: started.pid,
    ports: started.value,
    stderr: started.stderr,
    get running() {
      return started.running;
    },
    stop: started.stop,
  };
}

function parsePorts(line: string): SoakPorts | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const valid = (port: unknown) => Number.isInteger(port) && (port as number) > 0;
  if (typeof value !== "object" || value === null) return undefined;
  if (!valid(record.echo) || !valid(record.pubsub) || !valid(record.http)) return undefined;
  return {
    echo: record.echo as number,
    pubsub: record.pubsub as number,
    http: record.http as number,
  };
}
