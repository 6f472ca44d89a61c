/**
 * The session protocol without sockets: a server's side fed bytes at every chunk size down to
 * one, its answers decoded. Login, resume after a reconnect (resends and duplicates dropped)
 * and malformed frames. The session files are real, in a temporary directory.
 */

import { read, u32 } from "./_session_test_helper.ts";
import { assertEquals, assertInstanceOf, assertStringIncludes, assertThrows } from "@std/assert";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { MalformedFrameError } from "../../core/framing/framing_errors.ts";
import { forEachChunkSize, MemoryTransport, runProtocol } from "../../testing/mod.ts";
import {
  decodeLoginReply,
  encodeLogin,
  FrameType,
  type LoginReply,
  LoginStatus,
} from "./_session_wire.ts";
import {
  SessionError,
  type SessionProtocol,
  sessionProtocol,
  type SessionProtocolOptions,
  SessionStore,
  SessionTable,
} from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const encoder = new HeaderEncoder();

function login(received: number, acknowledged: number, sent: number): Uint8Array {
  return encoder.encode(
    FrameType.login,
    encodeLogin({ name: "c1", serverName: "server", received, acknowledged, sent }),
  );
}

/** A session message frame: seq, then the number `value` as the payload. */
function message(seq: number, value = seq, ackSeq = 0): Uint8Array {
  return encoder.encode(1, new Uint8Array([...u32(seq), ...u32(value)]), ackSeq);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((part) => [...part]));
}

/** What the server wrote: its login reply, then its messages as [seq, number, ackSeq]. */
function decode(bytes: Uint8Array): { reply: LoginReply; messages: number[][] } {
  const decoder = new HeaderDecoder();
  decoder.feed(bytes);
  const first = decoder.next();
  if (first === null) throw new Error("No login reply");
  assertEquals(decoder.type, FrameType.loginReply);
  const reply = decodeLoginReply(first);
  if (typeof reply === "string") throw new Error(reply);
  const messages: number[][] = [];
  for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
    if (decoder.type === FrameType.heartbeat) continue;
    messages.push([read(payload), read(payload.subarray(4)), decoder.ackSeq]);
  }
  return { reply, messages };
}

/** An echoing session protocol in a fresh directory; `got` holds the numbers delivered. */
function echoProtocol(
  dir: string,
  extra: Partial<SessionProtocolOptions> = {},
): { protocol: SessionProtocol; got: number[]; errors: Error[] } {
  const got: number[] = [];
  const errors: Error[] = [];
  const protocol = sessionProtocol({
    dir,
    onMessage(message, session) {
      got.push(read(message.payload));
      session.send(1, message.payload);
    },
    onError: (error) => void errors.push(error),
    ...extra,
  });
  return { protocol, got, errors };
}

