/**
 * Speedo pub/sub servers joined through a real NATS cluster (`backplane`): two nats-servers
 * joined by routes, three Speedo servers, official `nats@2` clients on different Speedo
 * servers. Ignored (with a name that says so) where nats-server is not installed.
 */

import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import * as nats from "nats";
import { delay } from "@std/async/delay";
import {
  freePorts,
  NATS_SERVER_PATH,
  type NatsCluster,
  type NatsServerProcess,
  startNatsCluster,
  startNatsServer,
} from "../../testing/_fixtures/nats_server.ts";
import { waitFor } from "../../testing/_socket_client.ts";
import type { Server } from "../../core/server.ts";
import { pubsubServer } from "./pubsub_server.ts";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { SubjectRouter } from "./subject_router.ts";
import type { BackplaneOptions } from "./backplane_options.ts";
import { BackplaneConnectError } from "./backplane_errors.ts";
import { hasOpenssl, testCertificate } from "../../testing/_tls.ts";

const missing = NATS_SERVER_PATH === undefined ? " (ignored: nats-server not installed)" : "";
const SANITIZED = { sanitizeOps: true, sanitizeResources: true, ignore: missing !== "" };
const codec = nats.StringCodec();

/** A Speedo server on the backplane, its router (for the backplane's stats) and its port. */
interface Speedo {
  readonly server: Server;
  readonly router: SubjectRouter;
  readonly port: number;
}

async function startSpeedo(servers: string[], more: Partial<BackplaneOptions> = {}) {
  const router = new SubjectRouter();
  const server = pubsubServer({
    port: 0,
    pubsub: {
      router,
      backplane: { servers, reconnectDelay: 20, reconnectDelayMax: 200, ...more },
    },
  });
  const { port } = await server.listen();
  await waitFor(() => router.backplane!.connected, "the backplane to connect", 10_000);
  return { server, router, port };
}

/** A cluster of two nats-servers and three Speedo servers: A and C on nats 0, B on nats 1. */
interface World {
  readonly cluster: NatsCluster;
  readonly speedos: Speedo[];
  readonly clients: nats.NatsConnection[];
  connect(speedo: Speedo): Promise<nats.NatsConnection>;
  /** Waits until every nats-server knows of a subscription to `subject` (its own, or routed). */
  everywhere(subject: string): Promise<void>;
  /** Whether nats-server `i` has any subscription (its clients' or routed) to `subject`. */
  has(i: number, subject: string): Promise<boolean>;
}

async function withWorld(run: (world: World) => Promise<void>): Promise<void> {
  const cluster = await startNatsCluster(2);
  const url = (i: number) => `nats://127.0.0.1:${cluster.ports[i]}`;
  const speedos: Speedo[] = [];
  const clients: nats.NatsConnection[] = [];
  const has = async (i: number, subject: string) => {
    const base = `http://127.0.0.1:${cluster.monitorPorts[i]}`;
    const subsz = await (await fetch(`${base}/subsz?subs=1&limit=100000`)).json();
    const own = (subsz.subscriptions_list ?? []) as { subject: string }[];
    if (own.some((sub) => sub.subject === subject)) return true;
    const routez = await (await fetch(`${base}/routez?subs=1`)).json();
    return (routez.routes ?? []).some((route: { subscriptions_list?: string[] }) =>
      (route.subscriptions_list ?? []).includes(subject)
    );
  };
  try {
    speedos.push(await startSpeedo([url(0), url(1)]));
    speedos.push(await startSpeedo([url(1), url(0)]));
    speedos.push(await startSpeedo([url(0), url(1)]));
    await run({
      cluster,
      speedos,
      clients,
      async connect(speedo) {
        const nc = await nats.connect({ servers: `127.0.0.1:${speedo.port}` });
        clients.push(nc);
        return nc;
      },
      async everywhere(subject) {
        const started = performance.now();
        for (let i = 0; i < cluster.ports.length; i++) {
          if (cluster.servers[i] === undefined) continue;
          while (!(await has(i, subject))) {
            if (performance.now() - started > 10_000) {
              throw new Error(`nats-server ${i} never saw interest in "${subject}"`);
            }
            await delay(5);
          }
        }
      },
      has,
    });
  } finally {
    for (const nc of clients) if (!nc.isClosed()) await nc.close();
    for (const speedo of speedos) await speedo.server.close();
    await cluster.close();
  }
}

