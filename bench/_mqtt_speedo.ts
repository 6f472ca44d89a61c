/**
 * The Speedo MQTT broker under test in `mqtt_load.ts`: `mqttServer` as shipped.
 *
 * `deno run -A bench/_mqtt_speedo.ts [--store FILE [--stats FILE] [--commit-delay MS]]` listens on 127.0.0.1, on a
 * free port, prints the port as the first line of stdout, and exits when its standard input
 * closes (so that it never outlives the bench, even when the bench is killed). `--store FILE`
 * gives the broker its SQLite store (`mqtt: { store }`); `--stats FILE` then has the store's
 * commit counts written there as JSON (`{"commits":N,"failures":N}`) when it exits (stdin
 * closed or SIGTERM), for the bench's report.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { mqttServer } from "../protocols/mqtt/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const args = parseArgs(Deno.args, { string: ["store", "stats", "commit-delay"] });
if (args.stats !== undefined && args.store === undefined) {
  console.error(`--stats "${args.stats}" needs --store`);
  Deno.exit(2);
}
const server = mqttServer({
  hostname: "127.0.0.1",
  port: 0,
  ...(args.store === undefined ? {} : {
    mqtt: {
      store: args.store,
      ...(args["commit-delay"] === undefined ? {} : { commitDelay: Number(args["commit-delay"]) }),
    },
  }),
});
const { port } = await server.listen();
console.log(port);
const persistence = server.broker.persistence;
const statsPath = args.stats;
if (persistence !== undefined && statsPath !== undefined) {
  // Written once, on the way out (stdin's end, or SIGTERM from the bench): nothing during runs.
  globalThis.addEventListener("unload", () => {
    const { commits, failures } = persistence;
    Deno.writeTextFileSync(statsPath, JSON.stringify({ commits, failures }));
  });
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
exitWhenStdinCloses();
