/**
 * The HTTP server over a real Unix domain socket (as behind a reverse proxy): `fetch` cannot
 * dial one, so a raw client sends the requests.
 */

import { assertEquals, assertFalse } from "@std/assert";
import { HttpTestClient } from "../../testing/_fixtures/http_client.ts";
import { httpServer } from "./http_server.ts";

const ignore = Deno.build.os === "windows";

Deno.test({
  name: 'httpServer with transport "unix" answers GET, keep-alive, and removes its socket',
  ignore,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "speedo_unix_" });
    const path = `${dir}/http.sock`;
    try {
      const server = httpServer({
        transport: "unix",
        path,
        handler: (request) => new Response(`hello ${new URL(request.url).pathname}\n`),
      });
      await server.listen();
      {
        using client = await HttpTestClient.connectUnix(path);
        await client.write("GET /unix HTTP/1.1\r\nHost: localhost\r\n\r\n");
        const first = await client.readResponse();
        assertEquals([first.status, first.body], [200, "hello /unix\n"]);
        await client.write("GET /again HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        const second = await client.readResponse();
        assertEquals([second.status, second.body], [200, "hello /again\n"]);
        assertEquals(second.headers["connection"], "close");
      }
      await server.close();
      assertFalse(await Deno.lstat(path).then(() => true, () => false));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: 'httpServer with transport "unix" closes gracefully: a slow answer is delivered',
  ignore,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "speedo_unix_" });
    const path = `${dir}/http.sock`;
    try {
      const started = Promise.withResolvers<void>();
      await using server = httpServer({
        transport: "unix",
        path,
        handler: async () => {
          started.resolve();
          await new Promise((resolve) => setTimeout(resolve, 100));
          return new Response("late but whole\n");
        },
      });
      await server.listen();
      using client = await HttpTestClient.connectUnix(path);
      await client.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await started.promise;
      const closing = server.close();
      const response = await client.readResponse();
      assertEquals([response.status, response.body], [200, "late but whole\n"]);
      client.close();
      await closing;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
