/**
 * The server and the client over real Unix domain sockets, in a temporary directory removed
 * after each test: the echo protocol, `connect`, the options' checks, the socket file's life
 * (made at listen, stale files replaced, live ones refused, removed at close), lingering closes
 * and a graceful close.
 */

import { assert, assertEquals, assertFalse, assertRejects, assertThrows } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { echoServer } from "../protocols/echo/echo_server.ts";
import { SocketClient, waitFor } from "../testing/_socket_client.ts";
import { connect } from "./client.ts";
import { LineDecoder } from "./framing/line_decoder.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "./protocol.ts";
import { Server, type ServerAddress, type SocketTransport } from "./server.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const ignore = Deno.build.os === "windows";
const decoder = new TextDecoder();

/** A temporary directory for socket files, removed at dispose. */
async function socketDir(): Promise<AsyncDisposable & { path(name: string): string }> {
  const dir = await Deno.makeTempDir({ prefix: "speedo_unix_" });
  return {
    path: (name) => `${dir}/${name}`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A line protocol that dispatches each line (with its ending). */
const lineProtocol: ProtocolHandlerFactory = {
  create(context: ProtocolContext) {
    const lines = new LineDecoder({ keepEnding: true });
    return {
      data(chunk: Uint8Array) {
        lines.feed(chunk);
        for (let line = lines.next(); line !== null; line = lines.next()) context.dispatch(line);
      },
    };
  },
};

for (const workers of [0, 1]) {
  Deno.test({
    name: `echoServer with transport "unix" echoes lines (workers: ${workers})`,
    ignore,
    ...SANITIZED,
    async fn() {
      await using dir = await socketDir();
      const path = dir.path("echo.sock");
      await using server = echoServer({ transport: "unix", path, workers });
      const address = await server.listen();
      // The type follows the transport: a Unix address, with no port to read.
      const unixAddress: Deno.UnixAddr = address;
      assertEquals(unixAddress, { transport: "unix", path });
      assertEquals(server.address, address);
      assert((await Deno.lstat(path)).isSocket);
      using client = await SocketClient.connectUnix(path);
      const lines = Array.from({ length: 100 }, (_, i) => `unix line ${i}\n`);
      await client.write(lines.join(""));
      assertEquals(await client.readLines(lines.length), lines);
      assertEquals(server.stats().accepted, 1);
    },
  });
}

Deno.test({
  name: 'connect with transport "unix" talks to an echo server',
  ignore,
  ...SANITIZED,
  async fn() {
    await using dir = await socketDir();
    const path = dir.path("echo.sock");
    await using server = echoServer({ transport: "unix", path, workers: 0 });
    await server.listen();
    const lines: string[] = [];
    await using client = await connect({
      transport: "unix",
      path,
      protocol: {
        create(context: ProtocolContext) {
          const framer = new LineDecoder();
          return {
            open: () => void context.handle.write("over unix\n"),
            data(chunk: Uint8Array) {
              framer.feed(chunk);
              for (let line = framer.next(); line !== null; line = framer.next()) {
                lines.push(decoder.decode(line));
              }
            },
          };
        },
      },
    });
    await waitFor(() => lines.length === 1, "the echo over a Unix socket");
    assertEquals(client.write("again\n"), true);
    await waitFor(() => lines.length === 2, "a second echo");
    assertEquals(lines, ["over unix", "again"]);
    await client.close();
    assertEquals(client.stats().connects, 1);
  },
});

Deno.test({
  name: 'connect with transport "unix" rejects a path no server listens on',
  ignore,
  ...SANITIZED,
  async fn() {
    await using dir = await socketDir();
    const protocol = lineProtocol;
    await assertRejects(
      () => connect({ transport: "unix", path: dir.path("none.sock"), protocol }),
      Deno.errors.NotFound,
    );
  },
});

Deno.test("Server and connect reject contradictory transport options", () => {
  const protocol = lineProtocol;
  const tls = { cert: "", key: "" };
  assertThrows(
    // The types leave `path` optional: this one is caught at run time.
    () => new Server({ protocol, transport: "unix" }),
    TypeError,
    'Server transport "unix" needs a path (the socket file), got undefined',
  );
  assertThrows(
    () => new Server({ protocol, transport: "unix", path: "" }),
    TypeError,
    'needs a path (the socket file), got ""',
  );
  for (
    const [name, extra] of [["hostname", { hostname: "::1" }], ["port", { port: 0 }], [
      "tls",
      { tls },
    ]] as const
  ) {
    assertThrows(
      // @ts-expect-error: TCP options with a Unix socket.
      () => new Server({ protocol, transport: "unix", path: "/tmp/x.sock", ...extra }),
      TypeError,
      `Server ${name} does not apply to transport "unix" (path "/tmp/x.sock")`,
    );
  }
  assertThrows(
    // @ts-expect-error: a path without the Unix transport.
    () => new Server({ protocol, path: "/tmp/x.sock" }),
    TypeError,
    'Server path needs transport "unix", got transport undefined',
  );
  assertThrows(
    // @ts-expect-error: no such transport.
    () => new Server({ protocol, transport: "udp" }),
    TypeError,
    'Server transport must be "tcp" or "unix", got "udp"',
  );
  assertThrows(
    // @ts-expect-error: TCP options with a Unix socket.
    () => echoServer({ transport: "unix", path: "/tmp/x.sock", port: 9292 }),
    TypeError,
    'Server port does not apply to transport "unix"',
  );
});

Deno.test("connect rejects contradictory transport options", async () => {
  const protocol = lineProtocol;
  await assertRejects(
    // @ts-expect-error: a Unix client needs its path.
    () => connect({ transport: "unix", protocol }),
    TypeError,
    'connect transport "unix" needs a path (the socket file), got undefined',
  );
  await assertRejects(
    // @ts-expect-error: TCP options with a Unix socket.
    () => connect({ transport: "unix", path: "/tmp/x.sock", port: 4222, protocol }),
    TypeError,
    'connect port does not apply to transport "unix" (path "/tmp/x.sock")',
  );
  await assertRejects(
    // @ts-expect-error: TLS with a Unix socket.
    () => connect({ transport: "unix", path: "/tmp/x.sock", tls: {}, protocol }),
    TypeError,
    'connect tls does not apply to transport "unix"',
  );
  await assertRejects(
    // @ts-expect-error: a path without the Unix transport.
    () => connect({ port: 4222, path: "/tmp/x.sock", protocol }),
    TypeError,
    'connect path needs transport "unix"',
  );
});

Deno.test({
  name: "Server over Unix removes its socket file at close, and types listen() by transport",
  ignore,
  ...SANITIZED,
  async fn() {
    await using dir = await socketDir();
    const path = dir.path("closed.sock");
    const server = new Server({ protocol: lineProtocol, transport: "unix", path });
    // Any transport's server fits Server<SocketTransport>; its address is then either kind.
    const any: Server<SocketTransport> = server;
    const address: ServerAddress<"unix"> = await server.listen();
    assertEquals(address.path, path);
    assert(await exists(path));
    assertEquals((any.address as Deno.UnixAddr).path, path);
    await server.close();
    assertFalse(await exists(path));
  },
});

Deno.test({
  name: "Server over Unix replaces a stale socket file, and refuses a live one or another file",
  ignore,
  ...SANITIZED,
  async fn() {
    await using dir = await socketDir();
    const path = dir.path("stale.sock");
    // A socket file nobody accepts on, as a crashed server leaves it.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0)`,
      ],
      stdout: "null",
      stderr: "null",
    });
    assertEquals((await child.output()).code, 0);
    assert((await Deno.lstat(path)).isSocket);

    await using server = new Server({
      protocol: lineProtocol,
      transport: "unix",
      path,
      onMessage: (message, connection) => void connection.write(message.payload),
    });
    await server.listen();
    using client = await SocketClient.connectUnix(path);

    // A live socket is not taken over; a failed listen leaves it in place.
    const second = new Server({ protocol: lineProtocol, transport: "unix", path });
    await assertRejects(() => second.listen(), Deno.errors.AddrInUse);
    await second.close();
    assert((await Deno.lstat(path)).isSocket);
    assertEquals(await client.request("still served\n"), "still served\n");

    // A file that is not a socket is never removed.
    const file = dir.path("plain.txt");
    await Deno.writeTextFile(file, "keep me");
    const third = new Server({ protocol: lineProtocol, transport: "unix", path: file });
    await assertRejects(() => third.listen(), Deno.errors.AddrInUse);
    assertEquals(await Deno.readTextFile(file), "keep me");
  },
});

