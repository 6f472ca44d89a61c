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
  hostnameFlag,
  integerFlag,
  listFlag,
  loopCount,
  loopsFlag,
  MAX_BYTES,
  portFlag,
  serverOrExit,
  textFlag,
} from "./_args.ts";
import { hostPort } from "./_address.ts";
import {
  natsAuthenticator,
  type NatsAuthorization,
  PUBSUB_PORT,
  pubsubServer,
  SubjectRouter,
} from "@speedo/speedo/pubsub";

const args = exampleArgs({
  name: "examples/pubsub.ts",
  summary: "The pub/sub server (NATS core protocol); try: telnet localhost 4222, or nats sub '>'",
}, {
  port: portFlag({ default: PUBSUB_PORT, help: "port to listen on; 0 picks a free one" }),
  hostname: hostnameFlag(),
  "max-payload": integerFlag({
    default: 1048576,
    min: 1,
    max: MAX_BYTES,
    help: "largest message payload in bytes",
  }),
  loops: loopsFlag(),
  backplane: listFlag(
    "a NATS server (nats://host:port) to join the pub/sub of other Speedo servers through",
    "URL",
    {
      check: (text) => /^(nats|tls):\/\/[^\s]+$/.test(text),
      requirement: "be a nats:// or tls:// URL",
    },
  ),
  user: textFlag({ placeholder: "USER", help: "the user clients must log in as (with --pass)" }),
  pass: textFlag({ placeholder: "PASS", help: "the password of --user" }),
  token: textFlag({ placeholder: "TOKEN", help: "the token clients must present" }),
  auth: textFlag({
    placeholder: "FILE",
    help: "a JSON file of users and their permissions, as nats-server's authorization block",
  }),
});

/** Who may connect, from the flags; exits 2 on a bad combination or file. */
function authorization(): NatsAuthorization | undefined {
  const fail = (line: string): never => {
    console.error(`examples/pubsub.ts: ${line}`);
    Deno.exit(2);
  };
  const given = [args.user ?? args.pass, args.token, args.auth].filter((v) => v !== undefined);
  if (given.length > 1) fail("give one of --user/--pass, --token and --auth");
  if ((args.user === undefined) !== (args.pass === undefined)) {
    fail("--user and --pass go together");
  }
  if (args.user !== undefined) return { users: [{ user: args.user, password: args.pass! }] };
  if (args.token !== undefined) return { token: args.token };
  if (args.auth === undefined) return undefined;
  try {
    return JSON.parse(Deno.readTextFileSync(args.auth)) as NatsAuthorization;
  } catch (error) {
    return fail(`--auth ${args.auth}: ${error instanceof Error ? error.message : error}`);
  }
}

const auth = authorization();

// On one loop the router is this thread's, for the summary's counts; on several, each loop
// has its own (a router cannot cross to a loop's thread).
const router = args.loops === 1 ? new SubjectRouter() : undefined;
const server = serverOrExit(() =>
  pubsubServer({
    hostname: args.hostname,
    port: args.port,
    loops: args.loops,
    ...(auth === undefined ? {} : { authenticate: natsAuthenticator(auth) }),
    pubsub: {
      maxPayload: args["max-payload"],
      ...(router === undefined ? {} : { router }),
      ...(args.backplane.length === 0 ? {} : { backplane: { servers: args.backplane } }),
    },
  })
);
const address = await server.listen();
const loops = loopCount(server.stats().loops.length);
console.log(
  `Speedo pub/sub listening on ${hostPort(address)}${
    loops === "" ? "" : ` (${loops})`
  }; try: telnet localhost ${address.port} (NATS clients work too)`,
);
if (auth !== undefined) console.log("Clients must log in (auth_required)");
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
