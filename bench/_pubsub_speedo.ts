/**
 * The Speedo pub/sub server under test in `pubsub_load.ts`: `pubsubServer` as shipped.
 *
 * `deno run -A bench/_pubsub_speedo.ts` listens on 127.0.0.1, on a free port, prints the port
 * as the first line of stdout, and exits when its standard input closes (so that it never
 * outlives the bench, even when the bench is killed). `--backplane URL` (repeatable) joins it
 * to a NATS system (`bench/cluster_load.ts`); it prints its port once the backplane is up.
 * `--monitor` attaches a monitor on a free port (`monitor({ pubsub: server }, { port: 0 })`,
 * with the router as its `/subsz` source on one loop, as `speedo serve pubsub --monitor` does)
 * and prints its port after the server's, on the same line.
 *
 * @module
 */

import { monitor } from "../monitor/mod.ts";
import { pubsubServer, SubjectRouter } from "../protocols/pubsub/mod.ts";

const loopsAt = Deno.args.indexOf("--loops");
const loops = loopsAt < 0 ? 1 : Number(Deno.args[loopsAt + 1]);
if (!Number.isInteger(loops) || loops < 1) {
  console.error(`--loops must be a positive integer, got "${Deno.args[loopsAt + 1]}"`);
  Deno.exit(2);
}
const backplane = Deno.args.flatMap((arg, i) => Deno.args[i - 1] === "--backplane" ? [arg] : []);
const monitored = Deno.args.includes("--monitor");
// A router given on one loop runs as the server's own would; the monitor reads its counts.
const router = backplane.length > 0 || (monitored && loops === 1) ? new SubjectRouter() : undefined;
const server = pubsubServer({
  hostname: "127.0.0.1",
  port: 0,
  loops,
  pubsub: router === undefined
    ? {}
    : backplane.length === 0
    ? { router }
    : { router, backplane: { servers: backplane } },
});
const { port } = await server.listen();
while (backplane.length > 0 && !router!.backplane!.connected) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
if (monitored) {
  const sources = router === undefined ? {} : { pubsub: router };
  const watch = await monitor({ pubsub: server }, { port: 0, sources });
  console.log(`${port} ${watch.port}`);
} else {
  console.log(port);
}

const buffer = new Uint8Array(256);
try {
  while ((await Deno.stdin.read(buffer)) !== null) {
    // Anything written is ignored: only the end matters.
  }
} catch {
  // A broken stdin means the parent is gone as well.
}
Deno.exit(0);
