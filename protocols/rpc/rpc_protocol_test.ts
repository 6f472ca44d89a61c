import { assertEquals, assertThrows } from "@std/assert";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { runProtocol } from "../../testing/run_protocol.ts";
import { decodeRpcError, RpcKind } from "./_rpc_frame.ts";
import { rpcProtocol } from "./rpc_protocol.ts";
import { Services } from "./services.ts";

const encoder = new HeaderEncoder();
const text = new TextDecoder();

function frame(type: number, kind: number, id: number, body = ""): Uint8Array {
  const bytes = new TextEncoder().encode(body);
  const payload = new Uint8Array(8 + bytes.length);
  payload[0] = kind;
  new DataView(payload.buffer).setUint32(4, id, true);
  payload.set(bytes, 8);
  return encoder.encode(type, payload);
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function frames(bytes: Uint8Array): string[] {
  const decoder = new HeaderDecoder();
  decoder.feed(bytes);
  const out: string[] = [];
  for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
    const id = new DataView(payload.buffer, payload.byteOffset).getUint32(4, true);
    const body = payload.subarray(8);
    const shown = payload[0] === RpcKind.error
      ? `${decodeRpcError(body).name}: ${decodeRpcError(body).message}`
      : text.decode(body);
    out.push(`${decoder.type}/${payload[0]}/${id}/${shown}`);
  }
  return out;
}

const services = new Services()
  .service(1, ({ body }) => text.decode(body).toUpperCase())
  .service(2, ({ body }) => `${body.length}`);

Deno.test("rpcProtocol dispatches requests by type and services answer, at every chunk size", () => {
  const input = join(
    frame(1, RpcKind.request, 1, "hello"),
    frame(2, RpcKind.request, 2, "12345678"),
    frame(0, RpcKind.request, 3),
    frame(2, RpcKind.notify, 0, "x"),
    frame(7, RpcKind.request, 4),
    frame(1, RpcKind.reply, 5, "ignored"),
  );
  forEachChunkSize(input, (_chunks, size) => {
    const transport = runProtocol(rpcProtocol(), input, { chunkSize: size, handler: services });
    assertEquals(transport.messages.map((m) => m.type), [1, 2, 2, 7], `dispatched, size ${size}`);
    // The ping is answered on the I/O thread, as soon as its frame is read.
    const answers = frames(transport.bytes());
    assertEquals(answers.filter((a) => a !== "0/2/3/"), [
      "1/2/1/HELLO",
      "2/2/2/8",
      "7/3/4/RpcUnknownTypeError: No service for message type 7",
    ], `chunk size ${size}`);
    assertEquals(answers.filter((a) => a === "0/2/3/").length, 1);
  });
});

Deno.test("rpcProtocol answers a malformed header with an error of id 0 and closes", () => {
  const input = join(frame(1, RpcKind.request, 1, "ok"), new Uint8Array([3, 0, 1, 0, 0, 0, 0, 0]));
  forEachChunkSize(input, (_chunks, size) => {
    const transport = runProtocol(rpcProtocol(), input, { chunkSize: size, handler: services });
    const answers = frames(transport.bytes());
    assertEquals(
      answers.at(-1),
      "0/3/0/MalformedFrameError: Malformed frame header: size 3 is below the 8-byte header",
      `chunk size ${size}`,
    );
    // The reply to the good request is lost when the close comes first (the same chunk).
    assertEquals(answers.slice(0, -1).filter((a) => a !== "1/2/1/OK"), [], `chunk size ${size}`);
    assertEquals(transport.closed, true);
  });
});

Deno.test("rpcProtocol refuses a payload shorter than the RPC header and frames over its limit", () => {
  const short = runProtocol(rpcProtocol(), encoder.encode(1, new Uint8Array(3)));
  assertEquals(frames(short.bytes()), [
    "0/3/0/RpcError: RPC payload of 3 bytes is shorter than its header",
  ]);
  assertEquals(short.closed, true);
  const long = runProtocol(
    rpcProtocol({ maxFrameSize: 32 }),
    frame(1, RpcKind.request, 1, "x".repeat(17)),
  );
  assertEquals(frames(long.bytes()), [
    "0/3/0/MalformedFrameE: ",
  ]);
  assertThrows(() => rpcProtocol({ maxFrameSize: 16 }), RangeError, "got 16");
});
