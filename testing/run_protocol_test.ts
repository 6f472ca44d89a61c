import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { delay } from "@std/async/delay";
import type { MessageHandler } from "../core/message_handler.ts";
import { echoProtocol } from "../protocols/echo/echo_protocol.ts";
import echoHandler from "../protocols/echo/echo_handler.ts";
import { forEachChunkSize } from "./chunks.ts";
import { runProtocol, runProtocolAsync } from "./run_protocol.ts";

const decoder = new TextDecoder();

/** Echoes each line; the first line waits a little before its answer. */
const slowFirst: MessageHandler = {
  async onMessage(message, connection) {
    const text = decoder.decode(message.payload);
    if (text.startsWith("one")) await delay(2);
    connection.write(text);
  },
};

Deno.test("runProtocol echoes lines at every chunk size", () => {
  forEachChunkSize("one\ntwo\r\nthree\n", (_parts, size) => {
    const transport = runProtocol(echoProtocol(), "one\ntwo\r\nthree\n", {
      chunkSize: size,
      handler: echoHandler,
    });
    assertEquals(transport.text(), "one\ntwo\r\nthree\n", `chunk size ${size}`);
  });
});

Deno.test("runProtocol throws a TypeError naming runProtocolAsync for a handler that returns a promise", () => {
  const rejecting: MessageHandler = {
    onMessage: () => Promise.reject(new Error("never seen")),
  };
  const error = assertThrows(
    () => runProtocol(echoProtocol(), "one\n", { handler: rejecting }),
    TypeError,
    "runProtocolAsync",
  );
  assertEquals(error.message.includes("returned a promise"), true);
});

Deno.test("runProtocolAsync keeps replies in message order when the first handler awaits, at every chunk size", async () => {
  const input = "one\ntwo\nthree\n";
  for (let size = input.length; size >= 1; size--) {
    const transport = await runProtocolAsync(echoProtocol(), input, {
      chunkSize: size,
      handler: slowFirst,
    });
    assertEquals(transport.text(), input, `chunk size ${size}`);
  }
});

Deno.test("runProtocolAsync starts a message only once the one before settled", async () => {
  const events: string[] = [];
  const handler: MessageHandler = {
    async onMessage(message) {
      const text = decoder.decode(message.payload).trim();
      events.push(`start ${text}`);
      await delay(text === "one" ? 2 : 0);
      events.push(`end ${text}`);
    },
  };
  await runProtocolAsync(echoProtocol(), "one\ntwo\n", { handler });
  assertEquals(events, ["start one", "end one", "start two", "end two"]);
});

Deno.test("runProtocolAsync rejects with the handler's error", async () => {
  const handler: MessageHandler = {
    onMessage: () => Promise.reject(new RangeError("bad message")),
  };
  await assertRejects(
    () => runProtocolAsync(echoProtocol(), "one\n", { handler }),
    RangeError,
    "bad message",
  );
});

Deno.test("runProtocolAsync runs synchronous handlers too", async () => {
  const transport = await runProtocolAsync(echoProtocol(), "a\nb\n", {
    chunkSize: 1,
    handler: echoHandler,
  });
  assertEquals(transport.text(), "a\nb\n");
  assertEquals(transport.messages.length, 2);
});