/** Runs `test` once per chunk size, each in a directory of its own. */
async function eachChunkSize(
  input: Uint8Array,
  test: (dir: string, size: number) => void,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "speedo-session-protocol-" });
  try {
    forEachChunkSize(input, (_, size) => test(`${root}/${size}`, size));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test(
  "sessionProtocol logs a client in and delivers its messages once, in order, at every chunk size",
  SANITIZED,
  async () => {
    const input = concat(login(0, 0, 0), message(1), message(2), message(3));
    await eachChunkSize(input, (dir, size) => {
      const { protocol, got, errors } = echoProtocol(dir);
      try {
        const transport = runProtocol(protocol, input, { chunkSize: size });
        const { reply, messages } = decode(transport.bytes());
        assertEquals(
          [reply.status, reply.serverName, reply.received, reply.acknowledged, reply.sent],
          [LoginStatus.accepted, "server", 0, 0, 0],
          `chunk size ${size}`,
        );
        assertEquals(got, [1, 2, 3], `chunk size ${size}`);
        assertEquals(messages.map(([seq, value]) => [seq, value]), [[1, 1], [2, 2], [3, 3]]);
        assertEquals(messages.at(-1)![2], 3, "the last answer acknowledges every message");
        assertEquals(transport.closed, false, "the protocol never closes a good connection");
        const session = protocol.sessions.get("c1")!;
        assertEquals(session.sequences, { received: 3, acknowledged: 0, sent: 3 });
        assertEquals(session.connected, false, "detached at the connection's close");
        assertEquals(errors, []);
      } finally {
        protocol.sessions.close();
      }
      const store = SessionStore.open({ dir, localName: "server", peerName: "c1" });
      try {
        assertEquals([store.received, store.lastSent], [3, 3], "stored before acknowledged");
      } finally {
        store.close();
      }
    });
  },
);

Deno.test(
  "sessionProtocol resumes after a reconnect: resends what the client lacks, drops its duplicates, at every chunk size",
  SANITIZED,
  async () => {
    const first = concat(login(0, 0, 0), message(1), message(2), message(3));
    // The client got answer 1 only, and none of the acknowledgements: it sends 1 to 3 again.
    const second = concat(
      login(1, 0, 3),
      message(1, 1, 1),
      message(2, 2, 1),
      message(3, 3, 1),
      message(4, 4, 1),
    );
    await eachChunkSize(second, (dir, size) => {
      const { protocol, got } = echoProtocol(dir);
      try {
        runProtocol(protocol, first);
        const transport = runProtocol(protocol, second, { chunkSize: size });
        const { reply, messages } = decode(transport.bytes());
        assertEquals(
          [reply.status, reply.received, reply.acknowledged, reply.sent],
          [LoginStatus.accepted, 3, 0, 3],
          `chunk size ${size}`,
        );
        assertEquals(
          messages.map(([seq, value]) => [seq, value]),
          [[2, 2], [3, 3], [4, 4]],
          "answers 2 and 3 sent again, then the answer to 4",
        );
        assertEquals(got, [1, 2, 3, 4], "each message delivered once");
        const session = protocol.sessions.get("c1")!;
        assertEquals(session.stats().duplicates, 3);
        assertEquals(session.stats().resent, 2);
        assertEquals(session.stats().connections, 2);
        assertEquals(session.sequences, { received: 4, acknowledged: 1, sent: 4 });
        assertEquals(protocol.sessions.size, 1);
      } finally {
        protocol.sessions.close();
      }
    });
  },
);

/** Feeds `input` in chunks of `size` until `data` throws, then closes: the error, if any. */
function feedUntilFault(
  protocol: SessionProtocol,
  input: Uint8Array,
  size: number,
): { transport: MemoryTransport; error: unknown } {
  const transport = new MemoryTransport();
  const handler = protocol.create(transport);
  handler.open?.();
  let error: unknown;
  for (let at = 0; at < input.length && error === undefined; at += size) {
    try {
      handler.data(input.slice(at, at + size));
    } catch (thrown) {
      error = thrown;
    }
  }
  handler.close?.(error instanceof Error ? error : undefined);
  return { transport, error };
}

Deno.test(
  "sessionProtocol ends the connection at a malformed frame and keeps what came before it, at every chunk size",
  SANITIZED,
  async () => {
    const start = concat(login(0, 0, 0), message(1), message(2));
    const cases: { bad: Uint8Array; error: new (...args: never[]) => Error; text: string }[] = [
      {
        bad: encoder.encode(1, new Uint8Array([9, 9])),
        error: SessionError,
        text: "A message of 2 bytes has no sequence number",
      },
      {
        bad: message(5),
        error: SessionError,
        text: 'Peer "c1" sent message 5 after 2: messages are missing',
      },
      {
        bad: message(3, 3, 7),
        error: SessionError,
        // The count is what was stored when the frame came: it depends on the chunking.
        text: 'Peer "c1" acknowledged message 7, but only ',
      },
      // A header whose size is below 8: the stream cannot be read on.
      {
        bad: new Uint8Array([4, 0, 1, 0, 0, 0, 0, 0]),
        error: MalformedFrameError,
        text: "",
      },
    ];
    for (const { bad, error: expected, text } of cases) {
      const input = concat(start, bad, message(3));
      await eachChunkSize(input, (dir, size) => {
        const { protocol, got } = echoProtocol(dir);
        try {
          const { transport, error } = feedUntilFault(protocol, input, size);
          assertInstanceOf(error, expected, `chunk size ${size}`);
          assertStringIncludes((error as Error).message, text);
          assertEquals(got, [1, 2], "the messages before the fault, and none after");
          const { messages } = decode(transport.bytes());
          assertEquals(messages.map(([seq]) => seq), [1, 2]);
          assertEquals(protocol.sessions.get("c1")!.lastReceivedSeq, 2);
        } finally {
          protocol.sessions.close();
        }
        const store = SessionStore.open({ dir, localName: "server", peerName: "c1" });
        try {
          assertEquals(store.received, 2, "what was delivered is stored");
        } finally {
          store.close();
        }
      });
    }
  },
);

Deno.test(
  "sessionProtocol refuses a first frame that is not a valid login, keeping nothing, at every chunk size",
  SANITIZED,
  async () => {
    const cases = [
      {
        input: encoder.encode(7, new Uint8Array([...u32(1), ...u32(1)])),
        reason: "Expected a login first, got a frame of type 7",
      },
      {
        input: encoder.encode(FrameType.login, new Uint8Array(10)),
        reason: "login of 10 bytes is too short",
      },
    ];
    for (const { input, reason } of cases) {
      await eachChunkSize(input, (dir, size) => {
        const { protocol, got } = echoProtocol(dir);
        try {
          const transport = runProtocol(protocol, input, { chunkSize: size });
          const { reply, messages } = decode(transport.bytes());
          assertEquals([reply.status, reply.reason], [LoginStatus.rejected, reason]);
          assertEquals(messages, []);
          assertEquals(transport.closed, true, "the connection is closed");
          assertEquals([protocol.sessions.size, got.length], [0, 0]);
        } finally {
          protocol.sessions.close();
        }
      });
    }
  },
);

Deno.test("sessionProtocol checks every option at construction, quoting the value", () => {
  const onMessage = () => {};
  const dir = "unused";
  assertThrows(
    () => sessionProtocol({ dir, onMessage: undefined as unknown as () => void }),
    TypeError,
    "onMessage must be a function (message, session), got undefined",
  );
  assertThrows(
    () => sessionProtocol({ dir: "", onMessage }),
    TypeError,
    'dir must be a directory path, got ""',
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, onLogin: 3 as unknown as () => void }),
    TypeError,
    "onLogin must be a function, got number",
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, name: "a b" }),
    RangeError,
    "a b",
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, maxSessions: 0 }),
    RangeError,
    "maxSessions must be a positive integer, got 0",
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, heartbeatInterval: 0 }),
    RangeError,
    "heartbeatInterval must be a positive integer, got 0",
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, fsync: -1 }),
    RangeError,
    'fsync must be "never", "always" or a positive number of milliseconds, got -1',
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, compactThreshold: 0.5 }),
    RangeError,
    "compactThreshold must be a positive integer, got 0.5",
  );
  const sessions = new SessionTable();
  sessionProtocol({ dir, onMessage, sessions });
  assertThrows(
    () => sessionProtocol({ dir, onMessage, sessions }),
    TypeError,
    "This SessionTable already belongs to a session protocol",
  );
  assertThrows(
    () => sessionProtocol({ dir, onMessage, sessions: {} as SessionTable }),
    TypeError,
    "sessions must be a SessionTable, got [object Object]",
  );
  sessions.close();
});

Deno.test("SessionTable refuses logins once closed", SANITIZED, async () => {
  const root = await Deno.makeTempDir({ prefix: "speedo-session-protocol-" });
  try {
    const { protocol } = echoProtocol(root);
    protocol.sessions.close();
    const transport = runProtocol(protocol, login(0, 0, 0));
    const { reply } = decode(transport.bytes());
    assertEquals(
      [reply.status, reply.reason],
      [LoginStatus.rejected, "The server's session table is closed"],
    );
    assertEquals(protocol.sessions.size, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
