/**
 * `websocketServer` with `loops: 2`, with Deno's own `WebSocket` client: each loop builds the
 * WebSocket protocol from its recipe and loads the handler module. A test reaches each loop
 * through the `PINNED_LOOPS` hook (every loop also listens on a port of its own). Every wait
 * has a deadline; nothing sleeps to synchronise.
 */

import { assertEquals, assertThrows } from "@std/assert";
import echoHandler from "../echo/echo_handler.ts";
import { echoProtocol } from "../echo/echo_protocol.ts";
import type { Server } from "../../core/server.ts";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { within } from "../../testing/_socket_client.ts";
import { denoClient } from "../../testing/_fixtures/websocket_client.ts";
import { websocketProtocol } from "./websocket_protocol.ts";
import { websocketServer, type WebSocketServerOptions } from "./websocket_server.ts";

const HANDLER = new URL("../../testing/_fixtures/websocket_echo_handler.ts", import.meta.url);
const STREAM_HANDLER = new URL(
  "../../testing/_fixtures/websocket_stream_echo_handler.ts",
  import.meta.url,
);

/** The port of loop `loop`'s own listener. */
function loopPort(server: Server, loop: number): number {
  return loopGroups.get(server)!.pinnedAddress(loop)!.port;
}

for (const workers of [0, 1]) {
  Deno.test(`websocketServer with loops: 2 echoes per message on both loops (workers: ${workers})`, async () => {
    await using server = websocketServer({
      port: 0,
      loops: 2,
      workers,
      handler: HANDLER,
      websocket: { path: "/ws", maxMessageSize: 1024 },
      [PINNED_LOOPS]: true,
    } as WebSocketServerOptions);
    await server.listen();
    const clients = await Promise.all(
      [0, 1].map((loop) => denoClient(`ws://127.0.0.1:${loopPort(server, loop)}/ws`)),
    );
    for (const [loop, client] of clients.entries()) client.socket.send(`to loop ${loop}`);
    for (const [loop, client] of clients.entries()) {
      assertEquals(await client.next(), `to loop ${loop}`);
    }
    clients[1].socket.send(new Uint8Array([1, 2, 3]));
    assertEquals(new Uint8Array(await clients[1].next() as ArrayBuffer), new Uint8Array([1, 2, 3]));
    // The recipe carried the options to each loop: past maxMessageSize, 1009 on either.
    clients[0].socket.send("x".repeat(2000));
    assertEquals((await within(clients[0].closed, "close")).code, 1009);
    const stats = server.stats();
    assertEquals(stats.loops.map((row) => row.accepted), [1, 1]);
    assertEquals(stats.loops.map((row) => row.workers), [workers, workers]);
    // Not a handshake: 426 from a loop too.
    const plain = await fetch(`http://127.0.0.1:${loopPort(server, 1)}/ws`);
    await plain.body?.cancel();
    assertEquals(plain.status, 426);
    clients[1].socket.close();
    await within(clients[1].closed, "close");
  });
}

Deno.test("websocketServer with loops: 2 runs stream mode, each loop building the inner protocol", async () => {
  await using server = websocketServer({
    port: 0,
    loops: 2,
    handler: STREAM_HANDLER,
    websocket: { protocol: echoProtocol({ maxLineLength: 64 }) },
    [PINNED_LOOPS]: true,
  } as WebSocketServerOptions);
  await server.listen();
  const clients = await Promise.all(
    [0, 1].map((loop) => denoClient(`ws://127.0.0.1:${loopPort(server, loop)}/`)),
  );
  // One byte stream: a line cut across messages is echoed whole.
  for (const [loop, client] of clients.entries()) {
    client.socket.send("line ");
    client.socket.send(`${loop}\n`);
  }
  for (const [loop, client] of clients.entries()) {
    assertEquals(await client.next(), `line ${loop}\n`);
  }
  for (const client of clients) {
    client.socket.close();
    await within(client.closed, "close");
  }
});

Deno.test("websocketServer with loops above 1 refuses what cannot cross to a loop's thread", () => {
  assertThrows(
    () => websocketServer({ port: 0, loops: 2, handler: echoHandler }),
    TypeError,
    "needs handler to be the URL of a module",
  );
  const noRecipe = { create: echoProtocol().create };
  assertThrows(
    () =>
      websocketServer({
        port: 0,
        loops: "auto",
        handler: STREAM_HANDLER,
        websocket: { protocol: noRecipe },
      }),
    TypeError,
    "a websocket.protocol that has a recipe",
  );
});

Deno.test("websocketProtocol has a recipe per message, and in stream mode one carrying the inner's", async () => {
  const recipe = websocketProtocol({ path: "/ws", protocols: ["chat"] }).recipe!;
  assertEquals(recipe.export, "websocketProtocol");
  assertEquals(structuredClone(recipe.options), { path: "/ws", protocols: ["chat"] });

  const inner = echoProtocol({ maxLineLength: 64 });
  const stream = websocketProtocol({ path: "/ws", protocol: inner, writeType: "binary" }).recipe!;
  assertEquals(stream.export, "websocketStreamProtocol");
  assertEquals(structuredClone(stream.options), {
    websocket: { path: "/ws", writeType: "binary" },
    inner: inner.recipe,
  });
  // What a loop does: import the module, call the export; the result has a recipe again.
  const module = await import(stream.module);
  const rebuilt = module[stream.export](stream.options);
  assertEquals(rebuilt.recipe, stream);
  assertEquals(websocketProtocol({ protocol: { create: inner.create } }).recipe, undefined);
});

Deno.test("websocketProtocol in stream mode forwards attach to the inner protocol", () => {
  const attached: number[] = [];
  const inner = {
    ...echoProtocol(),
    attach: (loop: { index: number }) => attached.push(loop.index),
  };
  const factory = websocketProtocol({ protocol: inner });
  factory.attach!({ index: 3, count: 4, send() {}, receive() {}, replaced() {} });
  assertEquals(attached, [3]);
  assertEquals(websocketProtocol().attach, undefined);
});
