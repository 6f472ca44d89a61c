import { assert, assertEquals, assertFalse, assertRejects, assertThrows } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { SocketClient, within } from "../testing/_socket_client.ts";
import { LineDecoder } from "./framing/line_decoder.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "./protocol.ts";
import { WorkerStartError } from "./errors.ts";
import { Server } from "./server.ts";

const encoder = new TextEncoder();

/** Dispatches each line, ending included. */
const lines: ProtocolHandlerFactory = {
  create(context: ProtocolContext) {
    const decoder = new LineDecoder({ keepEnding: true });
    return {
      data(chunk: Uint8Array) {
        decoder.feed(chunk);
        for (let line = decoder.next(); line !== null; line = decoder.next()) {
          context.dispatch(line);
        }
      },
    };
  },
};

/**
 * `lines` that counts what its connections read and dispatched, for a test to wait on:
 * `until(check)` resolves once `check()` holds after a `data` call (at once if it holds now).
 */
function countedLines() {
  const counts = { bytes: 0, dispatched: 0 };
  const waiters = new Set<{ check: () => boolean; resolve: () => void }>();
  const protocol: ProtocolHandlerFactory = {
    create(context: ProtocolContext) {
      const decoder = new LineDecoder({ keepEnding: true });
      return {
        data(chunk: Uint8Array) {
          counts.bytes += chunk.length;
          decoder.feed(chunk);
          for (let line = decoder.next(); line !== null; line = decoder.next()) {
            counts.dispatched++;
            context.dispatch(line);
          }
          for (const waiter of waiters) {
            if (!waiter.check()) continue;
            waiters.delete(waiter);
            waiter.resolve();
          }
        },
      };
    },
  };
  const until = (check: () => boolean): Promise<void> => {
    if (check()) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    waiters.add({ check, resolve });
    return promise;
  };
  return { protocol, counts, until };
}

/** Reads until `count` bytes arrived or the peer closed. */
async function readBytes(conn: Deno.Conn, count: number): Promise<string> {
  const buffer = new Uint8Array(count);
  let read = 0;
  while (read < count) {
    const n = await conn.read(buffer.subarray(read));
    if (n === null) break;
    read += n;
  }
  return new TextDecoder().decode(buffer.subarray(0, read));
}

Deno.test("Server pauses reading while its queue is full, and resumes when it drains", async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const capacity = 8;
  const { protocol, counts, until } = countedLines();
  const server = new Server({
    protocol,
    queueCapacity: capacity,
    readBufferSize: 64,
    async onMessage(message, connection) {
      await gate;
      connection.write(message.payload);
    },
  });
  const { port } = await server.listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const line = "0123456789abcde\n";
  const total = 1000;
  const sending = client.write(encoder.encode(line.repeat(total)));
  // Each read holds at most 64 / 16 = 4 lines, so the queue passes capacity by at most 4.
  // Every line dispatched waits in the queue: the first on the gate, the others behind it.
  await within(until(() => counts.dispatched >= capacity), "the queue to fill");
  const paused = server.stats();
  assert(paused.queueDepth >= capacity, `depth ${paused.queueDepth}`);
  assert(paused.queueDepth <= capacity + 4, `depth ${paused.queueDepth}`);
  assert(paused.bytesIn < line.length * (capacity + 4), `read ${paused.bytesIn} bytes`);
  // Still paused a few turns later: no read (no data call) within 20 ms.
  const readAgain = until(() => counts.bytes > paused.bytesIn);
  await assertRejects(() => deadline(readAgain, 20), DOMException, "timeout");
  assertEquals(server.stats().bytesIn, paused.bytesIn, "no reads while the queue is full");
  open();
  await sending;
  assertEquals(await readBytes(client, line.length * total), line.repeat(total));
  assertEquals(server.stats().queueDepth, 0);
  client.close();
  await server.close();
});

Deno.test("Server handle of a closed connection writes nothing and returns false", async () => {
  const connected = Promise.withResolvers<ConnectionHandle>();
  const closed = Promise.withResolvers<void>();
  const server = new Server({
    protocol: lines,
    onMessage: () => {},
    onConnect: (connection) => connected.resolve(connection),
    onClose: () => closed.resolve(),
  });
  const { port } = await server.listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const handle = await within(connected.promise, "onConnect");
  assert(handle.open);
  assert(handle.write("hi\n"));
  assertEquals(await readBytes(client, 3), "hi\n");
  client.close();
  await deadline(closed.promise, 2000);
  assertFalse(handle.open);
  assertFalse(handle.write("late\n"));
  assertFalse(handle.close());
  assertFalse(server.handle(handle.id).write("late\n"));
  await server.close();
});

Deno.test("Server closes gracefully twice, and before listening", async () => {
  const idle = new Server({ protocol: lines });
  await idle.close();
  const server = new Server({ protocol: lines });
  await server.listen();
  const first = server.close();
  assertEquals(server.close(), first);
  await first;
  await assertRejects(() => server.listen(), Error, "closed");
});

