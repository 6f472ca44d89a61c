/**
 * A command line read against a table of flags: each flag declared once, read strictly and
 * checked against its bounds, with `--help`. The `speedo` command and the examples parse their
 * arguments here, so that a bad command line ends every one of them the same way: exit code 2
 * and one line on stderr that names the flag and quotes the value. A bad flag is the caller's
 * mistake, so it gets a sentence, not the stack trace of whichever constructor would have
 * thrown later.
 *
 * Grammar: `--name value`, `--name=value`, `--switch`, `--help` (or `-h`) anywhere, and for
 * a command that takes one, a bare positional value. Unknown flags are errors: a misspelt
 * flag (`--worker 8`) would otherwise run silently with the default.
 *
 * @example
 * ```ts
 * import { integerFlag, parseFlags, portFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const command = { name: "speedo serve echo", summary: "The echo server" };
 * const flags = {
 *   port: portFlag({ default: 9292, help: "port to listen on; 0 picks a free one" }),
 *   "max-line-length": integerFlag({ default: 65536, min: 1, help: "longest line, in bytes" }),
 * };
 * assertEquals(parseFlags(["--port", "0"], command, flags), { port: 0, "max-line-length": 65536 });
 * assertThrows(() => parseFlags(["--port", "70000"], command, flags), Error, "from 0 to 65535");
 * ```
 *
 * @module
 */

import { MAX_LOOPS } from "../core/_loop_group.ts";

