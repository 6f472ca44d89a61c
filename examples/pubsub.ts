/**
 * The pub/sub server: `deno run -A examples/pubsub.ts`, then `telnet localhost 4222`, or any
 * NATS client (`nats sub '>'`, `npm:nats`).
 *
 * Flags: `--port` (4222), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--max-payload`
 * (1048576), `--loops` (1; N or `auto`: I/O loops sharing the port; subjects, queue groups and
 * request/reply span the loops, and the summary leaves out the router's counts, which are per
 * loop), `--backplane nats://host:port` (repeatable, a cluster's servers: the server joins
 * their pub/sub, as a NATS client, with other Speedo servers joined to the same NATS system;
 * with `--loops`, each loop joins on its own connections), `--user U --pass P` or `--token T`
 * (nats-server's flags: clients must present them), `--auth FILE` (a JSON authorization
 * block as nats-server's: `{"users": [{"user", "password", "permissions"}, {"nkey"}]}` or
 * `{"token"}`, with `default_permissions`), `--help`. A bad flag exits 2 with one line on stderr. Ctrl-C or SIGTERM shuts down
 * gracefully and prints a summary.
 *
 * ```
 * $ telnet localhost 4222
 * INFO {"server_id":"N…","version":"2.10.0","proto":1,…}
 * sub greet.* 1
 * +OK
 * pub greet.joe 5
 * hello
 * +OK
 * MSG greet.joe 1 5
 * hello
 * ```
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import {
  exampleArgs,
  exitOnFlagError,
  hostnameFlag,
  loopCount,
  loopsFlag,
  portFlag,
  serverOrExit,
} from "./_args.ts";
import { PUBSUB_FLAGS, pubsubOptions } from "../cli/_pubsub_flags.ts";
import { hostPort } from "./_address.ts";
import { PUBSUB_PORT, pubsubServer, SubjectRouter } from "@speedo/speedo/pubsub";

const args = exampleArgs({
  name: "examples/pubsub.ts",
  summary: "The pub/sub server (NATS core protocol); try: telnet localhost 4222, or nats sub '>'",
}, {
  port: portFlag({ default: PUBSUB_PORT, help: "port to listen on; 0 picks a free one" }),
  hostname: hostnameFlag(),
  loops: loopsFlag(),
  ...PUBSUB_FLAGS,
});

const options = exitOnFlagError(() => pubsubOptions(args));

// On one loop the router is this thread's, for the summary's counts; on several, each loop
// has its own (a router cannot cross to a loop's thread).
const router = args.loops === 1 ? new SubjectRouter() : undefined;
const server = serverOrExit(() =>
  pubsubServer({
    hostname: args.hostname,
    port: args.port,
    loops: args.loops,
    authenticate: options.authenticate,
    pubsub: { ...options.pubsub, ...(router === undefined ? {} : { router }) },
  })
);
const address = await server.listen();
const loops = loopCount(server.stats().loops.length);
console.log(
  `Speedo pub/sub listening on ${hostPort(address)}${
    loops === "" ? "" : ` (${loops})`
  }; try: telnet localhost ${address.port} (NATS clients work too)`,
);
if (options.authenticate !== undefined) console.log("Clients must log in (auth_required)");
if (args.backplane.length > 0) {
  console.log(`Joining the backplane: ${args.backplane.join(", ")}`);
}

closeOnSignal(server, () => {
  const s = server.stats();
  const routed = router === undefined
    ? ""
    : `, ${router.published} messages published, ${router.delivered} delivered${
      router.backplane === undefined
        ? ""
        : ` (backplane: ${router.backplane.published} sent, ${router.backplane.received} received, ${router.backplane.dropped} dropped)`
    }`;
  return `${s.accepted} connections${routed}, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out`;
});
