import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { RpcFrameWriter, RpcKind } from "./_rpc_frame.ts";
import { RpcClient } from "./rpc_client.ts";
import {
  RpcConnectionError,
  RpcOverloadError,
  RpcRemoteError,
  RpcTimeoutError,
  RpcUnknownTypeError,
} from "./rpc_errors.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const text = new TextDecoder();
const writer = new RpcFrameWriter();

/** The requests written so far: [type, kind, id, body]. */
function requests(transport: MemoryTransport): [number, number, number, string][] {
  return transport.writes.map((frame) => {
    const size = frame[0] | (frame[1] << 8);
    const view = new DataView(frame.buffer, frame.byteOffset);
    return [
      view.getUint16(2, true),
      frame[8],
      view.getUint32(12, true),
      text.decode(frame.subarray(16, size)),
    ];
  });
}

function reply(type: number, id: number, body: string): Uint8Array {
  return writer.frame(type, RpcKind.reply, id, body).slice();
}

function connected(options?: ConstructorParameters<typeof RpcClient>[0]) {
  const rpc = new RpcClient(options);
  const transport = new MemoryTransport();
  const handler = rpc.protocol.create(transport);
  return { rpc, transport, handler };
}

Deno.test(
  "RpcClient matches concurrent calls to replies by id, in any order and chunking",
  SANITIZED,
  async () => {
    const { rpc, transport, handler } = connected();
    const calls = Array.from({ length: 20 }, (_, i) => rpc.call(1 + (i % 3), `req ${i}`));
    const sent = requests(transport);
    assertEquals(sent.length, 20);
    assertEquals(new Set(sent.map(([, , id]) => id)).size, 20, "ids are unique");
    assert(sent.every(([, kind]) => kind === RpcKind.request));
    // Replies in reverse order, all in one buffer, fed 7 bytes at a time.
    const replies = sent.reverse().map(([type, , id, body]) => reply(type, id, body.toUpperCase()));
    const all = new Uint8Array(replies.reduce((sum, r) => sum + r.length, 0));
    let at = 0;
    for (const r of replies) {
      all.set(r, at);
      at += r.length;
    }
    for (let i = 0; i < all.length; i += 7) handler.data(all.slice(i, i + 7));
    const bodies = (await Promise.all(calls)).map((body) => text.decode(body));
    assertEquals(bodies, Array.from({ length: 20 }, (_, i) => `REQ ${i}`));
    assertEquals(rpc.pending, 0);
  },
);

Deno.test(
  "RpcClient rejects a call with RpcTimeoutError, cancels it on the server, and drops its late reply",
  SANITIZED,
  async () => {
    const { rpc, transport, handler } = connected({ timeout: 20 });
    const started = performance.now();
    const error = await assertRejects(() => rpc.call(7, "slow"), RpcTimeoutError);
    assert(performance.now() - started >= 19);
    assertEquals([error.type, error.id, error.timeout], [7, 1, 20]);
    assertEquals(error.message, "Call 1 to service 7 got no reply within 20 ms");
    assertEquals(rpc.pending, 0);
    assertEquals(requests(transport)[1], [7, RpcKind.cancel, 1, ""]);
    handler.data(reply(7, 1, "late"));
    const next = rpc.call(7, "fast", { timeout: 1000 });
    const timedOut = rpc.call(7, "own timer", { timeout: 5 });
    await assertRejects(() => timedOut, RpcTimeoutError);
    assertEquals(requests(transport).slice(2).map(([, kind, id]) => [kind, id]), [
      [RpcKind.request, 2],
      [RpcKind.request, 3],
      [RpcKind.cancel, 3],
    ]);
    handler.data(reply(7, 2, "on time"));
    assertEquals(text.decode(await next), "on time");
  },
);

Deno.test(
  "RpcClient times calls with the default timeout from the end of their turn, never early",
  SANITIZED,
  async () => {
    const { rpc } = connected({ timeout: 30 });
    // A call of an earlier turn arms the timer, so that the calls below start none.
    const earlier = rpc.call(1, "earlier");
    await new Promise((resolve) => setTimeout(resolve, 0));
    const first = performance.now();
    const a = rpc.call(1, "a");
    // A long turn: the second call is made 20 ms after the first, before the turn ends.
    while (performance.now() - first < 20) {
      // busy
    }
    const second = performance.now();
    const b = rpc.call(1, "b");
    const rejectedAt = (call: Promise<unknown>) =>
      call.then(() => NaN, (error) => {
        assertInstanceOf(error, RpcTimeoutError);
        return performance.now();
      });
    const [, aAt, bAt] = await Promise.all([earlier, a, b].map(rejectedAt));
    assert(aAt - first >= 30, `the first call expired after ${aAt - first} ms`);
    assert(bAt - second >= 30, `the second call expired after ${bAt - second} ms`);
    assertEquals(rpc.pending, 0);
  },
);

