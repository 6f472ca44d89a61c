import { assert, assertEquals, assertThrows } from "@std/assert";
import { Server } from "./server.ts";
import { echoProtocol } from "../protocols/echo/echo_protocol.ts";
import { SocketClient, waitFor } from "../testing/_socket_client.ts";

const sanitizers = { sanitizeOps: true, sanitizeResources: true };

/** An echo server answering inline, for tests of what it tells about its connections. */
function echo(onError?: (error: Error) => void): Server {
  return new Server({
    protocol: echoProtocol(),
    onMessage(message, connection) {
      if (new TextDecoder().decode(message.payload).startsWith("throw")) throw new Error("asked");
      connection.write(message.payload);
    },
    onError,
  });
}

Deno.test(
  "Server.connections lists each connection's address, bytes and messages",
  sanitizers,
  async () => {
    await using server = echo();
    const { port } = await server.listen();
    using a = await SocketClient.connect(port);
    using b = await SocketClient.connect(port);
    await a.write("one\ntwo\n");
    assertEquals(await a.readLines(2), ["one\n", "two\n"]);
    await b.write("three\n");
    assertEquals(await b.readLines(1), ["three\n"]);
    const page = server.connections();
    assertEquals([page.total, page.offset, page.limit, page.connections.length], [2, 0, 256, 2]);
    const local = (client: SocketClient) => {
      const address = client.conn.localAddr as Deno.NetAddr;
      return page.connections.find((row) => row.remoteAddress === `127.0.0.1:${address.port}`)!;
    };
    assertEquals(
      [local(a).bytesIn, local(a).bytesOut, local(a).messagesIn, local(a).loop],
      [8, 8, 2, 0],
    );
    assertEquals([local(b).bytesIn, local(b).bytesOut, local(b).messagesIn], [6, 6, 1]);
    assert(local(a).id !== local(b).id);
    assert(local(a).lastActivity >= local(a).openedAt);
    assertEquals([local(a).pendingMessages, local(a).pendingOutput, local(a).listener], [0, 0, 0]);
  },
);

Deno.test(
  "Server.connections pages by offset and limit, and refuses bad bounds",
  sanitizers,
  async () => {
    await using server = echo();
    const { port } = await server.listen();
    const clients = await Promise.all([0, 1, 2].map(() => SocketClient.connect(port)));
    try {
      await waitFor(() => server.stats().connections === 3, "three connections accepted");
      const ids = [0, 1, 2].map((offset) => server.connections({ offset, limit: 1 }));
      assertEquals(ids.map((page) => page.connections.length), [1, 1, 1]);
      assertEquals(new Set(ids.map((page) => page.connections[0].id)).size, 3);
      assertEquals(server.connections({ offset: 2, limit: 5 }).connections.length, 1);
      assertEquals(server.connections({ offset: 3 }).connections, []);
      assertEquals(server.connections({ offset: 3 }).total, 3);
      assertThrows(() => server.connections({ limit: 0 }), RangeError, "got 0");
      assertThrows(() => server.connections({ limit: 1025 }), RangeError, "from 1 to 1024");
      assertThrows(() => server.connections({ offset: -1 }), RangeError, "non-negative");
      assertThrows(() => server.connections({ offset: 1.5 }), RangeError, "got 1.5");
    } finally {
      for (const client of clients) client.close();
    }
  },
);

Deno.test("Server.stats counts reported errors", sanitizers, async () => {
  const errors: Error[] = [];
  await using server = echo((error) => errors.push(error));
  const { port } = await server.listen();
  using client = await SocketClient.connect(port);
  await client.write("throw\nok\n");
  assertEquals(await client.readLines(2), ["ERR Message handler failed: asked\r\n", "ok\n"]);
  assertEquals([server.stats().errors, errors.length], [1, 1]);
  assertEquals(server.stats().slowConsumers, 0);
});

Deno.test("Server.observeHandlerTime times inline handlers until stopped", sanitizers, async () => {
  await using server = echo();
  const { port } = await server.listen();
  const times: number[] = [];
  assert(server.observeHandlerTime((seconds) => times.push(seconds)));
  using client = await SocketClient.connect(port);
  await client.write("a\nb\n");
  assertEquals(await client.readLines(2), ["a\n", "b\n"]);
  assertEquals(times.length, 2);
  assert(times.every((seconds) => seconds >= 0 && seconds < 1));
  assertEquals(server.observeHandlerTime(undefined), false);
  await client.write("c\n");
  assertEquals(await client.readLines(1), ["c\n"]);
  assertEquals(times.length, 2);
});
