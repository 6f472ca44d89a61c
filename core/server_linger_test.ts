/**
 * Closes the server chooses, over real loopback sockets, with the peer's input still unread:
 * a socket closed then makes the kernel send a reset, which destroys the answers still in its
 * send buffer. Every answer counted as sent must arrive.
 */

import { assert, assertEquals } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { echoServer } from "../protocols/echo/echo_server.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "./protocol.ts";
import { Server } from "./server.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const LF = 0x0a;

/**
 * Reads until the end of the stream (or a reset) in small reads, slower than the server
 * writes: its answers then wait in the kernel's buffers, where a reset destroys them.
 */
async function readToEnd(
  conn: Deno.Conn,
  onChunk: (chunk: Uint8Array) => void = () => {},
): Promise<{ bytes: number; reset: boolean }> {
  const buffer = new Uint8Array(2048);
  let bytes = 0;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return { bytes, reset: false };
      bytes += n;
      onChunk(buffer.subarray(0, n));
    }
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return { bytes, reset: true };
    throw error;
  }
}

Deno.test(
  "Server delivers a whole answer when its protocol closes with the peer's input unread",
  SANITIZED,
  async () => {
    const size = 1024 * 1024;
    // Answers the first bytes with one large response, then closes (as HTTP's Connection: close).
    const protocol: ProtocolHandlerFactory = {
      create(context: ProtocolContext) {
        let answered = false;
        return {
          data() {
            if (answered) return;
            answered = true;
            context.handle.write(new Uint8Array(size).fill(0x61));
            context.handle.close();
          },
        };
      },
    };
    const closed = Promise.withResolvers<void>();
    await using server = new Server({ protocol, onClose: () => closed.resolve() });
    const { port } = await server.listen();
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    // The request, and more behind it (pipelined) that the server will never read.
    await conn.write(new Uint8Array(64 * 1024).fill(0x62));
    // The answer fits the kernel's buffers: the server writes it all and closes before the
    // client reads a byte, so that the answer still waits in those buffers at the close.
    await deadline(closed.promise, 10_000);
    const { bytes, reset } = await deadline(readToEnd(conn), 10_000);
    assertEquals({ bytes, reset }, { bytes: size, reset: false });
  },
);

Deno.test(
  "Server.close delivers every answered line to echo clients that are still sending",
  SANITIZED,
  async () => {
    await using server = echoServer({ port: 0, workers: 0 });
    const { port } = await server.listen();
    const batch = new TextEncoder().encode("0123456789abcdefghijklmnopqrstu\n".repeat(2048));
    const clients = await Promise.all(
      Array.from({ length: 8 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    const linesSeen = clients.map(() => 0);
    const enough = Promise.withResolvers<void>();
    const runs = clients.map(async (conn, i): Promise<{ bytes: number; reset: boolean }> => {
      let stopped = false;
      // Sends without pause until the server's stream ends (or the socket is gone).
      const sending = (async () => {
        try {
          while (!stopped) await conn.write(batch);
        } catch {
          // Reset, or our own close below.
        }
      })();
      const end = await readToEnd(conn, (chunk) => {
        for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, at + 1)) linesSeen[i]++;
        if (linesSeen.every((count) => count >= 20_000)) enough.resolve();
      });
      stopped = true;
      conn.close();
      await sending;
      return end;
    });
    // Shut down mid-stream, once every client has had answers.
    await deadline(enough.promise, 20_000);
    await deadline(server.close(), 15_000);
    const ends: { reset: boolean }[] = await deadline(Promise.all(runs), 15_000);
    const answered = server.stats().messagesOut;
    assert(answered > 0);
    assertEquals(ends.filter((end) => end.reset).length, 0);
    assertEquals(linesSeen.reduce((a, b) => a + b), answered);
  },
);

Deno.test(
  "Server lingers on a closed connection, dropping input, for at most lingerTimeout",
  SANITIZED,
  async () => {
    const protocol: ProtocolHandlerFactory = {
      create: (context: ProtocolContext) => ({
        data() {
          context.handle.write("bye\n");
          context.handle.close();
        },
      }),
    };
    const closed = Promise.withResolvers<void>();
    const server = new Server({ protocol, lingerTimeout: 300, onClose: () => closed.resolve() });
    const { port } = await server.listen();
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("hello\n"));
    await deadline(closed.promise, 5000);
    // Closed for its protocol, the socket still reads and drops what the peer sends: the peer
    // gets its answer, then the end of the stream, and no reset.
    await conn.write(new Uint8Array(256 * 1024));
    const buffer = new Uint8Array(16);
    assertEquals(await conn.read(buffer), 4);
    assertEquals(await conn.read(buffer), null);
    // This peer never closes: the server's close waits for the linger, which ends on its own.
    await deadline(server.close(), 5000);
  },
);