/** A command line that cannot be run: the message is the one line the caller sees. */
export class FlagError extends Error {
  /**
   * Makes the error.
   *
   * @param message What is wrong, naming the flag and quoting the value.
   */
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** One flag: how it reads, what `--help` says of it, and how its value is checked. */
export interface Flag<T> {
  /** `value`: one value (the last given wins); `list`: every value given; `switch`: none. */
  readonly arity: "value" | "list" | "switch";
  /** The value's stand-in in the usage line (`N`, `HOST`); empty for a switch. */
  readonly placeholder: string;
  /** What `--help` says of the flag, its bounds and its default included. */
  readonly help: string;
  /**
   * Turns what the command line gave into the value.
   *
   * @param name The flag's name, without dashes.
   * @param given The values given, in order (a switch: one empty string per use).
   * @returns The value.
   * @throws {FlagError} When a value is not acceptable.
   */
  read(name: string, given: readonly string[]): T;
}

/** The values of a table of flags, by name. */
export type FlagValues<S extends Record<string, Flag<unknown>>> = {
  [K in keyof S]: S[K] extends Flag<infer T> ? T : never;
};

/** What a command says of itself in `--help`. */
export interface Command<S extends Record<string, Flag<unknown>>> {
  /** How it is run, as its usage line starts: `speedo serve echo`. */
  readonly name: string;
  /** One sentence of what it does. */
  readonly summary: string;
  /**
   * What the usage line shows after the name, for a command with too many flags to list
   * there: `[FLAGS]`.
   *
   * @default {every flag, in brackets}
   */
  readonly synopsis?: string;
  /**
   * The flag that a bare value sets (`upper.ts 7000`); without it, a bare value is an
   * error.
   *
   * @default {undefined}
   */
  readonly positional?: keyof S & string;
}

/** Workers per core at most: past a few per core they only cost memory (about 8 MB each). */
const WORKERS_PER_CORE = 4;
/** The worker pool's own bound. */
const POOL_MAX_WORKERS = 1024;
/** The most `--workers` a command takes on this machine: 4 per core, at most 1024. */
export const MAX_WORKERS: number = Math.min(
  POOL_MAX_WORKERS,
  WORKERS_PER_CORE * navigator.hardwareConcurrency,
);
/** The largest byte limit a flag takes (1 GiB): more is a typo, not a setting. */
export const MAX_BYTES: number = 2 ** 30;

/** Options of {@linkcode integerFlag}. */
export interface IntegerOptions {
  /** What `--help` says of it (its bounds and default are added). */
  help: string;
  /**
   * The value when the flag is not given; without one, the value is `undefined`.
   *
   * @default {undefined}
   */
  default?: number;
  /**
   * The least value.
   *
   * @default {0}
   */
  min?: number;
  /**
   * The greatest value.
   *
   * @default {Number.MAX_SAFE_INTEGER}
   */
  max?: number;
  /**
   * Why the greatest value is what it is, said with it: `4 per core`.
   *
   * @default {undefined}
   */
  maxReason?: string;
  /**
   * What a bad value must be instead, for every failure (a port's range is its type);
   * without it, the error says the kind of integer, or the bound passed.
   *
   * @default {undefined}
   */
  requirement?: string;
  /**
   * The value's stand-in in the usage line.
   *
   * @default {"N"}
   */
  placeholder?: string;
}

/**
 * A flag whose value is a whole number within bounds. Only digits are accepted: `1e3`, `0x10`
 * and `8.0` are refused rather than read as something the caller may not have meant.
 *
 * @param options Bounds, default and help.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { integerFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const flag = integerFlag({ default: 10, min: 1, max: 100, help: "how many" });
 * assertEquals(flag.read("count", []), 10);
 * assertEquals(flag.read("count", ["5"]), 5);
 * assertThrows(() => flag.read("count", ["0"]), Error, '--count must be an integer of at least 1, got "0"');
 * assertThrows(() => flag.read("count", ["101"]), Error, '--count must be at most 100, got "101"');
 * ```
 */
export function integerFlag(options: IntegerOptions & { default: number }): Flag<number>;
export function integerFlag(options: IntegerOptions): Flag<number | undefined>;
export function integerFlag(options: IntegerOptions): Flag<number | undefined> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const reason = options.maxReason === undefined ? "" : ` (${options.maxReason})`;
  const kind = min === 0 ? "be a non-negative integer" : `be an integer of at least ${min}`;
  const bounds = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}${reason}`;
  return {
    arity: "value",
    placeholder: options.placeholder ?? "N",
    help: withDefault(`${options.help}; ${bounds}`, options.default),
    read(name, given) {
      const raw = given.at(-1);
      if (raw === undefined) return options.default;
      const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
      const requirement = options.requirement ??
        (Number.isSafeInteger(value) && value > max ? `be at most ${max}${reason}` : kind);
      throw new FlagError(`--${name} must ${requirement}, got "${raw}"`);
    },
  };
}

/** Options of {@linkcode portFlag}. */
export interface PortOptions {
  /** What `--help` says of it. */
  help: string;
  /**
   * The port when the flag is not given; without one, the value is `undefined`.
   *
   * @default {undefined}
   */
  default?: number;
  /**
   * The least port: 1 for a client, which cannot connect to port 0.
   *
   * @default {0}
   */
  min?: 0 | 1;
}

/**
 * A TCP port: an integer from 0 (or 1) to 65535.
 *
 * @param options Default and help.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { portFlag } from "./_flags.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const flag = portFlag({ default: 9292, help: "port to listen on" });
 * assertThrows(
 *   () => flag.read("port", ["70000"]),
 *   Error,
 *   '--port must be an integer from 0 to 65535, got "70000"',
 * );
 * ```
 */
export function portFlag(options: PortOptions & { default: number }): Flag<number>;
export function portFlag(options: PortOptions): Flag<number | undefined>;
export function portFlag(options: PortOptions): Flag<number | undefined> {
  const min = options.min ?? 0;
  return integerFlag({
    ...options,
    min,
    max: 65535,
    requirement: `be an integer from ${min} to 65535`,
    placeholder: "PORT",
  });
}

/**
 * The `--workers` flag: worker threads, from 0 (handled on the I/O thread) to
 * {@linkcode MAX_WORKERS}.
 *
 * @param defaultCount The count when the flag is not given.
 * @param help What `--help` says of it.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { MAX_WORKERS, workersFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const flag = workersFlag(1, "worker threads");
 * assertEquals(flag.read("workers", [String(MAX_WORKERS)]), MAX_WORKERS);
 * assertThrows(() => flag.read("workers", [String(MAX_WORKERS + 1)]), Error, "must be at most");
 * ```
 */
export function workersFlag(defaultCount: number, help: string): Flag<number> {
  return integerFlag({
    default: defaultCount,
    help,
    max: MAX_WORKERS,
    maxReason: `${WORKERS_PER_CORE} per core`,
  });
}

