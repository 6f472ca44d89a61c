/**
 * A floor of `large_message.ts`: raw `Deno.listen` echo that frames, with nothing else. Each
 * connection reads into the buffer of the line being assembled (no copy in JS, but for the
 * start of the next line after an LF), and writes each whole line while reading goes on; a
 * line's buffer is reused once its write finished. What any server that hands whole messages
 * to a handler pays above a streaming echo: every line lives whole in memory, out of cache.
 *
 * `deno run -A bench/_raw_deno_line_echo.ts [--max-line-length 2097152] [--until-stdin-closes]`
 * listens on 127.0.0.1, on a free port, and prints the port as the first line of stdout. A
 * connection whose line passes the limit is closed.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { findLfOrNul } from "../core/framing/_find_lf_or_nul.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const READ_SIZE = 64 * 1024;

const args = parseArgs(Deno.args, {
  boolean: ["until-stdin-closes"],
  string: ["max-line-length"],
  default: { "max-line-length": String(2 * 1024 * 1024) },
});
if (args["until-stdin-closes"]) exitWhenStdinCloses();
const maxLineLength = Number(args["max-line-length"]);

async function echo(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const free: Uint8Array[] = [];
  const take = () => free.pop() ?? new Uint8Array(maxLineLength + READ_SIZE);
  let line = take();
  let length = 0;
  let writes = Promise.resolve();
  let inFlight = 0;
  try {
    while (true) {
      if (length + READ_SIZE > line.length) throw new RangeError("Line too long");
      const count = await conn.read(line.subarray(length, length + READ_SIZE));
      if (count === null) break;
      // The last LF read, with Speedo's scan (V8's indexOf is a byte loop: 42% of this
      // server's time with it). The bytes sent hold no NUL, so a hit is an LF.
      const read = line.subarray(0, length + count);
      let end = -1;
      for (let at = findLfOrNul(read, length); at >= 0; at = findLfOrNul(read, at + 1)) {
        end = at + 1;
      }
      length += count;
      if (end < 0) continue;
      // Lines up to the last LF leave whole; the rest starts the next buffer.
      const full = line;
      line = take();
      line.set(full.subarray(end, length));
      length -= end;
      inFlight++;
      writes = writes.then(async () => {
        for (let at = 0; at < end;) at += await conn.write(full.subarray(at, end));
        free.push(full);
        inFlight--;
      });
      writes.catch(() => {}); // awaited below; a failed write ends the connection there
      // At most two line buffers waiting for the socket: reads wait for writes beyond that.
      if (inFlight >= 2) await writes;
    }
    await writes;
  } catch {
    // The load generator resets its connection at the end of a run: routine here.
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