/** Collects what a subscription receives. */
function collect(nc: nats.NatsConnection, subject: string, queue?: string) {
  const received: string[] = [];
  const subscription = nc.subscribe(subject, {
    queue,
    callback: (_error, message) =>
      received.push(`${message.subject}:${codec.decode(message.data)}`),
  });
  return { received, subscription };
}

Deno.test({
  name: `backplane: wildcards reach subscribers on the other Speedo servers, once each${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ speedos: [a, b, c], connect, everywhere }) => {
      const onA = await connect(a);
      const onB = await connect(b);
      const onC = await connect(c);
      const star = collect(onB, "orders.*");
      const full = collect(onC, "orders.>");
      const overlapping = collect(onB, "orders.>");
      const local = collect(onA, "orders.eu.1");
      await Promise.all([onA.flush(), onB.flush(), onC.flush()]);
      await everywhere("orders.*");
      await everywhere("orders.>");
      const publisher = await connect(a);
      publisher.publish("orders.x", codec.encode("1"));
      publisher.publish("orders.eu.1", codec.encode("2"));
      await publisher.flush();
      await waitFor(
        () => full.received.length === 2 && overlapping.received.length === 2,
        "the deliveries",
      );
      await waitFor(() => star.received.length === 1 && local.received.length === 1, "the rest");
      // Another round proves nothing more was on the way.
      publisher.publish("orders.y", codec.encode("3"));
      await waitFor(() => full.received.length === 3, "the third message");
      await waitFor(() => star.received.length === 2, "the third message on B");
      assertEquals(star.received, ["orders.x:1", "orders.y:3"]);
      assertEquals(full.received, ["orders.x:1", "orders.eu.1:2", "orders.y:3"]);
      assertEquals(overlapping.received, ["orders.x:1", "orders.eu.1:2", "orders.y:3"]);
      assertEquals(local.received, ["orders.eu.1:2"]);
    }),
});

Deno.test({
  name:
    `backplane: a queue group spread over three Speedo servers gets each message once${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ speedos, connect, everywhere }) => {
      const members: ReturnType<typeof collect>[] = [];
      for (const speedo of speedos) {
        for (let i = 0; i < 2; i++) {
          const nc = await connect(speedo);
          members.push(collect(nc, "work.*", "workers"));
          await nc.flush();
        }
      }
      const watcher = await connect(speedos[1]);
      const all = collect(watcher, "work.*");
      await watcher.flush();
      await everywhere("work.*");
      const publisher = await connect(speedos[0]);
      const count = 1000;
      for (let i = 0; i < count; i++) publisher.publish(`work.${i % 7}`, codec.encode(String(i)));
      await publisher.flush();
      await waitFor(() => all.received.length === count, "the watcher's copies", 10_000);
      const total = () => members.reduce((sum, member) => sum + member.received.length, 0);
      await waitFor(() => total() >= count, "every message to one member", 10_000);
      // Whatever else is on the way arrives before this marker on the same path.
      publisher.publish("work.end", codec.encode("end"));
      await waitFor(() => total() === count + 1, "the marker");
      const seen = members.flatMap((member) => member.received).filter((m) => m !== "work.end:end");
      assertEquals(seen.length, count);
      assertEquals(new Set(seen).size, count);
    }),
});

