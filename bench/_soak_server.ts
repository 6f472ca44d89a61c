/**
 * The server child of the soak test (`soak.ts`): Speedo's echo, pub/sub and HTTP servers, as
 * shipped (default options) but for the port, in ONE process, so that its RSS and open file
 * descriptors are those of all three under load together.
 *
 * `deno run -A bench/_soak_server.ts [--until-stdin-closes] [--echo-workers N]` listens on
 * 127.0.0.1, on three free ports, and prints them as the first line of stdout, one JSON object:
 * `{"echo":P,"pubsub":P,"http":P}`. Whatever the servers report as errors goes to stderr, which
 * the soak test shows in its report.
 *
 * The HTTP handler answers `GET <path>?pad=N` with {@linkcode httpBody}, and `POST` with the
 * request's body, so that the load can check every byte of every response.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import { echoServer } from "../protocols/echo/mod.ts";
import { httpServer } from "../protocols/http/mod.ts";
import { pubsubServer } from "../protocols/pubsub/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";
import { soakResponse } from "./_soak_http_handler.ts";

/** The first line of the child's stdout. */
export interface SoakPorts {
  echo: number;
  pubsub: number;
  http: number;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    boolean: ["until-stdin-closes"],
    string: ["echo-workers", "loops"],
    default: { "echo-workers": String(defaultWorkerCount()), loops: "1" },
  });
  const loops = Number(args.loops);
  if (!Number.isInteger(loops) || loops < 1) {
    console.error(`--loops must be a positive integer, got "${args.loops}"`);
    Deno.exit(2);
  }
  const workers = Number(args["echo-workers"]);
  if (!Number.isInteger(workers) || workers < 0) {
    console.error(`--echo-workers must be a non-negative integer, got "${args["echo-workers"]}"`);
    Deno.exit(2);
  }
  if (args["until-stdin-closes"]) exitWhenStdinCloses();

  const echo = echoServer({ hostname: "127.0.0.1", port: 0, workers, loops });
  const pubsub = pubsubServer({ hostname: "127.0.0.1", port: 0, loops });
  const http = httpServer({
    hostname: "127.0.0.1",
    port: 0,
    loops,
    // Several loops each load the handler module; one runs the function.
    handler: loops === 1 ? soakResponse : new URL("./_soak_http_handler.ts", import.meta.url),
  });
  const ports: SoakPorts = {
    echo: (await echo.listen()).port,
    pubsub: (await pubsub.listen()).port,
    http: (await http.listen()).port,
  };
  console.log(JSON.stringify(ports));
}