/**
 * The `--loops` flag: I/O loops (`ServerOptions.loops`), each a thread with its own listener
 * on the port: a whole number from 1 to 256, or `auto` (one per core).
 *
 * @returns The flag, 1 by default.
 *
 * @example
 * ```ts
 * import { loopsFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const flag = loopsFlag();
 * assertEquals([flag.read("loops", []), flag.read("loops", ["2"]), flag.read("loops", ["auto"])], [1, 2, "auto"]);
 * assertThrows(() => flag.read("loops", ["0"]), Error, '--loops must be auto or an integer from 1 to 256, got "0"');
 * ```
 */
export function loopsFlag(): Flag<number | "auto"> {
  const count = integerFlag({ min: 1, max: MAX_LOOPS, help: "" });
  return parsedFlag<number | "auto">({
    default: "1",
    placeholder: "N|auto",
    help:
      `I/O loops, each a thread with its own listener on the port (Linux); auto is one per core; 1 to ${MAX_LOOPS}`,
    parse(text) {
      if (text === "auto") return text;
      try {
        return count.read("loops", [text]);
      } catch {
        return undefined;
      }
    },
    requirement: `be auto or an integer from 1 to ${MAX_LOOPS}`,
  });
}

/**
 * Builds what the command line asked for, with a refusal at construction (a `TypeError` or
 * `RangeError`: `--loops 2` with a protocol that runs on one loop, say) turned into a
 * {@linkcode FlagError}, since the command line asked for it: the caller sees the
 * constructor's own sentence, as one line, the way it sees a bad flag.
 *
 * @param make Builds the thing.
 * @returns What `make` returned.
 * @throws {FlagError} When `make` threw a `TypeError` or `RangeError`, with its message.
 *
 * @example
 * ```ts
 * import { FlagError, refusedOptions } from "./_flags.ts";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => refusedOptions(() => new Array(-1)), FlagError, "Invalid array length");
 * ```
 */
export function refusedOptions<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (!(error instanceof TypeError) && !(error instanceof RangeError)) throw error;
    throw new FlagError(error.message);
  }
}

/**
 * The `--hostname` flag of a server: the address it listens on, loopback by default.
 *
 * @returns The flag, `127.0.0.1` by default.
 *
 * @example
 * ```ts
 * import { hostnameFlag } from "./_flags.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([hostnameFlag().read("hostname", []), hostnameFlag().read("hostname", ["::"])], ["127.0.0.1", "::"]);
 * ```
 */
export function hostnameFlag(): Flag<string> {
  return textFlag({
    default: "127.0.0.1",
    placeholder: "HOST",
    help: "address to listen on; 0.0.0.0 for other hosts",
  });
}

/** Options of {@linkcode textFlag}. */
export interface TextOptions {
  /** What `--help` says of it (its default is added). */
  help: string;
  /**
   * The value's stand-in in the usage line.
   *
   * @default {"TEXT"}
   */
  placeholder?: string;
  /**
   * The text when the flag is not given (it is checked too); without one, the value is
   * `undefined`.
   *
   * @default {undefined}
   */
  default?: string;
  /**
   * Whether a text is acceptable.
   *
   * @default {() => true}
   */
  check?: (text: string) => boolean;
  /**
   * What an unacceptable text must do instead: `be a folder`.
   *
   * @default {"be acceptable"}
   */
  requirement?: string;
}

/**
 * A flag whose value is text, optionally checked.
 *
 * @param options Default, check and help.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { textFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const path = textFlag({
 *   default: "/nats",
 *   help: "the path",
 *   check: (value) => value.startsWith("/"),
 *   requirement: 'start with "/"',
 * });
 * assertEquals(path.read("path", []), "/nats");
 * assertThrows(() => path.read("path", ["nats"]), Error, '--path must start with "/", got "nats"');
 * ```
 */
export function textFlag(options: TextOptions & { default: string }): Flag<string>;
export function textFlag(options: TextOptions): Flag<string | undefined>;
export function textFlag(options: TextOptions): Flag<string | undefined> {
  const check = options.check;
  return parsedFlag({
    ...options,
    requirement: options.requirement ?? "be acceptable",
    parse: check === undefined ? (text) => text : (text) => check(text) ? text : undefined,
  });
}

