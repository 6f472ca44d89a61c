/**
 * Integration tests of the echo server over real loopback sockets, with real workers and
 * inline (`workers: 0`). Every wait has a deadline; nothing sleeps to synchronise.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLess,
  assertMatch,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async/delay";
import {
  type ConnectionHandle,
  IdleTimeoutError,
  Server,
  type ServerOptions,
  SlowConsumerError,
} from "../../mod.ts";
import { SocketClient, waitFor, within } from "../../testing/_socket_client.ts";
import { echoProtocol, echoServer, type EchoServerOptions } from "./mod.ts";

const encoder = new TextEncoder();
const FAULTY_HANDLER = new URL("../../testing/_fixtures/faulty_handler.ts", import.meta.url);
const TOO_LONG = "ERR line too long (max 65536 bytes)\r\n";

/** Records the hooks a server calls. */
class HookLog {
  readonly connects: ConnectionHandle[] = [];
  readonly closes: { id: number; reason: Error | undefined }[] = [];
  readonly errors: { error: Error; id: number | undefined }[] = [];
  readonly hooks: Pick<ServerOptions, "onConnect" | "onClose" | "onError"> = {
    onConnect: (connection) => void this.connects.push(connection),
    onClose: (connection, reason) => void this.closes.push({ id: connection.id, reason }),
    onError: (error, connection) => void this.errors.push({ error, id: connection?.id }),
  };

  closesOf(id: number): (Error | undefined)[] {
    return this.closes.filter((close) => close.id === id).map((close) => close.reason);
  }
}

/** The op and resource sanitizers are opt-in in Deno 2.9: these tests want both. */
const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

type Settled<T> = { value: T } | { error: unknown };

/** Observes a promise's rejection at once (no unhandled rejection while the test does other work). */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then((value) => ({ value }), (error) => ({ error }));
}

function unwrap<T>(settled: Settled<T>): T {
  if ("error" in settled) throw settled.error;
  return settled.value;
}

/** A server running the faulty handler fixture: echo, plus `throw`, `crash`, `slow`... */
function faultyServer(workers: number, options: Partial<ServerOptions> = {}): Server {
  return new Server({ protocol: echoProtocol(), handler: FAULTY_HANDLER, workers, ...options });
}

