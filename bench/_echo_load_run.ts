/**
 * One run of the echo load generator (`_echo_load_client.ts`) against a server child: C
 * connections keeping D lines outstanding, a warm-up, a measured window. Shared by the benches
 * that drive echo-framed servers (`echo_load.ts`, `work_load.ts`).
 *
 * @module
 */

import { running } from "./_bench_main.ts";
import type { EchoLoadResult } from "./_echo_load_client.ts";
import { benchPath, rootPath } from "./_echo_servers.ts";
import type { ServerProcess } from "./_server_process.ts";

/** Time a run may take beyond its warm-up and window: connecting, closing, process start. */
const RUN_SLACK_SECONDS = 20;

/** The shape of one run. */
export interface EchoLoadRun {
  connections: number;
  depth: number;
  warmup: number;
  seconds: number;
}

/** Runs one load against one server in a generator child; never throws. */
export async function runEchoLoad(
  server: ServerProcess,
  run: EchoLoadRun,
): Promise<EchoLoadResult> {
  const failed = (error: string): EchoLoadResult => ({
    requests: 0,
    seconds: 0,
    rate: 0,
    p50: NaN,
    p99: NaN,
    serverCpu: null,
    clientCpu: null,
    error,
  });
  if (!server.running) return failed(`the server had exited. Its stderr:\n${server.stderr()}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${rootPath}deno.json`,
      benchPath("_echo_load_client.ts"),
      "--port",
      String(server.port),
      "--connections",
      String(run.connections),
      "--depth",
      String(run.depth),
      "--warmup",
      String(run.warmup),
      "--seconds",
      String(run.seconds),
      "--server-pid",
      String(server.pid),
    ],
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
  const limit = (run.warmup + run.seconds + RUN_SLACK_SECONDS) * 1000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    handle.stop();
  }, limit);
  try {
    const { stdout, stderr } = await child.output();
    const text = new TextDecoder().decode(stdout).trim();
    if (timedOut) return failed(`the load generator ran past ${limit / 1000} s and was killed`);
    let result: EchoLoadResult;
    try {
      result = JSON.parse(text.split("\n").at(-1) ?? "");
    } catch {
      return failed(
        `the load generator printed no result. Its stderr:\n${
          new TextDecoder().decode(stderr).slice(0, 2000)
        }`,
      );
    }
    // JSON turns NaN into null.
    result.p50 = result.p50 ?? NaN;
    result.p99 = result.p99 ?? NaN;
    return result;
  } finally {
    clearTimeout(timer);
    running.delete(handle);
  }
}