/**
 * A flag whose value is the path of a folder that exists.
 *
 * @param options Default and help.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { folderFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const dir = folderFlag({ default: ".", help: "the folder served" });
 * assertEquals(dir.read("dir", []), ".");
 * assertThrows(() => dir.read("dir", ["/nonexistent"]), Error, '--dir must be a folder, got "/nonexistent"');
 * ```
 */
export function folderFlag(options: { default: string; help: string }): Flag<string> {
  return textFlag({
    ...options,
    placeholder: "DIR",
    check: (path) => {
      try {
        return Deno.statSync(path).isDirectory;
      } catch {
        return false;
      }
    },
    requirement: "be a folder",
  });
}

/** Options of {@linkcode parsedFlag}. */
export interface ParsedOptions<T> extends Omit<TextOptions, "check" | "requirement"> {
  /** Turns the text into the value, or gives `undefined` when it is not acceptable. */
  parse: (text: string) => T | undefined;
  /** What an unacceptable text must be instead: `be never, always or a number`. */
  requirement: string;
}

/**
 * A flag whose text is parsed into a value of another kind (`never|always|MS`).
 *
 * @param options Default, parsing and help.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { parsedFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const flag = parsedFlag({
 *   default: "never",
 *   help: "when to sync",
 *   parse: (text) => text === "never" ? text : /^[1-9]\d*$/.test(text) ? Number(text) : undefined,
 *   requirement: "be never or a number",
 * });
 * assertEquals([flag.read("sync", []), flag.read("sync", ["5"])], ["never", 5]);
 * assertThrows(() => flag.read("sync", ["x"]), Error, '--sync must be never or a number, got "x"');
 * ```
 */
export function parsedFlag<T>(options: ParsedOptions<T> & { default: string }): Flag<T>;
export function parsedFlag<T>(options: ParsedOptions<T>): Flag<T | undefined>;
export function parsedFlag<T>(options: ParsedOptions<T>): Flag<T | undefined> {
  return {
    arity: "value",
    placeholder: options.placeholder ?? "TEXT",
    help: withDefault(options.help, options.default),
    read(name, given) {
      const raw = given.at(-1) ?? options.default;
      if (raw === undefined) return undefined;
      const value = options.parse(raw);
      if (value !== undefined) return value;
      throw new FlagError(`--${name} must ${options.requirement}, got "${raw}"`);
    },
  };
}

/**
 * A flag that may be given many times; its value is every text given, in order.
 *
 * @param help What `--help` says of it.
 * @param placeholder The value's stand-in in the usage line.
 * @param check Whether a text is acceptable, and what it must do if not.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { listFlag } from "./_flags.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(listFlag("a client's session to delete", "NAME").read("reset", ["a", "b"]), ["a", "b"]);
 * ```
 */
export function listFlag(
  help: string,
  placeholder: string,
  check?: Pick<TextOptions, "check" | "requirement">,
): Flag<string[]> {
  const one = textFlag({ help, ...check });
  return {
    arity: "list",
    placeholder,
    help: `${help}; repeatable`,
    read: (name, given) => given.map((text) => one.read(name, [text])!),
  };
}

/**
 * A flag without a value: `true` when given.
 *
 * @param help What `--help` says of it.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { switchFlag } from "./_flags.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([switchFlag("start afresh").read("reset", []), switchFlag("").read("reset", [""])], [false, true]);
 * ```
 */
export function switchFlag(help: string): Flag<boolean> {
  return { arity: "switch", placeholder: "", help, read: (_, given) => given.length > 0 };
}

/**
 * The usage a command prints for `--help`: the command line, its summary, and a line per flag.
 *
 * @param command The command's name, summary and positional flag.
 * @param flags Its flags.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { portFlag, usage } from "./_flags.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const help = usage({ name: "deno run -A examples/upper.ts", summary: "Upper-cases lines", positional: "port" }, {
 *   port: portFlag({ default: 7000, help: "port to listen on" }),
 * });
 * assertStringIncludes(help, "Usage: deno run -A examples/upper.ts [--port PORT | PORT]");
 * ```
 */
