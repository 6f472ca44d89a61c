/**
 * The baseline of `echo_load.ts`: the fastest plain echo Deno offers, with no framing. Per
 * connection: `setNoDelay(true)`, one 64 KiB buffer reused for every read, and each read's
 * bytes written back in full before the next read.
 *
 * `deno run -A bench/_raw_deno_echo.ts [--buffer-size 65536] [--until-stdin-closes]` listens on
 * 127.0.0.1, on a free port, and prints the port as the first line of stdout. A small
 * `--buffer-size` (64) makes it the floor of what an idle Deno connection costs in memory.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const args = parseArgs(Deno.args, {
  boolean: ["until-stdin-closes"],
  string: ["buffer-size"],
  default: { "buffer-size": String(64 * 1024) },
});
if (args["until-stdin-closes"]) exitWhenStdinCloses();

const BUFFER_SIZE = Number(args["buffer-size"]);
if (!Number.isInteger(BUFFER_SIZE) || BUFFER_SIZE < 1) {
  console.error(`--buffer-size must be a positive integer, got "${args["buffer-size"]}"`);
  Deno.exit(2);
}

async function echo(conn: Deno.TcpConn): Promise<void> {
  // Without it, Nagle holds back small replies until the peer's delayed ACK.
  conn.setNoDelay(true);
  const buffer = new Uint8Array(BUFFER_SIZE);
  try {
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) break;
      // A write may take only part of the bytes: loop until all are out.
      let written = 0;
      while (written < count) written += await conn.write(buffer.subarray(written, count));
    }
  } catch {
    // The load generator resets its connections at the end of a run: routine here.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
console.log(listener.addr.port);
for await (const conn of listener) void echo(conn);
