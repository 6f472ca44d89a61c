import { assertEquals, assertInstanceOf, assertRejects, assertThrows } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { delay } from "@std/async/delay";
import { IdleTimeoutError, ProtocolError } from "../core/errors.ts";
import type { MessageHandler } from "../core/message_handler.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "../core/protocol.ts";
import { echoProtocol } from "../protocols/echo/echo_protocol.ts";
import echoHandler from "../protocols/echo/echo_handler.ts";
import { embed } from "./embedded_connection.ts";

const decoder = new TextDecoder();
/** Long enough for any test here; a hang fails with a message instead. */
const WAIT = 2000;

/** Echoes each line; a line starting with "slow" waits a little before its answer. */
const slowFirst: MessageHandler = {
  async onMessage(message, connection) {
    const text = decoder.decode(message.payload);
    if (text.startsWith("slow")) await delay(3);
    connection.write(text);
  },
};

Deno.test("embed echoes lines through the real connection at every chunk size", async () => {
  const input = "one\ntwo\r\nthree\n";
  for (let size = input.length; size >= 1; size--) {
    const channel = await embed(echoProtocol(), { handler: echoHandler, chunkSize: size });
    channel.receive(input);
    await deadline(channel.flushed(), WAIT);
    assertEquals(channel.text(), input, `chunk size ${size}`);
    assertEquals(channel.open, true);
    channel.peerClose();
    assertEquals(await deadline(channel.closed, WAIT), undefined);
    await deadline(channel.socketClosed, WAIT);
    assertEquals(channel.errors, []);
  }
});

Deno.test("embed loads a handler module by URL, as a server with workers: 0", async () => {
  const channel = await embed(echoProtocol(), {
    handler: import.meta.resolve("../protocols/echo/echo_handler.ts"),
  });
  channel.receive("hi\n");
  await deadline(channel.flushed(), WAIT);
  assertEquals(channel.text(), "hi\n");
  channel.peerClose();
  await deadline(channel.closed, WAIT);
});

Deno.test("embed holds a connection's next message while an async handler runs (concurrency 1), at every chunk size", async () => {
  const input = "slow one\ntwo\nthree\n";
  for (let size = input.length; size >= 1; size--) {
    const channel = await embed(echoProtocol(), { handler: slowFirst, chunkSize: size });
    channel.receive(input);
    await deadline(channel.flushed(), WAIT);
    assertEquals(channel.text(), input, `chunk size ${size}`);
    channel.peerClose();
    await deadline(channel.closed, WAIT);
  }
});

Deno.test("embed lets later replies overtake at concurrency 2, as the server does", async () => {
  const channel = await embed(echoProtocol(), { handler: slowFirst, concurrency: 2 });
  channel.receive("slow one\ntwo\n");
  await deadline(channel.flushed(), WAIT);
  assertEquals(channel.text(), "two\nslow one\n");
  channel.peerClose();
  await deadline(channel.closed, WAIT);
});

Deno.test("embed answers every message before closing when the peer ends its stream", async () => {
  const channel = await embed(echoProtocol(), { handler: slowFirst, chunkSize: 3 });
  channel.receive("slow one\ntwo\n");
  channel.peerClose();
  assertEquals(await deadline(channel.closed, WAIT), undefined);
  assertEquals(channel.text(), "slow one\ntwo\n");
});

Deno.test("embed delivers the answers written before a handler's close, then lingers until the peer closes", async () => {
  const quitter: MessageHandler = {
    onMessage(message, connection) {
      const text = decoder.decode(message.payload);
      connection.write(text);
      if (text === "quit\n") connection.close();
    },
  };
  const channel = await embed(echoProtocol(), { handler: quitter, lingerTimeout: 1000 });
  channel.receive("a\nb\nquit\nignored\n");
  assertEquals(await deadline(channel.closed, WAIT), undefined);
  assertEquals(channel.text(), "a\nb\nquit\n");
  assertEquals(channel.open, false);
  assertEquals(channel.writeShut, true);
  assertEquals(channel.handle.write("late\n"), false);
  channel.peerClose();
  await deadline(channel.socketClosed, WAIT);
});

Deno.test("embed closes on a protocol error, reporting it", async () => {
  /** Dispatches each byte; a zero byte is an error that ends the connection. */
  const strict: ProtocolHandlerFactory = {
    create: (context: ProtocolContext) => ({
      data(chunk: Uint8Array) {
        for (const byte of chunk) {
          if (byte === 0) throw new ProtocolError("Zero byte");
          context.dispatch(Uint8Array.of(byte));
        }
      },
    }),
  };
  const channel = await embed(strict, { handler: echoHandler });
  channel.receive("ok");
  await deadline(channel.flushed(), WAIT);
  assertEquals(channel.text(), "ok");
  channel.receive(Uint8Array.of(0x21, 0));
  const reason = await deadline(channel.closed, WAIT);
  assertInstanceOf(reason, ProtocolError);
  assertEquals(channel.errors, [reason]);
  await deadline(channel.socketClosed, WAIT);
  assertEquals(channel.writeShut, false);
});

Deno.test("embed tells the peer of a failed message through the protocol's failed, and stays open", async () => {
  const failing: MessageHandler = {
    onMessage(message, connection) {
      const text = decoder.decode(message.payload);
      if (text === "boom\n") throw new Error("boom");
      connection.write(text);
    },
  };
  const channel = await embed(echoProtocol(), { handler: failing });
  channel.receive("a\nboom\nb\n");
  await deadline(channel.flushed(), WAIT);
  assertEquals(channel.text(), "a\nERR Message handler failed: boom\r\nb\n");
  assertEquals(channel.open, true);
  assertEquals(channel.errors.length, 1);
  channel.peerClose();
  await deadline(channel.closed, WAIT);
});

Deno.test("embed sends the protocol's goodbye on a server's close, dropping unwritten output", async () => {
  const channel = await embed(echoProtocol(), { handler: echoHandler });
  channel.receive("a\n");
  await deadline(channel.flushed(), WAIT);
  channel.clear();
  const reason = new IdleTimeoutError(10);
  assertEquals(channel.handle.write("unsent\n"), true);
  channel.closeFor(reason);
  assertEquals(await deadline(channel.closed, WAIT), reason);
  assertEquals(channel.text(), `ERR ${reason.message}\r\n`);
});

Deno.test("embed closes on the peer's reset without reporting it", async () => {
  const channel = await embed(echoProtocol(), { handler: echoHandler });
  channel.peerReset();
  assertInstanceOf(await deadline(channel.closed, WAIT), Deno.errors.ConnectionReset);
  assertEquals(channel.errors, []);
  assertThrows(() => channel.receive("late\n"), TypeError, "cannot send more");
});

Deno.test("embed rejects bad options and reports a failing init", async () => {
  await assertRejects(() => embed(echoProtocol(), { chunkSize: 0 }), RangeError, "got 0");
  await assertRejects(
    () => embed(echoProtocol(), { handler: echoHandler, onMessage: () => {} }),
    TypeError,
    "not both",
  );
  const failingInit: MessageHandler = {
    init() {
      throw new Error("no config");
    },
    onMessage() {},
  };
  await assertRejects(() => embed(echoProtocol(), { handler: failingInit }), Error, "no config");
});
