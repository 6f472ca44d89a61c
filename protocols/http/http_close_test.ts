/**
 * `Connection: close` over a real loopback socket, with pipelined requests behind it that the
 * server will never read: the response must arrive whole, then the end of the stream, never a
 * reset that cuts it.
 */

import { assertEquals } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { httpServer } from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "httpServer sends a whole large body before closing on Connection: close, with requests queued behind it",
  SANITIZED,
  async () => {
    // Below maxWriteBuffer (16 MiB): a larger body given whole is cut as a slow consumer.
    const size = 12 * 1024 * 1024;
    const body = new Uint8Array(size).fill(0x61);
    const closed = Promise.withResolvers<void>();
    await using server = httpServer({
      port: 0,
      handler: () => new Response(body),
      onClose: () => closed.resolve(),
    });
    const { port } = await server.listen();
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const request = "GET /big HTTP/1.1\r\nHost: x\r\n";
    await conn.write(
      new TextEncoder().encode(
        `${request}Connection: close\r\n\r\n` + `${request}\r\n`.repeat(50),
      ),
    );
    // Read slowly (small reads) so that much of the body waits in the kernel when the server
    // closes: a reset then would destroy it.
    const buffer = new Uint8Array(4096);
    let received = 0;
    let head = "";
    let reset = false;
    const reading = (async () => {
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) return;
          if (head.length < 4096 && !head.includes("\r\n\r\n")) {
            head += new TextDecoder().decode(buffer.subarray(0, n));
          }
          received += n;
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        reset = true;
      }
    })();
    await deadline(reading, 30_000);
    await deadline(closed.promise, 5000);
    const headLength = head.indexOf("\r\n\r\n") + 4;
    assertEquals(head.slice(0, 15), "HTTP/1.1 200 OK");
    assertEquals({ body: received - headLength, reset }, { body: size, reset: false });
  },
);