Deno.test({
  name: `backplane: request/reply, no-responders and headers across Speedo servers${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ speedos: [a, b, c], connect, everywhere }) => {
      const responder = await connect(c);
      responder.subscribe("time.now", {
        callback: (_error, message) => {
          const h = nats.headers();
          h.set("Answered-By", "c");
          h.set("Asked", message.headers?.get("Ask") ?? "none");
          message.respond(codec.encode(`now:${codec.decode(message.data)}`), { headers: h });
        },
      });
      // A responder in a queue group on B: the group answers once.
      const queued = await connect(b);
      queued.subscribe("svc.echo", {
        queue: "svc",
        callback: (_error, message) => message.respond(message.data),
      });
      await Promise.all([responder.flush(), queued.flush()]);
      await everywhere("time.now");
      await everywhere("svc.echo");
      const requester = await connect(a);
      const h = nats.headers();
      h.set("Ask", "politely");
      const reply = await requester.request("time.now", codec.encode("?"), {
        timeout: 5000,
        headers: h,
      });
      assertEquals(codec.decode(reply.data), "now:?");
      assertEquals(reply.headers?.get("Answered-By"), "c");
      assertEquals(reply.headers?.get("Asked"), "politely");
      for (let i = 0; i < 20; i++) {
        const echoed = await requester.request("svc.echo", codec.encode(`e${i}`), {
          timeout: 5000,
        });
        assertEquals(codec.decode(echoed.data), `e${i}`);
      }
      // Nobody listens anywhere: nats-server's 503 reaches the requester on A.
      const error = await requester.request("nobody.home", codec.encode("?"), { timeout: 5000 })
        .then(() => undefined, (error) => error);
      assert(error instanceof nats.NatsError, `expected a NatsError, got ${error}`);
      assertEquals(error.code, nats.ErrorCode.NoResponders);
      // A responder on the requester's own server: the reply, and no 503 after it.
      const local = await connect(a);
      local.subscribe("local.svc", { callback: (_e, m) => m.respond(codec.encode("here")) });
      await local.flush();
      const inbox = collect(requester, "_INBOX.local.>");
      await requester.flush();
      requester.publish("local.svc", codec.encode("?"), { reply: "_INBOX.local.1" });
      await waitFor(() => inbox.received.length >= 1, "the local reply");
      // A marker through the backplane after it: a 503 would have come before.
      const marker = collect(requester, "marker");
      await requester.flush();
      await everywhere("marker");
      (await connect(b)).publish("marker", codec.encode("m"));
      await waitFor(() => marker.received.length === 1, "the marker");
      assertEquals(inbox.received, ["_INBOX.local.1:here"]);
      // Headers of a plain publish pass through byte for byte.
      const sub = await connect(b);
      const withHeaders: nats.Msg[] = [];
      sub.subscribe("h.test", { callback: (_e, m) => withHeaders.push(m) });
      await sub.flush();
      await everywhere("h.test");
      const hh = nats.headers();
      hh.append("X-Multi", "one");
      hh.append("X-Multi", "two");
      requester.publish("h.test", codec.encode("body"), { headers: hh });
      await waitFor(() => withHeaders.length === 1, "the message with headers");
      assertEquals(withHeaders[0].headers?.values("X-Multi"), ["one", "two"]);
      assertEquals(codec.decode(withHeaders[0].data), "body");
    }),
});

Deno.test({
  name:
    `backplane: 10,000 messages each way between two Speedo servers, none lost, duplicated or reordered${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ speedos: [a, b], connect, everywhere }) => {
      const count = 10_000;
      const onA = await connect(a);
      const onB = await connect(b);
      const toB: number[] = [];
      const toA: number[] = [];
      onB.subscribe("load.ab", { callback: (_e, m) => toB.push(Number(codec.decode(m.data))) });
      onA.subscribe("load.ba", { callback: (_e, m) => toA.push(Number(codec.decode(m.data))) });
      await Promise.all([onA.flush(), onB.flush()]);
      await everywhere("load.ab");
      await everywhere("load.ba");
      const pubA = await connect(a);
      const pubB = await connect(b);
      for (let i = 0; i < count; i++) {
        pubA.publish("load.ab", codec.encode(String(i)));
        pubB.publish("load.ba", codec.encode(String(i)));
      }
      await Promise.all([pubA.flush(), pubB.flush()]);
      await waitFor(() => toB.length >= count && toA.length >= count, "every message", 15_000);
      const expected = Array.from({ length: count }, (_, i) => i);
      assertEquals(toB, expected);
      assertEquals(toA, expected);
    }),
});

