/**
 * NATS over WebSocket on a `pubsubServer({ loops: 2, websocket })`, over real loopback sockets:
 * each loop builds the WebSocket protocol and the pub/sub protocol inside it from the recipe,
 * and the pub/sub routers of the two loops exchange interest. Deno's own `WebSocket` speaking
 * the NATS text protocol by hand sits on loop 0, the NATS WebSocket client of
 * `@nats-io/nats-core` (`wsconnect`) on loop 1 (each loop's own port, the `PINNED_LOOPS` hook).
 * Every wait has a deadline; nothing sleeps.
 */

import { NatsOverWebSocket, pageHandshake } from "./_nats_websocket_test_helper.ts";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { type NatsConnection, wsconnect } from "@nats-io/nats-core";
import * as natsTcp from "nats";
import type { Server } from "../../core/server.ts";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import { pubsubServer, type PubSubServerOptions } from "./pubsub_server.ts";
import { SubjectRouter } from "./subject_router.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

/** The WebSocket URL of loop `loop`'s own listener. */
function loopUrl(server: Server, loop: number, path = "/"): string {
  return `ws://127.0.0.1:${loopGroups.get(server)!.pinnedAddress(loop)!.port}${path}`;
}

/** A NATS-over-WebSocket server of two loops, each reachable on a port of its own. */
async function startServer(path = "/nats"): Promise<Server> {
  const server = pubsubServer({
    port: 0,
    loops: 2,
    websocket: { path, maxMessageSize: 64 * 1024 },
    pubsub: { pingInterval: 0 },
    [PINNED_LOOPS]: true,
  } as PubSubServerOptions);
  await server.listen();
  return server;
}

/** `wsconnect` to `url`, closed at dispose. */
async function natsWs(url: string): Promise<NatsConnection & AsyncDisposable> {
  const connection = await within(wsconnect({ servers: url, reconnect: false }), "wsconnect");
  return Object.assign(connection, {
    [Symbol.asyncDispose]: () => connection.close(),
  });
}

/** Resolves with the first `count` values `push` is given. */
function collect<T>(count: number): { push(value: T): void; all: Promise<T[]> } {
  const values: T[] = [];
  let done: (values: T[]) => void = () => {};
  const all = new Promise<T[]>((resolve) => done = resolve);
  return {
    push(value) {
      values.push(value);
      if (values.length === count) done(values);
    },
    all: within(all, `${count} messages`),
  };
}

Deno.test(
  "pubsubServer({ loops: 2, websocket }): a publish on each loop reaches the WebSocket subscriber on the other",
  SANITIZED,
  async () => {
    await using server = await startServer();
    await using hand = await NatsOverWebSocket.connect(
      loopUrl(server, 0, "/nats"),
      "SUB from.nats 1\r\n",
    );
    await using client = await natsWs(loopUrl(server, 1, "/nats"));
    const received = collect<string>(2);
    client.subscribe("from.hand.*", {
      callback: (error, message) => {
        if (error === null) received.push(`${message.subject}: ${message.string()}`);
      },
    });
    // flush() is a PING: its PONG says the interest reached loop 0 too.
    await within(client.flush(), "the subscription on loop 1");

    hand.send("PUB from.hand.a 5\r\nhello\r\nPUB other 1\r\nx\r\nPUB from.hand.b 5\r\nünï\r\n");
    assertEquals(await received.all, ["from.hand.a: hello", "from.hand.b: ünï"]);

    client.publish("from.nats", "hi from loop 1");
    assertEquals(await hand.expect("loop 1\r\n"), "MSG from.nats 1 14\r\nhi from loop 1\r\n");
    assertEquals(server.stats().loops.map((row) => row.accepted), [1, 1]);
  },
);