Deno.test({
  name: "Server over Unix delivers a whole answer when its protocol closes with input unread",
  ignore,
  ...SANITIZED,
  async fn() {
    await using dir = await socketDir();
    const path = dir.path("linger.sock");
    const size = 1024 * 1024;
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
    await using server = new Server({
      protocol,
      transport: "unix",
      path,
      onClose: () => closed.resolve(),
    });
    await server.listen();
    using conn = await Deno.connect({ transport: "unix", path });
    // The request, and more behind it that the server will never read.
    await conn.write(new Uint8Array(64 * 1024).fill(0x62));
    // A Unix socket buffers less than the answer: read it slowly while the server closes.
    // Lingering shuts the server's write side, so the client reads every byte, then the end.
    const buffer = new Uint8Array(2048);
    let bytes = 0;
    const reading = (async () => {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        bytes += n;
        if (bytes % (64 * 1024) < 2048) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    await deadline(Promise.all([reading, closed.promise]), 10_000);
    assertEquals(bytes, size);
  },
});

Deno.test({
  name: "Server.close over Unix answers the accepted messages before closing",
  ignore,
  ...SANITIZED,
  async fn() {
    await using dir = await socketDir();
    const path = dir.path("graceful.sock");
    const server = new Server({
      protocol: lineProtocol,
      transport: "unix",
      path,
      async onMessage(message, connection) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        connection.write(`done ${decoder.decode(message.payload)}`);
      },
    });
    await server.listen();
    using client = await SocketClient.connectUnix(path);
    await client.write("a\nb\nc\n");
    await waitFor(() => server.stats().messagesIn === 3, "three messages accepted");
    const closing = server.close();
    assertEquals(await client.readLines(3), ["done a\n", "done b\n", "done c\n"]);
    assertEquals(await client.readToEnd(), "");
    // The server lingers until the peer closes too.
    client.close();
    await closing;
    assertFalse(await exists(path));
  },
});
