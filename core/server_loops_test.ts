import { assert, assertEquals, assertInstanceOf, assertRejects, assertThrows } from "@std/assert";
import { Server, type ServerOptions } from "./server.ts";
import { LoopDiedError } from "./errors.ts";
import { loopGroups, PINNED_LOOPS } from "./_loop_group.ts";
import { echoProtocol } from "../protocols/echo/mod.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { listenerGreeter } from "../testing/_fixtures/listener_greeter.ts";
import { SocketClient, waitFor, within } from "../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../testing/_tls.ts";

const relay = new URL("../testing/_fixtures/relay_handler.ts", import.meta.url);

/** Events a test awaits: each `next(name)` resolves at the next matching event. */
class Events {
  readonly #seen: [string, unknown][] = [];
  readonly #waiters: { name: string; resolve: (value: unknown) => void }[] = [];
  push(name: string, value: unknown): void {
    const waiter = this.#waiters.findIndex((w) => w.name === name);
    if (waiter >= 0) this.#waiters.splice(waiter, 1)[0].resolve(value);
    else this.#seen.push([name, value]);
  }
  next(name: string): Promise<unknown> {
    const seen = this.#seen.findIndex(([n]) => n === name);
    if (seen >= 0) return Promise.resolve(this.#seen.splice(seen, 1)[0][1]);
    return within(
      new Promise((resolve) => this.#waiters.push({ name, resolve })),
      `event ${name}`,
    );
  }
}

type LoopTestServer = Server & { [key: symbol]: unknown };

/** A relay server of two loops, each also on a port of its own so that a test picks the loop. */
function relayServer(
  events: Events,
  options: Partial<ServerOptions> = {},
): LoopTestServer {
  return new Server({
    protocol: echoProtocol(),
    handler: relay,
    loops: 2,
    workers: 0,
    onConnect: (connection: ConnectionHandle, loop: number) =>
      events.push("connect", { id: connection.id, loop, connection }),
    onClose: (connection: ConnectionHandle, reason: Error | undefined, loop: number) =>
      events.push("close", { id: connection.id, loop, reason }),
    ...options,
    [PINNED_LOOPS]: true,
  } as ServerOptions) as LoopTestServer;
}

/** The test hooks of a server's loops. */
function hooks(server: Server): {
  pinnedAddress(loop: number): Deno.NetAddr;
  crash(loop: number): Promise<void>;
} {
  const group = loopGroups.get(server)!;
  assert(group !== undefined, "a server of several loops");
  return {
    pinnedAddress: (loop) => group.pinnedAddress(loop)!,
    crash: (loop) => group.crash(loop),
  };
}

/** Sends a line, reads one back, without its newline. */
async function ask(client: SocketClient, line: string): Promise<string> {
  return (await client.request(line)).trimEnd();
}

/** The next line, without its newline. */
async function lineOf(client: SocketClient): Promise<string> {
  return (await client.readLine()).trimEnd();
}

async function connectTo(server: Server, loop: number): Promise<SocketClient> {
  return await SocketClient.connect(hooks(server).pinnedAddress(loop).port);
}

for (const workers of [0, 1]) {
  Deno.test(`loops: 2 (workers ${workers}): a handle from either loop writes to a connection of the other`, async () => {
    const events = new Events();
    await using server = relayServer(events, { workers });
    await server.listen();
    using a = await connectTo(server, 0);
    const connectA = await events.next("connect") as { id: number; loop: number };
    using b = await connectTo(server, 1);
    const connectB = await events.next("connect") as { id: number; loop: number };
    assertEquals([connectA.loop, connectB.loop], [0, 1]);
    assertEquals(await ask(a, "whoami\n"), String(connectA.id));
    assertEquals(await ask(b, "whoami\n"), String(connectB.id));
    assertEquals(await ask(a, `to ${connectB.id} from a\n`), "sent");
    assertEquals(await lineOf(b), "from a");
    assertEquals(await ask(b, `to ${connectA.id} from b\n`), "sent");
    assertEquals(await lineOf(a), "from b");
    // The coordinator's handle reaches either.
    assert(server.handle(connectA.id).write("from main\n"));
    assertEquals(await lineOf(a), "from main");
    b.close();
    const closed = await events.next("close") as { id: number; loop: number };
    assertEquals([closed.id, closed.loop], [connectB.id, 1]);
    assertEquals(await ask(a, `to ${connectB.id} late\n`), "closed");
    assertEquals(server.handle(connectB.id).open, false);
    assertEquals(server.handle(connectB.id).write("x"), false);
  });
}

Deno.test("loops: 2 spreads connections over the loops of one port; stats sum the loops", async () => {
  const events = new Events();
  await using server = relayServer(events);
  const { port } = await server.listen();
  const clients: SocketClient[] = [];
  const loops = new Set<number>();
  try {
    // The kernel hashes each connection to a listener: 40 make both loops all but certain.
    for (let i = 0; i < 40 && loops.size < 2; i++) {
      const client = await SocketClient.connect(port);
      clients.push(client);
      assertEquals(await ask(client, `hi ${i}\n`), `hi ${i}`);
      loops.add((await events.next("connect") as { loop: number }).loop);
    }
    assertEquals(loops.size, 2, "the shared port reached both loops");
    const stats = server.stats();
    assertEquals(stats.loops.length, 2);
    assertEquals(stats.connections, clients.length);
    assertEquals(stats.accepted, clients.length);
    assertEquals(stats.messagesIn, clients.length);
    assertEquals(stats.loops[0].connections + stats.loops[1].connections, clients.length);
    assert(stats.loops.every((row) => row.accepted > 0));
  } finally {
    for (const client of clients) client.close();
  }
});

Deno.test("loops: 2 holds maxConnections over both loops", async () => {
  const events = new Events();
  await using server = relayServer(events, { maxConnections: 2 });
  await server.listen();
  using a = await connectTo(server, 0);
  assertEquals(await ask(a, "a\n"), "a");
  using b = await connectTo(server, 1);
  assertEquals(await ask(b, "b\n"), "b");
  using c = await connectTo(server, 0);
  assertEquals(await lineOf(c), "ERR server full");
  using d = await connectTo(server, 1);
  assertEquals(await lineOf(d), "ERR server full");
  assertEquals(server.stats().refused, 2);
  a.close();
  await events.next("connect");
  await events.next("connect");
  await events.next("close");
  using e = await connectTo(server, 1);
  assertEquals(await ask(e, "e\n"), "e", "a place freed on loop 0 is taken on loop 1");
});

Deno.test("loops: 2 replaces a loop that dies; its connections are reported closed", async () => {
  const events = new Events();
  const errors: Error[] = [];
  await using server = relayServer(events, { onError: (error) => errors.push(error) });
  await server.listen();
  using a = await connectTo(server, 0);
  assertEquals(await ask(a, "a\n"), "a");
  using b = await connectTo(server, 1);
  assertEquals(await ask(b, "b\n"), "b");
  const idB = (await events.next("connect") as { id: number },
    await events.next("connect") as {
      id: number;
    }).id;
  console.log("(a loop's thread throws on purpose next: the trace Deno prints is expected)");
  await hooks(server).crash(1);
  const closed = await events.next("close") as { id: number; loop: number; reason: Error };
  assertEquals([closed.id, closed.loop], [idB, 1]);
  assertInstanceOf(closed.reason, LoopDiedError);
  assert(errors.some((error) => error instanceof LoopDiedError));
  assertEquals(server.handle(idB).open, false);
  assertEquals(server.stats().connections, 1);
  // Loop 0 never stopped; the new loop 1 serves.
  assertEquals(await ask(a, "still here\n"), "still here");
  using c = await connectTo(server, 1);
  assertEquals(await ask(c, "new loop\n"), "new loop");
  const idC = (await events.next("connect") as { id: number }).id;
  assertEquals(await ask(a, `to ${idC} across\n`), "sent");
  assertEquals(await lineOf(c), "across");
});

Deno.test("loops: 2 resizes the workers of every loop", async () => {
  const events = new Events();
  await using server = relayServer(events);
  await server.listen();
  assertEquals(server.stats().workers, 0);
  await server.resize(1);
  assertEquals(server.stats().workers, 2);
  assertEquals(server.stats().loops.map((row) => row.workers), [1, 1]);
  using a = await connectTo(server, 1);
  assertEquals(await ask(a, "on a worker\n"), "on a worker");
});

Deno.test("loops: 2 shuts down gracefully: every line sent before close() is answered", async () => {
  const events = new Events();
  const server = relayServer(events, { workers: 1 });
  await server.listen();
  const clients = [await connectTo(server, 0), await connectTo(server, 1)];
  const lines = 200;
  for (const client of clients) {
    await client.write(Array.from({ length: lines }, (_, i) => `line ${i}\n`).join(""));
  }
  // Accepted: read and dispatched by the loops (a line not read yet at close() is not).
  await waitFor(() => server.stats().messagesIn === 2 * lines, "every line dispatched");
  const closing = server.close();
  for (const client of clients) {
    for (let i = 0; i < lines; i++) assertEquals(await lineOf(client), `line ${i}`);
    client.close();
  }
  await closing;
});

Deno.test("loops above 1 refuse what cannot cross to a loop's thread", () => {
  const base = { protocol: echoProtocol(), loops: 2 } as const;
  assertThrows(
    () => new Server({ ...base, onMessage: () => {} }),
    TypeError,
    "handler module",
  );
  assertThrows(
    () => new Server({ protocol: { create: () => ({ data() {} }) }, loops: 2 }),
    TypeError,
    "recipe",
  );
  assertThrows(
    () =>
      new Server({
        ...base,
        transport: "unix",
        path: "/tmp/never.sock",
      } as unknown as ServerOptions),
    TypeError,
    "TCP",
  );
  assertThrows(() => new Server({ ...base, loops: 0 }), RangeError, "loops");
  assertThrows(() => new Server({ ...base, loops: 1.5 }), RangeError, "loops");
});

Deno.test("loops: 2 fails listen() with the port's error when the port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = new Server({
    protocol: echoProtocol(),
    loops: 2,
    port: (taken.addr as Deno.NetAddr).port,
  });
  await assertRejects(() => server.listen(), Deno.errors.AddrInUse);
  await server.close();
});

