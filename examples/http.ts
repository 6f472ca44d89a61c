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
 * `pubsub.html?path=/other`), `--nats-port` (none: no TCP listener; 0 picks a free port),
 * `--loops` (1; N or `auto`: refused for now, exit 2: the WebSocket endpoints are upgrade hooks,
 * functions that cannot cross to a loop's thread), `--help`. A bad flag exits 2 with one line on stderr. Ctrl-C or SIGTERM shuts down gracefully
 * and prints a summary.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import { exampleArgs, loopsFlag, portFlag, serverOrExit, textFlag } from "./_args.ts";
import { hostPort } from "./_address.ts";
import { Server } from "@speedo/speedo";
import echoHandler from "@speedo/speedo/echo/handler";
import { HTTP_PORT, httpHandler, httpProtocol, serveDir } from "@speedo/speedo/http";
import { pubsubServer, pubsubWebSocket, SubjectRouter } from "@speedo/speedo/pubsub";
import { websocketHandler, websocketUpgrade } from "@speedo/speedo/websocket";

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const args = exampleArgs({
  name: "examples/http.ts",
  summary:
    "An HTTP server for a folder, with a WebSocket echo at /ws and NATS over WebSocket; open http://localhost:8080/",
}, {
  port: portFlag({ default: HTTP_PORT, help: "port to listen on; 0 picks a free one" }),
  hostname: textFlag({
    default: "127.0.0.1",
    placeholder: "HOST",
    help: "address to listen on; 0.0.0.0 for other hosts",
  }),
  dir: textFlag({
    default: decodeURIComponent(new URL("./public", import.meta.url).pathname),
    placeholder: "DIR",
    help: "the folder served",
    check: isFolder,
    requirement: "be a folder",
  }),
  "nats-path": textFlag({
    default: "/nats",
    placeholder: "PATH",
    help: "the path of NATS over WebSocket (the page takes it as pubsub.html?path=/other)",
    check: (path) => path.startsWith("/") && path !== "/ws",
    requirement: 'start with "/" and not be /ws',
  }),
  "nats-port": portFlag({
    help: "also serve NATS over TCP on this port, sharing the subjects; 0 picks a free one",
  }),
  loops: loopsFlag(),
});
const port = args.port;
const natsPort = args["nats-port"];
const natsPath = args["nats-path"];

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
const server: Server = serverOrExit(() =>
  new Server({
    hostname: args.hostname,
    port,
    loops: args.loops,
    workers: 0,
    protocol: httpProtocol({
      upgrade: (request, context) => echoUpgrade(request, context) ?? natsUpgrade(request, context),
    }),
    // The echo's WebSocket handler also writes the close frames of /nats connections: that is all
    // they dispatch, and it is the same for every endpoint.
    onMessage: httpHandler(serveDir(args.dir), {
      websocket: websocketHandler(echoHandler, echo),
    }).onMessage,
  })
);
const address = await server.listen();
console.log(
  `Speedo HTTP listening on http://${
    hostPort(address)
  }/ (serving ${args.dir}, WebSocket echo at /ws, NATS over WebSocket at ${natsPath})`,
);
closeOnSignal(server, () => {
  const s = server.stats();
  return `${s.accepted} connections, ${s.messagesIn} messages in, ${s.messagesOut} answered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out, ${router.published} published, ${router.delivered} delivered`;
});

if (natsPort !== undefined) {
  const tcp = pubsubServer({ hostname: args.hostname, port: natsPort, pubsub: { router } });
  const nats = await tcp.listen();
  console.log(
    `NATS over TCP on ${hostPort(nats)}, sharing the subjects of ${natsPath}; try: nats -s nats://${
      hostPort(nats)
    } pub greet.joe hello`,
  );
  closeOnSignal(tcp, () => `NATS over TCP: ${tcp.stats().accepted} connections`);
}
