/**
 * Sessions over real loopback sockets, in one process: exactly-once delivery across restarts
 * of either side, refusals (corrupt file, mismatch, hook), heartbeats and timeouts, bounds.
 * Every wait has a deadline; nothing sleeps to synchronise.
 */

import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import { encodeLogin, FrameType, LoginStatus } from "./_session_wire.ts";
import { crc32 } from "./crc32.ts";
import { rawLogin, read, u32 } from "./_session_test_helper.ts";
import {
  type ClientSessionOptions,
  connectSession,
  type Session,
  type SessionClientOptions,
  SessionError,
  type SessionFileError,
  SessionFullError,
  SessionMismatchError,
  sessionProtocol,
  type SessionProtocolOptions,
  SessionRejectedError,
  sessionServer,
  SessionStore,
  SessionTable,
  SessionTimeoutError,
} from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

/** A temporary directory, removed after `run`. */
async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A server that answers each message with its payload and records what it got; `port` goes
 * to the server, the rest to the protocol. Close `sessions` after `server`.
 */
function echoServer(
  dir: string,
  extra: Partial<SessionProtocolOptions> & { port?: number } = {},
) {
  const got: number[] = [];
  const sessions = new SessionTable();
  const { port, ...session } = extra;
  const server = sessionServer({
    port,
    session: {
      dir: `${dir}/server`,
      sessions,
      onMessage(message, session) {
        got.push(read(message.payload));
        session.send(1, message.payload);
      },
      onError: () => {},
      ...session,
    },
  });
  return { server, sessions, got };
}

function clientOptions(
  dir: string,
  port: number,
  answers: number[],
  extra: Partial<ClientSessionOptions> = {},
): SessionClientOptions {
  return {
    port,
    reconnect: { initialDelay: 10, maxDelay: 100 },
    session: {
      dir: `${dir}/client`,
      name: "c1",
      onMessage: (message) => void answers.push(read(message.payload)),
      onError: () => {},
      ...extra,
    },
  };
}

async function sendAll(session: Session, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) {
    if (session.full) await within(session.whenWritable(), "room in the session");
    session.send(1, u32(i));
  }
}

/** A session that sends 10 messages, has them acknowledged, and closes: files on both sides. */
async function sessionOfTen(options: SessionClientOptions): Promise<void> {
  const client = await connectSession(options);
  await sendAll(client.session, 1, 10);
  await within(client.session.whenAcknowledged(10), "10 acknowledged");
  await client.close();
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The names in a directory, sorted ([] when it does not exist). */
async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

Deno.test(
  "Session delivers a stream exactly once, in order, across a client restart",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const { server, sessions, got } = echoServer(dir);
      const { port } = await server.listen();
      try {
        const answers: number[] = [];
        const first = await connectSession(clientOptions(dir, port, answers));
        await sendAll(first.session, 1, 5000);
        await within(first.session.whenAcknowledged(5000), "5000 acknowledged");
        await first.close();

        const second = await connectSession(clientOptions(dir, port, answers));
        assertEquals(second.session.lastSentSeq, 5000, "the numbers come back from the file");
        await sendAll(second.session, 5001, 10_000);
        await waitFor(() => second.session.lastReceivedSeq === 10_000, "10,000 answers");
        await within(second.session.whenAcknowledged(), "everything acknowledged");
        assertEquals(got, range(1, 10_000));
        assertEquals(
          answers,
          range(1, 10_000),
          "answers once each, in order, over two processes' worth",
        );
        await second.close();
        await waitFor(
          () => sessions.get("c1")?.acknowledgedSeq === 10_000,
          "the last acknowledgement",
        );
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "Session keeps messages sent while the server is down and delivers them after its restart",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const first = echoServer(dir);
      const { port } = await first.server.listen();
      const answers: number[] = [];
      const client = await connectSession(clientOptions(dir, port, answers));
      try {
        await sendAll(client.session, 1, 100);
        await waitFor(() => answers.length === 100, "100 answers");
        await first.server.close();
        first.sessions.close();
        await waitFor(() => !client.connected, "the client to see the server go");
        await sendAll(client.session, 101, 200);
        assertEquals(client.session.unacked, 100);

        const second = echoServer(dir, { port });
        await second.server.listen();
        await waitFor(
          () => answers.length === 200,
          "the messages sent while down to be answered",
          10_000,
        );
        assertEquals(second.got, range(101, 200), "the restarted server got only what it lacked");
        assertEquals(answers, range(1, 200));
        await client.close();
        await second.server.close();
        second.sessions.close();
      } finally {
        await client.close();
        await first.server.close();
        first.sessions.close();
      }
    }),
);

