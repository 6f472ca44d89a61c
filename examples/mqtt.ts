/**
 * The MQTT broker: `deno run -A examples/mqtt.ts`, then `mosquitto_sub -t 'home/#' -v` and
 * `mosquitto_pub -t home/kitchen -m 21` (MQTT 3.1.1 or 5.0: `-V mqttv5`), or any MQTT client.
 *
 * Flags: `--port` (1883), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--max-packet-size`
 * (1048576), `--max-keepalive SECONDS` (0: as the client asks; above it, MQTT 5 clients are told
 * the server's keep alive), `--user U --pass P` (clients must log in with them),
 * `--deny-subscribe FILTER` (repeatable: a subscription within it is refused, 0x80 / 0x87),
 * `--store FILE` (an SQLite file: persistent sessions and retained messages survive a restart,
 * `kill -9` included; a file that is not such a store is refused),
 * `--topic-aliases N` (aliases the broker sets towards each MQTT 5 client that allows them, for
 * its first N topics; 0, the default: none),
 * `--nats-port PORT` (serve NATS pub/sub on PORT too, sharing subjects: MQTT `a/b` is NATS `a.b`),
 * `--backplane nats://host:port` (repeatable: MQTT clients share subjects with a NATS system),
 * `--help`. A bad flag exits 2 with one line on stderr. Ctrl-C or SIGTERM shuts down gracefully
 * and prints a summary. One I/O loop: the broker's sessions live in one thread.
 *
 * ```
 * $ mosquitto_sub -t 'home/#' -v &
 * $ mosquitto_pub -t home/kitchen -m 21
 * home/kitchen 21
 * ```
 *
 * With `--nats-port 4222`, NATS clients on 4222 share the subjects (`nats pub home.kitchen 21`
 * reaches the `mosquitto_sub` above); with `--backplane`, so do those of a NATS system.
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import {
  exampleArgs,
  integerFlag,
  listFlag,
  MAX_BYTES,
  portFlag,
  serverOrExit,
  textFlag,
} from "./_args.ts";
import { hostPort } from "./_address.ts";
import {
  MQTT_PORT,
  mqttServer,
  MqttStoreError,
  parseSharedFilter,
  topicMatches,
  validTopicFilter,
} from "@speedo/speedo/mqtt";
import { pubsubServer, SubjectRouter } from "@speedo/speedo/pubsub";
import { onShutdownSignal } from "./_close_on_signal.ts";

const args = exampleArgs({
  name: "examples/mqtt.ts",
  summary: "The MQTT broker (3.1.1 and 5.0); try: mosquitto_sub -t '#' -v",
}, {
  port: portFlag({ default: MQTT_PORT, help: "port to listen on; 0 picks a free one" }),
  hostname: textFlag({
    default: "127.0.0.1",
    placeholder: "HOST",
    help: "address to listen on; 0.0.0.0 for other hosts",
  }),
  "max-packet-size": integerFlag({
    default: 1048576,
    min: 1,
    max: MAX_BYTES,
    help: "largest packet a client may send, in bytes",
  }),
  "max-keepalive": integerFlag({
    default: 0,
    min: 0,
    max: 65535,
    help: "longest keep alive granted, in seconds; 0: what the client asks",
  }),
  "topic-aliases": integerFlag({
    default: 0,
    min: 0,
    max: 65535,
    help: "topic aliases set towards each MQTT 5 client (at most its own maximum); 0: none",
  }),
  user: textFlag({
    placeholder: "USER",
    help: "the user name clients must log in with (with --pass)",
  }),
  pass: textFlag({ placeholder: "PASS", help: "the password of --user" }),
  store: textFlag({
    placeholder: "FILE",
    help:
      "an SQLite file where persistent sessions, what they are owed and retained messages survive a restart (made when absent)",
  }),
  "deny-subscribe": listFlag(
    "a topic filter no client may subscribe within (its own wildcards count as written)",
    "FILTER",
    { check: validTopicFilter, requirement: "be a valid MQTT topic filter" },
  ),
  "nats-port": portFlag({
    help: "serve NATS pub/sub on this port too, sharing subjects (a/b is a.b)",
  }),
  backplane: listFlag(
    "a NATS server (nats://host:port) whose clients share subjects with the MQTT clients",
    "URL",
    {
      check: (text) => /^(nats|tls):\/\/[^\s]+$/.test(text),
      requirement: "be a nats:// or tls:// URL",
    },
  ),
});
const denied = args["deny-subscribe"];
// One router for the MQTT bridge and the NATS port: one subject space.
const router = args["nats-port"] === undefined && args.backplane.length === 0
  ? undefined
  : new SubjectRouter();

if ((args.user === undefined) !== (args.pass === undefined)) {
  console.error("examples/mqtt.ts: --user and --pass go together");
  Deno.exit(2);
}
const server = serverOrExit(() => {
  try {
    return mqttServerFromArgs();
  } catch (error) {
    // A store that cannot be used is a bad --store: one line, exit 2, as for any bad flag.
    if (error instanceof MqttStoreError) throw new TypeError(`--store: ${error.message}`);
    throw error;
  }
});

function mqttServerFromArgs() {
  return mqttServer({
    hostname: args.hostname,
    port: args.port,
    ...(args.user === undefined ? {} : {
      authenticate: ({ credentials }) =>
        credentials.username === args.user && credentials.password === args.pass
          ? { name: args.user! }
          : { refused: "bad user name or password" },
    }),
    mqtt: {
      maxPacketSize: args["max-packet-size"],
      maxKeepAlive: args["max-keepalive"],
      ...(args.store === undefined ? {} : { store: args.store }),
      serverTopicAliases: args["topic-aliases"],
      ...(denied.length === 0 ? {} : {
        // A subscription is refused when a denied filter covers it, its wildcards read as
        // written (`secret/#` covers `secret/+` and `secret/a`, not `#`).
        authorize: ({ action, topic }) => {
          if (action !== "subscribe") return true;
          const filter = parseSharedFilter(topic)?.filter ?? topic;
          return !denied.some((deny) => topicMatches(deny, filter));
        },
      }),
    },
    ...(router === undefined ? {} : {
      pubsub: {
        router,
        ...(args.backplane.length === 0 ? {} : { backplane: { servers: args.backplane } }),
      },
    }),
  });
}
const address = await server.listen();
const stored = args.store === undefined
  ? ""
  : `; store ${args.store}: ${server.broker.sessions.size} sessions, ${server.broker.retained.size} retained messages`;
console.log(
  `Speedo MQTT listening on ${
    hostPort(address)
  }; try: mosquitto_sub -p ${address.port} -t '#' -v${stored}`,
);
if (args["nats-port"] !== undefined) {
  const nats = pubsubServer({
    hostname: args.hostname,
    port: args["nats-port"],
    pubsub: { router },
  });
  const natsAddress = await nats.listen();
  console.log(`NATS on ${hostPort(natsAddress)}, same subjects (MQTT a/b is NATS a.b)`);
  onShutdownSignal(() => nats.close());
}
if (args.backplane.length > 0) console.log(`Joining the backplane: ${args.backplane.join(", ")}`);

closeOnSignal(server, () => {
  const s = server.stats();
  const broker = server.broker;
  return `${s.accepted} connections, ${broker.published} messages published, ${broker.delivered} delivered, ${broker.sessions.size} sessions kept, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out`;
});
