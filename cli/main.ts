/**
 * The `speedo` command: `speedo serve <echo|pubsub|mqtt|http|rpc> [FLAGS]` runs one of
 * Speedo's servers until Ctrl-C or SIGTERM, with the same flags for every protocol (port,
 * hostname, TLS, workers, I/O loops, stats and logs) and its own after them.
 *
 * ```sh
 * deno run -A jsr:@speedo/speedo/cli serve pubsub --port 4222
 * deno install -g -A -n speedo jsr:@speedo/speedo/cli   # then: speedo serve mqtt
 * ```
 *
 * `--help` works at every level (`speedo --help`, `speedo serve --help`,
 * `speedo serve mqtt --help`), `--version` prints the package's version. A bad command line is
 * one line on stderr and exit code 2; a server that cannot listen, exit code 1; a graceful
 * close on a signal, 0.
 *
 * @example Run from code, as the command line does
 * ```ts ignore
 * import { main } from "@speedo/speedo/cli";
 *
 * Deno.exit(await main(["serve", "echo", "--port", "9292"]));
 * ```
 *
 * @module
 */

import { FlagError, parseFlags, usage } from "./_flags.ts";
import { Log } from "./_log.ts";
import { serve, serveFlags } from "./_serve_command.ts";
import { type AnyServeProtocol, SERVE_PROTOCOLS } from "./_serve_protocols.ts";
import { VERSION } from "./version.ts";

export { VERSION };

const NAMES = SERVE_PROTOCOLS.map((protocol) => protocol.name);

function topUsage(): string {
  return [
    "Usage: speedo <command> [--help] [--version]",
    "",
    `Speedo ${VERSION}, a TCP network toolkit for Deno: run its servers.`,
    "",
    "Commands:",
    `  serve <${NAMES.join("|")}>  run a server until Ctrl-C or SIGTERM (speedo serve --help)`,
    "",
    "  --version  print the version and exit",
    "  --help     print this help and exit",
  ].join("\n");
}

function serveUsage(): string {
  const width = Math.max(...NAMES.map((name) => name.length)) + 2;
  return [
    `Usage: speedo serve <${NAMES.join("|")}> [FLAGS]`,
    "",
    "Runs a Speedo server until Ctrl-C or SIGTERM, then closes it gracefully. Every protocol takes",
    "--port, --hostname, --tls-cert/--tls-key, --workers, --loops, --stats-interval, --log,",
    "--log-level and --monitor; see speedo serve PROTOCOL --help for its own.",
    "",
    "Protocols:",
    ...SERVE_PROTOCOLS.map((protocol) =>
      `  ${protocol.name.padEnd(width)}${protocol.summary} (port ${
        protocol.port === 0 ? "0: a free one" : protocol.port
      })`
    ),
    "",
    `  ${"--help".padEnd(width)}print this help and exit`,
  ].join("\n");
}

const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h";

/** The command `speedo serve NAME` is, for `--help` and errors. */
function protocolCommand(protocol: AnyServeProtocol) {
  return {
    name: `speedo serve ${protocol.name}`,
    summary: `The ${protocol.name} server: ${protocol.summary}.`,
    synopsis: "[FLAGS]",
  };
}

/**
 * Runs the `speedo` command line.
 *
 * @param args The arguments, as `Deno.args` gives them.
 * @returns The exit code: 0 (done, or a graceful close), 1 (a server that could not listen),
 *   2 (a bad command line, said in one line on stderr).
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    return await run(args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(error.message);
    return 2;
  }
}

async function run(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (isHelp(command)) {
    console.log(topUsage());
    return 0;
  }
  if (command === "--version") {
    console.log(`speedo ${VERSION}`);
    return 0;
  }
  if (command === undefined) throw new FlagError("speedo needs a command: serve; see --help");
  if (command !== "serve") {
    throw new FlagError(`Unknown command "${command}"; commands: serve; see --help`);
  }
  const [name, ...flags] = rest;
  if (isHelp(name)) {
    console.log(serveUsage());
    return 0;
  }
  if (name === undefined) {
    throw new FlagError(`speedo serve needs a protocol: ${NAMES.join(", ")}`);
  }
  const protocol = SERVE_PROTOCOLS.find((known) => known.name === name);
  if (protocol === undefined) {
    throw new FlagError(`Unknown protocol "${name}"; protocols: ${NAMES.join(", ")}`);
  }
  const table = serveFlags(protocol);
  const command_ = protocolCommand(protocol);
  const values = parseFlags(flags, command_, table);
  if (values === undefined) {
    console.log(usage(command_, table).trimEnd());
    return 0;
  }
  const log = new Log({ format: values.log, level: values["log-level"] });
  const terminal = Deno.stdout.isTerminal();
  return await serve(protocol, values, {
    log,
    terminal,
    columns: () => terminal ? Deno.consoleSize().columns : 80,
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
