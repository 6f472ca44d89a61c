/**
 * What every example does on Ctrl-C or SIGTERM: close the server gracefully (every message
 * accepted is answered), then print a one-line summary.
 *
 * @module
 */

import type { Server } from "../mod.ts";

/**
 * Closes `server` on the first SIGINT or SIGTERM and prints `summary()` after the close.
 *
 * @param server The running server.
 * @param summary The counters to print, e.g. "3 connections, 10 lines in, 10 answered".
 */
export function closeOnSignal(server: Server, summary: () => string): void {
  const started = performance.now();
  const shutdown = async (signal: Deno.Signal) => {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
    await server.close();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${signal}: closed after ${seconds} s: ${summary()}`);
  };
  const onInt = () => void shutdown("SIGINT");
  const onTerm = () => void shutdown("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
}