Deno.test({
  name: `backplane: the last UNSUB takes the interest off the backplane${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ speedos: [_a, b], connect, everywhere, has }) => {
      const first = await connect(b);
      const second = await connect(b);
      const one = first.subscribe("gone.soon");
      const two = second.subscribe("gone.soon");
      await Promise.all([first.flush(), second.flush()]);
      await everywhere("gone.soon");
      assertEquals(b.router.backplane!.subscriptions, 1);
      one.unsubscribe();
      await first.flush();
      assert(await has(1, "gone.soon"), "one subscriber left: the interest stays");
      two.unsubscribe();
      await second.flush();
      // B's PONG waited for nats-server's: the UNSUB is in place on B's nats-server.
      assertEquals(await has(1, "gone.soon"), false);
      assertEquals(b.router.backplane!.subscriptions, 0);
      const started = performance.now();
      while (await has(0, "gone.soon")) {
        assert(performance.now() - started < 10_000, "the route kept the interest");
        await delay(5);
      }
    }),
});

Deno.test({
  name:
    `backplane: a Speedo server closed, the others keep working; a nats-server killed, Speedo fails over${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ cluster, speedos: [a, b, c], connect, everywhere }) => {
      const onB = await connect(b);
      const onC = await connect(c);
      const atB = collect(onB, "news");
      const atC = collect(onC, "news");
      await Promise.all([onB.flush(), onC.flush()]);
      await everywhere("news");
      const publisher = await connect(a);
      publisher.publish("news", codec.encode("1"));
      await waitFor(() => atB.received.length === 1 && atC.received.length === 1, "news 1");
      // C goes away: A and B go on.
      await onC.close();
      await c.server.close();
      publisher.publish("news", codec.encode("2"));
      await waitFor(() => atB.received.length === 2, "news 2 on B");
      // The nats-server of A goes away: A fails over to the other one it lists.
      const connects = a.router.backplane!.connects;
      await cluster.stop(0);
      await waitFor(
        () => a.router.backplane!.connects > connects && a.router.backplane!.connected,
        "A to fail over",
        10_000,
      );
      assertEquals(a.router.backplane!.server, `nats://127.0.0.1:${cluster.ports[1]}`);
      publisher.publish("news", codec.encode("3"));
      await waitFor(() => atB.received.length === 3, "news 3 on B, through the other server");
      assertEquals(atB.received, ["news:1", "news:2", "news:3"]);
    }),
});

Deno.test({
  name:
    `backplane: nats-server stops and comes back on its port; every interest subscribed again${missing}`,
  ...SANITIZED,
  async fn() {
    let natsServer: NatsServerProcess | undefined = await startNatsServer();
    const port = natsServer.port;
    const url = `nats://127.0.0.1:${port}`;
    const speedos = [await startSpeedo([url]), await startSpeedo([url])];
    const clients: nats.NatsConnection[] = [];
    try {
      const subscriber = await nats.connect({ servers: `127.0.0.1:${speedos[1].port}` });
      const publisher = await nats.connect({ servers: `127.0.0.1:${speedos[0].port}` });
      clients.push(subscriber, publisher);
      const plain = collect(subscriber, "after.*");
      const queued = collect(subscriber, "after.*", "q");
      await subscriber.flush();
      publisher.publish("after.before", codec.encode("0"));
      await waitFor(() => plain.received.length === 1 && queued.received.length === 1, "one");

      await natsServer.stop();
      natsServer = undefined;
      await waitFor(
        () => speedos.every((speedo) => !speedo.router.backplane!.connected),
        "every Speedo server to see the backplane gone",
      );
      natsServer = await startNatsServer(port);
      await waitFor(
        () => speedos.every((speedo) => speedo.router.backplane!.connected),
        "every Speedo server to reconnect",
        10_000,
      );
      assertEquals(speedos.map((speedo) => speedo.router.backplane!.connects), [2, 2]);
      // Nothing was subscribed anew by the clients: the plain and the queue subscription
      // are back on the restarted nats-server because the Speedo server subscribed them again.
      publisher.publish("after.up", codec.encode("1"));
      await waitFor(
        () => plain.received.length === 2 && queued.received.length === 2,
        "a publish after the return, to both subscriptions",
        10_000,
      );
      assertEquals(plain.received, ["after.before:0", "after.up:1"]);
      assertEquals(queued.received, ["after.before:0", "after.up:1"]);
    } finally {
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      for (const speedo of speedos) await speedo.server.close();
      await natsServer?.stop();
    }
  },
});

