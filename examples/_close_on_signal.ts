/**
 * What every example does on Ctrl-C or SIGTERM: close the server gracefully (every message
 * accepted is answered), then print a one-line summary.
 *
 * @module
 */

import type { Server, SocketTransport } from "@speedo/speedo";

/**
 * The signals that ask a process to end here: SIGINT (Ctrl-C) everywhere, SIGTERM where the
 * platform has it (Windows has no SIGTERM to listen to: adding a listener throws there).
 */
const SHUTDOWN_SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/**
 * Calls `shutdown` once, on the first of the shutdown signals, with that signal's name.
 *
 * @param shutdown What to do.
 */
export function onShutdownSignal(shutdown: (signal: Deno.Signal) => void): void {
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => {
      for (const [other, remove] of listeners) Deno.removeSignalListener(other, remove);
      shutdown(signal);
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
}

/**
 * Closes `server` on the first shutdown signal and prints `summary()` after the close.
 *
 * @param server The running server.
 * @param summary The counters to print, e.g. "3 connections, 10 lines in, 10 answered".
 */
export function closeOnSignal(server: Server<SocketTransport>, summary: () => string): void {
  const started = performance.now();
  onShutdownSignal(async (signal) => {
    await server.close();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${signal}: closed after ${seconds} s: ${summary()}`);
  });
}
