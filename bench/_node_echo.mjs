/**
 * The Node comparison of `echo_load.ts`: a `net` echo that writes each 'data' chunk back
 * (no `pipe`, the same shape as the raw Deno echo), with Nagle off.
 *
 * `node bench/_node_echo.mjs [--until-stdin-closes]` listens on 127.0.0.1, on a free port, and
 * prints the port as the first line of stdout.
 *
 * @module
 */

import net from "node:net";
import process from "node:process";

if (process.argv.includes("--until-stdin-closes")) {
  // The bench's pipe on stdin closes when the bench ends or dies: end with it.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}

const server = net.createServer((socket) => {
  // Without it, Nagle holds back small replies until the peer's delayed ACK.
  socket.setNoDelay(true);
  socket.on("data", (chunk) => socket.write(chunk));
  // The load generator resets its connections at the end of a run: routine here.
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  console.log(server.address().port);
});
