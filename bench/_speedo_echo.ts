/**
 * The Speedo echo server under test in `echo_load.ts`: `echoServer` with the idle timeout off.
 *
 * `deno run -A bench/_speedo_echo.ts [--workers N] [--transport batch|ring] [--max-line-length N] [--monitor] [--until-stdin-closes]` listens on
 * 127.0.0.1, on a free port, and prints the port as the first line of stdout. `--workers 0`
 * echoes inline on the I/O thread. `--monitor` attaches a monitor (`monitor(server, { port: 0
 * })`, its defaults otherwise) and prints its port after the server's, on the same line.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import { echoServer } from "../protocols/echo/mod.ts";
import { monitor } from "../monitor/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const args = parseArgs(Deno.args, {
  string: ["workers", "max-line-length", "transport", "loops"],
  boolean: ["until-stdin-closes", "monitor"],
  default: {
    workers: String(defaultWorkerCount()),
    "max-line-length": "65536",
    transport: "batch",
    loops: "1",
  },
});
const loops = Number(args.loops);
if (!Number.isInteger(loops) || loops < 1) {
  console.error(`--loops must be a positive integer, got "${args.loops}"`);
  Deno.exit(2);
}
const workers = Number(args.workers);
if (!Number.isInteger(workers) || workers < 0) {
  console.error(`--workers must be a non-negative integer, got "${args.workers}"`);
  Deno.exit(2);
}
if (args["until-stdin-closes"]) exitWhenStdinCloses();

// idleTimeout 0: a connection that waits through a long run of other servers must not be reaped.
const maxLineLength = Number(args["max-line-length"]);
const transport = args.transport;
if (transport !== "batch" && transport !== "ring") {
  console.error(`--transport must be batch or ring, got "${transport}"`);
  Deno.exit(2);
}
const server = echoServer({
  hostname: "127.0.0.1",
  port: 0,
  workers,
  workerTransport: transport,
  loops,
  idleTimeout: 0,
  echo: { maxLineLength },
});
const { port } = await server.listen();
if (args.monitor) {
  const watch = await monitor(server, { port: 0 });
  console.log(`${port} ${watch.port}`);
} else {
  console.log(port);
}