export function usage<S extends Record<string, Flag<unknown>>>(
  command: Command<S>,
  flags: S,
): string {
  const shown = Object.entries(flags).map(([name, flag]) => {
    const form = flag.placeholder === "" ? `--${name}` : `--${name} ${flag.placeholder}`;
    const alone = name === command.positional ? `${form} | ${flag.placeholder}` : form;
    return { form, usage: flag.arity === "list" ? `[${alone}]...` : `[${alone}]`, flag };
  });
  const width = Math.max(...shown.map(({ form }) => form.length), "--help".length) + 2;
  const lines = [
    `Usage: ${command.name} ${
      command.synopsis ?? `${shown.map(({ usage }) => usage).join(" ")} [--help]`
    }`,
    "",
    command.summary,
    "",
    ...shown.map(({ form, flag }) => `  ${form.padEnd(width)}${flag.help}`),
    `  ${"--help".padEnd(width)}print this help and exit`,
  ];
  return lines.join("\n") + "\n";
}

/**
 * Reads a command line against a table of flags.
 *
 * @param args The arguments, as `Deno.args` gives them.
 * @param command The command's name, summary and positional flag.
 * @param flags Its flags.
 * @returns The values by flag name, or `undefined` when `--help` (or `-h`) was given.
 * @throws {FlagError} When a flag is unknown, lacks its value, or has a bad one.
 *
 * @example
 * ```ts
 * import { parseFlags, portFlag, switchFlag } from "./_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const command = { name: "speedo x", summary: "X" };
 * const flags = { port: portFlag({ default: 1, help: "port" }), reset: switchFlag("reset") };
 * assertEquals(parseFlags(["--port=8", "--reset"], command, flags), { port: 8, reset: true });
 * assertEquals(parseFlags(["--bogus", "--help"], command, flags), undefined);
 * assertThrows(() => parseFlags(["--prot", "8"], command, flags), Error, 'Unknown flag "--prot"');
 * ```
 */
export function parseFlags<S extends Record<string, Flag<unknown>>>(
  args: readonly string[],
  command: Command<S>,
  flags: S,
): FlagValues<S> | undefined {
  const given = new Map<string, string[]>();
  const give = (name: string, value: string) => {
    const values = given.get(name);
    if (values === undefined) given.set(name, [value]);
    else values.push(value);
  };
  // The first mistake is reported, but only once every argument was seen: `--help` anywhere
  // wins over it.
  let mistake: FlagError | undefined;
  let help = false;
  let positionalOnly = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!positionalOnly && (arg === "--help" || arg === "-h")) {
      help = true;
    } else if (!positionalOnly && arg === "--") {
      positionalOnly = true;
    } else if (!positionalOnly && arg.startsWith("-") && !/^-\d/.test(arg)) {
      const equals = arg.indexOf("=");
      const name = arg.slice(arg.startsWith("--") ? 2 : 1, equals === -1 ? undefined : equals);
      const flag = Object.hasOwn(flags, name) && arg.startsWith("--") ? flags[name] : undefined;
      if (flag === undefined) {
        mistake ??= new FlagError(
          `Unknown flag "${arg.slice(0, equals === -1 ? undefined : equals)}"; flags: ${
            [...Object.keys(flags), "help"].map((known) => `--${known}`).join(", ")
          }`,
        );
      } else if (flag.arity === "switch") {
        if (equals === -1) give(name, "");
        else mistake ??= new FlagError(`--${name} takes no value, got "${arg.slice(equals + 1)}"`);
      } else if (equals !== -1) {
        give(name, arg.slice(equals + 1));
      } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
        give(name, args[++i]);
      } else {
        mistake ??= new FlagError(`--${name} needs a value`);
      }
    } else if (command.positional !== undefined && !given.has(command.positional)) {
      give(command.positional, arg);
    } else {
      mistake ??= new FlagError(`Unexpected argument "${arg}"; see --help`);
    }
  }
  if (help) return undefined;
  if (mistake !== undefined) throw mistake;
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(flags)) {
    values[name] = flag.read(name, given.get(name) ?? []);
  }
  return values as FlagValues<S>;
}

function withDefault(help: string, value: string | number | undefined): string {
  return value === undefined ? help : `${help} (default ${value})`;
}
