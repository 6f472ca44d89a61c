/**
 * NATS over WebSocket over real loopback sockets: Deno's own `WebSocket` speaking the NATS text
 * protocol by hand, and the NATS WebSocket client of `@nats-io/nats-core` (`wsconnect`), against
 * both endpoints (a port of its own, an HTTP server's path), each sharing its subjects with a
 * TCP pub/sub server. Every wait has a deadline.
 */

import { NatsOverWebSocket, pageHandshake } from "./_nats_websocket_test_helper.ts";
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { wsconnect } from "@nats-io/nats-core";
import * as nats from "nats";
import { httpServer } from "../http/http_server.ts";
import { SocketClient, waitFor, within } from "../../testing/_socket_client.ts";
import { pubsubServer } from "./pubsub_server.ts";
import { pubsubWebSocket } from "./pubsub_websocket.ts";
import { SubjectRouter } from "./subject_router.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

/** A TCP pub/sub server and a WebSocket endpoint sharing its router. */
interface Pair extends AsyncDisposable {
  readonly router: SubjectRouter;
  readonly tcpPort: number;
  /** Where WebSocket clients connect. */
  readonly url: string;
}

interface Endpoint {
  readonly name: string;
  start(router: SubjectRouter): Promise<{ url: string; server: AsyncDisposable }>;
}

const ownPort: Endpoint = {
  name: "pubsubServer({ websocket }) on a port of its own",
  async start(router) {
    const server = pubsubServer({ port: 0, pubsub: { router }, websocket: {} });
    const { port } = await server.listen();
    return { url: `ws://127.0.0.1:${port}/`, server };
  },
};

const httpPath: Endpoint = {
  name: "pubsubWebSocket at /nats of an httpServer",
  async start(router) {
    const server = httpServer({
      port: 0,
      handler: (request) => new Response(`page ${new URL(request.url).pathname}`),
      websocket: pubsubWebSocket({ path: "/nats", router }),
    });
    const { port } = await server.listen();
    return { url: `ws://127.0.0.1:${port}/nats`, server };
  },
};

async function startPair(endpoint: Endpoint): Promise<Pair> {
  const router = new SubjectRouter();
  const tcp = pubsubServer({ port: 0, pubsub: { router } });
  const { port: tcpPort } = await tcp.listen();
  const { url, server } = await endpoint.start(router);
  return {
    router,
    tcpPort,
    url,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await tcp.close();
    },
  };
}

/** A TCP client that has said CONNECT, and subscribed when asked. */
async function tcpClient(port: number, subscribe = ""): Promise<SocketClient> {
  const client = await SocketClient.connect(port);
  await client.readLine(); // INFO
  assertEquals(
    await client.request(`CONNECT {"verbose":false}\r\n${subscribe}PING\r\n`),
    "PONG\r\n",
  );
  return client;
}

