/**
 * Session logins with the server's authenticator, over real loopback sockets: each refusal,
 * the takeover an unauthenticated peer tries (and fails), a client restart that takes over,
 * and the takeover limit. Every wait has a deadline; nothing sleeps to synchronise.
 */

import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import type { Authenticator } from "../../core/authentication.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import {
  decodeLoginReply,
  FrameType,
  LoginReplyFlag,
  LoginStatus,
  REFUSED_REASON,
} from "./_session_wire.ts";
import { rawLogin, rawMessage, read, u32 } from "./_session_test_helper.ts";
import {
  type ClientSessionOptions,
  connectSession,
  identityMayUse,
  SessionMismatchError,
  type SessionProtocolOptions,
  SessionRefusedError,
  SessionRejectedError,
  sessionSecrets,
  sessionServer,
  SessionTable,
} from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const SECRETS = { victim: "victim-secret", other: "other-secret" };

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-auth-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A listening server with `sessionSecrets(SECRETS)` that records each message's value, by
 * session. Disposing of it closes the server and its table, so that `await using` stands for the
 * try/finally every test would otherwise repeat.
 */
async function listenGuarded(
  dir: string,
  extra: Partial<SessionProtocolOptions> & { authenticate?: Authenticator } = {},
) {
  const got: [string, number, number][] = [];
  const sessions = new SessionTable();
  const { authenticate, ...session } = extra;
  const server = sessionServer({
    port: 0,
    // An explicit `authenticate: undefined` runs the server without an authenticator.
    authenticate: "authenticate" in extra ? authenticate : sessionSecrets(SECRETS),
    session: {
      dir: `${dir}/server`,
      sessions,
      onMessage(message, session) {
        got.push([session.peer, message.seq, read(message.payload)]);
      },
      onError: () => {},
      ...session,
    },
  });
  const { port } = await server.listen();
  return {
    port,
    sessions,
    got,
    async [Symbol.asyncDispose]() {
      await server.close();
      sessions.close();
    },
  };
}

function client(dir: string, port: number, extra: Partial<ClientSessionOptions> = {}) {
  return {
    port,
    reconnect: { initialDelay: 10, maxDelay: 100 },
    session: {
      dir: `${dir}/client`,
      name: "victim",
      onMessage() {},
      onError: () => {},
      ...extra,
    },
  };
}

Deno.test("sessionSecrets accepts the right secret only, for session logins only", async () => {
  const ask = (authenticate: Authenticator, name: string, secret?: string, protocol = "session") =>
    authenticate({ protocol, listener: 0, credentials: { name, secret } });
  const refused = { refused: "bad session name or secret" };
  for (
    const source of [
      SECRETS,
      new Map(Object.entries(SECRETS)),
      (name: string) => Promise.resolve((SECRETS as Record<string, string>)[name]),
    ]
  ) {
    const authenticate = sessionSecrets(source);
    assertEquals(await ask(authenticate, "victim", "victim-secret"), { name: "victim" });
    assertEquals(await ask(authenticate, "victim", "other-secret"), refused);
    assertEquals(await ask(authenticate, "victim", "victim-secret!"), refused);
    assertEquals(await ask(authenticate, "victim"), refused);
    assertEquals(await ask(authenticate, "nobody", "victim-secret"), refused);
    assertEquals(await ask(authenticate, "toString", ""), refused);
    assertEquals(await ask(authenticate, "victim", "victim-secret", "rpc"), refused);
  }
  let error: unknown;
  try {
    sessionSecrets(42 as never);
  } catch (thrown) {
    error = thrown;
  }
  assert(error instanceof TypeError);
});

Deno.test("identityMayUse allows the identity's own name and the names its grants list", () => {
  assert(identityMayUse({ name: "a" }, "a"));
  assert(!identityMayUse({ name: "a" }, "b"));
  assert(!identityMayUse({ name: "a", grants: { sessions: "b" } }, "b"));
  assert(identityMayUse({ name: "a", grants: { sessions: ["b", "c"] } }, "c"));
});