Deno.test("Server.listen rejects a taken port and leaves nothing running", async () => {
  const first = new Server({ protocol: lines });
  const { port } = await first.listen();
  const second = new Server({ protocol: lines, port });
  await assertRejects(() => second.listen(), Deno.errors.AddrInUse);
  await first.close();
  await second.close();
});

Deno.test("Server rejects contradictory or out-of-range options", () => {
  assertThrows(() => new Server({ protocol: lines, workers: 2 }), TypeError, "needs a handler");
  assertThrows(
    () => new Server({ protocol: lines, handler: "./x.ts", onMessage: () => {} }),
    TypeError,
    "not both",
  );
  assertThrows(
    () => new Server({ protocol: lines, handler: { onMessage: () => {} }, workers: 1 }),
    TypeError,
    "run inline only",
  );
  assertThrows(
    // @ts-expect-error: no onMessage
    () => new Server({ protocol: lines, handler: { keepsPayload: false } }),
    TypeError,
    "needs an onMessage",
  );
  assertThrows(() => new Server({ protocol: lines, maxConnections: 0 }), RangeError, "got 0");
  assertThrows(() => new Server({ protocol: lines, idleTimeout: -1 }), RangeError, "got -1");
  assertThrows(
    () => new Server({ protocol: lines, earlyFlushBytes: 0.5 }),
    RangeError,
    "earlyFlushBytes",
  );
  assertThrows(
    () => new Server({ protocol: lines, writeHighWater: 10, maxWriteBuffer: 5 }),
    RangeError,
    "at least writeHighWater",
  );
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new Server({} as any), TypeError, "protocol");
});

Deno.test("Server closes a connection whose protocol handler throws, and keeps serving", async () => {
  const errors: Error[] = [];
  const server = new Server({
    protocol: {
      create: (context) => ({
        data(chunk) {
          if (chunk[0] === 0x21) throw new Error("bad byte");
          context.handle.write(chunk);
        },
      }),
    },
    onError: (error) => void errors.push(error),
  });
  const { port } = await server.listen();
  const bad = await Deno.connect({ hostname: "127.0.0.1", port });
  await bad.write(encoder.encode("!"));
  assertEquals(await readBytes(bad, 1), "", "closed without an answer");
  bad.close();
  const good = await Deno.connect({ hostname: "127.0.0.1", port });
  await good.write(encoder.encode("ok"));
  assertEquals(await readBytes(good, 2), "ok");
  good.close();
  assertEquals(errors.map((e) => e.message), ["bad byte"]);
  await server.close();
});

Deno.test("Server keeps a line assembled from several reads intact under an inline handler's pending promise", async () => {
  // The line lies in the decoder's buffer, not the read buffer: later reads write into that
  // buffer, so the pool must copy it for a handler that keeps payloads (the default).
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { protocol, counts, until } = countedLines();
  await using server = new Server({
    protocol,
    idleTimeout: 0,
    async onMessage(message, connection) {
      if (message.payload[0] === 0x61) await gate;
      connection.write(message.payload);
    },
  });
  const { port } = await server.listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let sent = 0;
    for (const part of ["aaaa", "aaaa\n", "bbbb", "bb\n"]) {
      sent += await client.write(encoder.encode(part));
      await within(until(() => counts.bytes === sent), "the server to read each part alone");
    }
    assertEquals(counts.dispatched, 2, "both lines dispatched");
    assertEquals(server.stats().bytesIn, sent);
    assertEquals(server.stats().messagesIn, 2);
    open();
    assertEquals(await deadline(readBytes(client, 16), 5000), "aaaaaaaa\nbbbbbb\n");
  } finally {
    client.close();
  }
});

/** Dispatches each line with its second word as the key (`SET foo bar`: `foo`). */
const keyedLines: ProtocolHandlerFactory = {
  create(context: ProtocolContext) {
    const decoder = new LineDecoder({ keepEnding: true });
    const text = new TextDecoder();
    return {
      data(chunk: Uint8Array) {
        decoder.feed(chunk);
        for (let line = decoder.next(); line !== null; line = decoder.next()) {
          const key = text.decode(line).trim().split(" ")[1];
          context.dispatch(line, 0, key === undefined ? undefined : { key });
        }
      },
    };
  },
};

const KV_HANDLER = new URL("../testing/_fixtures/kv_handler.ts", import.meta.url);

