/**
 * The origin check of every WebSocket endpoint over real loopback sockets: a raw client sends
 * the handshake a browser page would (its `Origin`, the `Host` it dialled) and reads the
 * answer: `101`, or `403` and the close. Every read has a deadline.
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import echoHandler from "../echo/echo_handler.ts";
import { httpServer } from "../http/http_server.ts";
import type { Server } from "../../core/server.ts";
import { HttpTestClient, type RawResponse } from "../../testing/_fixtures/http_client.ts";
import { denoClient } from "../../testing/_fixtures/websocket_client.ts";
import { within } from "../../testing/_socket_client.ts";
import { websocketServer } from "./websocket_server.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const HANDLER = new URL("../../testing/_fixtures/websocket_echo_handler.ts", import.meta.url);

/** A handshake to `/ws` of `port`, with `Host: 127.0.0.1:port` and the headers given. */
function handshake(port: number, extra: string): string {
  return `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\n` +
    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;
}

/** Sends a handshake and reads the answer; after a refusal, also reads up to the close. */
async function answer(port: number, extra: string): Promise<RawResponse & { closed: boolean }> {
  using client = await HttpTestClient.connect(port);
  await client.write(handshake(port, extra));
  const response = await client.readResponse();
  if (response.status === 101) return { ...response, closed: false };
  // The server closes after a refusal: the read ends with nothing more.
  const rest = await client.readToEnd();
  return { ...response, closed: rest === "" };
}

interface Endpoint {
  readonly name: string;
  start(allowedOrigins?: string[]): Promise<{ server: Server; port: number }>;
}

const endpoints: Endpoint[] = [
  {
    name: "websocketServer",
    async start(allowedOrigins) {
      const server = websocketServer({
        port: 0,
        handler: echoHandler,
        websocket: { path: "/ws", allowedOrigins },
      });
      return { server, port: (await server.listen()).port };
    },
  },
  {
    name: "websocketServer with loops: 2 (the option in the recipe)",
    async start(allowedOrigins) {
      const server = websocketServer({
        port: 0,
        loops: 2,
        handler: HANDLER,
        websocket: { path: "/ws", allowedOrigins },
      });
      return { server, port: (await server.listen()).port };
    },
  },
  {
    name: "httpServer's websocket",
    async start(allowedOrigins) {
      const server = httpServer({
        port: 0,
        handler: () => new Response("page"),
        websocket: { path: "/ws", onMessage: echoHandler.onMessage, allowedOrigins },
      });
      return { server, port: (await server.listen()).port };
    },
  },
];

for (const endpoint of endpoints) {
  Deno.test(
    `${endpoint.name} accepts same-origin pages and clients without Origin, refuses others with 403 by default`,
    SANITIZED,
    async () => {
      const { server, port } = await endpoint.start();
      await using _ = server;
      assertEquals((await answer(port, `Origin: http://127.0.0.1:${port}\r\n`)).status, 101);
      assertEquals((await answer(port, "")).status, 101, "no Origin: not a browser");
      for (const origin of ["http://evil.example", `http://localhost:${port}`, "null"]) {
        const refused = await answer(port, `Origin: ${origin}\r\n`);
        assertEquals(refused.statusLine, "HTTP/1.1 403 Forbidden", origin);
        assertEquals(refused.headers.connection, "close");
        assertEquals(refused.body, "403 Forbidden: origin not allowed\n");
        assertEquals(refused.closed, true, `${origin}: closed after the 403`);
      }
      // Deno's own client sends no Origin and works as before.
      const client = await denoClient(`ws://127.0.0.1:${port}/ws`);
      client.socket.send("still here");
      assertEquals(await client.next(), "still here");
      client.socket.close();
      await within(client.closed, "close");
    },
  );

  Deno.test(
    `${endpoint.name} accepts the origins of allowedOrigins, and any with "*"`,
    SANITIZED,
    async () => {
      {
        const { server, port } = await endpoint.start(["http://app.example:3000", "null"]);
        await using _ = server;
        assertEquals((await answer(port, "Origin: http://APP.example:3000\r\n")).status, 101);
        assertEquals((await answer(port, "Origin: null\r\n")).status, 101);
        assertEquals((await answer(port, "")).status, 101);
        assertEquals((await answer(port, "Origin: http://evil.example\r\n")).status, 403);
        // The list replaces same origin.
        assertEquals((await answer(port, `Origin: http://127.0.0.1:${port}\r\n`)).status, 403);
      }
      {
        const { server, port } = await endpoint.start(["*"]);
        await using _ = server;
        assertEquals((await answer(port, "Origin: http://evil.example\r\n")).status, 101);
        assertEquals((await answer(port, "Origin: null\r\n")).status, 101);
      }
    },
  );
}

Deno.test(
  "The origin check comes first: a cross-origin handshake learns nothing else",
  SANITIZED,
  async () => {
    await using server = websocketServer({
      port: 0,
      handler: echoHandler,
      websocket: { path: "/ws" },
    });
    const { port } = await server.listen();
    // A version other than 13 would get 426, which names the version the server speaks.
    using client = await HttpTestClient.connect(port);
    await client.write(
      handshake(port, "Origin: http://evil.example\r\n").replace("Version: 13", "Version: 8"),
    );
    const refused = await client.readResponse();
    assertEquals(refused.status, 403);
    assertEquals(refused.headers["sec-websocket-version"], undefined);
    assertStringIncludes(refused.body, "origin not allowed");
  },
);
