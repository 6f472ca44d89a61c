/**
 * The session server of `rpc_load.ts`'s session runs: answers every message with its payload.
 *
 * `deno run -A bench/_rpc_session_server.ts --dir DIR --fsync never|always|MS
 * [--until-stdin-closes]` listens on 127.0.0.1, on a free port, and prints the port first.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { sessionServer, SessionTable } from "../protocols/session/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";
import { fsyncPolicy } from "./_rpc_session_client.ts";

const args = parseArgs(Deno.args, {
  string: ["dir", "fsync"],
  boolean: ["until-stdin-closes"],
  default: { fsync: "never" },
});
if (args.dir === undefined) {
  console.error("--dir is required");
  Deno.exit(2);
}
if (args["until-stdin-closes"]) exitWhenStdinCloses();

const server = sessionServer({
  idleTimeout: 0,
  session: {
    dir: args.dir,
    sessions: new SessionTable(),
    fsync: fsyncPolicy(args.fsync),
    onMessage: (message, session) => void session.send(1, message.payload),
  },
});
const { port } = await server.listen();
console.log(port);