for (const endpoint of [ownPort, httpPath]) {
  Deno.test(
    `${endpoint.name}: Deno's WebSocket speaks NATS with TCP clients on the same subjects`,
    SANITIZED,
    async () => {
      await using pair = await startPair(endpoint);
      await using ws = await NatsOverWebSocket.open(pair.url);
      const info = await ws.expect("\r\n");
      assert(info.startsWith("INFO {"), info);
      assertEquals(JSON.parse(info.slice(5)).proto, 1);
      assertEquals(ws.kinds, ["binary"]);

      // One byte stream: an operation may be cut across WebSocket messages.
      ws.send('CONNECT {"verbose":false}\r\nSUB news.* 1\r\nSUB t');
      ws.send("ools 2\r\nPI");
      ws.send("NG\r\n");
      assertEquals(await ws.expect("PONG\r\n"), "PONG\r\n");
      assertEquals(pair.router.size, 2);

      // A TCP publisher reaches the WebSocket subscriber.
      using tcp = await tcpClient(pair.tcpPort, "SUB from.ws 7\r\n");
      await tcp.write("PUB news.today 5\r\nhello\r\nPUB tools 3\r\nabc\r\n");
      assertEquals(
        await ws.expect("abc\r\n"),
        "MSG news.today 1 5\r\nhello\r\nMSG tools 2 3\r\nabc\r\n",
      );

      // And the WebSocket publisher reaches the TCP subscriber, two operations in one message.
      ws.send("PUB from.ws 2\r\nhi\r\nPUB from.ws _INBOX.1 3\r\nyou\r\n");
      assertEquals(await tcp.readLines(4), [
        "MSG from.ws 7 2\r\n",
        "hi\r\n",
        "MSG from.ws 7 _INBOX.1 3\r\n",
        "you\r\n",
      ]);

      // A fatal error is told in a data frame, then the connection closes normally.
      ws.send("NOPE\r\n");
      assertEquals(await ws.expect("\r\n"), "-ERR 'Unknown Protocol Operation'\r\n");
      assertEquals((await within(ws.closed, "the close")).code, 1000);
      await waitFor(() => pair.router.size === 1, "the closed subscriber's subscriptions to end");
    },
  );

  Deno.test(
    `${endpoint.name}: the NATS WebSocket client (wsconnect) gets what a TCP nats client publishes`,
    SANITIZED,
    async () => {
      await using pair = await startPair(endpoint);
      const browserLike = await within(
        wsconnect({ servers: pair.url, reconnect: false }),
        "wsconnect",
      );
      const tcp = await within(
        nats.connect({ servers: `127.0.0.1:${pair.tcpPort}`, reconnect: false }),
        "nats.connect",
      );
      try {
        const received: string[] = [];
        let done: () => void = () => {};
        const all = new Promise<void>((resolve) => done = resolve);
        browserLike.subscribe("greet.*", {
          callback: (error, message) => {
            if (error !== null) return;
            received.push(`${message.subject}: ${message.string()}`);
            if (received.length === 2) done();
          },
        });
        // It answers requests, too: the reply subject crosses from TCP to WebSocket and back.
        browserLike.subscribe("time", {
          callback: (_error, message) => {
            message.respond(`now, said to ${message.string()}`);
          },
        });
        await within(browserLike.flush(), "the WebSocket client's subscriptions");

        tcp.publish("greet.joe", "hello joe");
        tcp.publish("other", "not for them");
        tcp.publish("greet.ann", "ünïcödé ✓");
        await within(all, "two messages over WebSocket");
        assertEquals(received, ["greet.joe: hello joe", "greet.ann: ünïcödé ✓"]);

        const reply = await within(tcp.request("time", "tcp", { timeout: 5000 }), "the reply");
        assertEquals(reply.string(), "now, said to tcp");
        assertEquals(pair.router.delivered, 4);
      } finally {
        await tcp.close();
        await browserLike.close();
      }
    },
  );
}

Deno.test(
  "pubsubWebSocket at a path leaves the server's other paths to its pages",
  SANITIZED,
  async () => {
    await using pair = await startPair(httpPath);
    const page = await fetch(pair.url.replace("ws:", "http:").replace("/nats", "/index.html"));
    assertEquals(await page.text(), "page /index.html");
    // A WebSocket at another path is no handshake the server takes: the socket fails.
    const elsewhere = new WebSocket(pair.url.replace("/nats", "/ws"));
    const failed = new Promise((resolve) => elsewhere.onerror = resolve);
    const closed = new Promise((resolve) => elsewhere.onclose = resolve);
    await within(failed, "the WebSocket at another path to fail");
    await within(closed, "that WebSocket to close");
  },
);

Deno.test(
  "pubsubServer({ websocket: { writeType: 'text' } }) sends text frames, for pages that want strings",
  SANITIZED,
  async () => {
    await using server = pubsubServer({ port: 0, websocket: { writeType: "text" } });
    const { port } = await server.listen();
    await using ws = await NatsOverWebSocket.open(`ws://127.0.0.1:${port}/`);
    ws.send("CONNECT {}\r\n");
    await ws.expect("+OK\r\n");
    assertEquals(ws.kinds.slice(0, 2), ["text", "text"]);
  },
);

