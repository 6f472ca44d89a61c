/**
 * Three Speedo pub/sub servers joined through nats-server: `deno run -A examples/cluster.ts`.
 * It starts nats-server on 127.0.0.1 (when installed; else it prints how to get it, or give
 * `--backplane` to use a NATS system already running) and three Speedo servers on loopback
 * (ports 4301, 4302, 4303), each a NATS client of it. A publish on any of them reaches the
 * subscribers of all three; queue groups pick one member across all three.
 *
 * Flags: `--port` (4301: the first Speedo server; the others take the next ports),
 * `--nats-port` (14222), `--backplane nats://host:port` (repeatable: join this NATS system
 * instead of starting nats-server), `--demo` (subscribe on B and C, publish on A, print what
 * arrives, and exit), `--help`. Ctrl-C or SIGTERM closes the three servers and stops
 * nats-server.
 *
 * ```
 * $ deno run -A examples/cluster.ts
 * nats-server listening on 127.0.0.1:14222
 * Speedo A on 127.0.0.1:4301, B on 127.0.0.1:4302, C on 127.0.0.1:4303, joined through nats://127.0.0.1:14222
 * try: telnet 127.0.0.1 4302, then "sub news 1"; telnet 127.0.0.1 4301, then "pub news 5" and "hello"
 * ```
 *
 * @module
 */

import { closeOnSignal } from "./_close_on_signal.ts";
import { exampleArgs, portFlag, switchFlag } from "./_args.ts";
import { backplaneFlag } from "../cli/_pubsub_flags.ts";
import { pubsubServer, SubjectRouter } from "@speedo/speedo/pubsub";
import type { Server } from "@speedo/speedo";

const args = exampleArgs({
  name: "examples/cluster.ts",
  summary: "Three Speedo pub/sub servers joined through nats-server, on loopback",
}, {
  port: portFlag({
    default: 4301,
    help: "port of Speedo A; B and C take the next two (0: free ports)",
  }),
  "nats-port": portFlag({
    default: 14222,
    help: "port of the nats-server this starts (0: a free one)",
  }),
  backplane: backplaneFlag("a NATS server to join instead of starting one (nats://host:port)"),
  demo: switchFlag("subscribe on B and C, publish on A, print what arrives, and exit"),
});

/** nats-server started here, if any. */
let natsServer: Deno.ChildProcess | undefined;
let servers = args.backplane;
if (servers.length === 0) {
  const binary = natsServerPath();
  if (binary === undefined) {
    console.error(
      "nats-server is not installed: apt-get install nats-server (Debian, Ubuntu), or " +
        "https://github.com/nats-io/nats-server/releases; or give --backplane nats://host:port",
    );
    Deno.exit(1);
  }
  // nats-server reads port 0 as its default, 4222: a free port is picked here instead.
  const port = args["nats-port"] === 0 ? freePort() : args["nats-port"];
  natsServer = new Deno.Command(binary, {
    args: ["-a", "127.0.0.1", "-p", String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await untilAccepting(port);
  console.log(`nats-server listening on 127.0.0.1:${port}`);
  servers = [`nats://127.0.0.1:${port}`];
}

const names = ["A", "B", "C"];
const routers = names.map(() => new SubjectRouter());
const speedos: Server[] = routers.map((router, i) =>
  pubsubServer({
    port: args.port === 0 ? 0 : args.port + i,
    pubsub: { router, backplane: { servers } },
  })
);
const addresses = [];
for (const server of speedos) addresses.push(await server.listen());
await Promise.all(routers.map((router) => until(() => router.backplane!.connected)));
console.log(
  `Speedo ${
    addresses.map((address, i) => `${names[i]} on 127.0.0.1:${address.port}`).join(", ")
  }, joined through ${servers.join(", ")}`,
);

if (args.demo) {
  await demo(addresses.map((address) => address.port));
  await stop();
} else {
  const [a, b] = addresses.map((address) => address.port);
  console.log(
    `try: telnet 127.0.0.1 ${b}, then "sub news 1"; telnet 127.0.0.1 ${a}, then "pub news 5" and "hello"`,
  );
  // The last of the three closes on the signal; the others and nats-server are stopped there.
  closeOnSignal(speedos[0], () => {
    const counts = routers.map((router, i) =>
      `${names[i]}: ${router.backplane!.published} sent, ${router.backplane!.received} received`
    );
    void stop();
    return counts.join("; ");
  });
}

/** Closes the three servers and stops nats-server. */
async function stop(): Promise<void> {
  await Promise.all(speedos.map((server) => server.close()));
  if (natsServer !== undefined) {
    natsServer.kill("SIGTERM");
    await natsServer.status;
    natsServer = undefined;
  }
}

/**
 * Raw NATS clients, as over telnet: subscribers on B and C, a publisher on A; prints each
 * line as it is sent or received.
 */
async function demo([a, b, c]: number[]): Promise<void> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const open = async (name: string, port: number) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let text = "";
    const buffer = new Uint8Array(4096);
    const send = async (line: string) => {
      console.log(`${name} > ${line}`);
      await conn.write(encoder.encode(`${line}\r\n`));
    };
    /** Reads until `text` holds `end`, then prints what came and forgets it. */
    const until = async (end: string) => {
      while (!text.includes(end)) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`${name} closed`);
        text += decoder.decode(buffer.subarray(0, n));
      }
      for (const line of text.split("\r\n").filter((line) => line !== "")) {
        console.log(`${name} < ${line.startsWith("INFO ") ? `${line.slice(0, 40)}…` : line}`);
      }
      text = "";
    };
    await until("\r\n");
    return { send, until, close: () => conn.close() };
  };
  const onB = await open("B", b);
  const onC = await open("C", c);
  const onA = await open("A", a);
  await onB.send('CONNECT {"verbose":false}');
  await onB.send("SUB news.* 1");
  await onB.send("PING");
  await onB.until("PONG");
  await onC.send('CONNECT {"verbose":false}');
  await onC.send("SUB news.> 7");
  await onC.send("PING");
  await onC.until("PONG");
  await onA.send('CONNECT {"verbose":false}');
  await onA.send("PUB news.sport 5");
  await onA.send("hello");
  await onB.until("hello");
  await onC.until("hello");
  for (const client of [onA, onB, onC]) client.close();
}

function natsServerPath(): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/bin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    try {
      if (Deno.statSync(`${dir}/nats-server`).isFile) return `${dir}/nats-server`;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function untilAccepting(port: number): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error(`nats-server did not accept on 127.0.0.1:${port}`);
}

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 1000 && !condition(); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!condition()) throw new Error("the backplane did not connect within 10 s");
}
