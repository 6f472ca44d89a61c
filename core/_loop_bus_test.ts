import { assertEquals, assertThrows } from "@std/assert";
import { LoopBus, type LoopBusHost } from "./_loop_bus.ts";
import { within } from "../testing/_socket_client.ts";

/** Two buses joined by a channel, on this thread, with what their hosts got. */
function pair(onWrite: () => void = () => {}) {
  const channel = new MessageChannel();
  const got: { writes: [number, string][]; closes: number[]; errors: unknown[] }[] = [];
  const buses = [0, 1].map((index) => {
    const seen = {
      writes: [] as [number, string][],
      closes: [] as number[],
      errors: [] as unknown[],
    };
    got.push(seen);
    const host: LoopBusHost = {
      write: (id, bytes) => {
        seen.writes.push([id, new TextDecoder().decode(bytes)]);
        onWrite();
      },
      close: (id) => seen.closes.push(id),
      error: (error) => seen.errors.push(error),
    };
    return new LoopBus(
      index,
      index === 0 ? [undefined, channel.port1] : [channel.port2, undefined],
      host,
    );
  });
  return { buses, got };
}

Deno.test("LoopBus keeps writes, closes and protocol messages in the order sent, one batch a turn", async () => {
  const { buses, got } = pair();
  try {
    const heard: unknown[] = [];
    const done = Promise.withResolvers<void>();
    buses[1].context().receive((from, message) => {
      heard.push([from, message]);
      if (message === "last") done.resolve();
    });
    const view = new Uint8Array(64 * 1024).subarray(10, 13);
    view.set([0x61, 0x62, 0x63]);
    buses[0].write(1, 7, view);
    view.set([0x78, 0x78, 0x78]); // the bus copied: the sender keeps its buffer
    buses[0].context().send(1, { n: 1 });
    buses[0].closeConnection(1, 7);
    buses[0].context().send(1, "last");
    await within(done.promise, "the protocol's last message");
    assertEquals(got[1].writes, [[7, "abc"]]);
    assertEquals(got[1].closes, [7]);
    assertEquals(heard, [[0, { n: 1 }], [0, "last"]]);
  } finally {
    for (const bus of buses) bus.shut();
  }
});

Deno.test("LoopBus keeps protocol messages that come before the listener, for it", async () => {
  const written = Promise.withResolvers<void>();
  const { buses } = pair(() => written.resolve());
  try {
    buses[0].context().send(1, "early");
    buses[0].write(1, 1, new Uint8Array([1]));
    // The write crosses in the same batch: once it is here, so is the message, unheard.
    await within(written.promise, "the batch");
    const heard = Promise.withResolvers<unknown>();
    buses[1].context().receive((_from, message) => heard.resolve(message));
    assertEquals(await within(heard.promise, "the early message"), "early");
  } finally {
    for (const bus of buses) bus.shut();
  }
});

Deno.test("LoopBus refuses to send to itself or past the loops", () => {
  const { buses } = pair();
  try {
    assertThrows(() => buses[0].context().send(0, "x"), RangeError, "not 0");
    assertThrows(() => buses[0].context().send(2, "x"), RangeError);
  } finally {
    for (const bus of buses) bus.shut();
  }
});

Deno.test("LoopBus is congested past its backlog until the other loop handled the bytes", async () => {
  const channel = new MessageChannel();
  const host = { write() {}, close() {}, error() {} };
  const sender = new LoopBus(0, [undefined, channel.port1], host, 1000);
  const receiver = new LoopBus(1, [channel.port2, undefined], host, 1000);
  try {
    const drained = Promise.withResolvers<void>();
    sender.onDrained(() => drained.resolve());
    sender.write(1, 1, new Uint8Array(600));
    assertEquals(sender.congested, false, "under the bound");
    sender.write(1, 1, new Uint8Array(600));
    assertEquals(sender.congested, true, "past it: the server stops reading");
    await within(drained.promise, "the receiver's acknowledgement");
    assertEquals(sender.congested, false);
  } finally {
    sender.shut();
    receiver.shut();
  }
});
