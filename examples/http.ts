/**
 * An HTTP server for a folder, with a WebSocket echo and pub/sub over WebSocket:
 * `deno run -A examples/http.ts`, then open http://localhost:8080/ (the page opens a WebSocket to
 * `/ws` and shows the echoes), http://localhost:8080/pubsub.html (the page speaks NATS over a
 * WebSocket to `/nats`: subscribe to subjects, publish to them), or
 * `curl -i http://localhost:8080/`.
 *
 * With `--nats-port 4222`, NATS clients over TCP share the subjects of `/nats`: a page subscribed
 * to `greet.*` shows what `nats pub greet.joe hello` (or telnet) publishes, and the other way
 * round.
 *
 * Flags: `--port` (8080), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--dir` (the
 * `public` folder beside this file), `--nats-path` (`/nats`; the page takes it as
 * `pubsub.html?path=/other`), `--nats-port` (none: no TCP listener; 0 picks a free port). Ctrl-C
 * or SIGTERM shuts down gracefully and prints a summary.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import { parseArgs } from "@std/cli/parse-args";
import { Server } from "../core/server.ts";
import echoHandler from "../protocols/echo/echo_handler.ts";
import { HTTP_PORT, httpHandler, httpProtocol, serveDir } from "../protocols/http/mod.ts";
import { pubsubServer, pubsubWebSocket, SubjectRouter } from "../protocols/pubsub/mod.ts";
import { websocketHandler, websocketUpgrade } from "../protocols/websocket/mod.ts";

const args = parseArgs(Deno.args, {
  string: ["port", "hostname", "dir", "nats-path", "nats-port"],
  boolean: ["help"],
  default: {
    port: String(HTTP_PORT),
    hostname: "127.0.0.1",
    dir: decodeURIComponent(new URL("./public", import.meta.url).pathname),
    "nats-path": "/nats",
  },
});

if (args.help) {
  console.log(
    "Usage: deno run -A examples/http.ts [--port 8080] [--hostname 127.0.0.1] [--dir examples/public] [--nats-path /nats] [--nats-port 4222]",
  );
  Deno.exit(0);
}

function portFlag(name: string, value: string): number {
  const port = Number(value);
  if (value === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--${name} must be an integer from 0 to 65535, got "${value}"`);
    Deno.exit(2);
  }
  return port;
}

const port = portFlag("port", args.port);
const natsPort = args["nats-port"] === undefined
  ? undefined
  : portFlag("nats-port", args["nats-port"]);
const natsPath = args["nats-path"];
if (!natsPath.startsWith("/") || natsPath === "/ws") {
  console.error(`--nats-path must start with "/" and not be /ws, got "${natsPath}"`);
  Deno.exit(2);
}
try {
  if (!Deno.statSync(args.dir).isDirectory) throw new Error("not a directory");
} catch {
  console.error(`--dir must be a folder, got "${args.dir}"`);
  Deno.exit(2);
}

// One subject space for the pages at /nats and the TCP clients of --nats-port.
const router = new SubjectRouter();
// Each WebSocket message at /ws is echoed back as it came, by the echo protocol's handler.
const echo = { path: "/ws", maxMessageSize: 64 * 1024 };
const echoUpgrade = websocketUpgrade(echo);
// NATS over WebSocket at /nats: the NATS text protocol in WebSocket messages, routed on the I/O
// thread like the TCP clients' operations.
const nats = pubsubWebSocket({ path: natsPath, router, address: () => server.address });
const natsUpgrade = websocketUpgrade(nats);

// httpServer takes one WebSocket endpoint: with two, the server is built from its parts.
const server: Server = new Server({
  hostname: args.hostname,
  port,
  workers: 0,
  protocol: httpProtocol({
    upgrade: (request, context) => echoUpgrade(request, context) ?? natsUpgrade(request, context),
  }),
  // The echo's WebSocket handler also writes the close frames of /nats connections: that is all
  // they dispatch, and it is the same for every endpoint.
  onMessage: httpHandler(serveDir(args.dir), {
    websocket: websocketHandler(echoHandler, echo),
  }).onMessage,
});
const address = await server.listen();
console.log(
  `Speedo HTTP listening on http://${address.hostname}:${address.port}/ (serving ${args.dir}, WebSocket echo at /ws, NATS over WebSocket at ${natsPath})`,
);
closeOnSignal(server, () => {
  const s = server.stats();
  return `${s.accepted} connections, ${s.messagesIn} messages in, ${s.messagesOut} answered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out, ${router.published} published, ${router.delivered} delivered`;
});

if (natsPort !== undefined) {
  const tcp = pubsubServer({ hostname: args.hostname, port: natsPort, router });
  const { hostname, port } = await tcp.listen();
  console.log(
    `NATS over TCP on ${hostname}:${port}, sharing the subjects of ${natsPath}; try: nats -s nats://${hostname}:${port} pub greet.joe hello`,
  );
  closeOnSignal(tcp, () => `NATS over TCP: ${tcp.stats().accepted} connections`);
}
