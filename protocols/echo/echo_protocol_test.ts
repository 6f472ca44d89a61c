/**
 * In-memory tests of the echo protocol with its message handler, each input replayed at every
 * chunk size down to one byte: no sockets, no workers.
 */

import { assertEquals, assertThrows } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { runProtocol } from "../../testing/run_protocol.ts";
import echoHandler from "./echo_handler.ts";
import { EchoMessageType, echoProtocol, type EchoProtocolOptions } from "./echo_protocol.ts";

/** Replays `input` at every chunk size; checks the answer and the types dispatched each time. */
function assertEchoes(
  input: string,
  expected: string,
  types: number[],
  options?: EchoProtocolOptions,
): void {
  forEachChunkSize(input, (_chunks, size) => {
    const transport = runProtocol(echoProtocol(options), input, {
      chunkSize: size,
      handler: echoHandler,
    });
    assertEquals(transport.text(), expected, `chunk size ${size}`);
    assertEquals(transport.messages.map((m) => m.type), types, `chunk size ${size}`);
    assertEquals(transport.closed, false, `chunk size ${size}`);
  });
}

const { line: LINE, error: ERROR } = EchoMessageType;

Deno.test("echoProtocol echoes LF, CRLF and CR NUL lines with their own endings", () => {
  const input = "one\ntwo\r\nthree\r\0\n\r\nlast\n";
  assertEchoes(input, input, [LINE, LINE, LINE, LINE, LINE, LINE]);
});

Deno.test("echoProtocol answers an over-long line with one ERR line and echoes the next", () => {
  const input = `ok\n12345678\r\n${"x".repeat(50)}\r\nnext\nlast\r\0`;
  assertEchoes(
    input,
    "ok\n12345678\r\nERR line too long (max 8 bytes)\r\nnext\nlast\r\0",
    [LINE, LINE, ERROR, LINE, LINE],
    { maxLineLength: 8 },
  );
});

Deno.test("echoProtocol answers each of two over-long lines in a row once", () => {
  const long = "y".repeat(20);
  assertEchoes(
    `${long}\n${long}\r\nend\n`,
    "ERR line too long (max 8 bytes)\r\n".repeat(2) + "end\n",
    [ERROR, ERROR, LINE],
    { maxLineLength: 8 },
  );
});

Deno.test("echoProtocol holds a line split across chunks until its ending arrives", () => {
  const encoder = new TextEncoder();
  const transport = new MemoryTransport();
  const handler = echoProtocol().create(transport);
  handler.open?.();
  const feed = (text: string) => {
    const before = transport.messages.length;
    handler.data(encoder.encode(text));
    for (const message of transport.messages.slice(before)) {
      echoHandler.onMessage(message, transport.handle, transport.context);
    }
  };
  feed("hel");
  assertEquals(transport.text(), "");
  feed("lo\r");
  assertEquals(transport.text(), "");
  feed("\nwor");
  assertEquals(transport.text(), "hello\r\n");
  feed("ld\n");
  assertEquals(transport.text(), "hello\r\nworld\n");
  handler.close?.();
});

Deno.test("echoProtocol checks maxLineLength when called", () => {
  assertThrows(() => echoProtocol({ maxLineLength: 0 }), RangeError);
  assertThrows(() => echoProtocol({ maxLineLength: 1.5 }), RangeError);
});
