/**
 * The Speedo HTTP server under test in `http_load.ts`: `httpServer` with a handler that answers
 * every request with a small text response, inline, with the idle timeout off.
 *
 * `deno run -A bench/_http_speedo.ts [--until-stdin-closes] [--cert cert.pem --key key.pem]`
 * listens on 127.0.0.1 (over TLS with a certificate), on a free port, and prints the port as
 * the first line of stdout.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { httpServer } from "../protocols/http/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";
import { HTTP_BENCH_BODY } from "./_http_body.ts";

const args = parseArgs(Deno.args, {
  boolean: ["until-stdin-closes"],
  string: ["cert", "key", "loops"],
});
// With --loops (even 1) the handler is the module, as every loop needs it: a run comparing
// loop counts compares one handler.
const loops = args.loops === undefined ? undefined : Number(args.loops);
if (loops !== undefined && (!Number.isInteger(loops) || loops < 1)) {
  console.error(`--loops must be a positive integer, got "${args.loops}"`);
  Deno.exit(2);
}
if (args["until-stdin-closes"]) exitWhenStdinCloses();

// idleTimeout 0: a connection that waits through a long run of other servers must not be reaped.
const server = httpServer({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  tls: args.cert && args.key
    ? { cert: Deno.readTextFileSync(args.cert), key: Deno.readTextFileSync(args.key) }
    : undefined,
  handler: loops === undefined
    ? () => new Response(HTTP_BENCH_BODY)
    : new URL("./_http_bench_handler.ts", import.meta.url),
  loops,
  // wrk ends TLS connections without close_notify; core reports that as an error for now.
  onError: (error) => {
    if (!(error instanceof Deno.errors.UnexpectedEof)) console.error(error);
  },
});
const { port } = await server.listen();
console.log(port);
