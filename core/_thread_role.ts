/**
 * Which of Speedo's own threads this is, if any: a loop thread (`_loop_thread.ts`) or a pool
 * worker (`worker.ts`) marks itself before it imports the application's modules (a protocol's
 * recipe, a handler). A module imported there runs its top-level code again on that thread,
 * and a program that makes a server of several loops or workers at its top level would then
 * start threads from each thread, without end: `Server` refuses that (see `server.ts`).
 *
 * @module
 */

const ROLE = Symbol.for("speedo.threadRole");

/** What a Speedo thread is. */
export type ThreadRole = "loop" | "worker";

/** Marks this thread as one of Speedo's. */
export function markThread(role: ThreadRole): void {
  (globalThis as Record<symbol, unknown>)[ROLE] = role;
}

/** The role of this thread, or `undefined` on an application's own thread. */
export function threadRole(): ThreadRole | undefined {
  return (globalThis as Record<symbol, unknown>)[ROLE] as ThreadRole | undefined;
}
