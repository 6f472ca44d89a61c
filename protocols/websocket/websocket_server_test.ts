/**
 * `websocketServer` over real loopback sockets, with Deno's own `WebSocket` client: inline, in
 * stream mode, in workers, and its option checks. Every wait has a deadline.
 */

import { assertEquals, assertThrows } from "@std/assert";
import echoHandler from "../echo/echo_handler.ts";
import { echoProtocol } from "../echo/echo_protocol.ts";
import { within } from "../../testing/_socket_client.ts";
import { websocketServer } from "./websocket_server.ts";
import { denoClient } from "../../testing/_fixtures/websocket_client.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "websocketServer echoes per message at its path, and answers a plain request 426",
  SANITIZED,
  async () => {
    await using server = websocketServer({
      port: 0,
      handler: echoHandler,
      websocket: { path: "/ws", maxMessageSize: 1024 },
    });
    const { port } = await server.listen();
    const { socket, next, closed } = await denoClient(`ws://127.0.0.1:${port}/ws`);
    socket.send("hello");
    assertEquals(await next(), "hello");
    socket.send(new Uint8Array([1, 2, 3]));
    assertEquals(new Uint8Array(await next() as ArrayBuffer), new Uint8Array([1, 2, 3]));
    // Past maxMessageSize, given once: the connection is closed with 1009.
    socket.send("x".repeat(2000));
    assertEquals((await within(closed, "close")).code, 1009);
    const plain = await fetch(`http://127.0.0.1:${port}/ws`);
    await plain.body?.cancel();
    assertEquals(plain.status, 426);
  },
);

Deno.test(
  "websocketServer gives the same options to the protocol and the handler (stream mode)",
  SANITIZED,
  async () => {
    await using server = websocketServer({
      port: 0,
      handler: echoHandler,
      websocket: { protocol: echoProtocol({ maxLineLength: 8 }), writeType: "binary" },
    });
    const { port } = await server.listen();
    const { socket, next, closed } = await denoClient(`ws://127.0.0.1:${port}/`);
    socket.send("a\nb");
    socket.send("c\n");
    const decoder = new TextDecoder();
    // writeType "binary" reached the handler: the replies are binary frames.
    assertEquals(decoder.decode(await next() as ArrayBuffer), "a\n");
    assertEquals(decoder.decode(await next() as ArrayBuffer), "bc\n");
    socket.close();
    await within(closed, "close");
  },
);

Deno.test("websocketServer runs a handler module in workers", SANITIZED, async () => {
  await using server = websocketServer({
    port: 0,
    workers: 2,
    handler: new URL("../../testing/_fixtures/websocket_echo_handler.ts", import.meta.url),
  });
  const { port } = await server.listen();
  const clients = await Promise.all([1, 2].map(() => denoClient(`ws://127.0.0.1:${port}/`)));
  for (const [i, client] of clients.entries()) client.socket.send(`from ${i}`);
  for (const [i, client] of clients.entries()) assertEquals(await client.next(), `from ${i}`);
  for (const client of clients) client.socket.close();
  await Promise.all(clients.map((client) => within(client.closed, "close")));
});

Deno.test("websocketServer checks its options", () => {
  assertThrows(
    () => websocketServer({ port: 0, handler: echoHandler, workers: 2 }),
    TypeError,
    "runs inline only",
  );
  assertThrows(
    () => websocketServer({ port: 0, handler: {} as typeof echoHandler }),
    TypeError,
    "needs handler",
  );
  assertThrows(
    () => websocketServer({ port: 0, handler: echoHandler, websocket: { maxMessageSize: 0 } }),
    RangeError,
  );
});
