/**
 * A reference server run as a child process for tests that compare Speedo with it (nats-server,
 * mosquitto): found on the PATH or in the Debian places, started on 127.0.0.1 with a config
 * file if given, ready once its port accepts, stopped for sure (SIGTERM, then SIGKILL).
 *
 * @module
 */

import { delay } from "@std/async/delay";

/** A running server process. */
export interface ServerProcess {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** Stops it (SIGTERM, then SIGKILL); resolves once it exited. */
  stop(): Promise<void>;
}

/** What {@linkcode startServerProcess} runs. */
export interface ServerProcessOptions {
  /** Its name, for errors. */
  name: string;
  /** The binary. */
  path: string;
  /** Its port; it must listen there (the arguments or config say so). */
  port: number;
  /** Its arguments; `{config}` is replaced by the config file's path. */
  args: string[];
  /** The config file's text, written to a temporary file that is removed at the end. */
  config?: string;
  /** Time it has to accept, in milliseconds. @default {10000} */
  timeout?: number;
}

/**
 * Starts a server and waits until its port accepts.
 *
 * @param options What to run.
 * @returns The running server.
 * @throws {Error} When it exits or does not accept in time.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const configFile = options.config === undefined
    ? undefined
    : await Deno.makeTempFile({ suffix: ".conf" });
  if (configFile !== undefined) await Deno.writeTextFile(configFile, options.config!);
  const child = new Deno.Command(options.path, {
    args: options.args.map((arg) =>
      configFile === undefined ? arg : arg.replace("{config}", configFile)
    ),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited meanwhile.
      }
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, 3000);
    await status;
    clearTimeout(timer);
    if (configFile !== undefined) await Deno.remove(configFile).catch(() => {});
  };
  const timeout = options.timeout ?? 10_000;
  const started = performance.now();
  while (true) {
    if (exited) {
      await stop();
      throw new Error(`${options.name} exited before accepting on port ${options.port}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
      conn.close();
      return { port: options.port, pid: child.pid, stop };
    } catch {
      if (performance.now() - started > timeout) {
        await stop();
        throw new Error(
          `${options.name} did not accept on port ${options.port} within ${timeout} ms`,
        );
      }
      await delay(10);
    }
  }
}

/**
 * Where a binary is: on the PATH, or in the places Debian puts daemons.
 *
 * @param name The binary's name.
 * @returns Its path, or `undefined` when it is not installed.
 */
export function findBinary(name: string): string | undefined {
  const dirs = [
    ...(Deno.env.get("PATH") ?? "").split(":"),
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/bin",
  ];
  for (const dir of dirs) {
    if (dir === "") continue;
    try {
      const path = `${dir}/${name}`;
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return undefined;
}