/**
 * A TCP relay to nats-server that a test opens and shuts: the backplane of the Speedo servers
 * behind it goes away and comes back, while nats-server (and whoever else uses it) stays.
 */
class Gate {
  readonly port: number;
  readonly #upstream: number;
  #listener: Deno.TcpListener | undefined;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();

  constructor(port: number, upstream: number) {
    this.port = port;
    this.#upstream = upstream;
  }

  open(): void {
    const listener = this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#track(
      (async () => {
        for await (const conn of listener) {
          this.#conns.add(conn);
          this.#track(this.#relay(conn));
        }
      })().catch(() => {}),
    );
  }

  async shut(): Promise<void> {
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of this.#conns) conn.close();
    this.#conns.clear();
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #relay(conn: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#upstream });
    } catch {
      conn.close();
      return;
    }
    this.#conns.add(upstream);
    const pump = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          let at = 0;
          while (at < n) at += await to.write(buffer.subarray(at, n));
        }
      } catch {
        // Shut.
      }
      for (const end of [from, to]) {
        if (this.#conns.delete(end)) end.close();
      }
    };
    await Promise.all([pump(conn, upstream), pump(upstream, conn)]);
  }
}

Deno.test({
  name:
    `backplane: publishes while the backplane is away are buffered and sent in order, or dropped past the bound and counted${missing}`,
  ...SANITIZED,
  async fn() {
    const natsServer = await startNatsServer();
    const [gatePort, tightGatePort] = freePorts(2);
    const gate = new Gate(gatePort, natsServer.port);
    const tightGate = new Gate(tightGatePort, natsServer.port);
    gate.open();
    tightGate.open();
    const subscriberSide = await startSpeedo([`nats://127.0.0.1:${natsServer.port}`]);
    const publisherSide = await startSpeedo([`nats://127.0.0.1:${gatePort}`]);
    const tight = await startSpeedo([`nats://127.0.0.1:${tightGatePort}`], {
      maxBufferedBytes: 2000,
    });
    const clients: nats.NatsConnection[] = [];
    try {
      const subscriber = await nats.connect({ servers: `127.0.0.1:${subscriberSide.port}` });
      const publisher = await nats.connect({ servers: `127.0.0.1:${publisherSide.port}` });
      const squeezed = await nats.connect({ servers: `127.0.0.1:${tight.port}` });
      clients.push(subscriber, publisher, squeezed);
      const buffered = collect(subscriber, "down.buffered");
      const dropped = collect(subscriber, "down.squeezed");
      await subscriber.flush();

      await Promise.all([gate.shut(), tightGate.shut()]);
      await waitFor(
        () => !publisherSide.router.backplane!.connected && !tight.router.backplane!.connected,
        "both publishing servers to see the backplane gone",
      );
      const count = 100;
      for (let i = 0; i < count; i++) {
        publisher.publish("down.buffered", codec.encode(String(i)));
        squeezed.publish("down.squeezed", codec.encode(String(i).padStart(100, "x")));
      }
      await Promise.all([publisher.flush(), squeezed.flush()]);
      const stats = publisherSide.router.backplane!;
      assertEquals([stats.published, stats.dropped], [count, 0]);
      assertGreater(stats.buffered, 0);
      const tightStats = tight.router.backplane!;
      assertGreater(tightStats.dropped, 0);
      assertEquals(tightStats.published + tightStats.dropped, count);
      assert(tightStats.buffered <= 2000, `${tightStats.buffered} bytes buffered`);
      assertEquals(buffered.received.length + dropped.received.length, 0);

      gate.open();
      tightGate.open();
      await waitFor(
        () =>
          buffered.received.length === count &&
          dropped.received.length === tightStats.published,
        "the buffered publishes",
        10_000,
      );
      assertEquals(
        buffered.received,
        Array.from({ length: count }, (_, i) => `down.buffered:${i}`),
      );
      // The ones kept are the first ones, in order; the rest were dropped and counted.
      assertEquals(
        dropped.received,
        Array.from(
          { length: tightStats.published },
          (_, i) => `down.squeezed:${String(i).padStart(100, "x")}`,
        ),
      );
      assertEquals(publisherSide.router.backplane!.buffered, 0);
    } finally {
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      for (const speedo of [publisherSide, tight, subscriberSide]) await speedo.server.close();
      await Promise.all([gate.shut(), tightGate.shut()]);
      await natsServer.stop();
    }
  },
});

