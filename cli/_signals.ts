/**
 * The signals that ask a server to end: what `speedo serve` and the examples close gracefully
 * on.
 *
 * @module
 */

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
