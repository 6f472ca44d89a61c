/**
 * What the soak test (`soak.ts`) reads of a process and of the machine in `/proc` (Linux): the
 * resident memory and the open file descriptors of the server child, and the load average.
 *
 * @module
 */

/**
 * The resident set size of a process (`VmRSS` of `/proc/<pid>/status`).
 *
 * @param pid The process.
 * @returns Bytes, or `undefined` where it cannot be read (not Linux, process gone).
 */
export function residentBytes(pid: number): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/**
 * The open file descriptors of a process: the entries of `/proc/<pid>/fd`. Sockets, pipes,
 * epoll and event descriptors all count, so a connection whose socket the server never closes
 * shows here even after the peer left.
 *
 * @param pid The process.
 * @returns The count, or `undefined` where it cannot be read.
 */
export function openFds(pid: number): number | undefined {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
    return count;
  } catch {
    return undefined;
  }
}

/**
 * The machine's load averages over 1, 5 and 15 minutes, as `/proc/loadavg` gives them.
 *
 * @returns `"0.61 0.69 0.49"`, or `"unknown"`.
 */
export function loadAverages(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}