Deno.test(
  "RpcClient keeps one timeout timer through back-to-back calls, and none once idle",
  SANITIZED,
  async () => {
    // The op sanitizer fails this test if the timer outlives the last reply.
    const { rpc, transport, handler } = connected();
    for (let i = 1; i <= 5; i++) {
      const call = rpc.call(1, `call ${i}`);
      const [, , id] = requests(transport)[i - 1];
      handler.data(reply(1, id, `reply ${i}`));
      assertEquals(text.decode(await call), `reply ${i}`);
    }
    const last = rpc.call(1, "errs");
    handler.data(writer.errorFrame(1, 6, "Error", "no").slice());
    await assertRejects(() => last, RpcRemoteError);
    assertEquals(rpc.pending, 0);
  },
);

Deno.test(
  "RpcClient gives each reply bytes of its own, which outlive the chunk they came in",
  SANITIZED,
  async () => {
    const { rpc, handler } = connected();
    const calls = [rpc.call(1, "a"), rpc.call(1, "b"), rpc.call(1, "c")];
    const large = "L".repeat(2000);
    const chunk = new Uint8Array([...reply(1, 1, "first"), ...reply(1, 2, "second")]);
    handler.data(chunk);
    chunk.fill(0);
    // A large reply split across chunks, each chunk overwritten once handled.
    const frame = reply(1, 3, large);
    for (let i = 0; i < frame.length; i += 500) {
      const part = frame.slice(i, i + 500);
      handler.data(part);
      part.fill(0);
    }
    const [a, b, c] = await Promise.all(calls);
    assertEquals([text.decode(a), text.decode(b), text.decode(c)], ["first", "second", large]);
    // Small replies may share a buffer, never bytes: a write to one stays in it.
    a.fill(0x2a);
    assertEquals(text.decode(b), "second");
    assertEquals([c.byteOffset, c.buffer.byteLength], [0, 2000]);
  },
);

Deno.test(
  "RpcClient keeps many calls apart, answered in any order or timing out oldest first",
  SANITIZED,
  async () => {
    const { rpc, transport, handler } = connected({ timeout: 40 });
    // 300 calls (past the first table size); every fifth has a timeout of its own.
    const calls = Array.from(
      { length: 300 },
      (_, i) => rpc.call(1, `${i}`, i % 5 === 0 ? { timeout: 30 } : undefined),
    );
    const sent = requests(transport);
    assertEquals(new Set(sent.map(([, , id]) => id)).size, 300);
    // Replies, last first, to all but the first ten calls of each kind.
    const answered = sent.filter((_, i) => i >= 50);
    for (const [type, , id, body] of answered.toReversed()) handler.data(reply(type, id, body));
    assertEquals(rpc.pending, 50);
    const settled = await Promise.allSettled(calls);
    for (const [i, result] of settled.entries()) {
      if (i >= 50) {
        assertEquals(result.status, "fulfilled");
        assertEquals(text.decode((result as PromiseFulfilledResult<Uint8Array>).value), `${i}`);
      } else {
        assertEquals(result.status, "rejected");
        const error = (result as PromiseRejectedResult).reason;
        assertInstanceOf(error, RpcTimeoutError);
        assertEquals(error.timeout, i % 5 === 0 ? 30 : 40);
      }
    }
    assertEquals(rpc.pending, 0);
  },
);

Deno.test(
  "RpcClient rejects with RpcRemoteError carrying the remote name and message",
  SANITIZED,
  async () => {
    const { rpc, handler } = connected();
    const call = rpc.call(3, "x");
    handler.data(writer.errorFrame(3, 1, "RangeError", "bad input: x").slice());
    const error = await assertRejects(() => call, RpcRemoteError);
    assertEquals([error.type, error.remoteName, error.remoteMessage], [
      3,
      "RangeError",
      "bad input: x",
    ]);
    assertEquals(error.name, "RpcRemoteError");

    const unknown = rpc.call(9, "x");
    handler.data(
      writer.errorFrame(9, 2, "RpcUnknownTypeError", "No service for message type 9").slice(),
    );
    const typed = await assertRejects(() => unknown, RpcUnknownTypeError);
    assertInstanceOf(typed, RpcRemoteError);
    assertEquals(typed.remoteMessage, "No service for message type 9");
  },
);

