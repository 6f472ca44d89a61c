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
 * `/ws` and `/nats` refuse (403) web pages of other origins than this server's own: a site the
 * user visits cannot subscribe to `>` through the user's browser. Its own pages always connect,
 * and so do clients that are not browsers (they send no `Origin`). `--allowed-origin URL`
 * (repeatable) lets pages of another origin in too, such as a page of `http://localhost:3000`
 * under development; `--allowed-origin '*'` lets any page in.
 *
 * Flags: `--port` (8080), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--dir` (the
 * `public` folder beside this file), `--nats-path` (`/nats`; the page takes it as
 * `pubsub.html?path=/other`), `--nats-port` (none: no TCP listener; 0 picks a free port),
 * `--loops` (1; N or `auto`: I/O loops sharing the port, each loading the protocol of
 * `_site_protocol.ts` and the handler of `_site_handler.ts`; the pages, `/ws` and `/nats` work on
 * every loop, and `/nats` subjects span the loops, with the TCP clients of `--nats-port` too: one
 * server, two addresses), `--allowed-origin` (none: this server's pages only), `--help`. A
 * bad flag exits 2 with one line on stderr. Ctrl-C or SIGTERM shuts down gracefully and prints a
 * summary.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import {
  exampleArgs,
  folderFlag,
  hostnameFlag,
  listFlag,
  loopCount,
  loopsFlag,
  portFlag,
  serverOrExit,
  textFlag,
} from "./_args.ts";
import { hostPort } from "./_address.ts";
import { siteProtocol } from "./_site_protocol.ts";
import type { SiteData } from "./_site_handler.ts";
import { Server } from "@speedo/speedo";
import { HTTP_PORT } from "@speedo/speedo/http";
import { SubjectRouter } from "@speedo/speedo/pubsub";
import { OriginPolicy } from "@speedo/speedo/websocket";

/** Whether `text` is an entry `allowedOrigins` takes. */
function isOrigin(text: string): boolean {
  try {
    new OriginPolicy({ allowedOrigins: [text] });
    return true;
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
  hostname: hostnameFlag(),
  dir: folderFlag({
    default: decodeURIComponent(new URL("./public", import.meta.url).pathname),
    help: "the folder served",
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
  "allowed-origin": listFlag(
    "also let pages of this origin (scheme://host[:port]; * for any) open /ws and the NATS path; this server's own pages always may",
    "URL",
    { check: isOrigin, requirement: "be an origin such as https://app.example.com, or *" },
  ),
  loops: loopsFlag(),
});
const port = args.port;
const natsPort = args["nats-port"];
const natsPath = args["nats-path"];
// One subject space for the pages at /nats and the TCP clients of --nats-port: on one loop,
// this thread's router, whose counts the summary gives; on several, one per loop.
const router = args.loops === 1 ? new SubjectRouter() : undefined;
// httpServer takes one WebSocket endpoint: with two, the server is built from its parts. The
// protocol and the handler are modules that each loop loads (their hooks and functions cannot
// cross to a loop's thread); the handler runs inline (workers: 0) and gets the folder as data.
const server: Server = serverOrExit(() =>
  new Server({
    hostname: args.hostname,
    port,
    loops: args.loops,
    workers: 0,
    // --nats-port: a second address of this server, whose connections speak NATS over TCP.
    listeners: natsPort === undefined ? undefined : [{ port: natsPort }],
    protocol: siteProtocol({
      natsPath,
      natsTcp: natsPort !== undefined,
      allowedOrigins: args["allowed-origin"],
      ...(router === undefined ? {} : { router, address: () => server.address }),
    }),
    handler: new URL("./_site_handler.ts", import.meta.url),
    handlerData: { dir: args.dir } satisfies SiteData,
  })
);
const address = await server.listen();
const loops = loopCount(server.stats().loops.length);
console.log(
  `Speedo HTTP listening on http://${hostPort(address)}/ (${
    loops === "" ? "" : `${loops}; `
  }serving ${args.dir}, WebSocket echo at /ws, NATS over WebSocket at ${natsPath})`,
);
closeOnSignal(server, () => {
  const s = server.stats();
  const routed = router === undefined
    ? ""
    : `, ${router.published} published, ${router.delivered} delivered`;
  return `${s.accepted} connections, ${s.messagesIn} messages in, ${s.messagesOut} answered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out${routed}`;
});

if (natsPort !== undefined) {
  const nats = server.addresses[1];
  console.log(
    `NATS over TCP on ${hostPort(nats)}, sharing the subjects of ${natsPath}; try: nats -s nats://${
      hostPort(nats)
    } pub greet.joe hello`,
  );
}
