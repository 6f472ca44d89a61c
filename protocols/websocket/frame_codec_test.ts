import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { sha1 } from "./_sha1.ts";
import {
  closePayload,
  encodeFrame,
  Opcode,
  WebSocketDecoder,
  type WebSocketDecoderOptions,
} from "./frame_codec.ts";
import { MessageTooBigError, WebSocketError } from "./websocket_errors.ts";

const mask = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const text = new TextEncoder();

function frame(
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
  masked = true,
): Uint8Array {
  const bytes = typeof payload === "string" ? text.encode(payload) : payload;
  return encodeFrame(opcode, bytes, { fin, mask: masked ? mask : undefined });
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

interface Decoded {
  frames: [number, number[]][];
  error?: WebSocketError;
}

function decode(chunks: Uint8Array[], options?: WebSocketDecoderOptions): Decoded {
  const decoder = new WebSocketDecoder(options);
  const frames: [number, number[]][] = [];
  for (const chunk of chunks) {
    const buffer = chunk.slice();
    decoder.feed(buffer);
    try {
      for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
        frames.push([decoder.lastOpcode, [...payload]]);
      }
    } catch (error) {
      assertInstanceOf(error, WebSocketError);
      return { frames, error: error as WebSocketError };
    }
    buffer.fill(0xee);
  }
  return { frames };
}

function decodeEverySize(input: Uint8Array, options?: WebSocketDecoderOptions): Decoded {
  const whole = decode([input], options);
  forEachChunkSize(input, (chunks, size) => {
    const got = decode(chunks, options);
    assertEquals(got.frames, whole.frames, `chunk size ${size}`);
    assertEquals(got.error?.code, whole.error?.code, `chunk size ${size}`);
  });
  return whole;
}

Deno.test("WebSocketDecoder joins fragments, unmasks, and passes control frames between them, at every chunk size", () => {
  const binary = new Uint8Array(300).map((_, i) => i & 0xff);
  const input = join(
    frame(Opcode.text, "héllo ", false),
    frame(Opcode.ping, "p"),
    frame(Opcode.continuation, "wör", false),
    frame(Opcode.continuation, "ld"),
    frame(Opcode.binary, binary),
    frame(Opcode.text, ""),
    frame(Opcode.pong, ""),
    frame(Opcode.close, closePayload(1000, "bye")),
  );
  const { frames, error } = decodeEverySize(input);
  assertEquals(error, undefined);
  assertEquals(frames.map(([opcode]) => opcode), [
    Opcode.ping,
    Opcode.text,
    Opcode.binary,
    Opcode.text,
    Opcode.pong,
    Opcode.close,
  ]);
  assertEquals(new TextDecoder().decode(new Uint8Array(frames[1][1])), "héllo wörld");
  assertEquals(frames[2][1], [...binary]);
  assertEquals(frames[5][1], [...closePayload(1000, "bye")]);
});

Deno.test("WebSocketDecoder reads 16-bit and 64-bit lengths", () => {
  for (const length of [125, 126, 65535, 65536, 70_000]) {
    const payload = new Uint8Array(length).fill(7);
    const { frames } = decode([frame(Opcode.binary, payload)]);
    assertEquals(frames[0][1].length, length);
  }
});

Deno.test("encodeFrame writes the shortest length form and an unmasked server frame", () => {
  assertEquals(encodeFrame(Opcode.binary, new Uint8Array(125)).length, 127);
  assertEquals(
    encodeFrame(Opcode.binary, new Uint8Array(126)).subarray(0, 4),
    new Uint8Array([0x82, 126, 0, 126]),
  );
  assertEquals(
    encodeFrame(Opcode.binary, new Uint8Array(65536)).subarray(0, 10),
    new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
  );
  assertEquals(encodeFrame(Opcode.text, text.encode("a"), { fin: false })[0], 0x01);
});

Deno.test("closePayload cuts a long reason on a character boundary", () => {
  const payload = closePayload(1001, "é".repeat(100));
  assertEquals(payload.length, 2 + 122);
  new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
});

const BAD_FRAMES: [string, Uint8Array, number, WebSocketDecoderOptions?][] = [
  ["an unmasked client frame", frame(Opcode.text, "hi", true, false), 1002],
  [
    "reserved bits",
    (() => {
      const f = frame(Opcode.text, "hi");
      f[0] |= 0x40;
      return f;
    })(),
    1002,
  ],
  ["an unknown opcode", frame(0x3, "x"), 1002],
  ["an unknown control opcode", frame(0xb, "x"), 1002],
  ["a fragmented control frame", frame(Opcode.ping, "x", false), 1002],
  ["a control frame over 125 bytes", frame(Opcode.ping, new Uint8Array(126)), 1002],
  ["a continuation with no message begun", frame(Opcode.continuation, "x"), 1002],
  [
    "a new message before the last ended",
    join(frame(Opcode.text, "a", false), frame(Opcode.text, "b")),
    1002,
  ],
  ["text that is not UTF-8", frame(Opcode.text, new Uint8Array([0xc3, 0x28])), 1007],
  [
    "text cut inside a character",
    join(frame(Opcode.text, new Uint8Array([0xe2, 0x82]), false), frame(Opcode.continuation, "x")),
    1007,
  ],
  ["a close frame with one byte", frame(Opcode.close, new Uint8Array([3])), 1002],
  ["a close code 1005", frame(Opcode.close, new Uint8Array([0x03, 0xed])), 1002],
  ["a close code 999", frame(Opcode.close, new Uint8Array([0x03, 0xe7])), 1002],
  [
    "a close reason that is not UTF-8",
    frame(Opcode.close, new Uint8Array([0x03, 0xe8, 0xff])),
    1007,
  ],
  [
    "a 64-bit length with its top bit set",
    new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
    1002,
  ],
  ["a message over maxMessageSize", frame(Opcode.binary, new Uint8Array(11)), 1009, {
    maxMessageSize: 10,
  }],
  [
    "fragments over maxMessageSize",
    join(
      frame(Opcode.binary, new Uint8Array(6), false),
      frame(Opcode.continuation, new Uint8Array(6)),
    ),
    1009,
    { maxMessageSize: 10 },
  ],
];

for (const [name, input, code, options] of BAD_FRAMES) {
  Deno.test(`WebSocketDecoder closes with ${code} on ${name}, at every chunk size`, () => {
    const { error } = decodeEverySize(input, options);
    assertEquals(error?.code, code, error?.message);
  });
}

Deno.test("WebSocketDecoder rejects an oversized frame from its header, before its payload", () => {
  const decoder = new WebSocketDecoder({ maxMessageSize: 1000 });
  decoder.feed(new Uint8Array([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]));
  const error = assertThrows(() => decoder.next(), MessageTooBigError);
  assertEquals([error.length, error.maxLength], [2 ** 32, 1000]);
  assertEquals(decoder.next(), null, "stopped");
});

Deno.test("sha1 matches crypto.subtle on inputs around the block boundaries", async () => {
  for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000]) {
    const input = new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-1", input));
    assertEquals(sha1(input), expected, `length ${length}`);
  }
});