Deno.test(
  "pubsubServer({ loops: 2, websocket }): a queue group spanning both loops gets each message once",
  SANITIZED,
  async () => {
    await using server = await startServer();
    await using hand = await NatsOverWebSocket.connect(
      loopUrl(server, 0, "/nats"),
      "SUB jobs workers 1\r\n",
    );
    await using client = await natsWs(loopUrl(server, 1, "/nats"));
    const onLoop1: string[] = [];
    client.subscribe("jobs", {
      queue: "workers",
      callback: (error, message) => {
        if (error === null) onLoop1.push(message.string());
      },
    });
    await within(client.flush(), "the queue member on loop 1");

    // A publisher on loop 0: the round robin over one local and one remote member.
    await using publisher = await NatsOverWebSocket.connect(loopUrl(server, 0, "/nats"));
    const total = 20;
    let batch = "";
    for (let i = 0; i < total; i++) batch += `PUB jobs ${String(i).length}\r\n${i}\r\n`;
    publisher.send(batch + "PING\r\n");
    await publisher.expect("PONG\r\n");

    // Loop 0's member: what it got before the answer to a PING (local deliveries are made at
    // the publish, before the publisher's PONG). Loop 1's: the rest, which crossed the bus.
    hand.send("PING\r\n");
    const onLoop0 = (await hand.expect("PONG\r\n")).split("\r\n")
      .filter((_line, i, lines) => i > 0 && lines[i - 1].startsWith("MSG jobs 1 "));
    await waitFor(
      () => onLoop0.length + onLoop1.length === total,
      `${total - onLoop0.length} jobs on loop 1 (got ${onLoop1.length})`,
    );
    assert(onLoop0.length > 0 && onLoop1.length > 0, `${onLoop0.length} and ${onLoop1.length}`);
    const all = [...onLoop0, ...onLoop1].map(Number).sort((a, b) => a - b);
    assertEquals(all, Array.from({ length: total }, (_, i) => i));
  },
);

Deno.test(
  "pubsubServer({ loops: 2, websocket }): a request on one loop gets the reply of a responder on the other",
  SANITIZED,
  async () => {
    await using server = await startServer();
    await using client = await natsWs(loopUrl(server, 1, "/nats"));
    client.subscribe("time", {
      callback: (error, message) => {
        if (error === null) message.respond(`now, said to ${message.string()}`);
      },
    });
    await within(client.flush(), "the responder on loop 1");

    // The hand client on loop 0 asks, with a reply subject it subscribed first.
    await using hand = await NatsOverWebSocket.connect(
      loopUrl(server, 0, "/nats"),
      "SUB _INBOX.hand 9\r\n",
    );
    hand.send("PUB time _INBOX.hand 4\r\nhand\r\n");
    const reply = await hand.expect("to hand\r\n");
    assertEquals(reply, "MSG _INBOX.hand 9 17\r\nnow, said to hand\r\n");

    // And the other way: wsconnect's request to a responder on loop 0.
    hand.send("SUB echo 2\r\nPING\r\n");
    await hand.expect("PONG\r\n");
    const answered = client.request("echo", "ping", { timeout: 5000 });
    const request = await hand.expect("\r\nping\r\n");
    const inbox = /^MSG echo 2 (\S+) 4\r\n/.exec(request)?.[1];
    assert(inbox !== undefined, request);
    hand.send(`PUB ${inbox} 4\r\npong\r\n`);
    assertEquals((await within(answered, "the reply on loop 1")).string(), "pong");
  },
);

Deno.test("pubsubServer({ loops: 2, websocket }) each loop builds the endpoint from the recipe", async () => {
  await using server = await startServer("/nats");
  // The path crossed to the loops: elsewhere, no handshake.
  const plain = await fetch(loopUrl(server, 1, "/nats").replace("ws:", "http:"));
  await plain.body?.cancel();
  assertEquals(plain.status, 426);
  await assertRejectsToOpen(loopUrl(server, 0, "/other"));
});

/** A WebSocket to `url` fails to open, and closes. */
async function assertRejectsToOpen(url: string): Promise<void> {
  const socket = new WebSocket(url);
  const failed = new Promise((resolve) => socket.onerror = resolve);
  const closed = new Promise((resolve) => socket.onclose = resolve);
  await within(failed, `the WebSocket to ${url} to fail`);
  await within(closed, "that WebSocket to close");
}

Deno.test("pubsubServer({ loops: 2, websocket }) refuses a shared router, as the TCP one does", () => {
  assertThrows(
    () =>
      pubsubServer({
        port: 0,
        loops: 2,
        websocket: {},
        pubsub: { router: new SubjectRouter() },
      }),
    TypeError,
    "recipe",
  );
});

