/**
 * Integration tests of the pub/sub server over real loopback sockets, with hand-written
 * protocol lines: telnet-style sessions, every limit, slow consumers and stale connections.
 * Each bad-input test proves that the server keeps serving the other clients. Every wait has a
 * deadline; nothing sleeps to synchronise.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLess,
  assertMatch,
  assertThrows,
} from "@std/assert";
import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { SlowConsumerError } from "../../core/errors.ts";
import type { Server } from "../../core/server.ts";
import { SocketClient, waitFor, within } from "../../testing/_socket_client.ts";
import { NATS_SERVER_PATH, startNatsServer } from "../../testing/_fixtures/nats_server.ts";
import {
  ControlLineTooLongError,
  PayloadTooLargeError,
  type PubSubError,
  StaleConnectionError,
  TooManySubscriptionsError,
  UnknownOperationError,
} from "./pubsub_errors.ts";
import { pubsubServer, type PubSubServerOptions } from "./pubsub_server.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const QUIET = 'CONNECT {"verbose":false}\r\n';

/** A server with hooks recorded. */
async function start(options: PubSubServerOptions = {}): Promise<{
  server: Server;
  port: number;
  connects: ConnectionHandle[];
  closes: { id: number; reason: Error | undefined }[];
  protocolErrors: PubSubError[];
}> {
  const connects: ConnectionHandle[] = [];
  const closes: { id: number; reason: Error | undefined }[] = [];
  const protocolErrors: PubSubError[] = [];
  const server = pubsubServer({
    port: 0,
    onConnect: (connection: ConnectionHandle) => void connects.push(connection),
    onClose: (connection: ConnectionHandle, reason?: Error) =>
      void closes.push({ id: connection.id, reason }),
    ...options,
    pubsub: { onProtocolError: (error) => void protocolErrors.push(error), ...options.pubsub },
  });
  const { port } = await server.listen();
  return { server, port, connects, closes, protocolErrors };
}

/** Connects, reads INFO, and sends CONNECT (quiet by default). */
async function connect(port: number, hello = QUIET): Promise<SocketClient> {
  const client = await SocketClient.connect(port);
  assertMatch(await client.readLine(), /^INFO \{.*"proto":1.*\}\r\n$/);
  if (hello !== "") await client.write(hello);
  return client;
}

/**
 * Two well-behaved clients, to prove the server still serves others: a subscriber and a
 * publisher that pass one message through the server.
 */
async function bystanders(
  port: number,
): Promise<{ check(label: string): Promise<void> } & Disposable> {
  const subscriber = await connect(port);
  const publisher = await connect(port);
  assertEquals(await subscriber.request("SUB bystander 1\r\nPING\r\n"), "PONG\r\n");
  let count = 0;
  return {
    async check(label) {
      const text = `${label} ${count++}`;
      await publisher.write(`PUB bystander ${text.length}\r\n${text}\r\n`);
      assertEquals(await subscriber.readLines(2), [
        `MSG bystander 1 ${text.length}\r\n`,
        `${text}\r\n`,
      ]);
      assertEquals(await publisher.request("PING\r\n"), "PONG\r\n");
    },
    [Symbol.dispose]() {
      subscriber.close();
      publisher.close();
    },
  };
}

