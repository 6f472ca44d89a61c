/**
 * WebSocket over real loopback sockets, with Deno's own `WebSocket` client, the npm `ws` client,
 * and a raw client for what they refuse to send. Every wait has a deadline.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
// @ts-types="npm:@types/ws@8"
import WS from "ws";
import { Server, type ServerOptions } from "../../mod.ts";
import echoHandler from "../echo/echo_handler.ts";
import { echoProtocol } from "../echo/echo_protocol.ts";
import { httpServer } from "../http/http_server.ts";
import { HttpTestClient } from "../../testing/_fixtures/http_client.ts";
import { within } from "../../testing/_socket_client.ts";
import { encodeFrame, Opcode } from "./frame_codec.ts";
import { websocketHandler } from "./websocket_handler.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { websocketProtocol, type WebSocketProtocolOptions } from "./websocket_protocol.ts";
import { denoClient } from "../../testing/_fixtures/websocket_client.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const HANDSHAKE = "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

function echoServer(
  options: WebSocketProtocolOptions = {},
  extra: Partial<ServerOptions> = {},
): Server {
  return new Server({
    port: 0,
    protocol: websocketProtocol(options),
    onMessage: websocketHandler(echoHandler, options).onMessage,
    ...extra,
  });
}

/** An npm ws client, open, with promises for its events. */
async function wsClient(url: string): Promise<{
  ws: WS;
  next: () => Promise<{ data: Buffer; isBinary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const ws = new WS(url);
  const queue: { data: Buffer; isBinary: boolean }[] = [];
  const waiters: ((value: { data: Buffer; isBinary: boolean }) => void)[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const waiter = waiters.shift();
    if (waiter) waiter({ data, isBinary });
    else queue.push({ data, isBinary });
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  );
  ws.on("error", () => {});
  await within(
    new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    }),
    "ws to open",
  );
  const next = () =>
    within(
      queue.length > 0
        ? Promise.resolve(queue.shift()!)
        : new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => waiters.push(resolve)),
      "a ws message",
    );
  return { ws, next, closed };
}

Deno.test(
  "websocketProtocol echoes text and binary messages to Deno's WebSocket client",
  SANITIZED,
  async () => {
    await using server = echoServer();
    const { port } = await server.listen();
    const { socket, next, closed } = await denoClient(`ws://127.0.0.1:${port}/`);
    socket.send("hello");
    assertEquals(await next(), "hello");
    socket.send(new Uint8Array([1, 2, 3]));
    assertEquals(new Uint8Array(await next() as ArrayBuffer), new Uint8Array([1, 2, 3]));
    const big = "x".repeat(100_000);
    socket.send(big);
    assertEquals(await next(), big);
    socket.close(1000, "done");
    const event = await within(closed, "close");
    assertEquals([event.code, event.wasClean], [1000, true]);
  },
);

Deno.test(
  "websocketProtocol answers npm ws: ping with pong, fragments joined, close code echoed",
  SANITIZED,
  async () => {
    await using server = echoServer();
    const { port } = await server.listen();
    const { ws, next, closed } = await wsClient(`ws://127.0.0.1:${port}/`);
    const pong = new Promise<Buffer>((resolve) => ws.once("pong", resolve));
    ws.ping(Buffer.from("are you there"));
    assertEquals((await within(pong, "pong")).toString(), "are you there");
    ws.send("frag", { fin: false });
    ws.send("ment", { fin: true });
    const joined = await next();
    assertEquals([joined.data.toString(), joined.isBinary], ["fragment", false]);
    ws.send(Buffer.from([9, 8, 7]), { binary: true });
    const binary = await next();
    assertEquals([[...binary.data], binary.isBinary], [[9, 8, 7], true]);
    ws.close(4000, "custom reason");
    assertEquals((await within(closed, "close")).code, 4000);
  },
);

Deno.test(
  "websocketProtocol closes with 1009 past maxMessageSize and 1007 on invalid UTF-8; others go on",
  SANITIZED,
  async () => {
    await using server = echoServer({ maxMessageSize: 1000 });
    const { port } = await server.listen();
    const healthy = await wsClient(`ws://127.0.0.1:${port}/`);
    const big = await wsClient(`ws://127.0.0.1:${port}/`);
    big.ws.send("y".repeat(1001));
    assertEquals((await within(big.closed, "close 1009")).code, 1009);
    const invalid = await wsClient(`ws://127.0.0.1:${port}/`);
    invalid.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
    assertEquals((await within(invalid.closed, "close 1007")).code, 1007);
    healthy.ws.send("still here");
    assertEquals((await healthy.next()).data.toString(), "still here");
    healthy.ws.close();
    await within(healthy.closed, "close");
  },
);

