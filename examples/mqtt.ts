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
 * `--tls-cert FILE --tls-key FILE` (PEM: MQTT over TLS, `mosquitto_sub --cafile CA.pem`; the web
 * address too), `--websocket PORT` (none: also serve `examples/public` on this port, with MQTT
 * over WebSocket at `/mqtt` sharing the broker: open `http://127.0.0.1:PORT/mqtt.html`; 0 picks
 * a free port; not with `--nats-port` or `--backplane` yet), `--help`. A bad flag exits 2 with one line on stderr. Ctrl-C or SIGTERM shuts down gracefully
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

import { closeOnSignal, onShutdownSignal } from "./_close_on_signal.ts";
import {
  exampleArgs,
  exitOnFlagError,
  type Flag,
  FlagError,
  hostnameFlag,
  listFlag,
  parsedFlag,
  portFlag,
  serverOrExit,
} from "./_args.ts";
import { MQTT_FLAGS, mqttOptions, storeChecked } from "../cli/_mqtt_flags.ts";
import { hostPort } from "./_address.ts";
import { MQTT_WEBSOCKET_PATH, mqttSite } from "./_mqtt_site.ts";
import { MQTT_PORT } from "@speedo/speedo/mqtt";
import { pubsubServer, SubjectRouter } from "@speedo/speedo/pubsub";

/** A flag whose value is a PEM file's text. */
function pemFlag(help: string): Flag<string | undefined> {
  return parsedFlag({
    placeholder: "FILE",
    help,
    parse: (path) => {
      try {
        return Deno.readTextFileSync(path);
      } catch {
        return undefined;
      }
    },
    requirement: "be a readable PEM file",
  });
}

const args = exampleArgs({
  name: "examples/mqtt.ts",
  summary: "The MQTT broker (3.1.1 and 5.0); try: mosquitto_sub -t '#' -v",
}, {
  port: portFlag({ default: MQTT_PORT, help: "port to listen on; 0 picks a free one" }),
  hostname: hostnameFlag(),
  ...MQTT_FLAGS,
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
  "tls-cert": pemFlag("serve MQTT over TLS with this certificate chain (with --tls-key)"),
  "tls-key": pemFlag("the private key of --tls-cert"),
  websocket: portFlag({
    help:
      "also serve examples/public and MQTT over WebSocket at /mqtt on this port; 0 picks a free one",
  }),
});
const options = exitOnFlagError(() => mqttOptions(args));
const tls = exitOnFlagError(() => {
  const cert = args["tls-cert"];
  const key = args["tls-key"];
  if ((cert === undefined) !== (key === undefined)) {
    throw new FlagError("--tls-cert and --tls-key go together");
  }
  return cert === undefined ? undefined : { cert, key: key! };
});
// One router for the MQTT bridge and the NATS port: one subject space.
const router = args["nats-port"] === undefined && args.backplane.length === 0
  ? undefined
  : new SubjectRouter();
const server = serverOrExit(() =>
  storeChecked(() =>
    mqttSite({
      hostname: args.hostname,
      port: args.port,
      tls,
      web: args.websocket === undefined ? undefined : {
        port: args.websocket,
        dir: decodeURIComponent(new URL("./public", import.meta.url).pathname),
      },
      ...options,
      ...(router === undefined ? {} : {
        pubsub: {
          router,
          ...(args.backplane.length === 0 ? {} : { backplane: { servers: args.backplane } }),
        },
      }),
    })
  )
);
const address = await server.listen();
const stored = args.store === undefined
  ? ""
  : `; store ${args.store}: ${server.broker.sessions.size} sessions, ${server.broker.retained.size} retained messages`;
const [over, cafile] = tls === undefined
  ? ["", ""]
  : [" over TLS", " -h localhost --cafile CA.pem"];
console.log(
  `Speedo MQTT${over} listening on ${
    hostPort(address)
  }; try: mosquitto_sub -p ${address.port}${cafile} -t '#' -v${stored}`,
);
if (args.websocket !== undefined) {
  const web = hostPort(server.addresses[1]);
  const [http, ws] = tls === undefined ? ["http", "ws"] : ["https", "wss"];
  console.log(
    `MQTT over WebSocket at ${ws}://${web}${MQTT_WEBSOCKET_PATH}, sharing the broker; open ${http}://${web}/mqtt.html`,
  );
}

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
