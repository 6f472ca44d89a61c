/**
 * A real `nats-server` (Debian package `nats-server`) for tests that check Speedo against it:
 * started on 127.0.0.1 on a free port (or a given one, to restart it), ready once it accepts,
 * stopped for sure.
 *
 * @module
 */

import { delay } from "@std/async/delay";

/** Where the `nats-server` binary is, or `undefined` when it is not installed. */
export const NATS_SERVER_PATH: string | undefined = findBinary("nats-server");

/** A running nats-server. */
export interface NatsServerProcess {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Stops it (SIGTERM, then SIGKILL); resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts nats-server on `127.0.0.1:port` and waits until it accepts connections.
 *
 * @param port The port; by default a free one.
 * @param timeout Time it has to accept, in milliseconds.
 * @param config nats-server configuration text (such as `max_subscriptions: 2`), if any.
 * @returns The running server.
 */
export async function startNatsServer(
  port?: number,
  timeout = 10_000,
  config?: string,
): Promise<NatsServerProcess> {
  if (NATS_SERVER_PATH === undefined) throw new Error("nats-server is not installed");
  const chosen = port ?? freePort();
  const configFile = config === undefined
    ? undefined
    : await Deno.makeTempFile({ suffix: ".conf" });
  if (configFile !== undefined) await Deno.writeTextFile(configFile, config!);
  const child = new Deno.Command(NATS_SERVER_PATH, {
    args: [
      ...(configFile === undefined ? [] : ["-c", configFile]),
      "-a",
      "127.0.0.1",
      "-p",
      String(chosen),
    ],
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
  const started = performance.now();
  while (true) {
    if (exited) throw new Error(`nats-server exited before accepting on port ${chosen}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: chosen });
      conn.close();
      return { port: chosen, stop };
    } catch {
      if (performance.now() - started > timeout) {
        await stop();
        throw new Error(`nats-server did not accept on port ${chosen} within ${timeout} ms`);
      }
      await delay(10);
    }
  }
}

/** A port free on 127.0.0.1 now (the OS picks it; it is released at once). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function findBinary(name: string): string | undefined {
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
