/**
 * The Speedo RPC server under test in `rpc_load.ts`: an echo service, inline or in workers.
 *
 * `deno run -A bench/_rpc_server.ts [--workers 0] [--concurrency 100] [--until-stdin-closes]` listens on
 * 127.0.0.1, on a free port, and prints the port as the first line of stdout.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { rpcServer } from "../protocols/rpc/mod.ts";
import services from "./_rpc_services.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const args = parseArgs(Deno.args, {
  string: ["workers", "concurrency"],
  boolean: ["until-stdin-closes"],
  default: { workers: "0" },
});
const workers = Number(args.workers);
if (!Number.isInteger(workers) || workers < 0) {
  console.error(`--workers must be a non-negative integer, got "${args.workers}"`);
  Deno.exit(2);
}
const concurrency = args.concurrency === undefined ? undefined : Number(args.concurrency);
if (args["until-stdin-closes"]) exitWhenStdinCloses();

const server = workers === 0
  ? rpcServer({ handler: services, idleTimeout: 0, concurrency })
  : rpcServer({
    handler: new URL("./_rpc_services.ts", import.meta.url),
    workers,
    idleTimeout: 0,
    concurrency,
  });
const { port } = await server.listen();
console.log(port);
