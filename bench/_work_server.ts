/**
 * The server under test in `work_load.ts`: the echo protocol with `_work_handler.ts`, which
 * spends `--rounds` hashing rounds of CPU on each line before echoing it.
 *
 * `deno run -A bench/_work_server.ts --rounds N [--workers N] [--until-stdin-closes]` listens
 * on 127.0.0.1, on a free port, and prints the port as the first line of stdout. `--workers 0`
 * runs the handler inline on the I/O thread.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { Server } from "../core/server.ts";
import { echoProtocol } from "../protocols/echo/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const args = parseArgs(Deno.args, {
  string: ["workers", "rounds"],
  boolean: ["until-stdin-closes"],
  default: { workers: "0" },
});
const workers = Number(args.workers);
const rounds = Number(args.rounds);
if (!Number.isInteger(workers) || workers < 0 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(
    `--workers must be an integer of at least 0 and --rounds at least 1, got "${args.workers}", "${args.rounds}"`,
  );
  Deno.exit(2);
}
if (args["until-stdin-closes"]) exitWhenStdinCloses();

const server = new Server({
  protocol: echoProtocol(),
  handler: new URL("./_work_handler.ts", import.meta.url),
  handlerData: { rounds },
  workers,
  // A connection that waits through the other servers' runs must not be reaped.
  idleTimeout: 0,
});
const { port } = await server.listen();
console.log(port);