Deno.test({
  name:
    `backplane: user and password (or a URL's own) reach nats-server; a wrong one is refused and told${missing}`,
  ...SANITIZED,
  async fn() {
    const natsServer = await startNatsServer(undefined, 10_000, undefined, [
      "--user",
      "speedo",
      "--pass",
      "s3cret",
    ]);
    const url = `nats://127.0.0.1:${natsServer.port}`;
    const withOptions = await startSpeedo([url], { user: "speedo", pass: "s3cret" });
    const withUrl = await startSpeedo([`nats://speedo:s3cret@127.0.0.1:${natsServer.port}`]);
    const router = new SubjectRouter();
    const refused = pubsubServer({
      port: 0,
      pubsub: { router, backplane: { servers: [url], user: "speedo", pass: "wrong" } },
    });
    await refused.listen();
    const clients: nats.NatsConnection[] = [];
    try {
      const subscriber = await nats.connect({ servers: `127.0.0.1:${withUrl.port}` });
      const publisher = await nats.connect({ servers: `127.0.0.1:${withOptions.port}` });
      clients.push(subscriber, publisher);
      const got = collect(subscriber, "auth.ok");
      await subscriber.flush();
      publisher.publish("auth.ok", codec.encode("in"));
      await waitFor(() => got.received.length === 1, "the message across authenticated servers");
      await waitFor(
        () => router.backplane!.lastError instanceof BackplaneConnectError,
        "the refusal",
      );
      assertEquals(router.backplane!.connected, false);
      assertStringIncludes(router.backplane!.lastError!.message, "Authorization Violation");
    } finally {
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      for (const server of [withOptions.server, withUrl.server, refused]) await server.close();
      await natsServer.stop();
    }
  },
});