for (const workers of [2, 0]) {
  Deno.test(
    `echoServer echoes 100 concurrent pipelining clients their own lines in order (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using server = echoServer({ port: 0, workers });
      const { port } = await server.listen();
      const clients = await Promise.all(
        Array.from({ length: 100 }, () => SocketClient.connect(port)),
      );
      try {
        await Promise.all(clients.map(async (client, c) => {
          const lines = Array.from(
            { length: 50 },
            (_, i) => `client ${c} line ${i} ${"-".repeat((c + i) % 13)}${i % 3 ? "\n" : "\r\n"}`,
          );
          // Uneven pieces, so lines straddle writes and reads.
          const bytes = encoder.encode(lines.join(""));
          const piece = 97 + c;
          for (let at = 0; at < bytes.length; at += piece) {
            await client.write(bytes.subarray(at, at + piece));
          }
          assertEquals(await client.readLines(50, 15_000), lines, `client ${c}`);
        }));
      } finally {
        for (const client of clients) client.close();
      }
      const stats = server.stats();
      assertEquals([stats.accepted, stats.messagesIn, stats.messagesOut], [100, 5000, 5000]);
    },
  );

  Deno.test(
    `echoServer echoes a line written one byte per write (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using server = echoServer({ port: 0, workers });
      const { port } = await server.listen();
      using client = await SocketClient.connect(port);
      const bytes = encoder.encode("hello world\r\n");
      for (let i = 0; i < bytes.length; i++) {
        await client.write(bytes.subarray(i, i + 1));
        // Waiting for the server to count the byte makes each read a 1-byte chunk.
        await waitFor(() => server.stats().bytesIn === i + 1, `byte ${i + 1} read`);
      }
      assertEquals(await client.readLine(), "hello world\r\n");
      assertEquals(server.stats().messagesIn, 1);
    },
  );

  Deno.test(
    `echoServer answers a 1 MiB line with one error line, in order, and goes on echoing (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using server = echoServer({ port: 0, workers });
      const { port } = await server.listen();
      using client = await SocketClient.connect(port);
      await client.write("first\nsecond\r\n");
      const long = new Uint8Array(1024 * 1024 + 1).fill(0x78);
      long[long.length - 1] = 0x0a;
      await client.write(long, 10_000);
      await client.write("after\n");
      assertEquals(await client.readLines(4, 10_000), [
        "first\n",
        "second\r\n",
        TOO_LONG,
        "after\n",
      ]);
      // Nothing else was queued behind: the next round trip gets its own line first.
      assertEquals(await client.request("again\r\n"), "again\r\n");
      assertEquals(server.stats().connections, 1);
    },
  );

  Deno.test(
    `echoServer serves others after a client resets mid-line (workers: ${workers})`,
    SANITIZED,
    async () => {
      const log = new HookLog();
      await using server = echoServer({ port: 0, workers, ...log.hooks });
      const { port } = await server.listen();
      using healthy = await SocketClient.connect(port);
      assertEquals(await healthy.request("before\n"), "before\n");

      const rude = await SocketClient.connect(port);
      try {
        await rude.write("unread echo\n");
        // Its echo sits unread in rude's receive buffer, so closing sends RST instead of FIN.
        await waitFor(() => server.stats().bytesOut === 19, "the unread echo to be written");
        await rude.write("half a li");
        await waitFor(() => server.stats().bytesIn === 28, "the half line to be read");
      } finally {
        rude.close();
      }
      await waitFor(() => server.stats().connections === 1, "the reset connection to close");

      assertEquals(await healthy.request("after\n"), "after\n");
      using late = await SocketClient.connect(port);
      assertEquals(await late.request("late\n"), "late\n");
      assertEquals(log.closes.length, 1, "only the reset connection closed");
      assertEquals(log.closes[0].id, log.connects[1].id);
      assertEquals(log.errors, [], "a peer's reset is routine, not an error");
    },
  );

  Deno.test(
    `echoServer cuts off a client that never reads while another gets prompt answers (workers: ${workers})`,
    SANITIZED,
    async () => {
      const log = new HookLog();
      await using server = echoServer({
        port: 0,
        workers,
        // One read's echo (4 KiB) stays under both bounds: only the peer's not reading passes them.
        readBufferSize: 4 * 1024,
        writeHighWater: 16 * 1024,
        maxWriteBuffer: 64 * 1024,
        writeTimeout: 300,
        ...log.hooks,
      });
      const { port } = await server.listen();
      using fast = await SocketClient.connect(port);
      assertEquals(await fast.request("hello\n"), "hello\n");
      using slow = await SocketClient.connect(port);
      await waitFor(() => log.connects.length === 2, "the slow client to be accepted");
      const slowId = log.connects[1].id;

      let slowClosed = false;
      const slowClose = settle(
        waitFor(() => log.closesOf(slowId).length > 0, "the slow client's close", 10_000),
      ).finally(() => slowClosed = true);
      // Writes until the server cuts it off (the write then fails) or the test gives up.
      const block = encoder.encode(`${"slow ".repeat(12)}consumer\n`.repeat(1024));
      const flooding = (async () => {
        try {
          while (!slowClosed) await slow.write(block, 10_000);
        } catch (error) {
          return error;
        }
      })();
      const latencies: number[] = [];
      for (let i = 0; !slowClosed; i++) {
        const started = performance.now();
        assertEquals(await fast.request(`ping ${i}\n`, 1000), `ping ${i}\n`);
        latencies.push(performance.now() - started);
      }
      unwrap(await slowClose);
      await within(flooding, "the slow client's writes to fail", 5000);

      assertEquals(log.closesOf(slowId).length, 1);
      assertInstanceOf(log.closesOf(slowId)[0], SlowConsumerError);
      assert(server.stats().bytesIn > 64 * 1024, "the slow client sent more than the bounds");
      // With workers, replies to lines already dispatched can pass maxWriteBuffer at once: the
      // cut can come after a single round trip of the fast client.
      assert(latencies.length >= 1, "no round trip while the slow client flooded");
      assertLess(Math.max(...latencies), 1000);
      assertEquals(await fast.request("still here\n"), "still here\n");
      assertEquals(server.stats().connections, 1);
      assertEquals(log.closesOf(log.connects[0].id), []);
    },
  );

  Deno.test(
    `Server.close answers every line accepted, then ends the stream (echoServer, workers: ${workers})`,
    SANITIZED,
    async () => {
      const server = echoServer({ port: 0, workers });
      try {
        const { port } = await server.listen();
        using client = await SocketClient.connect(port);
        const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`);
        await client.write(lines.join(""));
        await waitFor(() => server.stats().messagesIn === lines.length, "every line accepted");
        const closing = server.close();
        assertEquals(await client.readToEnd(10_000), lines.join(""));
        assert(client.eof);
        // A client closes at the end of the stream; until then the server lingers on it.
        client.close();
        await within(closing, "close()", 10_000);
        assertEquals(server.stats().messagesOut, lines.length);
        assertEquals(server.stats().connections, 0);
      } finally {
        await server.close();
      }
    },
  );

  Deno.test(
    `echoServer idleTimeout closes a silent connection and keeps an active one (workers: ${workers})`,
    SANITIZED,
    async () => {
      const log = new HookLog();
      await using server = echoServer({ port: 0, workers, idleTimeout: 200, ...log.hooks });
      const { port } = await server.listen();
      using active = await SocketClient.connect(port);
      assertEquals(await active.request("start\n"), "start\n");
      const started = performance.now();
      using silent = await SocketClient.connect(port);
      await waitFor(() => log.connects.length === 2, "the silent client to be accepted");
      const silentId = log.connects[1].id;

      let silentClosed = false;
      const reading = settle(silent.readToEnd(3000)).finally(() => silentClosed = true);
      let trips = 0;
      while (!silentClosed) {
        assertEquals(await active.request(`tick ${trips}\n`, 1000), `tick ${trips}\n`);
        trips++;
        // Pacing, not synchronisation: the active client talks every ~50 ms, well under 200 ms.
        await delay(50);
      }
      assertEquals(
        unwrap(await reading),
        "ERR Connection idle for more than 200 ms\r\n",
        "the silent client is told why, then gets EOF",
      );
      const elapsed = performance.now() - started;
      assert(elapsed >= 200, `closed after ${elapsed.toFixed(0)} ms, before the idle timeout`);
      assert(trips >= 2, `the active client made ${trips} round trips meanwhile`);

      const reasons = log.closesOf(silentId);
      assertEquals(reasons.length, 1);
      assertInstanceOf(reasons[0], IdleTimeoutError);
      assertEquals((reasons[0] as IdleTimeoutError).timeout, 200);
      assertEquals(log.closesOf(log.connects[0].id), [], "the active connection stays open");
      assertEquals(await active.request("still here\n"), "still here\n");
    },
  );

  Deno.test(
    `Server calls onStart, onConnect and onClose once each, and onTick every tickInterval (echoServer, workers: ${workers})`,
    SANITIZED,
    async () => {
      const log = new HookLog();
      const started: Deno.NetAddr[] = [];
      const ticks: Server[] = [];
      await using server = echoServer({
        port: 0,
        workers,
        tickInterval: 50,
        onStart: (address) => void started.push(address),
        onTick: (server) => void ticks.push(server),
        ...log.hooks,
      });
      const address = await server.listen();
      assertEquals(started, [address]);
      assertEquals(address.hostname, "127.0.0.1");
      assertNotEquals(address.port, 0);
      assertEquals(server.address, address);

      const clients: SocketClient[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          clients.push(await SocketClient.connect(address.port));
          assertEquals(await clients[i].request(`hi ${i}\n`), `hi ${i}\n`);
        }
        assertEquals(log.connects.length, 3);
        assert(log.connects.every((handle) => handle.open));
        assertEquals(new Set(log.connects.map((handle) => handle.id)).size, 3);
        assertEquals(log.closes, []);
      } finally {
        for (const client of clients) client.close();
      }
      await waitFor(() => log.closes.length === 3, "three closes");

      const ids = log.connects.map((handle) => handle.id).sort((a, b) => a - b);
      assertEquals(log.closes.map((close) => close.id).sort((a, b) => a - b), ids);
      assertEquals(log.closes.map((close) => close.reason), [undefined, undefined, undefined]);
      assert(log.connects.every((handle) => !handle.open));

      await waitFor(() => ticks.length >= 3, "three ticks", 2000);
      assert(ticks.every((tick) => tick === server));
      assertEquals(started.length, 1);
      assertEquals(log.errors, []);
    },
  );
}

