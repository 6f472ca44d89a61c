import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import {
  FlagError,
  integerFlag,
  listFlag,
  MAX_WORKERS,
  parseFlags,
  portFlag,
  refusedOptions,
  switchFlag,
  textFlag,
  usage,
  workersFlag,
} from "./_flags.ts";

const command = { name: "speedo x", summary: "A command", positional: "port" } as const;
const flags = {
  port: portFlag({ default: 7000, help: "port" }),
  workers: workersFlag(1, "workers"),
  dir: textFlag({ help: "dir" }),
  reset: listFlag("reset", "NAME"),
  quiet: switchFlag("quiet"),
};

Deno.test("parseFlags reads --name value, --name=value, switches, lists and one positional", () => {
  assertEquals(parseFlags([], command, flags), {
    port: 7000,
    workers: 1,
    dir: undefined,
    reset: [],
    quiet: false,
  });
  assertEquals(
    parseFlags(
      [
        "--workers=2",
        "--dir",
        "a b",
        "--reset",
        "x",
        "--reset=y",
        "--quiet",
        "80",
        "--workers",
        "3",
      ],
      command,
      flags,
    ),
    { port: 80, workers: 3, dir: "a b", reset: ["x", "y"], quiet: true },
  );
  assertEquals(parseFlags(["--", "81"], command, flags)?.port, 81);
});

Deno.test("parseFlags refuses unknown flags, missing values, stray arguments and bad values with a FlagError", () => {
  const refused = (args: string[]) =>
    assertThrows(() => parseFlags(args, command, flags), FlagError).message;
  assertStringIncludes(
    refused(["--worker", "0"]),
    'Unknown flag "--worker"; flags: --port, --workers',
  );
  assertStringIncludes(refused(["-p", "1"]), 'Unknown flag "-p"');
  assertStringIncludes(refused(["--constructor", "1"]), 'Unknown flag "--constructor"');
  assertEquals(refused(["--dir"]), "--dir needs a value");
  assertEquals(refused(["--dir", "--quiet"]), "--dir needs a value");
  assertEquals(refused(["--quiet=no"]), '--quiet takes no value, got "no"');
  assertEquals(refused(["80", "81"]), 'Unexpected argument "81"; see --help');
  assertEquals(refused(["--port", "-1"]), '--port must be an integer from 0 to 65535, got "-1"');
  assertEquals(refused(["--port", "8.0"]), '--port must be an integer from 0 to 65535, got "8.0"');
  assertEquals(refused(["--port="]), '--port must be an integer from 0 to 65535, got ""');
  assertEquals(
    refused(["--workers", String(MAX_WORKERS + 1)]),
    `--workers must be at most ${MAX_WORKERS} (4 per core), got "${MAX_WORKERS + 1}"`,
  );
  assertEquals(refused(["--workers", "x"]), '--workers must be a non-negative integer, got "x"');
  assertEquals(
    refused(["--workers", "99999999999999999999"]),
    '--workers must be a non-negative integer, got "99999999999999999999"',
  );
});

Deno.test("parseFlags answers undefined for --help or -h, whatever else is on the line", () => {
  assertEquals(parseFlags(["--help"], command, flags), undefined);
  assertEquals(parseFlags(["--worker", "0", "-h"], command, flags), undefined);
  assertEquals(parseFlags(["--port", "70000", "--help"], command, flags), undefined);
  assertThrows(() => parseFlags(["80", "--", "--help"], command, flags), FlagError, "Unexpected");
});

Deno.test("integerFlag states its bounds, and the workers cap is 4 per core up to the pool's 1024", () => {
  assertEquals(MAX_WORKERS, Math.min(1024, 4 * navigator.hardwareConcurrency));
  const lines = integerFlag({ default: 10, min: 1, max: 100, help: "lines" });
  assertEquals(lines.help, "lines; 1 to 100 (default 10)");
  assertEquals(integerFlag({ help: "n" }).help, "n; at least 0");
  assertEquals(integerFlag({ help: "n" }).read("n", []), undefined);
});

Deno.test("usage shows every flag with its placeholder, help and default, and --help", () => {
  assertEquals(
    usage(command, flags),
    [
      "Usage: speedo x [--port PORT | PORT] [--workers N] [--dir TEXT] [--reset NAME]... [--quiet] [--help]",
      "",
      "A command",
      "",
      "  --port PORT   port; 0 to 65535 (default 7000)",
      `  --workers N   workers; 0 to ${MAX_WORKERS} (4 per core) (default 1)`,
      "  --dir TEXT    dir",
      "  --reset NAME  reset; repeatable",
      "  --quiet       quiet",
      "  --help        print this help and exit",
      "",
    ].join("\n"),
  );
});

Deno.test("usage shows a synopsis instead of the flags when the command gives one", () => {
  const line = usage({ ...command, synopsis: "[FLAGS]" }, flags).split("\n")[0];
  assertEquals(line, "Usage: speedo x [FLAGS]");
});

Deno.test("refusedOptions turns a constructor's TypeError or RangeError into a FlagError, and lets others through", () => {
  const refused = (error: Error) =>
    refusedOptions(() => {
      throw error;
    });
  assertThrows(
    () => refused(new TypeError("loops: 2 needs a module")),
    FlagError,
    "loops: 2 needs",
  );
  assertThrows(() => refused(new RangeError("too big")), FlagError, "too big");
  const other = assertThrows(() => refused(new Error("disk on fire")));
  assertEquals(other instanceof FlagError, false);
});