Deno.test(
  "pubsubServer speaks to telnet: lower case, LF, CRLF and CR NUL endings",
  SANITIZED,
  async () => {
    const { server, port } = await start();
    try {
      using alice = await connect(port, "");
      using bob = await connect(port, "");
      // Before any CONNECT the server is verbose, as nats-server: +OK after each operation.
      assertEquals(await alice.request("sub greet.* 1\r\0"), "+OK\r\n");
      assertEquals(await alice.request("SuB greet.> 2\n"), "+OK\r\n");
      assertEquals(await bob.request("pub greet.joe 5\r\0hello\r\0"), "+OK\r\n");
      assertEquals(await alice.readLines(4), [
        "MSG greet.joe 2 5\r\n",
        "hello\r\n",
        "MSG greet.joe 1 5\r\n",
        "hello\r\n",
      ]);
      // A blank line (Enter pressed twice) is ignored; PING in any case and ending is answered.
      assertEquals(await bob.request("\r\n\nping\r\0"), "PONG\r\n");
      assertEquals(await bob.request("PING\n"), "PONG\r\n");
      assertEquals(await alice.request("unsub 2\r\n"), "+OK\r\n");
      assertEquals(
        await bob.request('connect {"verbose":false}\r\n' + "PUB greet.ann 2\nhi\n" + "PING\r\n"),
        "PONG\r\n",
      );
      assertEquals(await alice.readLines(2), ["MSG greet.ann 1 2\r\n", "hi\r\n"]);
      assertEquals(await alice.request("PUB nobody 0\r\n\r\nping\r\n"), "+OK\r\n");
      assertEquals(await alice.readLine(), "PONG\r\n");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer closes a control line over 4 KiB and serves the others",
  SANITIZED,
  async () => {
    const { server, port, closes, protocolErrors } = await start();
    try {
      using others = await bystanders(port);
      using bad = await connect(port);
      // No line ending at all: the limit is enforced while the line is still arriving.
      await bad.write(`PUB ${"x".repeat(5000)}`);
      assertEquals(await bad.readToEnd(), "-ERR 'Maximum Control Line Exceeded'\r\n");
      await waitFor(() => closes.length === 1, "the bad connection to close");
      assertInstanceOf(protocolErrors[0], ControlLineTooLongError);
      await others.check("after a long line");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer refuses a payload over max_payload on its PUB line and serves the others",
  SANITIZED,
  async () => {
    const { server, port, protocolErrors } = await start({ pubsub: { maxPayload: 1024 } });
    try {
      using others = await bystanders(port);
      using bad = await connect(port);
      // Only the PUB line is sent: the refusal must not wait for the payload.
      await bad.write("PUB big 1025\r\n");
      assertEquals(await bad.readToEnd(), "-ERR 'Maximum Payload Violation'\r\n");
      assertInstanceOf(protocolErrors[0], PayloadTooLargeError);
      await others.check("after a big payload");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer closes a connection that sends an unknown operation and serves the others",
  SANITIZED,
  async () => {
    const { server, port, protocolErrors } = await start();
    try {
      using others = await bystanders(port);
      using bad = await connect(port);
      await bad.write("SUB fine 1\r\nHELLO world\r\nPING\r\n");
      assertEquals(await bad.readToEnd(), "-ERR 'Unknown Protocol Operation'\r\n");
      assertInstanceOf(protocolErrors[0], UnknownOperationError);
      await others.check("after an unknown operation");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer tells an invalid SUB subject and keeps that connection",
  SANITIZED,
  async () => {
    const { server, port } = await start();
    try {
      using others = await bystanders(port);
      using client = await connect(port);
      assertEquals(await client.request("SUB a..b 1\r\n"), "-ERR 'Invalid Subject'\r\n");
      assertEquals(
        await client.request("SUB foo.>.bar 2\r\nSUB bystander 3\r\nPING\r\n"),
        "-ERR 'Invalid Subject'\r\n",
      );
      assertEquals(await client.readLine(), "PONG\r\n");
      await others.check("after invalid subjects");
      assertEquals(await client.readLines(2), [
        "MSG bystander 3 24\r\n",
        "after invalid subjects 0\r\n",
      ]);
      assertEquals(server.stats().connections, 3);
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer closes a connection that misses two PINGs, and keeps the ones that answer",
  SANITIZED,
  async () => {
    const { server, port, closes, protocolErrors } = await start({
      pubsub: { pingInterval: 50, maxPingsOut: 2 },
    });
    try {
      using polite = await connect(port);
      using silent = await connect(port);
      const started = performance.now();
      let silentDone = false;
      const silentText = silent.readToEnd(5000).finally(() => silentDone = true);
      let answered = 0;
      while (!silentDone) {
        // Answer each PING the server sends the polite client.
        assertEquals(await polite.readLine(2000), "PING\r\n");
        await polite.write("PONG\r\n");
        answered++;
      }
      assertEquals(await silentText, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
      assert(performance.now() - started >= 100, "at least two ping periods passed");
      assert(answered >= 1, `the polite client answered ${answered} PINGs meanwhile`);
      assertInstanceOf(protocolErrors[0], StaleConnectionError);
      assertEquals(closes.length, 1);
      // Still served: its PONG comes, perhaps after more of the server's PINGs.
      await polite.write("PING\r\n");
      let line = await polite.readLine();
      for (let pings = 0; line === "PING\r\n" && pings < 5; pings++) line = await polite.readLine();
      assertEquals(line, "PONG\r\n");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer cuts off a slow consumer with -ERR 'Slow Consumer', without slowing the publisher or the others",
  SANITIZED,
  async () => {
    const { server, port, connects, closes } = await start({
      writeHighWater: 64 * 1024,
      maxWriteBuffer: 1024 * 1024,
    });
    try {
      using slow = await connect(port);
      await waitFor(() => connects.length === 1, "the slow subscriber to be accepted");
      const slowHandle = connects[0];
      using fast = await connect(port);
      using publisher = await connect(port);
      assertEquals(await slow.request("SUB flood 1\r\nPING\r\n"), "PONG\r\n");
      assertEquals(await fast.request("SUB flood 1\r\nPING\r\n"), "PONG\r\n");
      const payload = "p".repeat(32 * 1024 - 2);
      const message = `PUB flood ${payload.length}\r\n${payload}\r\n`;
      const frame = `MSG flood 1 ${payload.length}\r\n${payload}\r\n`;
      // The fast subscriber reads everything, concurrently.
      let fastBytes = 0;
      let stopFast = false;
      const fastReading = (async () => {
        const buffer = new Uint8Array(256 * 1024);
        while (!stopFast) {
          const count = await within(fast.conn.read(buffer), "the fast subscriber's read", 5000);
          if (count === null) break;
          fastBytes += count;
        }
      })();
      const roundTrips: number[] = [];
      let published = 0;
      try {
        // Publish in bursts, each checked with a PING round trip, until the slow one is cut off
        // (it is closed only once it read its goodbye: until then its handle is no longer open).
        while (slowHandle.open) {
          assertLess(published, 2000, "the slow consumer was never cut off");
          await publisher.write(message.repeat(16));
          published += 16;
          const before = performance.now();
          assertEquals(await publisher.request("PING\r\n"), "PONG\r\n");
          roundTrips.push(performance.now() - before);
        }
        await waitFor(
          () => fastBytes === published * frame.length,
          "the fast subscriber to get everything",
        );
      } finally {
        stopFast = true;
        // One more (empty) message ends the fast subscriber's pending read.
        await publisher.write(`PUB flood 0\r\n\r\n`);
        await fastReading;
      }
      assert(published * frame.length > 1024 * 1024, "more than maxWriteBuffer was published");
      assertLess(Math.max(...roundTrips), 1000, "the publisher was never held back");
      const text = await slow.readToEnd(10_000);
      assert(
        text.endsWith("-ERR 'Slow Consumer'\r\n"),
        `ends with ${JSON.stringify(text.slice(-40))}`,
      );
      // What it got before the goodbye are whole messages.
      assertEquals((text.length - "-ERR 'Slow Consumer'\r\n".length) % frame.length, 0);
      await waitFor(() => closes.length === 1, "the slow consumer to be closed");
      assertEquals(closes[0].id, slowHandle.id, "only the slow consumer was closed");
      assertInstanceOf(closes[0].reason, SlowConsumerError);
      assertEquals(server.stats().connections, 2);
      assertEquals(await publisher.request("PING\r\n"), "PONG\r\n");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer refuses a connection past maxConnections the way nats-server does",
  SANITIZED,
  async () => {
    const { server, port } = await start({ maxConnections: 1 });
    try {
      using first = await connect(port);
      using second = await SocketClient.connect(port);
      assertEquals(await second.readToEnd(), "-ERR 'maximum connections exceeded'\r\n");
      assertEquals(await first.request("PING\r\n"), "PONG\r\n");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "pubsubServer delivers in order, across chunks, to many subscribers of one pipelining publisher",
  SANITIZED,
  async () => {
    const { server, port } = await start();
    try {
      const subscribers = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
      using publisher = await connect(port);
      try {
        for (const [i, subscriber] of subscribers.entries()) {
          assertEquals(await subscriber.request(`SUB load.* ${i}\r\nPING\r\n`), "PONG\r\n");
        }
        const messages = Array.from(
          { length: 2000 },
          (_, i) => `message ${i} ${"x".repeat(i % 50)}`,
        );
        const bytes = messages.map((text, m) => `PUB load.${m % 7} ${text.length}\r\n${text}\r\n`)
          .join("");
        // Uneven writes, so that operations straddle the server's reads.
        for (let at = 0; at < bytes.length; at += 1013) {
          await publisher.write(
            bytes.slice(at, at + 1013),
          );
        }
        await Promise.all(subscribers.map(async (subscriber, i) => {
          const lines = await subscriber.readLines(2 * messages.length, 10_000);
          for (let m = 0; m < messages.length; m++) {
            assertEquals(lines[2 * m], `MSG load.${m % 7} ${i} ${messages[m].length}\r\n`);
            assertEquals(lines[2 * m + 1], `${messages[m]}\r\n`);
          }
        }));
      } finally {
        for (const subscriber of subscribers) subscriber.close();
      }
    } finally {
      await server.close();
    }
  },
);

/** One client's SUBs past a limit of 2, as the same bytes on Speedo and on nats-server. */
async function subscribePastTheLimit(port: number): Promise<void> {
  using client = await SocketClient.connect(port);
  // nats-server ends its INFO line with a space.
  assertMatch(await client.readLine(), /^INFO \{.*\} ?\r\n$/);
  await client.write('CONNECT {"verbose":false,"pedantic":false}\r\n');
  assertEquals(await client.request("SUB a 1\r\nSUB b 2\r\nPING\r\n"), "PONG\r\n");
  assertEquals(await client.request("SUB c 3\r\n"), "-ERR 'maximum subscriptions exceeded'\r\n");
  // The connection stays, and an UNSUB makes room.
  assertEquals(await client.request("UNSUB 1\r\nSUB d 4\r\nPING\r\n"), "PONG\r\n");
  await client.write("PUB c 1\r\nx\r\nPUB d 1\r\ny\r\n");
  assertEquals(await client.readLines(2), ["MSG d 4 1\r\n", "y\r\n"]);
}

Deno.test(
  "pubsubServer refuses a SUB past maxSubscriptions with -ERR and keeps the connection",
  SANITIZED,
  async () => {
    const { server, port, closes, protocolErrors } = await start({
      pubsub: { maxSubscriptions: 2 },
    });
    try {
      using others = await bystanders(port);
      await subscribePastTheLimit(port);
      assertInstanceOf(protocolErrors[0], TooManySubscriptionsError);
      await others.check("after too many subscriptions");
      assertEquals(closes.filter((close) => close.reason !== undefined), []);
    } finally {
      await server.close();
    }
  },
);

Deno.test({
  name: `nats-server refuses a SUB past max_subscriptions the same way${
    NATS_SERVER_PATH === undefined ? " (ignored: nats-server not installed)" : ""
  }`,
  ignore: NATS_SERVER_PATH === undefined,
  ...SANITIZED,
  async fn() {
    const nats = await startNatsServer(undefined, 10_000, "max_subscriptions: 2\n");
    try {
      await subscribePastTheLimit(nats.port);
    } finally {
      await nats.stop();
    }
  },
});

Deno.test("pubsubServer takes the protocol's options in `pubsub` only", () => {
  const flat: PubSubServerOptions = {
    // @ts-expect-error: maxPayload belongs in `pubsub`
    maxPayload: 1024,
  };
  assertEquals(Object.keys(flat), ["maxPayload"]);
  // Checked when the server is made, as pubsubProtocol checks them.
  assertThrows(() => pubsubServer({ pubsub: { maxPayload: 0 } }), RangeError);
});

Deno.test("pubsubServer on 2 loops tells each client in INFO the address it connected to", async () => {
  await using server = pubsubServer({ port: 0, loops: 2 });
  const { port } = await server.listen();
  for (let i = 0; i < 4; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const buffer = new Uint8Array(4096);
      let text = "";
      while (!text.includes("\r\n")) {
        const n = await within(conn.read(buffer), "INFO");
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
      const info = JSON.parse(text.slice(5, text.indexOf("\r\n")));
      assertEquals([info.host, info.port], ["127.0.0.1", port]);
    } finally {
      conn.close();
    }
  }
});