Deno.test(
  "Session server refuses a client whose session file is corrupt, with the file's error",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const fileErrors: SessionFileError[] = [];
      const { server, sessions } = echoServer(dir, {
        onFileError: (error) => void fileErrors.push(error),
      });
      const { port } = await server.listen();
      try {
        const answers: number[] = [];
        await sessionOfTen(clientOptions(dir, port, answers));
        await server.close();
        sessions.close();

        const path = `${dir}/server/c1.session`;
        const bytes = await Deno.readFile(path);
        bytes[bytes.length - 30] ^= 0xff;
        await Deno.writeFile(path, bytes);
        const restarted = echoServer(dir, {
          onFileError: (error) => void fileErrors.push(error),
          port,
        });
        await restarted.server.listen();
        try {
          const error = await assertRejects(
            () => connectSession(clientOptions(dir, port, answers)),
            SessionRejectedError,
          );
          assertStringIncludes(error.reason, `Session file ${path} is corrupt at byte`);
          assertStringIncludes(error.reason, "checksum mismatch");
          assertEquals(fileErrors.length, 1);
          assertEquals(fileErrors[0].problem, "checksum");
        } finally {
          await restarted.server.close();
          restarted.sessions.close();
        }
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "Session server cuts a torn write off a client's session file, reports it to onError, and resumes",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const { server, sessions } = echoServer(dir);
      const { port } = await server.listen();
      const answers: number[] = [];
      try {
        await sessionOfTen(clientOptions(dir, port, answers));
      } finally {
        await server.close();
        sessions.close();
      }
      const path = `${dir}/server/c1.session`;
      const original = await Deno.readFile(path);
      // A torn write: a whole message record of 4 bytes, then 10 bytes of its cursor.
      const message = new Uint8Array(19);
      const view = new DataView(message.buffer);
      view.setUint32(0, 11, true);
      message.set([2, 11, 0, 0, 0, 1, 0, 0, 0, 0, 11], 8);
      view.setUint32(4, crc32(message.subarray(8)), true);
      await Deno.writeFile(
        path,
        new Uint8Array([...original, ...message, ...original.subarray(original.length - 21, -11)]),
      );
      const errors: Error[] = [];
      const fileErrors: SessionFileError[] = [];
      const restarted = echoServer(dir, {
        port,
        onError: (error) => void errors.push(error),
        onFileError: (error) => void fileErrors.push(error),
      });
      await restarted.server.listen();
      try {
        const client = await connectSession(clientOptions(dir, port, answers));
        try {
          assertEquals(fileErrors, []);
          assertEquals(errors.map((error) => error.name), ["SessionTornWriteError"]);
          assertEquals((await Deno.stat(path)).size, original.length, "the torn bytes are cut");
          const session = restarted.sessions.get("c1")!;
          assertEquals(session.lastSentSeq, 10, "the torn write's message went with it");
          client.session.send(1, u32(11));
          await waitFor(() => answers.length === 11, "the 11th answer");
          assertEquals(answers, range(1, 11));
          assertEquals(restarted.got, [11]);
        } finally {
          await client.close();
        }
      } finally {
        await restarted.server.close();
        restarted.sessions.close();
      }
    }),
);

