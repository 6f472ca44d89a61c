/**
 * Where `speedo serve --monitor PORT` meets the monitor: {@linkcode startMonitor} is the one
 * function the command calls with the flags' values, once they were read and checked.
 *
 * @module
 */

import type { Server, SocketTransport } from "../core/server.ts";

/** What `--monitor`, `--monitor-hostname` and `--monitor-token` asked for. */
export interface MonitorFlags {
  /** The monitor's port (`--monitor`); 0 picks a free one. */
  port: number;
  /** The address it listens on (`--monitor-hostname`). */
  hostname: string;
  /** The token a client must present (`--monitor-token`), if any. */
  token?: string;
}

/** A monitor started by {@linkcode startMonitor}. */
export interface MonitorHandle {
  /** Stops it; called before the server closes. */
  close(): void | Promise<void>;
}

/**
 * Starts the monitor of `server` as the `--monitor` flags asked.
 *
 * TO WIRE: this build has no monitor module yet; once `monitor/` is merged this becomes
 * `return await monitor(server, options)` (its `Monitor` has the `close()` the command calls).
 * Until then it refuses, and the command exits 2 with this error's message as its one line.
 *
 * @param _server The server to watch.
 * @param _options Port, hostname and token from the flags.
 * @returns The running monitor.
 * @throws {Error} Always, in this build: `--monitor: not available in this build`.
 */
// deno-lint-ignore require-await -- the monitor it will call listens before it answers
export async function startMonitor(
  _server: Server<SocketTransport>,
  _options: MonitorFlags,
): Promise<MonitorHandle> {
  throw new Error("--monitor: not available in this build");
}
