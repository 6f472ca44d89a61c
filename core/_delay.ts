/**
 * An abortable delay, so that core needs nothing outside itself.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason once it aborts (at
 * once if it already has), and clears its timer then.
 *
 * @param ms The delay, in milliseconds.
 * @param signal Ends the wait early.
 * @returns A promise of the end of the wait.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const abort = () => {
    clearTimeout(timer);
    reject(signal!.reason);
  };
  const timer = setTimeout(() => {
    signal?.removeEventListener("abort", abort);
    resolve();
  }, ms);
  signal?.addEventListener("abort", abort, { once: true });
  return promise;
}