Deno.test(
  "Server answers a throwing message handler with an ERR line and keeps the connection (workers: 1)",
  SANITIZED,
  async () => {
    const log = new HookLog();
    await using server = faultyServer(1, log.hooks);
    const { port } = await server.listen();
    using client = await SocketClient.connect(port);
    assertEquals(await client.request("before\n"), "before\n");
    assertEquals(
      await client.request("throw\n"),
      "ERR Message handler failed: thrown on purpose\r\n",
    );
    assertEquals(await client.request("after\n"), "after\n");
    assertEquals(log.errors.length, 1);
    assertMatch(log.errors[0].error.message, /thrown on purpose/);
    assertEquals(log.errors[0].id, log.connects[0].id);
  },
);

for (const workers of [1, 0]) {
  Deno.test(
    `Server.close waits for the messages still being handled (faulty handler "slow", workers: ${workers})`,
    SANITIZED,
    async () => {
      const server = faultyServer(workers);
      try {
        const { port } = await server.listen();
        using client = await SocketClient.connect(port);
        await client.write("slow\nslow\r\nslow\n");
        await waitFor(() => server.stats().messagesIn === 3, "three lines accepted");
        assertLess(server.stats().messagesOut, 3, "the test needs messages still in the handler");
        const closing = server.close();
        assertEquals(await client.readToEnd(), "slow\nslow\r\nslow\n");
        client.close();
        await within(closing, "close()");
      } finally {
        await server.close();
      }
    },
  );

  Deno.test(
    `Server.close returns once the last message is done even if it wrote nothing (faulty handler "mute", workers: ${workers})`,
    SANITIZED,
    async () => {
      const server = faultyServer(workers, { shutdownTimeout: 8000 });
      try {
        const { port } = await server.listen();
        using client = await SocketClient.connect(port);
        await client.write("mute\n");
        await waitFor(() => server.stats().messagesIn === 1, "the line accepted");
        assertEquals(
          server.stats().messagesOut,
          0,
          "the test needs the message still in the handler",
        );
        const started = performance.now();
        // The handler takes 100 ms; the shutdown timeout is 8 s. The client closes at the end
        // of the stream, as clients do (until then the server would linger on its socket).
        const closing = server.close();
        assertEquals(await client.readToEnd(), "");
        client.close();
        await within(closing, "close() after the mute message is done", 3000);
        assertEquals(server.stats().messagesOut, 1);
        assertLess(performance.now() - started, 3000);
      } finally {
        await server.close();
      }
    },
  );

  Deno.test(
    `Server keeps a failed message's ERR line in order with the echoes (faulty handler, workers: ${workers})`,
    SANITIZED,
    async () => {
      await using server = faultyServer(workers, { onError: () => {} });
      const { port } = await server.listen();
      using client = await SocketClient.connect(port);
      await client.write("a\nthrow\nb\n");
      assertEquals(await client.readLines(3), [
        "a\n",
        "ERR Message handler failed: thrown on purpose\r\n",
        "b\n",
      ]);
    },
  );
}

