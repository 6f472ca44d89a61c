/**
 * Ends the process when its standard input closes. The bench starts its servers with a pipe on
 * stdin, so that a server whose parent died (killed, crashed) ends too instead of lingering.
 *
 * @module
 */

/** Reads stdin in the background and exits with code 0 at its end. */
export function exitWhenStdinCloses(): void {
  (async () => {
    const buffer = new Uint8Array(256);
    try {
      while ((await Deno.stdin.read(buffer)) !== null) {
        // Anything written is ignored: only the end matters.
      }
    } catch {
      // A broken stdin means the parent is gone as well.
    }
    Deno.exit(0);
  })();
}
