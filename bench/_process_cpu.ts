/**
 * CPU time of a process from `/proc/<pid>/stat` (Linux), to tell in a load run whether the
 * server or the load generator used up its core.
 *
 * @module
 */

/**
 * Clock ticks per second of `/proc` times. USER_HZ is 100 on every mainstream Linux build, and
 * Deno offers no `sysconf(_SC_CLK_TCK)` short of spawning `getconf`.
 */
const TICKS_PER_SECOND = 100;

/**
 * User plus system CPU time used so far by a process, all its threads included.
 *
 * @param pid A process id, or `"self"`.
 * @returns Seconds, or `undefined` where `/proc` cannot be read (not Linux, process gone).
 */
export function processCpuSeconds(pid: number | "self"): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : undefined;
}
