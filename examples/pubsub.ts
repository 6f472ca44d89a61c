/**
 * The pub/sub server: `deno run -A examples/pubsub.ts`, then `telnet localhost 4222`, or any
 * NATS client (`nats sub '>'`, `npm:nats`).
 *
 * Flags: `--port` (4222), `--hostname` (127.0.0.1; 0.0.0.0 for other hosts), `--max-payload`
 * (1048576). Ctrl-C or SIGTERM shuts down gracefully and prints a summary.
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
import { parseArgs } from "@std/cli/parse-args";
import { PUBSUB_PORT, pubsubServer, SubjectRouter } from "../protocols/pubsub/mod.ts";

const args = parseArgs(Deno.args, {
  string: ["port", "hostname", "max-payload"],
  boolean: ["help"],
  default: { port: String(PUBSUB_PORT), hostname: "127.0.0.1", "max-payload": "1048576" },
});

if (args.help) {
  console.log(
    "Usage: deno run -A examples/pubsub.ts [--port 4222] [--hostname 127.0.0.1] [--max-payload 1048576]",
  );
  Deno.exit(0);
}

function integerFlag(name: string, min: number): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer of at least ${min}, got "${args[name]}"`);
    Deno.exit(2);
  }
  return value;
}

const router = new SubjectRouter();
const server = pubsubServer({
  hostname: args.hostname,
  port: integerFlag("port", 0),
  maxPayload: integerFlag("max-payload", 1),
  router,
});
const { hostname, port } = await server.listen();
console.log(
  `Speedo pub/sub listening on ${hostname}:${port}; try: telnet localhost ${port} (NATS clients work too)`,
);

closeOnSignal(server, () => {
  const s = server.stats();
  return `${s.accepted} connections, ${router.published} messages published, ${router.delivered} delivered, ${s.bytesIn} bytes in, ${s.bytesOut} bytes out`;
});