Deno.test(
  "Session login without a secret, with a wrong one, or of an unknown name is refused alike, telling nothing",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      await using server = await listenGuarded(dir);
      const { port, sessions } = server;
      // A live session with messages, whose numbers a refusal must not tell.
      const victim = await connectSession(client(dir, port, { secret: SECRETS.victim }));
      victim.session.send(1, u32(1));
      victim.session.send(1, u32(2));
      await within(victim.session.whenAcknowledged(2), "2 acknowledged");
      const replies = [];
      for (
        const [name, secret] of [
          ["victim", undefined],
          ["victim", "guess"],
          ["victim", SECRETS.other],
          ["nobody", "guess"],
        ] as const
      ) {
        const { conn, reply } = await rawLogin(port, name, {
          received: 0,
          acknowledged: 0,
          sent: 2,
        }, {
          secret,
        });
        // The server closes the connection after the refusal.
        assertEquals(await within(conn.read(new Uint8Array(64)), "the close"), null);
        conn.close();
        replies.push(reply);
      }
      for (const reply of replies) {
        assertEquals(reply, {
          status: LoginStatus.refused,
          flags: 0,
          serverName: "",
          reason: REFUSED_REASON,
          received: 0,
          acknowledged: 0,
          sent: 0,
        });
      }
      assertEquals(sessions.stats().loginsRefused, 4);
      assertEquals(sessions.get("nobody"), undefined, "a refused login keeps nothing");
      assert(victim.connected, "the victim keeps its connection");
      assertEquals(sessions.get("victim")!.stats().connections, 1);
      await victim.close();

      // The client's side of a refusal: a typed error, and no retry.
      for (const secret of [undefined, "guess"]) {
        const error = await assertRejects(
          () => connectSession(client(dir, port, { secret })),
          SessionRefusedError,
        );
        assert(error instanceof SessionRejectedError);
        assertEquals(error.reason, REFUSED_REASON);
      }
      assertEquals(sessions.stats().loginsRefused, 6, "one attempt each: no retry storm");
    }),
);

Deno.test(
  "Session takeover by a peer without the secret fails: the victim keeps its session and its numbers, the peer's messages are never delivered",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      await using server = await listenGuarded(dir);
      const { port, sessions, got } = server;
      const victim = await connectSession(client(dir, port, { secret: SECRETS.victim }));
      for (let i = 1; i <= 5; i++) victim.session.send(1, u32(i));
      await within(victim.session.whenAcknowledged(5), "5 acknowledged");
      // The attacker knows the name and even the right numbers, and pipelines its messages
      // 6 to 8 behind the login, as the probe did.
      const forged = new Uint8Array([
        ...rawMessage(6, u32(666)),
        ...rawMessage(7, u32(667)),
        ...rawMessage(8, u32(668)),
      ]);
      for (const secret of [undefined, "guess"]) {
        const { conn, reply } = await rawLogin(
          port,
          "victim",
          { received: 0, acknowledged: 5, sent: 8 },
          { secret, after: forged },
        );
        assertEquals(await within(conn.read(new Uint8Array(64)), "the close"), null);
        conn.close();
        assertEquals([reply.status, reply.received, reply.sent], [LoginStatus.refused, 0, 0]);
      }
      // The victim goes on, on its first connection, with its own numbers.
      assert(victim.connected);
      for (let i = 6; i <= 8; i++) victim.session.send(1, u32(i));
      await within(victim.session.whenAcknowledged(8), "8 acknowledged");
      assertEquals(got, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => ["victim", i, i]));
      const session = sessions.get("victim")!;
      assertEquals(session.stats().connections, 1, "never taken over");
      assertEquals(session.sequences.received, 8);
      assertEquals(sessions.stats().takeovers, 0);
      await victim.close();
    }),
);

Deno.test(
  "Session relogin with the right secret takes a live session over, as a restarted client does",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      await using server = await listenGuarded(dir);
      const { port, sessions, got } = server;
      // The first process: it stops reconnecting once its connection is taken.
      const first = await connectSession({
        ...client(dir, port, { secret: SECRETS.victim }),
        reconnect: false,
      });
      for (let i = 1; i <= 3; i++) first.session.send(1, u32(i));
      await within(first.session.whenAcknowledged(3), "3 acknowledged");
      // The restarted process reads the same file (a copy: the first still has it open),
      // while the server still holds the first connection.
      await Deno.mkdir(`${dir}/restarted`);
      await Deno.copyFile(`${dir}/client/server.session`, `${dir}/restarted/server.session`);
      const second = await connectSession(
        client(dir, port, { secret: SECRETS.victim, dir: `${dir}/restarted` }),
      );
      await within(first.ended, "the first client's end");
      assertEquals(second.session.lastSentSeq, 3);
      second.session.send(1, u32(4));
      await within(second.session.whenAcknowledged(4), "4 acknowledged");
      assertEquals(got.map(([, seq]) => seq), [1, 2, 3, 4]);
      assertEquals(sessions.stats().takeovers, 1);
      assertEquals(sessions.get("victim")!.stats().connections, 2);
      await second.close();
      await first.close();
    }),
);

