import { assertEquals, assertThrows } from "@std/assert";
import { ForwardBatch, type ForwardedMessage, readForwardBatch } from "./_forward_batch.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (view: Uint8Array) => new TextDecoder().decode(view);

function read(packed: Uint8Array): unknown[] {
  const out: unknown[] = [];
  readForwardBatch(
    packed,
    (m: ForwardedMessage) =>
      out.push([text(m.subject), text(m.reply), text(m.payload), m.headerSize, m.plain, m.queues]),
  );
  return out;
}

Deno.test("ForwardBatch packs publishes and reads them back in order, queues and headers kept", () => {
  const batch = new ForwardBatch();
  const big = "x".repeat(40_000); // past the first buffer: it grows
  batch.add({
    subject: bytes("a.b"),
    reply: bytes(""),
    payload: bytes("hi"),
    headerSize: -1,
    plain: true,
    queues: undefined,
  });
  batch.add({
    subject: bytes("jobs"),
    reply: bytes("_INBOX.1"),
    payload: bytes(big),
    headerSize: -1,
    plain: false,
    queues: ["workers", "ünï"],
  });
  batch.add({
    subject: bytes("h"),
    reply: bytes(""),
    payload: bytes("NATS/1.0\r\n\r\nbody"),
    headerSize: 12,
    plain: true,
    queues: undefined,
  });
  assertEquals(batch.count, 3);
  const packed = batch.take();
  assertEquals(batch.count, 0);
  assertEquals(read(packed), [
    ["a.b", "", "hi", -1, true, undefined],
    ["jobs", "_INBOX.1", big, -1, false, ["workers", "ünï"]],
    ["h", "", "NATS/1.0\r\n\r\nbody", 12, true, undefined],
  ]);
  batch.add({
    subject: bytes("again"),
    reply: bytes(""),
    payload: bytes(""),
    headerSize: -1,
    plain: true,
    queues: undefined,
  });
  assertEquals(read(batch.take()), [["again", "", "", -1, true, undefined]], "reused after take");
  assertThrows(() => read(packed.subarray(0, packed.length - 1)), RangeError, "cut short");
});
