/**
 * The Speedo MQTT broker under test in `mqtt_load.ts`: `mqttServer` as shipped.
 *
 * `deno run -A bench/_mqtt_speedo.ts` listens on 127.0.0.1, on a free port, prints the port as
 * the first line of stdout, and exits when its standard input closes (so that it never outlives
 * the bench, even when the bench is killed).
 *
 * @module
 */

import { mqttServer } from "../protocols/mqtt/mod.ts";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";

const server = mqttServer({ hostname: "127.0.0.1", port: 0 });
const { port } = await server.listen();
console.log(port);
exitWhenStdinCloses();
