/**
 * Sessions on a server of two I/O loops, over real sockets: a client that comes back on the
 * other loop finds its session there, and a login on one loop takes a name over from the
 * other. Each loop's own test port (`PINNED_LOOPS`) chooses the loop.
 */

import { assertEquals } from "@std/assert";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { Server, type ServerOptions } from "../../core/server.ts";
import { within } from "../../testing/_socket_client.ts";
import { sessionEcho } from "../../testing/_fixtures/session_echo_protocol.ts";
import { LoginStatus } from "./_session_wire.ts";
import { rawLogin, read, u32 } from "./_session_test_helper.ts";
import { connectSession, type SessionClientOptions, sessionSecrets } from "./mod.ts";

async function twoLoops(
  dir: string,
  extra: Partial<ServerOptions> = {},
): Promise<{ server: Server; ports: number[] }> {
  const server = new Server({
    protocol: sessionEcho({ dir: `${dir}/server` }),
    loops: 2,
    [PINNED_LOOPS]: true,
    ...extra,
  } as ServerOptions);
  await server.listen();
  const group = loopGroups.get(server)!;
  return { server, ports: [0, 1].map((loop) => group.pinnedAddress(loop)!.port) };
}

function clientOptions(
  dir: string,
  port: number,
  answers: number[],
  onAnswer: () => void = () => {},
): SessionClientOptions {
  return {
    port,
    reconnect: { initialDelay: 10, maxDelay: 100 },
    session: {
      dir: `${dir}/client`,
      name: "c1",
      serverName: "server",
      onMessage: (message) => {
        answers.push(read(message.payload));
        onAnswer();
      },
      onError: () => {},
    },
  } as SessionClientOptions;
}

Deno.test("Sessions on 2 loops: a client back on the other loop continues its stream exactly once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-loops-" });
  const { server, ports } = await twoLoops(dir);
  try {
    const answers: number[] = [];
    const twenty = Promise.withResolvers<void>();
    const onAnswer = () => answers.length === 20 && twenty.resolve();
    const first = await connectSession(clientOptions(dir, ports[0], answers, onAnswer));
    for (let i = 1; i <= 10; i++) first.session.send(1, u32(i));
    await within(first.session.whenAcknowledged(10), "10 acknowledged on loop 0");
    await first.close();
    const second = await connectSession(clientOptions(dir, ports[1], answers, onAnswer));
    for (let i = 11; i <= 20; i++) second.session.send(1, u32(i));
    await within(second.session.whenAcknowledged(20), "20 acknowledged on loop 1");
    await within(twenty.promise, "20 answers");
    await second.close();
    assertEquals(answers, Array.from({ length: 20 }, (_, i) => i + 1));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Reads until the peer closes; resolves when it has. */
async function untilClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  while ((await within(conn.read(buffer), "the old connection's close")) !== null) {
    // Whatever the server says last is not the point.
  }
}

Deno.test("Sessions on 2 loops: a login on loop 1 takes the name over from loop 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-loops-" });
  const { server, ports } = await twoLoops(dir);
  try {
    const old = await rawLogin(ports[0], "taken");
    assertEquals(old.reply.status, LoginStatus.accepted);
    const taker = await rawLogin(ports[1], "taken");
    assertEquals(taker.reply.status, LoginStatus.accepted);
    await untilClosed(old.conn);
    old.conn.close();
    taker.conn.close();
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Sessions on 2 loops: the authenticator refuses a takeover without the secret on either loop, and lets one with it through", async () => {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-loops-" });
  const { server, ports } = await twoLoops(dir, {
    authenticate: sessionSecrets({ taken: "right" }),
  });
  const open: Deno.Conn[] = [];
  try {
    const owner = await rawLogin(ports[0], "taken", undefined, { secret: "right" });
    open.push(owner.conn);
    assertEquals(owner.reply.status, LoginStatus.accepted);
    for (const port of ports) {
      for (const secret of [undefined, "wrong"]) {
        const attacker = await rawLogin(port, "taken", undefined, { secret });
        open.push(attacker.conn);
        assertEquals(
          [attacker.reply.status, attacker.reply.received, attacker.reply.sent],
          [LoginStatus.refused, 0, 0],
        );
      }
    }
    const taker = await rawLogin(ports[1], "taken", undefined, { secret: "right" });
    open.push(taker.conn);
    assertEquals(taker.reply.status, LoginStatus.accepted);
    await untilClosed(owner.conn);
  } finally {
    for (const conn of open) conn.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
