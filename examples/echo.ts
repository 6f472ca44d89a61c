/**
 * The echo server: `deno run -A examples/echo.ts`, then `telnet localhost 9292`.
 *
 * Flags: `--port` (9292), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--workers`
 * (one per core but the I/O thread's; 0 echoes on the I/O thread), `--max-line-length` (65536).
 * Ctrl-C or SIGTERM shuts down gracefully and prints a summary.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import { parseArgs } from "@std/cli/parse-args";
import { ECHO_PORT, echoServer } from "../protocols/echo/mod.ts";
import { defaultWorkerCount } from "../core/worker_pool.ts";

const args = parseArgs(Deno.args, {
  string: ["port", "hostname", "workers", "max-line-length"],
  boolean: ["help"],
  default: {
    port: String(ECHO_PORT),
    hostname: "127.0.0.1",
    workers: String(defaultWorkerCount()),
    "max-line-length": "65536",
  },
});

if (args.help) {
  console.log(
    "Usage: deno run -A examples/echo.ts [--port 9292] [--hostname 127.0.0.1] [--workers N] [--max-line-length 65536]",
  );
  Deno.exit(0);
}

function integerFlag(name: string): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got "${args[name]}"`);
    Deno.exit(2);
  }
  return value;
}

const server = echoServer({
  hostname: args.hostname,
  port: integerFlag("port"),
  workers: integerFlag("workers"),
  maxLineLength: integerFlag("max-line-length"),
});
const { hostname, port } = await server.listen();
const mode = server.stats().workers > 0 ? `${server.stats().workers} workers` : "inline";
console.log(
  `Speedo echo listening on ${hostname}:${port} (${mode}); try: telnet localhost ${port}`,
);

closeOnSignal(server, () => {
  const s = server.stats();
  return `${s.accepted} connections, ${s.messagesIn} lines in, ${s.messagesOut} answered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out`;
});