Deno.test(
  "Session client refuses to start on a corrupt or truncated file of its own, through onFileError, and cuts a torn write off with a warning",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const { server, sessions, got } = echoServer(dir);
      const { port } = await server.listen();
      try {
        const answers: number[] = [];
        await sessionOfTen(clientOptions(dir, port, answers));

        const path = `${dir}/client/server.session`;
        const original = await Deno.readFile(path);
        const fileErrors: SessionFileError[] = [];
        const onFileError = (error: SessionFileError) => void fileErrors.push(error);
        // A flipped byte in the record before the last cursor: whole data follows it.
        const corrupt = original.slice();
        corrupt[corrupt.length - 30] ^= 0x40;
        await Deno.writeFile(path, corrupt);
        const refused = await assertRejects(
          () => connectSession(clientOptions(dir, port, answers, { onFileError })),
          Error,
          `Session file ${path} is corrupt at byte`,
        );
        assertEquals(fileErrors.map((error) => error.problem), ["checksum"]);
        assertEquals(refused, fileErrors[0]);

        // Cut before its first cursor, a file holds nothing to go back to.
        await Deno.writeFile(path, original.subarray(0, 30));
        await assertRejects(
          () => connectSession(clientOptions(dir, port, answers, { onFileError })),
          Error,
          `Session file ${path} is truncated at byte`,
        );
        assertEquals(fileErrors.map((error) => error.problem), ["checksum", "truncated"]);
        assertEquals(server.stats().accepted, 1, "no refused client connected");

        // A write that never completed: 15 of a cursor's 21 bytes after the last whole write.
        // (Until this was fixed, such a file was refused as truncated until reset.)
        const torn = new Uint8Array([...original, ...original.subarray(original.length - 21, -6)]);
        await Deno.writeFile(path, torn);
        const errors: Error[] = [];
        const client = await connectSession(
          clientOptions(dir, port, answers, { onFileError, onError: (e) => void errors.push(e) }),
        );
        try {
          assertEquals(fileErrors.length, 2, "no file error");
          assertEquals(errors.map((error) => error.name), ["SessionTornWriteError"]);
          assertStringIncludes(
            errors[0].message,
            `Session file ${path} ended in a torn write at byte ${original.length}`,
          );
          assertEquals((await Deno.stat(path)).size, original.length, "the torn bytes are cut");
          assertEquals(client.session.lastSentSeq, 10, "the earlier records are intact");
          assertEquals(client.session.lastReceivedSeq, 10);
          client.session.send(1, u32(11));
          await within(client.session.whenAcknowledged(11), "11 acknowledged");
          await waitFor(() => answers.length === 11, "the 11th answer");
          assertEquals(answers, range(1, 11));
          assertEquals(got, range(1, 11));
        } finally {
          await client.close();
        }
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "Session login reports a sequence mismatch on both sides when one side was reset",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const mismatches: SessionMismatchError[] = [];
      const { server, sessions } = echoServer(dir, {
        onSequenceMismatch: (error) => void mismatches.push(error),
      });
      const { port } = await server.listen();
      try {
        const answers: number[] = [];
        const client = await connectSession(clientOptions(dir, port, answers));
        await sendAll(client.session, 1, 5);
        await waitFor(() => answers.length === 5, "5 answers");
        await client.close();
        const clientSide: SessionMismatchError[] = [];
        const error = await assertRejects(
          () =>
            connectSession(
              clientOptions(dir, port, answers, {
                reset: true,
                onSequenceMismatch: (error) => void clientSide.push(error),
              }),
            ),
          SessionMismatchError,
        );
        // No authenticator vouched for the login: the server's numbers are not told.
        assertEquals(error.remote, undefined);
        assertStringIncludes(error.message, "withholds its numbers");
        assertEquals(error.local, { received: 0, acknowledged: 0, sent: 0 });
        assertEquals(mismatches.length, 1);
        assertEquals(mismatches[0].local.sent, 5);
        assertEquals(clientSide.length, 1);
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "Session server rejects logins by hook and by server name, with the reason",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const { server, sessions } = echoServer(dir, {
        onLogin: (login) => login.name === "banned" ? "banned clients stay out" : undefined,
      });
      const { port } = await server.listen();
      try {
        const hooked = await assertRejects(
          () => connectSession(clientOptions(dir, port, [], { name: "banned" })),
          SessionRejectedError,
        );
        assertEquals(hooked.message, "Login rejected: banned clients stay out");
        const named = await assertRejects(
          () => connectSession(clientOptions(dir, port, [], { serverName: "other" })),
          SessionRejectedError,
        );
        assertEquals(named.reason, 'This server is "server", not "other"');
        assertEquals(sessions.size, 0);
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "Session heartbeats keep a quiet session up; a silent peer is cut after connectionTimeout",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const errors: Error[] = [];
      const closes: string[] = [];
      const { server, sessions } = echoServer(dir, {
        heartbeatInterval: 30,
        connectionTimeout: 150,
        onError: (error) => void errors.push(error),
        onSessionClose: (session) => void closes.push(session.peer),
      });
      const { port } = await server.listen();
      try {
        const answers: number[] = [];
        const client = await connectSession(
          clientOptions(dir, port, answers, { heartbeatInterval: 30, connectionTimeout: 150 }),
        );
        const started = performance.now();
        await waitFor(
          () => performance.now() - started > 450,
          "three timeouts' worth of quiet",
          2000,
        );
        assert(client.connected, "heartbeats kept the quiet session up");
        assertEquals(closes, []);
        await client.close();
        await waitFor(() => closes.length === 1, "the client's close");

        // A raw peer that logs in and then says nothing at all.
        const raw = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          const login = encodeLogin({
            name: "mute",
            serverName: "server",
            received: 0,
            acknowledged: 0,
            sent: 0,
          });
          await raw.write(new HeaderEncoder().encode(FrameType.login, login));
          const cutAt = performance.now();
          await waitFor(() => closes.includes("mute"), "the silent peer to be cut", 3000);
          assertGreaterOrEqual(performance.now() - cutAt, 140);
          assert(errors.some((error) => error instanceof SessionTimeoutError));
        } finally {
          raw.close();
        }
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "Session bounds unacknowledged messages: SessionFullError, then whenWritable",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const { server, sessions } = echoServer(dir);
      const { port } = await server.listen();
      const answers: number[] = [];
      const client = await connectSession(clientOptions(dir, port, answers, { maxUnacked: 8 }));
      try {
        for (let i = 1; i <= 8; i++) client.session.send(1, u32(i));
        assert(client.session.full);
        const error = assertThrows(() => client.session.send(1, u32(9)), SessionFullError);
        assertEquals(error.unacked, 8);
        await within(client.session.whenWritable(), "room again");
        assert(!client.session.full);
        assertThrows(() => client.session.send(0, u32(9)), RangeError, "got 0");
        assertThrows(() => client.session.send(1, new Uint8Array(70_000)), RangeError, "exceeds");
        await waitFor(() => answers.length === 8, "8 answers");
      } finally {
        await client.close();
        await server.close();
        sessions.close();
      }
      assertEquals(await client.ended, undefined);
    }),
);

Deno.test(
  "SessionServer refuses logins past maxSessions and made-up numbers, keeping nothing, and expires sessions that exchanged nothing, files too",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      // A file left by a made-up login before sessions that store nothing stopped making one.
      const old = SessionStore.open({
        dir: `${dir}/server`,
        localName: "server",
        peerName: "made-up-0",
      });
      old.append([], 0, 0);
      old.close();
      const expired: string[] = [];
      const { server, sessions } = echoServer(dir, {
        maxSessions: 4,
        emptySessionTimeout: 100,
        onSessionExpire: (session) => void expired.push(session.peer),
      });
      const { port } = await server.listen();
      const held: Deno.TcpConn[] = [];
      try {
        // Numbers no file here backs: refused, and neither a table entry nor a file is kept.
        const mismatch = await rawLogin(port, "made-up-x", {
          received: 5,
          acknowledged: 0,
          sent: 0,
        });
        mismatch.conn.close();
        assertEquals(mismatch.reply.status, LoginStatus.mismatch);
        assertEquals(sessions.size, 0);
        assertEquals(await files(`${dir}/server`), ["made-up-0.session"]);

        // A flood of made-up logins that hold their connections: 4 in, the rest refused.
        for (let i = 0; i < 10; i++) {
          const { conn, reply } = await rawLogin(port, `made-up-${i}`);
          held.push(conn);
          if (i < 4) {
            assertEquals(reply.status, LoginStatus.accepted, `login ${i}`);
          } else {
            assertEquals([reply.status, reply.reason], [
              LoginStatus.rejected,
              "Too many sessions (maxSessions: 4)",
            ]);
          }
        }
        assertEquals(sessions.size, 4);
        assertEquals(await files(`${dir}/server`), ["made-up-0.session"], "no file made");
        const answers: number[] = [];
        const full = await assertRejects(
          () => connectSession(clientOptions(dir, port, answers)),
          SessionRejectedError,
        );
        assertEquals(full.reason, "Too many sessions (maxSessions: 4)");

        // Their connections gone, the sessions expire: out of the table, their files removed.
        for (const conn of held.splice(0)) conn.close();
        await waitFor(() => sessions.size === 0, "the made-up sessions to expire");
        assertEquals(expired.sort(), ["made-up-0", "made-up-1", "made-up-2", "made-up-3"]);
        assertEquals(await files(`${dir}/server`), []);
        await sessionOfTen(clientOptions(dir, port, answers));
        assertEquals(answers, range(1, 10));
        assertEquals(await files(`${dir}/server`), ["c1.session"]);
      } finally {
        for (const conn of held) conn.close();
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "SessionServer gives a full table's place to the session without a connection that exchanged nothing",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const expired: string[] = [];
      const { server, sessions } = echoServer(dir, {
        maxSessions: 2,
        onSessionExpire: (session) => void expired.push(session.peer),
      });
      const { port } = await server.listen();
      try {
        // Logins that come and go (the probe's flood) never lock the table.
        for (let i = 0; i < 10; i++) {
          const { conn, reply } = await rawLogin(port, `churn-${i}`);
          conn.close();
          assertEquals(reply.status, LoginStatus.accepted, `login ${i}`);
          await waitFor(() => !sessions.get(`churn-${i}`)!.connected, "its connection to go");
        }
        assertEquals([...sessions].map((session) => session.peer), ["churn-8", "churn-9"]);
        assertEquals(expired, range(0, 7).map((i) => `churn-${i}`), "oldest first");
        // Sessions with messages keep their place (until detachedSessionTimeout).
        const answers: number[] = [];
        await sessionOfTen(clientOptions(dir, port, answers));
        await sessionOfTen(
          clientOptions(dir, port, answers, { name: "c2", dir: `${dir}/client-2` }),
        );
        assertEquals([...sessions].map((session) => session.peer).sort(), ["c1", "c2"]);
        const { conn, reply } = await rawLogin(port, "churn-10");
        conn.close();
        assertEquals(reply.status, LoginStatus.rejected);
        assertEquals(await files(`${dir}/server`), ["c1.session", "c2.session"]);
      } finally {
        await server.close();
        sessions.close();
      }
    }),
);

