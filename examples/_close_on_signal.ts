/**
 * What every example does on Ctrl-C or SIGTERM: close the server gracefully (every message
 * accepted is answered), then print a one-line summary.
 *
 * @module
 */

import type { Server, SocketTransport } from "@speedo/speedo";
import { onShutdownSignal } from "../cli/_signals.ts";

export { onShutdownSignal };

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
