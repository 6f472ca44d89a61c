import { assertEquals } from "@std/assert";
import { IdleTimeoutError, SlowConsumerError } from "../../core/errors.ts";
import type { ProtocolHandlerFactory } from "../../core/protocol.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { Opcode, WebSocketDecoder } from "./frame_codec.ts";
import { CloseCode } from "./websocket_errors.ts";
import { type WebSocketOptions, WebSocketSession, websocketSettings } from "./websocket_session.ts";

const decoder = new TextDecoder();

/** The frames in `bytes`, as opcode and text (a close frame as its code). */
function frames(bytes: Uint8Array): [number, string | number][] {
  const reader = new WebSocketDecoder({ requireMask: false });
  reader.feed(bytes);
  const out: [number, string | number][] = [];
  for (let payload = reader.next(); payload !== null; payload = reader.next()) {
    const opcode = reader.lastOpcode;
    out.push([
      opcode,
      opcode === Opcode.close ? (payload[0] << 8) | payload[1] : decoder.decode(payload),
    ]);
  }
  return out;
}

/** An inner protocol whose last word is `word` (or none). */
function innerSaying(word: string | undefined): ProtocolHandlerFactory {
  return { create: () => ({ data() {}, goodbye: () => word }) };
}

function session(options: WebSocketOptions): WebSocketSession {
  const transport = new MemoryTransport();
  const handler = new WebSocketSession(transport, websocketSettings(options));
  handler.open();
  return handler;
}

Deno.test("WebSocketSession.goodbye sends the inner protocol's last word before the close frame", () => {
  const slow = new SlowConsumerError("Output buffer above 64 bytes");
  assertEquals(
    frames(session({ protocol: innerSaying("-ERR 'Slow Consumer'\r\n") }).goodbye(slow)),
    [[Opcode.text, "-ERR 'Slow Consumer'\r\n"], [Opcode.close, CloseCode.policyViolation]],
  );
  assertEquals(
    frames(
      session({ protocol: innerSaying("-ERR 'Stale Connection'\r\n"), writeType: "binary" })
        .goodbye(new IdleTimeoutError(1000)),
    ),
    [[Opcode.binary, "-ERR 'Stale Connection'\r\n"], [Opcode.close, CloseCode.goingAway]],
  );
});

Deno.test("WebSocketSession.goodbye is the close frame alone without an inner last word", () => {
  const slow = new SlowConsumerError("Output buffer above 64 bytes");
  for (const options of [{}, { protocol: innerSaying(undefined) }, { protocol: innerSaying("") }]) {
    assertEquals(frames(session(options).goodbye(slow)), [[
      Opcode.close,
      CloseCode.policyViolation,
    ]]);
  }
});
