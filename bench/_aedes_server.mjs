// The Aedes broker (npm `aedes`, run by Node) under test in `mqtt_load.ts`.
//
// `node bench/_aedes_server.mjs DIR` loads `aedes` from DIR/node_modules (where the bench
// installed it), listens on 127.0.0.1 on a free port with `net.createServer(aedes.handle)`,
// prints the port as the first line of stdout, and exits when its standard input closes.

import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/_aedes_server.mjs DIR (DIR/node_modules holds aedes)");
  process.exit(2);
}
// aedes 1.x is ES modules only: import its entry file, as resolved in DIR.
const entry = path.join(path.resolve(dir), "node_modules", "aedes", "aedes.js");
const exported = await import(pathToFileURL(entry).href);
const Aedes = exported.Aedes ?? exported.default;
const aedes = typeof Aedes.createBroker === "function" ? await Aedes.createBroker() : Aedes();
const server = net.createServer(aedes.handle);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
