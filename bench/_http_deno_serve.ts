/**
 * The `Deno.serve` comparison of `http_load.ts`: the same handler as Speedo's.
 *
 * `deno run -A bench/_http_deno_serve.ts [--until-stdin-closes] [--cert cert.pem --key key.pem]`
 * listens on 127.0.0.1 (over TLS with a certificate), on a free port, and prints the port as
 * the first line of stdout.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";
import { HTTP_BENCH_BODY } from "./_http_body.ts";

const args = parseArgs(Deno.args, { boolean: ["until-stdin-closes"], string: ["cert", "key"] });
if (args["until-stdin-closes"]) exitWhenStdinCloses();

const tls = args.cert && args.key
  ? { cert: Deno.readTextFileSync(args.cert), key: Deno.readTextFileSync(args.key) }
  : {};
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  ...tls,
  onListen: ({ port }) => console.log(port),
}, () => new Response(HTTP_BENCH_BODY));