Deno.test(
  "Server replaces a worker that dies and tells the peer of the message it held (workers: 1)",
  SANITIZED,
  async () => {
    const log = new HookLog();
    await using server = faultyServer(1, log.hooks);
    const { port } = await server.listen();
    using client = await SocketClient.connect(port);
    assertEquals(await client.request("worker\n"), "worker 0\r\n");

    const died = await client.request("crash\n");
    assertMatch(died, /^ERR Worker 0 died: .*crashed on purpose.*\r\n$/);
    await waitFor(() => log.errors.some((e) => /Worker 0 died/.test(e.error.message)), "onError");

    assertEquals(await client.request("worker\n"), "worker 1\r\n", "a new worker took over");
    assertEquals(await client.request("after the crash\n"), "after the crash\n");
    assertEquals(server.stats().workers, 1);
    assertEquals(server.stats().queueDepth, 0, "no message left in flight");
    using other = await SocketClient.connect(port);
    assertEquals(await other.request("other\n"), "other\n");
    assertEquals(log.closes, [], "no connection closed");
  },
);

// Last in the file: a failure of these tests to clean up (a refusal timer, say) then cannot
// spill into the sanitizers of the tests after them.
for (const workers of [2, 0]) {
  Deno.test(
    `echoServer refuses the connection past maxConnections with ERR server full (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using server = echoServer({ port: 0, workers, maxConnections: 2 });
      const { port } = await server.listen();
      using first = await SocketClient.connect(port);
      using second = await SocketClient.connect(port);
      assertEquals(await first.request("one\n"), "one\n");
      assertEquals(await second.request("two\n"), "two\n");

      using third = await SocketClient.connect(port);
      assertEquals(await third.readToEnd(), "ERR server full\r\n");
      assert(third.eof);

      assertEquals(await first.request("one again\n"), "one again\n");
      assertEquals(await second.request("two again\n"), "two again\n");
      const stats = server.stats();
      assertEquals([stats.connections, stats.accepted, stats.refused], [2, 2, 1]);
    },
  );
}

Deno.test(
  "echoServer passes its echo options to the protocol as they are",
  SANITIZED,
  async () => {
    // The protocol's options live in `echo` only: a flat key is not an echoServer option.
    const flat: EchoServerOptions = {
      // @ts-expect-error: maxLineLength belongs in `echo`
      maxLineLength: 8,
    };
    assertEquals(Object.keys(flat), ["maxLineLength"]);
    assertThrows(() => echoServer({ workers: 0, echo: { maxLineLength: 0 } }), RangeError);
    await using server = echoServer({ port: 0, workers: 0, echo: { maxLineLength: 8 } });
    const { port } = await server.listen();
    using client = await SocketClient.connect(port);
    await client.write("12345678\n123456789\nok\r\n");
    assertEquals(await client.readLines(3), [
      "12345678\n",
      "ERR line too long (max 8 bytes)\r\n",
      "ok\r\n",
    ]);
  },
);