Deno.test(
  "websocketProtocol in stream mode feeds an inner line protocol (echo)",
  SANITIZED,
  async () => {
    const options = { protocol: echoProtocol({ maxLineLength: 8 }) };
    await using server = echoServer(options);
    const { port } = await server.listen();
    const { ws, next, closed } = await wsClient(`ws://127.0.0.1:${port}/`);
    ws.send("a\nb");
    ws.send("c\r\ntoo long a line\nd\n");
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push((await next()).data.toString());
    assertEquals(replies, ["a\n", "bc\r\n", "ERR line too long (max 8 bytes)\r\n", "d\n"]);
    ws.close();
    await within(closed, "close");
  },
);

Deno.test(
  "websocketProtocol answers a frame sent with the handshake, and says goodbye 1001 when idle",
  SANITIZED,
  async () => {
    await using server = echoServer({}, { idleTimeout: 200 });
    const { port } = await server.listen();
    using client = await HttpTestClient.connect(port);
    const frame = encodeFrame(Opcode.text, new TextEncoder().encode("early"), {
      mask: new Uint8Array([1, 2, 3, 4]),
    });
    await client.write(new Uint8Array([...new TextEncoder().encode(HANDSHAKE), ...frame]));
    const response = await client.readResponse();
    assertEquals(response.status, 101);
    assertEquals(response.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const rest = await client.readBytesToEnd(3000);
    // The echo, then a close frame with 1001 when the idle timeout passes.
    assertEquals([...rest.subarray(0, 7)], [0x81, 5, ...new TextEncoder().encode("early")]);
    assertEquals([rest[7], (rest[9] << 8) | rest[10]], [0x88, 1001]);
  },
);

Deno.test("websocketProtocol refuses what is not a good handshake", SANITIZED, async () => {
  await using server = echoServer({ path: "/chat" });
  const { port } = await server.listen();
  const cases: [string, number][] = [
    ["GET /chat HTTP/1.1\r\nHost: a\r\n\r\n", 426],
    [HANDSHAKE.replace("/chat", "/other"), 426],
    [HANDSHAKE.replace("Version: 13", "Version: 8"), 426],
    [HANDSHAKE.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"), 400],
    [HANDSHAKE.replace("GET", "POST"), 400],
    ["GET /chat HTTP/1.1\r\nHost x\r\n\r\n", 400],
  ];
  for (const [input, status] of cases) {
    using client = await HttpTestClient.connect(port);
    await client.write(input);
    assertMatch(await client.readToEnd(), new RegExp(`^HTTP/1\\.1 ${status} `), input);
  }
});

Deno.test("websocketHandler runs a handler module in workers", SANITIZED, async () => {
  await using server = new Server({
    port: 0,
    workers: 2,
    protocol: websocketProtocol(),
    handler: new URL("../../testing/_fixtures/websocket_echo_handler.ts", import.meta.url),
  });
  const { port } = await server.listen();
  const clients = await Promise.all([1, 2, 3].map(() => denoClient(`ws://127.0.0.1:${port}/`)));
  for (const [i, client] of clients.entries()) client.socket.send(`from ${i}`);
  for (const [i, client] of clients.entries()) assertEquals(await client.next(), `from ${i}`);
  for (const client of clients) client.socket.close();
  await Promise.all(clients.map((client) => within(client.closed, "close")));
});

Deno.test("httpServer serves HTTP and WebSocket at its path on one port", SANITIZED, async () => {
  await using server = httpServer({
    port: 0,
    handler: (request) => new Response(`http ${new URL(request.url).pathname}`),
    websocket: { path: "/ws", onMessage: echoHandler.onMessage },
  });
  const { port } = await server.listen();
  assertEquals(await (await fetch(`http://127.0.0.1:${port}/page`)).text(), "http /page");
  const { socket, next, closed } = await denoClient(`ws://127.0.0.1:${port}/ws?token=1`);
  socket.send("over ws");
  assertEquals(await next(), "over ws");
  socket.close();
  await within(closed, "close");
  // An upgrade elsewhere is a plain request for the handler.
  using client = await HttpTestClient.connect(port);
  await client.write(HANDSHAKE);
  const response = await client.readResponse();
  assertEquals([response.status, response.body], [200, "http /chat"]);
  assert(server.stats().accepted >= 3);
});

Deno.test("websocketHandler hands the startup data to the inner handler's init", async () => {
  const seen: unknown[] = [];
  const handler = websocketHandler({
    init: (data) => void seen.push(data),
    onMessage() {},
  });
  await handler.init?.({ greeting: "hi" }, {
    workerIndex: -1,
    handle: () => new MemoryTransport().handle,
  });
  assertEquals(seen, [{ greeting: "hi" }]);
  assertEquals(websocketHandler({ onMessage() {} }).init, undefined);
});
