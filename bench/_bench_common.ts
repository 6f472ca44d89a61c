/**
 * Pieces the server-comparison benches (`pubsub_load.ts`, `mqtt_load.ts`, `rpc_load.ts`) share:
 * their flags, their load-generator children, their reports.
 *
 * @module
 */

const decoder = new TextDecoder();

/**
 * Parses the flags, or says how `main` ends: 0 after printing the usage for `--help`, 2 after
 * printing the error and the usage for a bad flag.
 *
 * @param parse Reads the flags; `undefined` for `--help`, throws on a bad one.
 * @param usage The usage text.
 * @returns The settings, or the exit code.
 */
export function readSettings<T extends object>(
  parse: (argv: string[]) => T | undefined,
  usage: string,
): T | number {
  let settings: T | undefined;
  try {
    settings = parse(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    console.error(usage);
    return 2;
  }
  if (settings === undefined) {
    console.log(usage);
    return 0;
  }
  return settings;
}

/**
 * Reads a number flag.
 *
 * @param args The parsed flags.
 * @param name The flag, without `--`.
 * @param fallback Its value when absent.
 * @param min The smallest value allowed.
 * @returns The value.
 * @throws {RangeError} When it is not a number of at least `min`.
 */
export function numberFlag(
  args: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
): number {
  const raw = args[name] as string | undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`--${name} must be a number of at least ${min}, got "${raw}"`);
  }
  return value;
}

/**
 * Reads `--servers`: a comma-separated list of known kinds, all of them when absent.
 *
 * @param raw The flag's value.
 * @param kinds The kinds the bench knows.
 * @returns The kinds asked for.
 * @throws {RangeError} On an unknown kind.
 */
export function serversFlag<K extends string>(raw: string | undefined, kinds: readonly K[]): K[] {
  const servers = (raw?.split(",") ?? [...kinds]) as K[];
  for (const kind of servers) {
    if (!kinds.includes(kind)) {
      throw new RangeError(`--servers: unknown server "${kind}"; known: ${kinds.join(",")}`);
    }
  }
  return servers;
}

/**
 * Reads `--subscribers`: comma-separated counts from 1 to 1000.
 *
 * @param raw The flag's value.
 * @returns The counts, `[1, 10]` when absent.
 * @throws {RangeError} On a count out of range.
 */
export function subscribersFlag(raw: string | undefined): number[] {
  return (raw ?? "1,10").split(",").map((text: string) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > 1000) {
      throw new RangeError(`--subscribers: "${text}" is not a count from 1 to 1000`);
    }
    return count;
  });
}

/**
 * Runs a load generator (`deno run -A` on a script of the repository) to its end, killed past
 * `limitMs`, and reads the JSON result on the last line of its stdout.
 *
 * @param args The script and its arguments, after `deno run -A --config deno.json`.
 * @param limitMs How long it may run.
 * @param failure What failed, for the error (`The load against X`).
 * @param onChild Told of the child once it started, and of `undefined` once it ended.
 * @returns The result.
 * @throws {Error} When it exits with a code other than 0 (with the end of its stderr).
 */
export async function runJsonChild<T>(
  args: string[],
  limitMs: number,
  failure: string,
  onChild?: (child: Deno.ChildProcess | undefined) => void,
): Promise<T> {
  const rootPath = decodeURIComponent(new URL("../", import.meta.url).pathname);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${rootPath}deno.json`, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  onChild?.(child);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }, limitMs);
  try {
    const { code, stdout, stderr } = await child.output();
    if (code !== 0) {
      throw new Error(
        `${failure} failed (exit ${code}): ${decoder.decode(stderr).slice(-800)}`,
      );
    }
    return JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1)!) as T;
  } finally {
    clearTimeout(timer);
    onChild?.(undefined);
  }
}

/**
 * The median of some numbers.
 *
 * @param values At least one number.
 * @returns The middle one, or the mean of the two in the middle.
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * A text file's content, trimmed, for the report (`/proc/loadavg`, `/proc/cpuinfo`).
 *
 * @param path The file.
 * @returns Its text, or `"?"` when it cannot be read.
 */
export function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "?";
  }
}

/**
 * A count for the report: rounded, with thousands separators.
 *
 * @param value The count.
 * @returns It as text (`1,234,567`).
 */
export function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/**
 * The first child of a process, from /proc (Linux).
 *
 * @param pid The parent.
 * @returns The child's pid, or `undefined` when it has none or /proc cannot tell.
 */
export function childOf(pid: number): number | undefined {
  try {
    const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/);
    const child = Number(children[0]);
    return Number.isInteger(child) && child > 0 ? child : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A TCP port free on 127.0.0.1 now, for a server that cannot pick its own.
 *
 * @returns The port.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
