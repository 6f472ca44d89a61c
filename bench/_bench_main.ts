/**
 * What every load bench does around its `main`: tracks the children it starts, stops them all
 * on Ctrl-C, a kill, an error or the end, and exits with `main`'s code.
 *
 * @module
 */

/** Children running now (servers, load generators), to stop whatever happens. */
export const running: Set<{ stop(): Promise<void> }> = new Set();

/** Stops every running child. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
  running.clear();
}

/**
 * Runs a bench's `main`, stopping its children on SIGINT/SIGTERM and at the end, then exits
 * with `main`'s code (1 if it threw).
 *
 * @param name The bench's name, for messages.
 * @param main The bench; resolves with the exit code.
 */
export async function runBench(name: string, main: () => Promise<number>): Promise<never> {
  // Ctrl-C or a kill must not leave children behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      console.error(`${name}: ${signal}, stopping the children`);
      stopAll().finally(() => Deno.exit(130));
    });
  }
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    console.error(`${name} failed:`, error);
  } finally {
    await stopAll();
  }
  // Exit now rather than wait for the signal listeners, which would keep this process alive.
  Deno.exit(code);
}
