/**
 * The command line of an example: the flags of `cli/_flags.ts` (the `speedo` command's), read
 * from `Deno.args`, with the few flags only the examples take. A bad command line ends every
 * example the same way: exit code 2 and one line on stderr that names the flag and quotes the
 * value; `--help` prints the usage and exits 0.
 *
 * @module
 */

import { checkName } from "../protocols/session/_names.ts";
import type { FsyncPolicy } from "@speedo/speedo/session";
import {
  type Command,
  type Flag,
  FlagError,
  type FlagValues,
  integerFlag,
  parsedFlag,
  parseFlags,
  refusedOptions,
  type TextOptions,
  usage,
} from "../cli/_flags.ts";

export * from "../cli/_flags.ts";
export { loopCount } from "../cli/_address.ts";

/** What an example says of itself in `--help`: its `name` is its path, `examples/echo.ts`. */
export type ExampleCommand<S extends Record<string, Flag<unknown>>> = Command<S>;

/**
 * Builds an example's server, or exits 2 with one line when the server refuses what the
 * command line asked for (a `TypeError` or `RangeError` at construction: `--loops 2` with a
 * protocol that cannot run on several loops, say), as a bad flag does.
 *
 * @param make Builds the server.
 * @returns What `make` returned.
 *
 * @example
 * ```ts ignore
 * import { serverOrExit } from "./_args.ts";
 * import { echoServer } from "@speedo/speedo/echo";
 *
 * const server = serverOrExit(() => echoServer({ loops: 2 }));
 * ```
 */
export function serverOrExit<T>(make: () => T): T {
  return exitOnFlagError(() => refusedOptions(make));
}

/** The longest delay a timer takes, in milliseconds (a signed 32-bit count). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The `--fsync` flag of the session examples: `never`, `always`, or a period in milliseconds.
 *
 * @returns The flag, `never` by default.
 *
 * @example
 * ```ts
 * import { fsyncFlag } from "./_args.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals([fsyncFlag().read("fsync", []), fsyncFlag().read("fsync", ["100"])], ["never", 100]);
 * assertThrows(() => fsyncFlag().read("fsync", ["0"]), Error, '--fsync must be never, always or');
 * ```
 */
export function fsyncFlag(): Flag<FsyncPolicy> {
  const period = integerFlag({ min: 1, max: MAX_TIMER_MS, help: "" });
  return parsedFlag<FsyncPolicy>({
    default: "never",
    placeholder: "never|always|MS",
    help:
      `when the session file is synced to disk: never, at every write, or every MS ms (1 to ${MAX_TIMER_MS})`,
    parse(text) {
      if (text === "never" || text === "always") return text;
      try {
        return period.read("fsync", [text]);
      } catch {
        return undefined;
      }
    },
    requirement: `be never, always or a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
  });
}

/** What a session name must do, as the session store checks it. */
export const SESSION_NAME: Required<Pick<TextOptions, "check" | "requirement">> = {
  check(name) {
    try {
      checkName("name", name);
      return true;
    } catch {
      return false;
    }
  },
  requirement: "be 1 to 64 letters, digits, dots, dashes or underscores",
};

/**
 * An example's flags from `Deno.args`: on `--help` prints the usage and exits 0; on a bad
 * command line prints one line to stderr and exits 2. Call it before anything else runs.
 *
 * @param command The example's path (`examples/rpc.ts`), summary and positional flag.
 * @param flags Its flags.
 * @param args The arguments.
 * @returns The values by flag name.
 *
 * @example
 * ```ts ignore
 * import { exampleArgs, portFlag } from "./_args.ts";
 *
 * const args = exampleArgs({ name: "examples/rpc.ts", summary: "RPC in one run" }, {
 *   port: portFlag({ default: 0, help: "port to listen on; 0 picks a free one" }),
 * });
 * ```
 */
export function exampleArgs<S extends Record<string, Flag<unknown>>>(
  command: ExampleCommand<S>,
  flags: S,
  args: readonly string[] = Deno.args,
): FlagValues<S> {
  const run = { ...command, name: `deno run -A ${command.name}` };
  const values = exitOnFlagError(() => parseFlags(args, run, flags));
  if (values === undefined) {
    console.log(usage(run, flags).trimEnd());
    Deno.exit(0);
  }
  return values;
}

/**
 * What `read` returns, or exits 2 with the message of the `FlagError` it threw: for what the
 * flags say together (`--user` without `--pass`), once each was read.
 *
 * @param read Reads the values.
 * @returns What `read` returned.
 */
export function exitOnFlagError<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(error.message);
    Deno.exit(2);
  }
}