Deno.test(
  "SessionServer closes a session without a connection past detachedSessionTimeout; its client resumes from the file",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const expired: Session[] = [];
      const { server, sessions, got } = echoServer(dir, {
        detachedSessionTimeout: 100,
        emptySessionTimeout: 100,
        onSessionExpire: (session) => void expired.push(session),
      });
      const { port } = await server.listen();
      try {
        const answers: number[] = [];
        const client = await connectSession(clientOptions(dir, port, answers));
        await sendAll(client.session, 1, 5);
        await waitFor(() => answers.length === 5, "5 answers");
        const first = sessions.get("c1")!;
        // Logged in, a session never expires, however long it stays.
        const started = performance.now();
        await waitFor(() => performance.now() - started > 300, "three expiry times", 2000);
        assertEquals(expired, []);
        await client.close();
        await waitFor(() => sessions.get("c1") === undefined, "the session to expire");
        assertEquals(expired, [first]);
        assertThrows(() => first.send(1, u32(0)), SessionError, "closed");
        assertEquals(await files(`${dir}/server`), ["c1.session"], "its file stays");

        const again = await connectSession(clientOptions(dir, port, answers));
        try {
          assertEquals(again.session.lastSentSeq, 5);
          const second = sessions.get("c1")!;
          assertEquals(second.sequences, { received: 5, acknowledged: 5, sent: 5 });
          await sendAll(again.session, 6, 10);
          await waitFor(() => answers.length === 10, "10 answers");
          assertEquals(got, range(1, 10));
          assertEquals(answers, range(1, 10));
        } finally {
          await again.close();
        }
      } finally {
        await server.close();
        sessions.close();
      }
      assertThrows(
        () => sessionProtocol({ dir, onMessage() {}, emptySessionTimeout: -1 }),
        RangeError,
        "emptySessionTimeout must be a non-negative integer, got -1",
      );
      assertThrows(
        () => sessionProtocol({ dir, onMessage() {}, detachedSessionTimeout: 1.5 }),
        RangeError,
        "detachedSessionTimeout must be a non-negative integer, got 1.5",
      );
    }),
);

Deno.test(
  "sessionServer without a table of the app's closes its sessions, files and timers with the server",
  SANITIZED,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const server = sessionServer({
        port: 0,
        session: {
          dir: `${dir}/server`,
          onMessage: (message, session) => void session.send(message.type, message.payload),
        },
      });
      const { port } = await server.listen();
      const answered = Promise.withResolvers<void>();
      const client = await connectSession({
        port,
        session: { dir: `${dir}/client`, name: "c1", onMessage: () => answered.resolve() },
      });
      client.session.send(1, new Uint8Array([7]));
      await within(answered.promise, "the answer");
      await client.close();
      // Without the protocol's close, the server's session file and expiry timer stay open, and
      // the sanitizers fail this test.
      await server.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