Deno.test({
  name: "loops: 2 serves TLS on both loops",
  ignore: !hasOpenssl(),
  async fn() {
    const { cert, key, ca } = await testCertificate();
    const events = new Events();
    await using server = relayServer(events, { tls: { cert, key } });
    await server.listen();
    for (const loop of [0, 1]) {
      const { port } = hooks(server).pinnedAddress(loop);
      const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
      using client = new SocketClient(conn as unknown as Deno.TcpConn);
      assertEquals(await ask(client, `over tls ${loop}\n`), `over tls ${loop}`);
      assertEquals((await events.next("connect") as { loop: number }).loop, loop);
    }
  },
});

for (const loops of [1, 2]) {
  Deno.test(`Server with listeners (loops: ${loops}) tells each connection the address it came on`, async () => {
    await using server = new Server({
      protocol: listenerGreeter(),
      loops,
      listeners: [{}, { hostname: "127.0.0.1" }],
      maxConnections: 3,
      [PINNED_LOOPS]: true,
    } as ServerOptions);
    const main = await server.listen();
    const addresses = server.addresses as Deno.NetAddr[];
    assertEquals(addresses.length, 3);
    assertEquals(addresses[0].port, main.port);
    assertEquals(new Set(addresses.map((address) => address.port)).size, 3);
    const clients: SocketClient[] = [];
    try {
      for (const [index, address] of addresses.entries()) {
        const client = await SocketClient.connect(address.port);
        clients.push(client);
        assertEquals(await lineOf(client), `listener ${index}`);
      }
      using refused = await SocketClient.connect(addresses[2].port);
      assertEquals(await lineOf(refused), "full on 2", "the refusal knows its listener");
      if (loops === 2) {
        // Each loop listens on each address: its own port of each reaches it.
        for (const c of clients) c.close();
        clients.length = 0;
        await waitFor(() => server.stats().connections === 0, "the closes");
        for (const loop of [0, 1]) {
          const port = loopGroups.get(server)!.pinnedAddress(loop, 2)!.port;
          const client = await SocketClient.connect(port);
          clients.push(client);
          assertEquals(await lineOf(client), "listener 2");
        }
      }
    } finally {
      for (const client of clients) client.close();
    }
  });
}

Deno.test("Server refuses listeners on a Unix socket", () => {
  assertThrows(
    () =>
      new Server({
        protocol: echoProtocol(),
        transport: "unix",
        path: "/tmp/never.sock",
        listeners: [{}],
      } as unknown as ServerOptions),
    TypeError,
    "listeners",
  );
});

Deno.test("A server of several loops made at the top level of a loop's recipe module is refused, not started again on every loop", async () => {
  const { topLevelProtocol } = await import("../testing/_fixtures/top_level_server.ts");
  const server = new Server({ protocol: topLevelProtocol(), loops: 2 });
  await assertRejects(() => server.listen(), TypeError, "if (import.meta.main)");
  await server.close();
});
