import { assertEquals, assertThrows } from "@std/assert";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { decodeRpcError, RpcFrameWriter, rpcId, RpcKind } from "./_rpc_frame.ts";

const text = new TextDecoder();

/** Decodes one frame: [type, kind, id, body]. */
function decode(frame: Uint8Array): [number, number, number, string] {
  const decoder = new HeaderDecoder();
  decoder.feed(frame);
  const payload = decoder.next()!;
  assertEquals(decoder.next(), null);
  return [decoder.type, payload[0], rpcId(payload), text.decode(payload.subarray(8))];
}

Deno.test("RpcFrameWriter writes frames of any length in a row, through buffer growth", () => {
  const writer = new RpcFrameWriter();
  const bodies = ["", "abc", "12345678", "abc", "x".repeat(1000), "", "é".repeat(300), "abc"];
  for (const [i, body] of bodies.entries()) {
    const frame = writer.frame(7, RpcKind.reply, i + 1, body);
    const size = 16 + new TextEncoder().encode(body).length;
    assertEquals(frame.length, (size + 7) & ~7);
    assertEquals(decode(frame), [7, RpcKind.reply, i + 1, body]);
    // Bytes, not text, take the other path.
    const bytes = writer.frame(8, RpcKind.request, 0xffffffff, new TextEncoder().encode(body));
    assertEquals(decode(bytes), [8, RpcKind.request, 0xffffffff, body]);
  }
});

Deno.test("RpcFrameWriter cuts error frames to fit and refuses bodies past the limit", () => {
  const writer = new RpcFrameWriter(64);
  assertEquals(writer.maxBodyLength, 48);
  const frame = writer.errorFrame(3, 9, "RangeError", "m".repeat(100));
  const decoder = new HeaderDecoder({ maxFrameSize: 64 });
  decoder.feed(frame);
  const payload = decoder.next()!;
  assertEquals([payload[0], rpcId(payload)], [RpcKind.error, 9]);
  assertEquals(decodeRpcError(payload.subarray(8)), {
    name: "RangeError",
    message: "m".repeat(48 - 1 - "RangeError".length),
  });
  assertThrows(() => writer.frame(1, RpcKind.request, 1, new Uint8Array(49)), RangeError, "49");
});