Deno.test(
  "pubsubServer({ websocket: { path, protocols } }) serves its path and subprotocol",
  SANITIZED,
  async () => {
    await using server = pubsubServer({
      port: 0,
      websocket: { path: "/nats", protocols: ["nats"] },
    });
    const { port } = await server.listen();
    await using ws = await NatsOverWebSocket.open(`ws://127.0.0.1:${port}/nats`, ["nats"]);
    assertEquals(ws.socket.protocol, "nats");
    assert((await ws.expect("\r\n")).startsWith("INFO "));
    // Anything but a handshake at the path gets 426.
    const response = await fetch(`http://127.0.0.1:${port}/nats`);
    assertEquals(response.status, 426);
    await response.body?.cancel();
  },
);

/** Each way to serve NATS over WebSocket, with the allowed origins given. */
const originEndpoints: {
  name: string;
  start(allowedOrigins?: string[]): Promise<{ url: string; server: AsyncDisposable }>;
}[] = [
  {
    name: "pubsubServer({ websocket })",
    async start(allowedOrigins) {
      const server = pubsubServer({ port: 0, websocket: { path: "/nats", allowedOrigins } });
      const { port } = await server.listen();
      return { url: `ws://127.0.0.1:${port}/nats`, server };
    },
  },
  {
    name: "pubsubServer({ websocket: { port } }) (TCP and WebSocket on one server)",
    async start(allowedOrigins) {
      const server = pubsubServer({
        port: 0,
        websocket: { port: 0, path: "/nats", allowedOrigins },
      });
      await server.listen();
      return { url: `ws://127.0.0.1:${server.addresses[1].port}/nats`, server };
    },
  },
  {
    name: "pubsubWebSocket at /nats of an httpServer",
    async start(allowedOrigins) {
      const server = httpServer({
        port: 0,
        handler: () => new Response("page"),
        websocket: pubsubWebSocket({ path: "/nats", allowedOrigins }),
      });
      const { port } = await server.listen();
      return { url: `ws://127.0.0.1:${port}/nats`, server };
    },
  },
];

for (const endpoint of originEndpoints) {
  Deno.test(
    `${endpoint.name}: a page of another origin gets 403 and never INFO; same origin and no Origin get INFO`,
    SANITIZED,
    async () => {
      const { url, server } = await endpoint.start();
      await using _ = server;
      const self = `http://${new URL(url).host}`;
      for (const origin of ["http://evil.example", "null"]) {
        const refused = await pageHandshake(url, origin);
        assertEquals([refused.status, refused.info], [403, false], refused.text);
      }
      for (const origin of [self, undefined]) {
        const accepted = await pageHandshake(url, origin);
        assertEquals([accepted.status, accepted.info], [101, true], accepted.text);
      }
    },
  );

  Deno.test(
    `${endpoint.name}: allowedOrigins lets the listed pages in`,
    SANITIZED,
    async () => {
      const { url, server } = await endpoint.start(["https://app.example"]);
      await using _ = server;
      const listed = await pageHandshake(url, "https://app.example:443");
      assertEquals([listed.status, listed.info], [101, true], listed.text);
      const other = await pageHandshake(url, "https://evil.example");
      assertEquals([other.status, other.info], [403, false], other.text);
    },
  );
}

Deno.test("pubsubWebSocket checks its options at once", () => {
  assertThrows(() => pubsubWebSocket({ path: "nats" }), TypeError, 'path must start with "/"');
  assertThrows(
    // @ts-expect-error: a wrong frame type, as from JavaScript
    () => pubsubWebSocket({ writeType: "xml" }),
    TypeError,
    'writeType must be "text" or "binary", got "xml"',
  );
  assertThrows(() => pubsubWebSocket({ maxMessageSize: 0 }), RangeError);
  assertThrows(() => pubsubWebSocket({ pingInterval: -1 }), RangeError);
  assertThrows(
    () => pubsubWebSocket({ allowedOrigins: ["example.com"] }),
    TypeError,
    'allowedOrigins has "example.com"',
  );
  assertThrows(
    () => pubsubServer({ websocket: { port: 0, allowedOrigins: ["http://a/"] } }),
    TypeError,
    'allowedOrigins has "http://a/"',
  );
  const endpoint = pubsubWebSocket({ path: "/nats" });
  assertEquals([endpoint.path, endpoint.writeType], ["/nats", "binary"]);
  assertInstanceOf(endpoint.protocol.router, SubjectRouter);
});