Deno.test(
  "Session takeovers of one name are bounded: past maxTakeovers in the window, logins are refused and counted",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      await using server = await listenGuarded(dir, {
        maxTakeovers: 3,
        takeoverWindow: 60_000,
      });
      const { port, sessions } = server;
      const held: Deno.TcpConn[] = [];
      try {
        // Two clients fighting over one name, in a bounded loop: each login takes the other's.
        const statuses: number[] = [];
        const reasons: string[] = [];
        for (let i = 0; i < 12; i++) {
          const { conn, reply } = await rawLogin(port, "victim", undefined, {
            secret: SECRETS.victim,
          });
          held.push(conn);
          statuses.push(reply.status);
          reasons.push(reply.reason);
        }
        const accepted = statuses.filter((status) => status === LoginStatus.accepted).length;
        assertEquals(accepted, 4, "the first login, then 3 takeovers");
        assertEquals(statuses.slice(4), Array(8).fill(LoginStatus.rejected));
        assertStringIncludes(reasons[4], 'Too many takeovers of session "victim"');
        assertEquals(sessions.stats(), { takeovers: 3, takeoversRefused: 8, loginsRefused: 0 });
        // The last accepted connection keeps the session.
        assertEquals(sessions.get("victim")!.stats().connections, 4);
        assert(sessions.get("victim")!.connected);
        // A client refused so stops at once, with the reason.
        const error = await assertRejects(
          () => connectSession(client(dir, port, { secret: SECRETS.victim })),
          SessionRejectedError,
        );
        assertStringIncludes(error.reason, "Too many takeovers");
        // Another name is not limited.
        const other = await rawLogin(port, "other", undefined, { secret: SECRETS.other });
        held.push(other.conn);
        assertEquals(other.reply.status, LoginStatus.accepted);
      } finally {
        for (const conn of held) conn.close();
      }
    }),
);

Deno.test(
  "Session mismatch: numbers told to a login the authenticator accepted, withheld without one",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      for (const guarded of [true, false]) {
        await using server = await listenGuarded(dir, {
          authenticate: guarded ? sessionSecrets(SECRETS) : undefined,
          dir: `${dir}/server-${guarded}`,
        });
        const { port, sessions } = server;
        const first = await connectSession(
          client(dir, port, { secret: SECRETS.victim, dir: `${dir}/client-${guarded}` }),
        );
        for (let i = 1; i <= 4; i++) first.session.send(1, u32(i));
        await within(first.session.whenAcknowledged(4), "4 acknowledged");
        await first.close();
        await waitFor(() => !sessions.get("victim")!.connected, "the session detached");
        const { conn, reply } = await rawLogin(port, "victim", undefined, {
          secret: SECRETS.victim,
        });
        conn.close();
        assertEquals(reply.status, LoginStatus.mismatch);
        if (guarded) {
          assertEquals([reply.flags, reply.received, reply.sent], [0, 4, 0]);
        } else {
          assertEquals(
            [reply.flags, reply.received, reply.acknowledged, reply.sent],
            [LoginReplyFlag.numbersWithheld, 0, 0, 0],
          );
        }
        const error = await assertRejects(
          () =>
            connectSession(
              client(dir, port, {
                secret: SECRETS.victim,
                dir: `${dir}/client-${guarded}`,
                reset: true,
              }),
            ),
          SessionMismatchError,
        );
        assertEquals(error.remote?.received, guarded ? 4 : undefined);
      }
    }),
);

Deno.test(
  "Session login of wire version 1 (no secret field) is rejected with a reason naming the versions",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      await using server = await listenGuarded(dir);
      const { port } = server;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const name = new TextEncoder().encode("victim");
        const serverName = new TextEncoder().encode("server");
        const login = new Uint8Array(16 + name.length + serverName.length);
        login.set([1, name.length, serverName.length, 0]);
        login.set(name, 16);
        login.set(serverName, 16 + name.length);
        await conn.write(new HeaderEncoder().encode(FrameType.login, login));
        const decoder = new HeaderDecoder();
        const buffer = new Uint8Array(1024);
        let reply;
        while (reply === undefined) {
          const read = await within(conn.read(buffer), "the login reply");
          if (read === null) throw new Error("Closed without a login reply");
          decoder.feed(buffer.subarray(0, read));
          const payload = decoder.next();
          if (payload !== null) reply = decodeLoginReply(payload);
        }
        if (typeof reply === "string") throw new Error(reply);
        assertEquals(reply.status, LoginStatus.rejected);
        assertEquals(
          reply.reason,
          "session protocol version 1 is not supported (this side speaks 2)",
        );
      } finally {
        conn.close();
      }
    }),
);