Deno.test("Server with 2 workers: SET and GET of one key from two connections agree when dispatched with a key", async () => {
  await using server = new Server({ protocol: keyedLines, handler: KV_HANDLER, workers: 2 });
  const { port } = await server.listen();
  // Connections spread round-robin: a and b sit on different workers, and their keys spread
  // over both (at least one key of the 20 lives on the worker that is not a's).
  using a = await SocketClient.connect(port);
  using b = await SocketClient.connect(port);
  const workers = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const [setter, getter] = i % 2 === 0 ? [a, b] : [b, a];
    assertEquals(await setter.request(`SET key${i} value${i}\n`), "+OK\r\n");
    assertEquals(await getter.request(`GET key${i}\n`), `$value${i}\r\n`, `key${i}`);
    assertEquals(await getter.request(`SET key${i} again${i}\n`), "+OK\r\n");
    assertEquals(await setter.request(`GET key${i}\n`), `$again${i}\r\n`, `key${i} again`);
    const worker = await a.request(`WHO key${i}\n`);
    assertEquals(await b.request(`WHO key${i}\n`), worker, "one worker per key");
    workers.add(worker);
  }
  assertEquals(workers.size, 2, "the keys use both workers");
});

Deno.test("Server keeps a connection's replies in order when its keys live on different workers", async () => {
  await using server = new Server({ protocol: keyedLines, handler: KV_HANDLER, workers: 2 });
  const { port } = await server.listen();
  using client = await SocketClient.connect(port);
  // Pipelined, alternating between keys on both workers, with unkeyed lines between them.
  let request = "";
  const expected: string[] = [];
  for (let i = 0; i < 200; i++) {
    request += `SET k${i} v${i}\nGET k${i}\n${i % 10 === 0 ? "INIT\n" : ""}`;
    expected.push("+OK", `$v${i}`);
    if (i % 10 === 0) expected.push(":");
  }
  await client.write(request);
  const replies = await client.readLines(expected.length);
  assertEquals(
    replies.map((line) => line.startsWith(":") ? ":" : line.trim()),
    expected,
  );
});

Deno.test("Server gives the handler's startup data to every worker's init, and inline", async () => {
  const handlerData = { greeting: "hello", numbers: [1, 2, 3] };
  await using server = new Server({
    protocol: keyedLines,
    handler: KV_HANDLER,
    workers: 2,
    handlerData,
  });
  const { port } = await server.listen();
  using client = await SocketClient.connect(port);
  const seen = new Set<string>();
  for (let i = 0; i < 20 && seen.size < 2; i++) {
    // A key per worker: `INIT x` carries a key, and keys spread over both workers.
    const reply = await client.request(`INIT k${i}\n`);
    const [worker, json] = [
      reply.slice(1, reply.indexOf(" ")),
      reply.slice(reply.indexOf(" ") + 1),
    ];
    assertEquals(JSON.parse(json), handlerData);
    seen.add(worker);
  }
  assertEquals(seen, new Set(["0", "1"]), "both workers answered with the data");
  await server.resize(0);
  const inline = await client.request("INIT\n");
  assertEquals(inline, `:-1 ${JSON.stringify(handlerData)}\r\n`);
  await server.resize(3);
  assertEquals(server.stats().workers, 3);
  const late = new Set<string>();
  for (let i = 0; i < 40 && late.size < 3; i++) {
    const reply = await client.request(`INIT k${i}\n`);
    assertEquals(reply.slice(reply.indexOf(" ") + 1), `${JSON.stringify(handlerData)}\r\n`);
    late.add(reply.slice(1, reply.indexOf(" ")));
  }
  assertEquals(late.size, 3, "workers a resize started got the data too");
});

Deno.test("Server refuses startup data that cannot be cloned, and fails to start when init throws", async () => {
  assertThrows(
    () => new Server({ protocol: keyedLines, handler: KV_HANDLER, handlerData: { f: () => {} } }),
    TypeError,
    "structured-clonable",
  );
  for (const workers of [0, 1]) {
    const server = new Server({
      protocol: keyedLines,
      handler: KV_HANDLER,
      workers,
      handlerData: { fail: true },
    });
    await assertRejects(() => server.listen(), WorkerStartError, "init failed on purpose");
    await server.close();
  }
});

Deno.test("Server.resize needs a message handler, and workers need a module", async () => {
  await using plain = new Server({ protocol: keyedLines });
  await assertRejects(() => plain.resize(1), TypeError, "no message handler");
  await using inline = new Server({ protocol: keyedLines, onMessage() {} });
  await inline.listen();
  await assertRejects(() => inline.resize(1), TypeError, "cannot cross to workers");
  await assertRejects(() => inline.resize(-1), RangeError, "got -1");
});

Deno.test("Server.close closes its protocol factory once, after the connections, listened or not", async () => {
  const events: string[] = [];
  const protocol: ProtocolHandlerFactory = {
    create: () => ({ data() {}, close: () => void events.push("connection closed") }),
    close: () => void events.push("factory closed"),
  };
  const connected = Promise.withResolvers<void>();
  const server = new Server({ protocol, onConnect: () => connected.resolve() });
  const { port } = await server.listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  await deadline(connected.promise, 5000);
  const closing = Promise.all([server.close(), server.close()]);
  client.close();
  await deadline(closing, 5000);
  assertEquals(events, ["connection closed", "factory closed"]);
  // A server that never listened closes its factory too.
  await new Server({ protocol }).close();
  assertEquals(events, ["connection closed", "factory closed", "factory closed"]);
});