Deno.test(
  "RpcClient aborts a call with the signal's reason, before and after sending, and cancels it on the server",
  SANITIZED,
  async () => {
    const { rpc, transport, handler } = connected();
    const controller = new AbortController();
    const call = rpc.call(1, "a", { signal: controller.signal });
    assertEquals(rpc.pending, 1);
    controller.abort(new Error("changed my mind"));
    await assertRejects(() => call, Error, "changed my mind");
    assertEquals(rpc.pending, 0);
    handler.data(reply(1, 1, "too late"));
    await assertRejects(
      () => rpc.call(1, "b", { signal: controller.signal }),
      Error,
      "changed my mind",
    );
    assertEquals(requests(transport).map(([, kind, id]) => [kind, id]), [
      [RpcKind.request, 1],
      [RpcKind.cancel, 1],
    ], "the cancel of the call sent; an aborted signal sends nothing");
    const timeout = AbortSignal.timeout(10);
    const error = await assertRejects(() => rpc.call(1, "c", { signal: timeout }));
    assertInstanceOf(error, DOMException);
    assertEquals(error.name, "TimeoutError");
  },
);

Deno.test(
  "RpcClient rejects pending calls with RpcConnectionError when the connection closes",
  SANITIZED,
  async () => {
    const { rpc, handler } = connected();
    const calls = [rpc.call(1, "a"), rpc.call(2, "b")];
    handler.close?.();
    for (const call of calls) {
      await assertRejects(() => call, RpcConnectionError, "closed with the call pending");
    }
    assertEquals(rpc.connected, false);
    await assertRejects(() => rpc.call(1, "c"), RpcConnectionError, "Not connected");
    assertEquals(rpc.notify(1, "d"), false);
  },
);

Deno.test("RpcClient bounds the calls waiting with RpcOverloadError", SANITIZED, async () => {
  const { rpc, handler } = connected({ maxPendingCalls: 2 });
  const first = rpc.call(1, "a");
  const second = rpc.call(1, "b");
  const error = await assertRejects(() => rpc.call(1, "c"), RpcOverloadError);
  assertEquals(error.maxPendingCalls, 2);
  handler.data(reply(1, 1, "A"));
  await first;
  const third = rpc.call(1, "c");
  handler.data(reply(1, 2, "B"));
  handler.data(reply(1, 3, "C"));
  assertEquals([text.decode(await second), text.decode(await third)], ["B", "C"]);
});

Deno.test(
  "RpcClient reports errors of id 0 and malformed frames to onError, and closes on the latter",
  SANITIZED,
  () => {
    const errors: Error[] = [];
    const { transport, handler } = connected({ onError: (error) => void errors.push(error) });
    handler.data(writer.errorFrame(0, 0, "MalformedFrameError", "bad frame").slice());
    assertInstanceOf(errors[0], RpcRemoteError);
    assertEquals((errors[0] as RpcRemoteError).remoteMessage, "bad frame");
    assertEquals(transport.closed, false);
    handler.data(new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]));
    assertEquals(errors[1].name, "MalformedFrameError");
    assertEquals(transport.closed, true);
  },
);

Deno.test("RpcClient refuses bad types, bodies and options", SANITIZED, async () => {
  const { rpc } = connected({ maxFrameSize: 64 });
  await assertRejects(() => rpc.call(0, "x"), RangeError, "got 0");
  await assertRejects(() => rpc.call(65536, "x"), RangeError);
  await assertRejects(() => rpc.call(1, new Uint8Array(64 - 15)), RangeError, "exceeds the limit");
  await assertRejects(() => rpc.call(1, "x", { timeout: 0 }), RangeError, "timeout");
  assertEquals(rpc.pending, 0);
  assertEquals(rpc.maxBodyLength, 48);
  let error: unknown;
  try {
    new RpcClient({ maxPendingCalls: 0 });
  } catch (thrown) {
    error = thrown;
  }
  assertInstanceOf(error, RangeError);
  assertEquals(new HeaderEncoder().maxPayloadLength - 8, new RpcClient().maxBodyLength);
});
