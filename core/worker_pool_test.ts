import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { delay } from "@std/async/delay";
import { waitFor } from "../testing/_socket_client.ts";
import { ConnectionTable } from "./_connection_table.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { type MessageFailedError, WorkerStartError } from "./errors.ts";
import type { MessageHandler } from "./message_handler.ts";
import { InFlightCounter } from "./_in_flight_counter.ts";
import { DispatchFlag } from "./_dispatch_flags.ts";
import { keyHash } from "./_pool_routing.ts";
import {
  defaultWorkerCount,
  type MessageSource,
  type ReplySink,
  WorkerPool,
  type WorkerTransport,
} from "./worker_pool.ts";

const HANDLER = new URL("../testing/_fixtures/faulty_handler.ts", import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Records what a pool delivers, per connection id. */
class RecordingSink implements ReplySink {
  readonly replies = new Map<number, string[]>();
  readonly failures: MessageFailedError[] = [];
  readonly errors: Error[] = [];
  completed = 0;
  handle(id: number): ConnectionHandle {
    return {
      id,
      open: true,
      write: (data) => {
        this.write(id, typeof data === "string" ? encoder.encode(data) : data);
        return true;
      },
      close: () => true,
    };
  }
  write(id: number, bytes: Uint8Array): void {
    const list = this.replies.get(id) ?? [];
    list.push(decoder.decode(bytes));
    this.replies.set(id, list);
  }
  close(): void {}
  failed(error: MessageFailedError): void {
    this.failures.push(error);
  }
  error(error: Error): void {
    this.errors.push(error);
  }
}

/** A pool over `connections` open ids, with its queue and sink. */
function setup(
  size: number,
  connections = 4,
  handler: string | URL | MessageHandler = HANDLER,
  transport: WorkerTransport = "batch",
  concurrency = 1,
) {
  const table = new ConnectionTable<string>(connections);
  const ids: number[] = [];
  for (let i = 0; i < connections; i++) table.add((id) => (ids.push(id), `c${i}`));
  const queue = new InFlightCounter({ capacity: 100_000 });
  const sink = new RecordingSink();
  const sources = new Map<number, MessageSource>(ids.map((id) => [id, {
    id,
    handle: sink.handle(id),
    route: undefined,
    messageDone: () => sink.completed++,
    messageFailed: (error) => sink.failed(error),
  }]));
  const pool = new WorkerPool({
    handler,
    size,
    inFlight: queue,
    sink,
    sequences: [table.sequences],
    transport,
    // A small ring, so that batches wrap around and pass in parts, and batches over 1 KiB
    // cross by postMessage.
    ringCapacity: 4096,
    concurrency,
  });
  const send = (id: number, text: string, overtake = false, key?: string | number) => {
    // A reused read buffer, overwritten after the call unless the pool kept it, catches a pool
    // that keeps a view it must not.
    const payload = encoder.encode(text);
    const flags = DispatchFlag.keepable | (overtake ? DispatchFlag.overtake : 0);
    if (!pool.submit(sources.get(id)!, payload, 0, flags, key)) payload.fill(0x7e);
  };
  return { table, ids, queue, sink, pool, send };
}

Deno.test("WorkerPool handles messages inline and completes them in the queue", async () => {
  const { ids, queue, sink, pool, send } = setup(0);
  await pool.start();
  send(ids[0], "a");
  send(ids[0], "worker");
  await waitFor(() => sink.completed === 2, "2 messages");
  assertEquals(sink.replies.get(ids[0]), ["a", "worker -1\r\n"]);
  assertEquals(queue.count, 0);
  await pool.close();
});

for (const [size, transport] of [[0, "batch"], [2, "batch"], [2, "ring"]] as const) {
  Deno.test(`WorkerPool keeps each connection's replies in order (workers: ${size}, ${transport})`, async () => {
    const { ids, queue, sink, pool, send } = setup(size, 20, HANDLER, transport);
    await pool.start();
    for (let i = 0; i < 50; i++) {
      // A slow (async) message now and then must not let later ones overtake it.
      for (const id of ids) send(id, i % 49 === 3 ? "slow" : `${id}:${i}`);
      if (i % 10 === 0) await delay(0);
    }
    await waitFor(() => sink.completed === 1000, "1000 messages", 10_000);
    for (const id of ids) {
      const expected = Array.from({ length: 50 }, (_, i) => i % 49 === 3 ? "slow" : `${id}:${i}`);
      assertEquals(sink.replies.get(id), expected);
    }
    assertEquals(queue.count, 0);
    assertEquals(pool.inFlight, 0);
    await pool.close();
  });
}

for (const size of [0, 1]) {
  Deno.test(`WorkerPool fails a message whose handler throws and goes on (workers: ${size})`, async () => {
    const { ids, queue, sink, pool, send } = setup(size);
    await pool.start();
    for (const text of ["before", "throw", "reject", "after"]) send(ids[1], text);
    await waitFor(() => sink.completed === 4, "4 messages");
    assertEquals(sink.replies.get(ids[1]), ["before", "after"]);
    assertEquals(sink.failures.map((f) => f.connectionId), [ids[1], ids[1]]);
    assertMatch(sink.failures[0].message, /thrown on purpose/);
    assertMatch(sink.failures[1].message, /rejected on purpose/);
    assertEquals(queue.count, 0);
    await pool.close();
  });
}

for (const transport of ["batch", "ring"] as const) {
  Deno.test(`WorkerPool replaces a worker that dies and fails the messages it held (${transport})`, async () => {
    const { ids, queue, sink, pool, send } = setup(1, 4, HANDLER, transport);
    await pool.start();
    send(ids[0], "crash");
    send(ids[0], "queued behind the crash");
    await waitFor(() => sink.completed === 2, "both messages to end");
    assertEquals(sink.failures.length, 2, "the crashing message and the one behind it fail");
    assertEquals(sink.failures.map((f) => f.connectionId), [ids[0], ids[0]]);
    assertMatch(sink.errors[0].message, /Worker 0 died/);
    assertEquals(queue.count, 0);
    assertEquals(pool.size, 1);
    send(ids[0], "alive");
    await waitFor(() => sink.replies.get(ids[0])?.length === 1, "an answer from the new worker");
    assertEquals(sink.replies.get(ids[0]), ["alive"]);
    send(ids[0], "worker");
    await waitFor(() => sink.replies.get(ids[0])?.length === 2, "worker");
    assertEquals(sink.replies.get(ids[0])![1], "worker 1\r\n", "a new worker answers");
    await pool.close();
  });
}

for (const [size, transport] of [[0, "batch"], [1, "batch"], [1, "ring"]] as const) {
  Deno.test(`WorkerPool with concurrency runs a connection's messages side by side, each done when it settles (workers: ${size}, ${transport})`, async () => {
    const { ids, queue, sink, pool, send } = setup(size, 4, HANDLER, transport, 2);
    await pool.start();
    const [a, b, c] = ids;
    // Two holds fill a's share; its third message waits (a copy) for one of them to finish.
    send(a, "hold");
    send(a, "hold");
    send(a, "x");
    assertEquals([pool.inFlight, queue.count], [size === 0 ? 0 : 2, 3]);
    if (size > 0) await waitFor(() => sink.replies.size === 0 && pool.inFlight === 2, "holds");
    // A rejection fails its message only; it is done once it settles. A run of messages done
    // together counts each of them.
    send(b, "reject");
    for (let i = 0; i < 10; i++) send(b, `y${i}`);
    await waitFor(() => sink.failures.length === 1 && sink.completed === 11, "b's messages");
    assertEquals(sink.replies.get(b)!.join(""), "y0y1y2y3y4y5y6y7y8y9");
    assertMatch(sink.failures[0].message, /rejected on purpose/);
    // Another connection's release lets the holds finish: with concurrency 1 in a worker, the
    // first hold would keep the release from ever running.
    send(c, "release");
    await waitFor(() => sink.completed === 15, "15 messages done");
    assertEquals(sink.replies.get(a)!.join(""), "holdholdx"); // writes to one connection may merge
    assertEquals(sink.replies.get(c), ["released"]);
    assertEquals([queue.count, pool.inFlight], [0, 0]);
    await pool.close();
  });
}

for (const [size, concurrency] of [[0, 1], [0, 2], [1, 2]] as const) {
  Deno.test(`WorkerPool lets a message overtake the connection's waiting ones (workers: ${size}, concurrency: ${concurrency})`, async () => {
    const { ids, queue, sink, pool, send } = setup(size, 2, HANDLER, "ring", concurrency);
    await pool.start();
    const [a] = ids;
    for (let i = 0; i < concurrency; i++) send(a, "hold");
    send(a, "x"); // waits for a place, behind the holds
    send(a, "release", true);
    await waitFor(() => sink.completed === concurrency + 2, "every message", 10_000);
    assertEquals(sink.replies.get(a)!.join(""), `released${"hold".repeat(concurrency)}x`);
    assertEquals([queue.count, pool.inFlight], [0, 0]);
    await pool.close();
  });
}

Deno.test("WorkerPool with concurrency fails every message a dying worker held", async () => {
  const { ids, queue, sink, pool, send } = setup(1, 4, HANDLER, "batch", 4);
  await pool.start();
  send(ids[0], "hold");
  send(ids[1], "hold");
  send(ids[1], "crash");
  await waitFor(() => sink.completed === 3, "3 messages failed", 10_000);
  assertEquals(
    sink.failures.map((failure) => failure.connectionId).sort(),
    [
      ids[0],
      ids[1],
      ids[1],
    ].sort(),
  );
  assertEquals([queue.count, pool.inFlight], [0, 0]);
  await waitFor(() => pool.running === 1, "the replacement worker");
  send(ids[2], "worker");
  await waitFor(() => sink.completed === 4, "a message on the new worker");
  assertEquals(sink.replies.get(ids[2]), ["worker 1\r\n"]);
  await pool.close();
});

Deno.test("WorkerPool refuses a concurrency out of range", () => {
  for (const concurrency of [0, 1.5, 70_000]) {
    assertThrows(() => setup(0, 1, HANDLER, "batch", concurrency), RangeError, "concurrency");
  }
});

Deno.test("WorkerPool with the ring transport passes messages larger than the ring", async () => {
  const { ids, sink, pool, send } = setup(1, 2, HANDLER, "ring");
  await pool.start();
  const big = "x".repeat(20_000);
  send(ids[0], big);
  send(ids[1], "small");
  send(ids[0], big + "y");
  await waitFor(() => sink.completed === 3, "3 messages");
  assertEquals(sink.replies.get(ids[0]), [big, big + "y"]);
  assertEquals(sink.replies.get(ids[1]), ["small"]);
  await pool.close();
});

Deno.test("WorkerPool with the ring transport keeps order between ring and posted batches", async () => {
  const { ids, sink, pool, send } = setup(1, 2, HANDLER, "ring");
  await pool.start();
  // Each turn's batch alternates between the ring (small) and postMessage (over 1 KiB); the
  // replies come back the same way, so both directions mix the two paths.
  const expected: string[] = [];
  for (let i = 0; i < 40; i++) {
    const text = i % 2 === 0 ? `small ${i}` : `${i} ${"z".repeat(1500 + i)}`;
    expected.push(text);
    send(ids[0], text);
    if (i % 3 === 0) send(ids[1], `other ${i}`);
    await delay(0);
  }
  await waitFor(() => sink.completed === 40 + 14, "every message");
  assertEquals(sink.replies.get(ids[0]), expected);
  assertEquals(sink.replies.get(ids[1])?.length, 14);
  await pool.close();
});

for (const keepsPayload of [undefined, false]) {
  Deno.test(`WorkerPool inline: an async handler with keepsPayload ${keepsPayload} and the read buffer`, async () => {
    const handler: MessageHandler = {
      async onMessage(message, connection) {
        // Copied before the first await, as keepsPayload: false promises; the default keeps
        // the view, which must stay intact until the promise settles.
        const copy = keepsPayload === false ? message.payload.slice() : message.payload;
        await delay(1);
        connection.write(copy);
      },
      keepsPayload,
    };
    const { ids, sink, pool } = setup(0, 1, handler);
    await pool.start();
    const source: MessageSource = {
      id: ids[0],
      handle: sink.handle(ids[0]),
      route: undefined,
      messageDone: () => sink.completed++,
      messageFailed: (error: MessageFailedError) => sink.failed(error),
    };
    const payload = encoder.encode("kept?");
    const kept = pool.submit(source, payload, 0, DispatchFlag.keepable);
    // What a connection does with its read buffer when the pool did not keep it: reads again.
    if (!kept) payload.fill(0x7e);
    assertEquals(kept, keepsPayload !== false);
    await waitFor(() => sink.completed === 1, "the message");
    assertEquals(sink.replies.get(ids[0]), ["kept?"]);
    await pool.close();
  });
}

Deno.test("WorkerPool inline copies a payload that is not keepable for a handler that keeps payloads", async () => {
  let seen: Uint8Array | undefined;
  const handler: MessageHandler = {
    async onMessage(message, connection) {
      seen = message.payload;
      await delay(1);
      connection.write(message.payload);
    },
  };
  const { ids, sink, pool } = setup(0, 1, handler);
  await pool.start();
  const source: MessageSource = {
    id: ids[0],
    handle: sink.handle(ids[0]),
    route: undefined,
    messageDone: () => sink.completed++,
    messageFailed: (error: MessageFailedError) => sink.failed(error),
  };
  // A decoder's buffer: overwritten by the next chunk whatever submit returns.
  const payload = encoder.encode("assembled");
  pool.submit(source, payload, 0, DispatchFlag.none);
  payload.fill(0x7e);
  assert(seen !== payload, "the handler got a copy");
  await waitFor(() => sink.completed === 1, "the message");
  assertEquals(sink.replies.get(ids[0]), ["assembled"]);
  await pool.close();
});

Deno.test("WorkerPool ring workers run their timers while batches keep coming", async () => {
  // A ring worker waits for batches blocked on the ring when it can: its event loop must still
  // get turns under a stream that never lets the ring stay quiet.
  const { ids, sink, pool, send } = setup(1, 2, HANDLER, "ring");
  await pool.start();
  send(ids[0], "later");
  const turn = new MessageChannel();
  const nextTurn = () =>
    new Promise((resolve) => (turn.port1.onmessage = resolve, turn.port2.postMessage(0)));
  const started = performance.now();
  let sent = 0;
  while (sink.replies.get(ids[0]) === undefined && performance.now() - started < 5_000) {
    for (let i = 0; i < 100; i++) send(ids[1], "x");
    sent += 100;
    await nextTurn();
  }
  turn.port1.close();
  turn.port2.close();
  assertEquals(sink.replies.get(ids[0]), ["later"], "the timer's write, during the stream");
  await waitFor(() => sink.completed === sent + 1, "every message");
  await pool.close();
});

Deno.test("WorkerPool resizes at runtime, down to inline and back", async () => {
  const { ids, sink, pool, send } = setup(1, 8);
  await pool.start();
  const askAll = async (expected: number) => {
    for (const id of ids) send(id, "worker");
    await waitFor(() => sink.completed === expected, `${expected} answers`);
    return new Set(ids.map((id) => sink.replies.get(id)!.at(-1)!.trim()));
  };
  assertEquals(await askAll(8), new Set(["worker 0"]));
  await pool.resize(3);
  assertEquals(pool.size, 3);
  // Existing connections keep their worker; new ones spread over all three.
  assertEquals(await askAll(16), new Set(["worker 0"]));
  await pool.resize(0);
  assertEquals(pool.size, 0);
  assertEquals(await askAll(24), new Set(["worker -1"]));
  await pool.resize(2);
  const answered = await askAll(32);
  // Workers 1 and 2 came with resize(3) and went with resize(0): the new ones are 3 and 4.
  assert([...answered].every((w) => w === "worker 3" || w === "worker 4"), [...answered].join());
  assertEquals(answered.size, 2, "re-pinned connections spread over both new workers");
  await pool.close();
});

Deno.test("WorkerPool with concurrency moves a connection to a new worker only once its inline messages are done", async () => {
  const { ids, sink, pool, send } = setup(0, 2, HANDLER, "batch", 2);
  await pool.start();
  send(ids[0], "slow");
  await pool.resize(1);
  send(ids[0], "worker");
  await waitFor(() => sink.completed === 2, "both messages", 10_000);
  assertEquals(sink.replies.get(ids[0]), ["slow", "worker 0\r\n"]);
  await pool.close();
});

Deno.test("WorkerPool refuses a module that cannot load with WorkerStartError", async () => {
  const missing = new URL("../testing/_fixtures/missing_handler.ts", import.meta.url);
  for (const size of [0, 1]) {
    const { pool } = setup(size, 1, missing);
    await assertRejects(() => pool.start(), WorkerStartError);
    await pool.close();
  }
});

Deno.test("WorkerPool refuses a handler object for workers and bad sizes", () => {
  const queue = new InFlightCounter();
  const sink = new RecordingSink();
  const sequences = [new Int32Array(1)];
  const handler = { onMessage() {} };
  assertThrows(
    () => new WorkerPool({ handler, size: 2, inFlight: queue, sink, sequences }),
    TypeError,
    "cannot cross to workers",
  );
  assertThrows(
    () => new WorkerPool({ handler, size: -1, inFlight: queue, sink, sequences }),
    RangeError,
    "got -1",
  );
});

Deno.test("defaultWorkerCount leaves one core to the I/O thread and rejects bad counts", () => {
  assertEquals(defaultWorkerCount(2), 1);
  assertEquals(defaultWorkerCount(16), 15);
  assertEquals(defaultWorkerCount(1), 1);
  assertEquals(defaultWorkerCount(), Math.max(1, navigator.hardwareConcurrency - 1));
  assertThrows(() => defaultWorkerCount(0), RangeError, "got 0");
  assertThrows(() => defaultWorkerCount(1.5), RangeError, "got 1.5");
});

for (const [transport, concurrency] of [["batch", 1], ["ring", 1], ["ring", 3]] as const) {
  Deno.test(`WorkerPool places every message of a key on one worker, from any connection (${transport}, concurrency: ${concurrency})`, async () => {
    const { ids, queue, sink, pool, send } = setup(2, 6, HANDLER, transport, concurrency);
    await pool.start();
    let expected = 0;
    for (let round = 0; round < 3; round++) {
      for (const id of ids) for (let k = 0; k < 8; k++) send(id, "worker", false, `key${k}`);
      expected += ids.length * 8;
      await waitFor(() => sink.completed === expected, `${expected} answers`);
    }
    // Each connection asked for keys 0..7 in order, three times: the answers name the worker
    // of each key, the same for every connection and every round.
    const byKey = sink.replies.get(ids[0])!.join("").trim().split(/\r\n/).slice(0, 8);
    assertEquals(new Set(byKey).size, 2, "the 8 keys spread over both workers");
    for (const id of ids) {
      assertEquals(sink.replies.get(id)!.join("").trim().split(/\r\n/), [
        ...byKey,
        ...byKey,
        ...byKey,
      ]);
    }
    assertEquals([queue.count, pool.inFlight], [0, 0]);
    await pool.close();
  });
}

Deno.test("WorkerPool gives a dead worker's keys to its replacement, and keeps the others", async () => {
  const { ids, sink, pool, send } = setup(2, 2, HANDLER, "ring");
  await pool.start();
  const ask = async (key: string) => {
    const before = sink.completed;
    send(ids[1], "worker", false, key);
    await waitFor(() => sink.completed === before + 1, `the worker of ${key}`);
    return sink.replies.get(ids[1])!.at(-1)!.trim();
  };
  const keys = Array.from({ length: 8 }, (_, i) => `key${i}`);
  const before = new Map<string, string>();
  for (const key of keys) before.set(key, await ask(key));
  const doomed = keys.find((key) => before.get(key) === "worker 0")!;
  send(ids[0], "crash", false, doomed);
  await waitFor(() => pool.running === 2 && sink.errors.length === 1, "a replacement");
  for (const key of keys) {
    assertEquals(await ask(key), before.get(key) === "worker 0" ? "worker 2" : "worker 1", key);
  }
  await pool.close();
});

Deno.test("keyHash is stable and spreads strings and numbers", () => {
  assertEquals(keyHash("foo"), keyHash("foo"));
  assertEquals(keyHash("foo"), 0xa9f37ed7, "FNV-1a of foo");
  assert(keyHash(1) !== keyHash("1"), "a number and its string are different keys");
  assertEquals(keyHash(1.5), keyHash("1.5"));
  for (
    const keys of [
      Array.from({ length: 1000 }, (_, i) => `user:${i}`),
      Array.from({ length: 1000 }, (_, i) => i),
    ]
  ) {
    const counts = [0, 0, 0, 0];
    for (const key of keys) counts[keyHash(key) % 4]++;
    assert(counts.every((count) => count > 200 && count < 300), counts.join());
  }
});
