/**
 * The echo server: `deno run -A examples/echo.ts`, then `telnet localhost 9292`.
 *
 * Flags: `--port` (9292), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--workers`
 * (one per core but the I/O thread's; 0 echoes on the I/O thread; at most 4 per core),
 * `--max-line-length` (65536), `--loops` (1; N or `auto`: I/O loops sharing the port, each with
 * its `--workers`), `--help`. A bad flag exits 2 with one line on stderr. Ctrl-C or
 * SIGTERM shuts down gracefully and prints a summary.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import {
  exampleArgs,
  hostnameFlag,
  integerFlag,
  loopsFlag,
  MAX_BYTES,
  portFlag,
  workersFlag,
} from "./_args.ts";
import { hostPort } from "./_address.ts";
import { threadCount } from "../cli/_address.ts";
import { ECHO_PORT, echoServer } from "@speedo/speedo/echo";
import { defaultWorkerCount } from "@speedo/speedo";

const args = exampleArgs({
  name: "examples/echo.ts",
  summary: "The echo server: every line comes back as it came; try: telnet localhost 9292",
}, {
  port: portFlag({ default: ECHO_PORT, help: "port to listen on; 0 picks a free one" }),
  hostname: hostnameFlag(),
  workers: workersFlag(
    defaultWorkerCount(),
    "worker threads (per loop); 0 echoes on the I/O thread",
  ),
  "max-line-length": integerFlag({
    default: 65536,
    min: 1,
    max: MAX_BYTES,
    help: "longest line in bytes; a longer one gets an error line",
  }),
  loops: loopsFlag(),
});

const server = echoServer({
  hostname: args.hostname,
  port: args.port,
  workers: args.workers,
  loops: args.loops,
  echo: { maxLineLength: args["max-line-length"] },
});
const address = await server.listen();
console.log(
  `Speedo echo listening on ${hostPort(address)} (${
    threadCount(server.stats())
  }); try: telnet localhost ${address.port}`,
);

closeOnSignal(server, () => {
  const s = server.stats();
  return `${s.accepted} connections, ${s.messagesIn} lines in, ${s.messagesOut} answered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out`;
});
