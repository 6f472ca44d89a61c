/**
 * An HTTP server for a folder, with a WebSocket echo: `deno run -A examples/http.ts`, then open
 * http://localhost:8080/ (the page opens a WebSocket to `/ws` and shows the echoes), or
 * `curl -i http://localhost:8080/`.
 *
 * Flags: `--port` (8080), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--dir` (the
 * `public` folder beside this file). Ctrl-C or SIGTERM shuts down gracefully and prints a summary.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import { parseArgs } from "@std/cli/parse-args";
import echoHandler from "../protocols/echo/echo_handler.ts";
import { HTTP_PORT, httpServer, serveDir } from "../protocols/http/mod.ts";

const args = parseArgs(Deno.args, {
  string: ["port", "hostname", "dir"],
  boolean: ["help"],
  default: {
    port: String(HTTP_PORT),
    hostname: "127.0.0.1",
    dir: decodeURIComponent(new URL("./public", import.meta.url).pathname),
  },
});

if (args.help) {
  console.log(
    "Usage: deno run -A examples/http.ts [--port 8080] [--hostname 127.0.0.1] [--dir examples/public]",
  );
  Deno.exit(0);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer from 0 to 65535, got "${args.port}"`);
  Deno.exit(2);
}
try {
  if (!Deno.statSync(args.dir).isDirectory) throw new Error("not a directory");
} catch {
  console.error(`--dir must be a folder, got "${args.dir}"`);
  Deno.exit(2);
}

const server = httpServer({
  hostname: args.hostname,
  port,
  handler: serveDir(args.dir),
  // Each WebSocket message is echoed back as it came, by the echo protocol's message handler.
  websocket: { path: "/ws", onMessage: echoHandler.onMessage, maxMessageSize: 64 * 1024 },
});
const address = await server.listen();
console.log(
  `Speedo HTTP listening on http://${address.hostname}:${address.port}/ (serving ${args.dir}, WebSocket echo at /ws)`,
);

closeOnSignal(server, () => {
  const s = server.stats();
  return `${s.accepted} connections, ${s.messagesIn} messages in, ${s.messagesOut} answered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out`;
});
