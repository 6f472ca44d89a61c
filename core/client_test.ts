import { assert, assertEquals, assertInstanceOf, assertLess, assertRejects } from "@std/assert";
import { backoffDelay, Client, connect } from "./client.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { LineDecoder } from "./framing/line_decoder.ts";
import type { Message } from "./message.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "./protocol.ts";
import { echoServer } from "../protocols/echo/mod.ts";
import { waitFor, within } from "../testing/_socket_client.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const decoder = new TextDecoder();

/** A line protocol that says `greeting` at open and records the lines it gets back. */
function lineProtocol(greeting: string, lines: string[]): ProtocolHandlerFactory {
  return {
    create(context: ProtocolContext) {
      const framer = new LineDecoder();
      return {
        open: () => void context.handle.write(greeting),
        data(chunk: Uint8Array) {
          framer.feed(chunk);
          for (let line = framer.next(); line !== null; line = framer.next()) {
            lines.push(decoder.decode(line));
          }
        },
      };
    },
  };
}

/** A port nothing listens on: bound, then released. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test(
  "connect runs the protocol handler on the outgoing socket, each way",
  SANITIZED,
  async () => {
    await using server = echoServer({ port: 0, workers: 0 });
    const { port } = await server.listen();
    const lines: string[] = [];
    const opened: ConnectionHandle[] = [];
    await using client = await connect({
      port,
      protocol: lineProtocol("one\ntwo\n", lines),
      onOpen: (connection) => void opened.push(connection),
    });
    await waitFor(() => lines.length === 2, "two echoed lines");
    assertEquals(lines, ["one", "two"]);
    assertEquals(client.state, "open");
    assertEquals(opened.length, 1);
    assertEquals(client.connection?.id, opened[0].id);
    assertEquals(client.write("three\n"), true);
    await waitFor(() => lines.length === 3, "the third line");
    const stats = client.stats();
    assertEquals([stats.connects, stats.bytesOut, stats.bytesIn], [1, 14, 14]);
    await client.close();
    assertEquals(client.state, "closed");
    assertEquals(client.write("late\n"), false);
    assertEquals(await client.ended, undefined);
  },
);

Deno.test(
  "connect rejects when the first attempt fails and reconnect is off",
  SANITIZED,
  async () => {
    await assertRejects(
      () => connect({ port: freePort(), protocol: lineProtocol("", []) }),
      Deno.errors.ConnectionRefused,
    );
  },
);

Deno.test(
  "connect gives up after maxAttempts failed attempts, backing off between them",
  SANITIZED,
  async () => {
    const waits: [number, number][] = [];
    const started = performance.now();
    await assertRejects(
      () =>
        connect({
          port: freePort(),
          protocol: lineProtocol("", []),
          reconnect: { initialDelay: 5, multiplier: 2, jitter: 0, maxAttempts: 4 },
          onReconnect: (attempt, delay) => void waits.push([attempt, delay]),
        }),
      Deno.errors.ConnectionRefused,
    );
    assertEquals(waits, [[2, 10], [3, 20], [4, 40]]);
    assert(performance.now() - started >= 70, "the client waited between attempts");
  },
);

Deno.test("Client reconnects after the server restarts on the same port", SANITIZED, async () => {
  const first = echoServer({ port: 0, workers: 0 });
  const { port } = await first.listen();
  const lines: string[] = [];
  const closes: (Error | undefined)[] = [];
  await using client = await connect({
    port,
    protocol: lineProtocol("hello\n", lines),
    reconnect: { initialDelay: 20, maxDelay: 100 },
    onClose: (_connection, reason) => void closes.push(reason),
  });
  await waitFor(() => lines.length === 1, "the first echo");
  await first.close();
  await waitFor(() => closes.length === 1, "the client to see the close");
  assertEquals(client.connected, false);
  assertEquals(client.write("lost\n"), false, "nothing is queued between connections");

  await using second = echoServer({ port, workers: 0 });
  await second.listen();
  await waitFor(() => lines.length === 2, "the echo over the new connection", 5000);
  assertEquals(lines, ["hello", "hello"]);
  assertEquals(client.stats().connects, 2);
  assertEquals(second.stats().accepted, 1);
  assert(client.connected);
});

Deno.test("Client.close stops a client waiting to reconnect at once", SANITIZED, async () => {
  const server = echoServer({ port: 0, workers: 0 });
  const { port } = await server.listen();
  const waits: number[] = [];
  const client = await connect({
    port,
    protocol: lineProtocol("", []),
    reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 },
    onReconnect: (_attempt, delay) => void waits.push(delay),
  });
  await server.close();
  await waitFor(() => client.state === "waiting", "the client to wait for its retry");
  assertEquals(waits, [60_000]);
  const started = performance.now();
  await within(client.close(), "close() during a 60 s backoff", 1000);
  assertLess(performance.now() - started, 1000);
  assertEquals(await client.ended, undefined);
});

Deno.test(
  "Client without reconnect ends with the reason when the server closes",
  SANITIZED,
  async () => {
    const server = echoServer({ port: 0, workers: 0 });
    const { port } = await server.listen();
    const client = await connect({ port, protocol: lineProtocol("", []) });
    await server.close();
    const reason = await within(client.ended, "the client to end");
    assertInstanceOf(reason, Error);
    assertEquals(client.state, "closed");
    await client.close();
  },
);

Deno.test("connect stops dialing when its signal aborts", SANITIZED, async () => {
  const controller = new AbortController();
  const connecting = connect({
    port: freePort(),
    protocol: lineProtocol("", []),
    reconnect: { initialDelay: 50 },
    signal: controller.signal,
  });
  controller.abort(new Error("gave up"));
  await assertRejects(() => connecting, Error, "gave up");
});

Deno.test("Client hands dispatched messages to onMessage", SANITIZED, async () => {
  await using server = echoServer({ port: 0, workers: 0 });
  const { port } = await server.listen();
  const messages: string[] = [];
  await using _client = await connect({
    port,
    protocol: {
      create(context: ProtocolContext) {
        const framer = new LineDecoder();
        return {
          open: () => void context.handle.write("a\nb\n"),
          data(chunk: Uint8Array) {
            framer.feed(chunk);
            for (let line = framer.next(); line !== null; line = framer.next()) {
              context.dispatch(line, 7);
            }
          },
        };
      },
    },
    onMessage: (message: Message) => {
      messages.push(`${message.type}:${decoder.decode(message.payload)}`);
    },
  });
  await waitFor(() => messages.length === 2, "two messages");
  assertEquals(messages, ["7:a", "7:b"]);
});

Deno.test("Client rejects bad options with TypeError and RangeError", () => {
  assertRejects(() => connect({ port: 1, protocol: {} as ProtocolHandlerFactory }), TypeError);
  for (
    const options of [{ port: 0 }, { port: 1, reconnect: { jitter: 2 } }, {
      port: 1,
      connectTimeout: 0,
    }]
  ) {
    let error: unknown;
    try {
      new Client({ ...options, protocol: lineProtocol("", []) });
    } catch (thrown) {
      error = thrown;
    }
    assertInstanceOf(error, RangeError, JSON.stringify(options));
  }
});

Deno.test("backoffDelay grows exponentially, caps at maxDelay, and draws jitter below the delay", () => {
  const options = { initialDelay: 100, maxDelay: 2000, multiplier: 3, jitter: 0 };
  assertEquals([0, 1, 2, 3, 4].map((n) => backoffDelay(n, options)), [100, 300, 900, 2000, 2000]);
  for (let i = 0; i < 200; i++) {
    const delay = backoffDelay(2, { ...options, jitter: 0.5 });
    assert(delay >= 450 && delay <= 900, `${delay} within [450, 900]`);
  }
  assertEquals(backoffDelay(0, { jitter: 1 }, () => 0.999999), 0);
  assertEquals(backoffDelay(1000, { jitter: 0 }), 5000, "the default cap");
  const plain = { initialDelay: 100, maxDelay: 1000, multiplier: 2, jitter: 0 };
  assertEquals([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, plain)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
  assertEquals(backoffDelay(2, { ...plain, jitter: 1 }, () => 0.5), 200);
});

Deno.test(
  "Client keeps a message assembled from several reads intact while onMessage's promise is pending",
  SANITIZED,
  async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const messages: string[] = [];
    let received = 0;
    await using _client = await connect({
      port: listener.addr.port,
      protocol: {
        create(context: ProtocolContext) {
          const framer = new LineDecoder();
          return {
            data(chunk: Uint8Array) {
              received += chunk.length;
              framer.feed(chunk);
              for (let line = framer.next(); line !== null; line = framer.next()) {
                context.dispatch(line);
              }
            },
          };
        },
      },
      onMessage: async (message: Message) => {
        if (message.payload[0] === 0x61) await gate;
        messages.push(decoder.decode(message.payload));
      },
    });
    using peer = await listener.accept();
    // Each part is read alone: the lines are assembled in the decoder's buffer.
    let sent = 0;
    for (const part of ["aaaa", "aaaa\n", "bbbb", "bb\n"]) {
      sent += await peer.write(new TextEncoder().encode(part));
      await waitFor(() => received === sent, "the client to read each part alone");
    }
    open();
    await waitFor(() => messages.length === 2, "two messages");
    assertEquals(messages, ["bbbbbb", "aaaaaaaa"]);
  },
);