for (const loops of [1, 2]) {
  Deno.test(
    `pubsubServer({ loops: ${loops}, websocket: { port } }): TCP and WebSocket clients share subjects, queue groups and request/reply${
      loops > 1 ? ", each on another loop" : ""
    }`,
    SANITIZED,
    async () => {
      await using server = pubsubServer({
        port: 0,
        loops,
        websocket: { port: 0, path: "/nats" },
        pubsub: { pingInterval: 0 },
        ...(loops > 1 ? { [PINNED_LOOPS]: true } : {}),
      } as PubSubServerOptions);
      await server.listen();
      const group = loopGroups.get(server);
      // WebSocket on loop 0, TCP on loop 1 (with one loop, the server's two addresses).
      const wsPort = group?.pinnedAddress(0, 1)?.port ?? server.addresses[1].port;
      const tcpPort = group?.pinnedAddress(1, 0)?.port ?? server.addresses[0].port;
      await using ws = await NatsOverWebSocket.connect(
        `ws://127.0.0.1:${wsPort}/nats`,
        "SUB from.tcp 1\r\nSUB jobs workers 2\r\nSUB ask 3\r\n",
      );
      const tcp = await within(
        natsTcp.connect({ servers: `127.0.0.1:${tcpPort}`, reconnect: false }),
        "the TCP client",
      );
      try {
        const received = collect<string>(1);
        tcp.subscribe("from.ws", {
          callback: (error, message) => error === null && received.push(message.string()),
        });
        const onTcp: string[] = [];
        tcp.subscribe("jobs", {
          queue: "workers",
          callback: (error, message) => error === null && void onTcp.push(message.string()),
        });
        await within(tcp.flush(), "the TCP subscriptions");

        ws.send("PUB from.ws 5\r\nhello\r\n");
        assertEquals(await received.all, ["hello"]);
        tcp.publish("from.tcp", "hi there");
        assertEquals(await ws.expect("there\r\n"), "MSG from.tcp 1 8\r\nhi there\r\n");

        // The queue group has one member on each side: each job goes to exactly one.
        const total = 20;
        for (let i = 0; i < total; i++) tcp.publish("jobs", String(i));
        await within(tcp.flush(), "the jobs delivered");
        ws.send("PING\r\n");
        const onWs = (await ws.expect("PONG\r\n")).split("\r\n")
          .filter((_line, i, lines) => i > 0 && lines[i - 1].startsWith("MSG jobs 2 "));
        await waitFor(() => onWs.length + onTcp.length === total, "every job");
        const all = [...onWs, ...onTcp].map(Number).sort((a, b) => a - b);
        assertEquals(all, Array.from({ length: total }, (_, i) => i));

        // A request from TCP answered by the WebSocket client.
        const reply = tcp.request("ask", "q", { timeout: 5000 });
        const request = await ws.expect("\r\nq\r\n");
        const inbox = /^MSG ask 3 (\S+) 1/m.exec(request)![1];
        ws.send(`PUB ${inbox} 6\r\nanswer\r\n`);
        assertEquals((await within(reply, "the reply")).string(), "answer");
      } finally {
        await tcp.close();
      }
    },
  );
}

Deno.test(
  "pubsubServer({ loops: 2, websocket: { allowedOrigins } }): each loop checks the origins of the recipe",
  SANITIZED,
  async () => {
    await using server = pubsubServer({
      port: 0,
      loops: 2,
      websocket: { path: "/nats", allowedOrigins: ["http://app.example"] },
      [PINNED_LOOPS]: true,
    } as PubSubServerOptions);
    await server.listen();
    for (const loop of [0, 1]) {
      const url = loopUrl(server, loop, "/nats");
      const listed = await pageHandshake(url, "http://app.example");
      assertEquals([listed.status, listed.info], [101, true], `loop ${loop}: ${listed.text}`);
      // The list replaced same origin: the loop did not fall back to the default.
      const self = await pageHandshake(url, `http://${new URL(url).host}`);
      assertEquals([self.status, self.info], [403, false], `loop ${loop}: ${self.text}`);
    }
    // Two addresses (TCP and WebSocket) on two loops: the listeners' recipe carries them too.
    await using both = pubsubServer({
      port: 0,
      loops: 2,
      websocket: { port: 0, path: "/nats", allowedOrigins: ["http://app.example"] },
    });
    await both.listen();
    const url = `ws://127.0.0.1:${both.addresses[1].port}/nats`;
    for (let attempt = 0; attempt < 4; attempt++) {
      const listed = await pageHandshake(url, "http://app.example");
      assertEquals([listed.status, listed.info], [101, true], listed.text);
      const self = await pageHandshake(url, `http://${new URL(url).host}`);
      assertEquals([self.status, self.info], [403, false], self.text);
    }
  },
);
