/**
 * `httpServer` with `loops: 2`: each loop builds the HTTP protocol from its recipe and loads
 * the handler module, inline (`workers: 0`) or in its own workers. A test reaches each loop
 * through the `PINNED_LOOPS` hook (every loop also listens on a port of its own). Every wait
 * has a deadline; nothing sleeps to synchronise.
 */

import { assertEquals, assertThrows } from "@std/assert";
import type { Server } from "../../core/server.ts";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { HttpTestClient } from "../../testing/_fixtures/http_client.ts";
import { httpProtocol, httpServer, type HttpServerOptions } from "./mod.ts";

const HANDLER = new URL("../../testing/_fixtures/http_handler.ts", import.meta.url);

/** An HTTP server of two loops, each also on a port of its own. */
function twoLoops(options: Partial<HttpServerOptions> = {}): Server {
  return httpServer({
    port: 0,
    loops: 2,
    handler: HANDLER,
    ...options,
    [PINNED_LOOPS]: true,
  } as HttpServerOptions);
}

/** The port of loop `loop`'s own listener. */
function loopPort(server: Server, loop: number): number {
  return loopGroups.get(server)!.pinnedAddress(loop)!.port;
}

for (const workers of [0, 1]) {
  Deno.test(`httpServer with loops: 2 answers fetch on both loops (workers: ${workers})`, async () => {
    await using server = twoLoops({ workers });
    const { port } = await server.listen();
    for (const loop of [0, 1]) {
      const response = await fetch(`http://127.0.0.1:${loopPort(server, loop)}/loop${loop}`, {
        method: "POST",
        body: `to ${loop}`,
      });
      assertEquals(response.status, 200);
      assertEquals(await response.text(), `POST /loop${loop} to ${loop}`);
    }
    // The shared port reaches a loop too.
    const shared = await fetch(`http://127.0.0.1:${port}/shared`);
    assertEquals(await shared.text(), "GET /shared ");
    const stats = server.stats();
    assertEquals(stats.loops.map((row) => row.workers), [workers, workers]);
    assertEquals(stats.messagesIn, 3);
    assertEquals(stats.loops.every((row) => row.accepted >= 1), true);
  });
}

Deno.test("httpServer with loops: 2 keeps a connection alive on its loop, and counts it there", async () => {
  await using server = twoLoops();
  await server.listen();
  using client = await HttpTestClient.connect(loopPort(server, 1));
  for (const path of ["/a", "/b"]) {
    await client.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const response = await client.readResponse();
    assertEquals([response.status, response.body], [200, `GET ${path} `]);
  }
  // Pipelined: both answered in order, on the same connection.
  await client.write("GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n");
  assertEquals((await client.readResponse()).body, "GET /c ");
  assertEquals((await client.readResponse()).body, "GET /d ");
  const stats = server.stats();
  assertEquals(stats.accepted, 1);
  assertEquals(stats.connections, 1);
  assertEquals(stats.messagesIn, 4);
  assertEquals(stats.loops.map((row) => row.accepted), [0, 1]);
  assertEquals(stats.loops.map((row) => row.messagesIn), [0, 4]);
  // Connection: close ends it after the response, as on one loop.
  await client.write("GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assertEquals((await client.readResponse()).body, "GET /e ");
  assertEquals(await client.readToEnd(), "");
});

Deno.test("httpServer with loops above 1 refuses what cannot cross to a loop's thread", () => {
  for (const loops of [2, "auto"] as const) {
    assertThrows(
      () => httpServer({ port: 0, loops, handler: () => new Response("inline") }),
      TypeError,
      "needs handler to be a module URL",
    );
    assertThrows(
      () =>
        httpServer({
          port: 0,
          loops,
          handler: HANDLER,
          http: { upgrade: () => undefined },
        }),
      TypeError,
      "neither websocket nor http.upgrade",
    );
  }
  // One loop keeps the function handler.
  httpServer({ port: 0, loops: 1, handler: () => new Response("inline") });
});

Deno.test("httpProtocol has a recipe of clonable options, and none with an upgrade hook", () => {
  const recipe = httpProtocol({ maxBodySize: 10, headersTimeout: 1000 }).recipe!;
  assertEquals(recipe.export, "httpProtocol");
  const cloned = structuredClone(recipe.options) as Record<string, unknown>;
  assertEquals([cloned.maxBodySize, cloned.headersTimeout, cloned.secure], [10, 1000, false]);
  assertEquals(httpProtocol({ upgrade: () => undefined }).recipe, undefined);
});