Deno.test({
  name: `backplane: TLS when nats-server's INFO says tls_required, trusting the given CA${missing}`,
  ...SANITIZED,
  ignore: missing !== "" || !hasOpenssl(),
  async fn() {
    const { cert, key, ca } = await testCertificate();
    const dir = await Deno.makeTempDir({ prefix: "speedo-nats-tls-" });
    await Deno.writeTextFile(`${dir}/cert.pem`, cert);
    await Deno.writeTextFile(`${dir}/key.pem`, key);
    const natsServer = await startNatsServer(
      undefined,
      10_000,
      `tls { cert_file: "${dir}/cert.pem", key_file: "${dir}/key.pem" }\n`,
    );
    const url = `nats://127.0.0.1:${natsServer.port}`;
    const speedos: Speedo[] = [];
    const clients: nats.NatsConnection[] = [];
    try {
      speedos.push(await startSpeedo([url], { tls: { caCerts: [ca] } }));
      speedos.push(await startSpeedo([url], { tls: { caCerts: [ca] } }));
      const subscriber = await nats.connect({ servers: `127.0.0.1:${speedos[1].port}` });
      const publisher = await nats.connect({ servers: `127.0.0.1:${speedos[0].port}` });
      clients.push(subscriber, publisher);
      const got = collect(subscriber, "secret.>");
      await subscriber.flush();
      publisher.publish("secret.plans", codec.encode("tls"));
      await waitFor(() => got.received.length === 1, "the message over TLS");
      assertEquals(got.received, ["secret.plans:tls"]);
    } finally {
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      for (const speedo of speedos) await speedo.server.close();
      await natsServer.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `backplane: a server of two loops joins on each loop's own connections; once per subscriber, queue groups once${missing}`,
  ...SANITIZED,
  async fn() {
    const natsServer = await startNatsServer();
    const url = `nats://127.0.0.1:${natsServer.port}`;
    const options = {
      port: 0,
      loops: 2,
      [PINNED_LOOPS]: true,
      pubsub: { backplane: { servers: [url], reconnectDelay: 20 } },
    };
    const server = pubsubServer(options) as Server;
    await server.listen();
    const group = loopGroups.get(server)!;
    const [port0, port1] = [0, 1].map((loop) => group.pinnedAddress(loop)!.port);
    const other = await startSpeedo([url]);
    const clients: nats.NatsConnection[] = [];
    try {
      const connect = async (port: number) => {
        const nc = await nats.connect({ servers: `127.0.0.1:${port}` });
        clients.push(nc);
        return nc;
      };
      const onLoop0 = await connect(port0);
      const onLoop1 = await connect(port1);
      const onOther = await connect(other.port);
      const at1 = collect(onLoop1, "mix.>");
      const at0 = collect(onLoop0, "mix.>");
      const members = [collect(onLoop0, "mix.q", "g"), collect(onLoop1, "mix.q", "g")];
      await Promise.all([onLoop0.flush(), onLoop1.flush()]);
      // Each loop joins the backplane on its own: wait until both carry messages both ways.
      const probe = async (from: nats.NatsConnection, to: { received: string[] }) => {
        const started = performance.now();
        while (!to.received.some((m) => m.startsWith("mix.probe"))) {
          assert(performance.now() - started < 10_000, "the loops never joined the backplane");
          from.publish("mix.probe", codec.encode("p"));
          await from.flush();
          await delay(10);
        }
      };
      await probe(onLoop0, at1);
      await probe(onLoop1, at0);
      await probe(onOther, at0);
      await probe(onOther, at1);
      at0.received.length = at1.received.length = 0;
      for (const member of members) member.received.length = 0;
      const count = 500;
      for (let i = 0; i < count; i++) {
        onLoop0.publish("mix.a", codec.encode(String(i)));
        onOther.publish("mix.q", codec.encode(String(i)));
      }
      onLoop0.publish("mix.end", codec.encode("0"));
      onOther.publish("mix.end", codec.encode("other"));
      await Promise.all([onLoop0.flush(), onOther.flush()]);
      const done = (sub: { received: string[] }) =>
        sub.received.includes("mix.end:0") && sub.received.includes("mix.end:other");
      await waitFor(() => done(at0) && done(at1), "the end markers on both loops", 10_000);
      const plain = (sub: { received: string[] }) =>
        sub.received.filter((m) => m.startsWith("mix.a:"));
      const expected = Array.from({ length: count }, (_, i) => `mix.a:${i}`);
      assertEquals(plain(at0), expected);
      assertEquals(plain(at1), expected);
      const queued = members.flatMap((member) => member.received);
      await waitFor(() => members.flatMap((m) => m.received).length >= count, "the queue group");
      assertEquals(new Set(queued).size, count);
      assertEquals(members.flatMap((member) => member.received).length, count);
    } finally {
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      await server.close();
      await other.server.close();
      await natsServer.stop();
    }
  },
});

Deno.test({
  name:
    `backplane: a Speedo server killed (SIGKILL) takes its interest off nats-server, the others keep working${missing}`,
  ...SANITIZED,
  fn: () =>
    withWorld(async ({ cluster, speedos: [a, b], connect, everywhere, has }) => {
      // A Speedo server in a process of its own, on nats-server 1.
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../bench/_pubsub_speedo.ts", import.meta.url).pathname,
          "--backplane",
          `nats://127.0.0.1:${cluster.ports[1]}`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      try {
        const reader = child.stdout.getReader();
        let text = "";
        while (!text.includes("\n")) {
          const { value, done } = await reader.read();
          assert(!done, "the Speedo child exited before it printed its port");
          text += new TextDecoder().decode(value);
        }
        reader.releaseLock();
        // A raw client (nats.js would keep reconnecting to the dead server): SUB, then PONG.
        const doomed = await Deno.connect({ hostname: "127.0.0.1", port: Number(text.trim()) });
        await doomed.write(
          new TextEncoder().encode('CONNECT {"verbose":false}\r\nSUB doomed.only 1\r\nPING\r\n'),
        );
        const buffer = new Uint8Array(4096);
        let answer = "";
        while (!answer.includes("PONG")) {
          const n = await doomed.read(buffer);
          assert(n !== null, "the Speedo child closed");
          answer += new TextDecoder().decode(buffer.subarray(0, n!));
        }
        await everywhere("doomed.only");
        const onB = await connect(b);
        const atB = collect(onB, "still.here");
        await onB.flush();
        await everywhere("still.here");

        child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel();
        await child.stdin.close().catch(() => {});
        // nats-server sees the connections drop and forgets their interest.
        const started = performance.now();
        while ((await has(0, "doomed.only")) || (await has(1, "doomed.only"))) {
          assert(
            performance.now() - started < 10_000,
            "nats-server kept the dead server's interest",
          );
          await delay(10);
        }
        const publisher = await connect(a);
        publisher.publish("still.here", codec.encode("yes"));
        await waitFor(() => atB.received.length === 1, "delivery after the kill");
        assertEquals(atB.received, ["still.here:yes"]);
        doomed.close();
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // Dead already.
        }
        await child.status;
      }
    }),
});

Deno.test({
  name:
    `backplane: a publish over nats-server's max_payload is delivered here, dropped for the backplane and counted; the connection stays${missing}`,
  ...SANITIZED,
  async fn() {
    const natsServer = await startNatsServer(undefined, 10_000, "max_payload: 1000\n");
    const url = `nats://127.0.0.1:${natsServer.port}`;
    const speedos = [await startSpeedo([url]), await startSpeedo([url])];
    const clients: nats.NatsConnection[] = [];
    try {
      const local = await nats.connect({ servers: `127.0.0.1:${speedos[0].port}` });
      const remote = await nats.connect({ servers: `127.0.0.1:${speedos[1].port}` });
      clients.push(local, remote);
      const here = collect(local, "big.*");
      const there = collect(remote, "big.*");
      await Promise.all([local.flush(), remote.flush()]);
      local.publish("big.one", codec.encode("x".repeat(2000)));
      local.publish("big.two", codec.encode("small"));
      await waitFor(() => there.received.length === 1 && here.received.length === 2, "deliveries");
      assertEquals(there.received, ["big.two:small"]);
      const stats = speedos[0].router.backplane!;
      assertEquals([stats.dropped, stats.connects, stats.connected], [1, 1, true]);
    } finally {
      for (const nc of clients) if (!nc.isClosed()) await nc.close();
      for (const speedo of speedos) await speedo.server.close();
      await natsServer.stop();
    }
  },
});
