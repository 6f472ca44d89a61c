/**
 * The session protocol on several I/O loops without sockets: N factories over one directory,
 * joined by a fake {@linkcode LoopContext} that delivers messages asynchronously, in order,
 * structured-cloned. A name's file is held by one loop at a time; a relogin on another loop
 * takes the session over; racing logins leave one winner.
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import type { LoopContext } from "../../core/loop_context.ts";
import type { ProtocolHandler } from "../../core/protocol.ts";
import { MemoryTransport } from "../../testing/mod.ts";
import { waitFor } from "../../testing/_socket_client.ts";
import { decodeLoginReply, encodeLogin, FrameType, LoginStatus } from "./_session_wire.ts";
import {
  SessionError,
  type SessionProtocol,
  sessionProtocol,
  type SessionProtocolOptions,
} from "./mod.ts";

const encoder = new HeaderEncoder();

/** Loops joined in memory: each send is cloned and delivered on a later turn, in order. */
class FakeLoops {
  readonly count: number;
  readonly #listeners: ((from: number, message: unknown) => void)[] = [];
  readonly #replaced: ((loop: number) => void)[] = [];
  #queue: { from: number; to: number; message: unknown }[] = [];
  #scheduled = false;
  /** Loops whose messages are lost (a loop that died, not replaced yet). */
  readonly dead = new Set<number>();
  /** Every message sent, as `from>to:t`. */
  readonly log: string[] = [];

  constructor(count: number) {
    this.count = count;
  }

  context(index: number): LoopContext {
    return {
      index,
      count: this.count,
      send: (to, message) => {
        if (to === index || to < 0 || to >= this.count) throw new RangeError(`bad loop ${to}`);
        this.log.push(`${index}>${to}:${(message as { t: string }).t}`);
        this.#queue.push({ from: index, to, message: structuredClone(message) });
        if (!this.#scheduled) {
          this.#scheduled = true;
          setTimeout(() => this.#deliver());
        }
      },
      receive: (listener) => void (this.#listeners[index] = listener),
      replaced: (listener) => void (this.#replaced[index] = listener),
    };
  }

  /** Loop `loop` came back: the others are told, as the server tells them. */
  replace(loop: number): void {
    this.dead.delete(loop);
    for (let other = 0; other < this.count; other++) {
      if (other !== loop) this.#replaced[other]?.(loop);
    }
  }

  /** Resolves once no message is in flight. */
  async idle(): Promise<void> {
    await waitFor(() => this.#queue.length === 0 && !this.#scheduled, "the loops' messages");
  }

  #deliver(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    for (const { from, to, message } of batch) {
      if (this.dead.has(to) || this.dead.has(from)) continue;
      this.#listeners[to]?.(from, message);
    }
  }
}

/** A connection in memory; the server's close call made once the handle closes. */
class Conn {
  readonly transport = new MemoryTransport();
  readonly handler: ProtocolHandler;
  #closeCalled = false;

  constructor(protocol: SessionProtocol) {
    this.handler = protocol.create(this.transport);
    this.handler.open?.();
  }

  send(...frames: Uint8Array[]): void {
    for (const frame of frames) this.handler.data(frame);
    this.settle();
  }

  /** Calls the handler's close once its handle closed, as the server does. */
  settle(): void {
    if (this.transport.closed && !this.#closeCalled) {
      this.#closeCalled = true;
      this.handler.close?.();
    }
  }

  close(): void {
    this.transport.handle.close();
    this.settle();
  }

  /** The login reply's status and numbers, and the messages after it as [seq, value]. */
  frames(): { status?: number; numbers?: number[]; messages: number[][] } {
    const decoder = new HeaderDecoder();
    decoder.feed(this.transport.bytes());
    const first = decoder.next();
    if (first === null) return { messages: [] };
    const reply = decodeLoginReply(first);
    if (typeof reply === "string") throw new Error(reply);
    const messages: number[][] = [];
    for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
      if (decoder.type === FrameType.heartbeat) continue;
      messages.push([u32Of(payload), u32Of(payload.subarray(4))]);
    }
    return {
      status: reply.status,
      numbers: [reply.received, reply.acknowledged, reply.sent],
      messages,
    };
  }
}

function u32Of(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
}

function login(received: number, acknowledged: number, sent: number, name = "c1"): Uint8Array {
  return encoder.encode(
    FrameType.login,
    encodeLogin({ name, serverName: "server", received, acknowledged, sent }),
  );
}

function message(seq: number, ackSeq = 0): Uint8Array {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setUint32(0, seq, true);
  new DataView(payload.buffer).setUint32(4, seq, true);
  return encoder.encode(1, payload, ackSeq);
}

/** N echoing protocols over one directory, attached to fake loops. */
function loopsOf(dir: string, count: number, extra: Partial<SessionProtocolOptions> = {}): {
  loops: FakeLoops;
  protocols: SessionProtocol[];
  [Symbol.dispose](): void;
} {
  const loops = new FakeLoops(count);
  const protocols = Array.from({ length: count }, (_, index) => {
    const protocol = sessionProtocol({
      dir,
      onMessage: (message, session) => void session.send(1, message.payload),
      onError: (error) => {
        throw error;
      },
      connectionTimeout: 5000,
      ...extra,
    });
    protocol.attach!(loops.context(index));
    return protocol;
  });
  return {
    loops,
    protocols,
    [Symbol.dispose]: () => protocols.forEach((protocol) => protocol.close!()),
  };
}

async function withDir(test: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-loops-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "sessionProtocol on two loops: a relogin on the other loop takes the session over, the old connection closed first, sequences continuing",
  () =>
    withDir(async (dir) => {
      using setup = loopsOf(dir, 2);
      const { loops, protocols } = setup;
      const a = new Conn(protocols[0]);
      a.send(login(0, 0, 0));
      // Loop 0 holds nothing: it claims the name from loop 1 before it answers.
      assertEquals(a.frames().status, undefined);
      assertEquals(loops.log, ["0>1:claim"]);
      a.send(message(1), message(2));
      assertEquals(a.frames().status, undefined, "frames wait for the claim");
      await loops.idle();
      assertEquals(a.frames().status, LoginStatus.accepted);
      assertEquals(a.frames().messages, [[1, 1], [2, 2]]);
      const first = protocols[0].sessions.get("c1")!;
      // A relogin on the same loop needs no message.
      loops.log.length = 0;

      const b = new Conn(protocols[1]);
      b.send(login(2, 2, 2), message(3, 2));
      assertEquals(b.frames().status, undefined);
      await loops.idle();
      a.settle();
      assertEquals(loops.log, ["1>0:claim", "0>1:released"]);
      assert(a.transport.closed, "the old connection is closed");
      assertEquals(protocols[0].sessions.get("c1"), undefined);
      assertThrows(() => first.send(1, new Uint8Array(1)), SessionError, "is closed");
      const frames = b.frames();
      assertEquals(frames.status, LoginStatus.accepted);
      assertEquals(frames.numbers, [2, 0, 2], "received, acknowledged, sent");
      assertEquals(frames.messages, [[3, 3]]);
      assertEquals(protocols[1].sessions.get("c1")?.lastReceivedSeq, 3);

      // And back to loop 0, from a detached session on loop 1.
      b.close();
      const c = new Conn(protocols[0]);
      c.send(login(3, 3, 3), message(4, 3));
      await loops.idle();
      assertEquals(c.frames().numbers, [3, 2, 3]);
      assertEquals(c.frames().messages, [[4, 4]]);
      assertEquals(protocols[1].sessions.get("c1"), undefined, "detached, then released");
      c.close();
    }),
);

Deno.test(
  "sessionProtocol on two loops: of two logins racing for one name, the newer wins and the other closes unanswered",
  () =>
    withDir(async (dir) => {
      using setup = loopsOf(dir, 2);
      const { loops, protocols } = setup;
      const a = new Conn(protocols[0]);
      const b = new Conn(protocols[1]);
      a.send(login(0, 0, 0));
      b.send(login(0, 0, 0));
      await loops.idle();
      a.settle();
      b.settle();
      // Equal clocks: the higher loop's ticket is the newer.
      assert(a.transport.closed);
      assertEquals(a.transport.bytes().length, 0, "no reply: the client reconnects");
      assertEquals(b.frames().status, LoginStatus.accepted);
      assertEquals(protocols[0].sessions.size, 0);
      assertEquals(protocols[1].sessions.size, 1);
      // A login made after seeing that claim is newer, and takes over.
      const c = new Conn(protocols[0]);
      c.send(login(0, 0, 0), message(1));
      await loops.idle();
      b.settle();
      assert(b.transport.closed);
      assertEquals(c.frames().messages, [[1, 1]]);
      assertEquals(protocols[1].sessions.size, 0);
      c.close();
    }),
);

Deno.test(
  "sessionProtocol on three loops: racing logins while a third loop holds the name leave exactly one holder",
  () =>
    withDir(async (dir) => {
      for (const order of [[0, 1], [1, 0]]) {
        using setup = loopsOf(`${dir}/${order.join("")}`, 3);
        const { loops, protocols } = setup;
        const holder = new Conn(protocols[2]);
        holder.send(login(0, 0, 0), message(1));
        await loops.idle();
        assertEquals(holder.frames().messages, [[1, 1]]);
        const racers = order.map((loop) => new Conn(protocols[loop]));
        for (const racer of racers) racer.send(login(1, 1, 1));
        await loops.idle();
        for (const conn of [holder, ...racers]) conn.settle();
        assert(holder.transport.closed);
        const holders = protocols.filter((protocol) => protocol.sessions.get("c1") !== undefined);
        assertEquals(holders.length, 1, `order ${order}`);
        const winners = racers.filter((racer) => racer.frames().status === LoginStatus.accepted);
        assertEquals(winners.length, 1);
        assertEquals(winners[0].frames().numbers, [1, 0, 1]);
        winners[0].close();
      }
    }),
);

Deno.test(
  "sessionProtocol on two loops: a loop replaced holds nothing, so a claim waiting for its answer is granted",
  () =>
    withDir(async (dir) => {
      using setup = loopsOf(dir, 2);
      const { loops, protocols } = setup;
      const a = new Conn(protocols[1]);
      a.send(login(0, 0, 0), message(1));
      await loops.idle();
      // Loop 1 dies: its connection and its file go with it.
      loops.dead.add(1);
      protocols[1].close!();
      const b = new Conn(protocols[0]);
      b.send(login(1, 1, 1));
      await loops.idle();
      assertEquals(b.frames().status, undefined, "waiting for the dead loop");
      loops.replace(1);
      assertEquals(b.frames().numbers, [1, 0, 1]);
      b.close();
    }),
);

Deno.test(
  "sessionProtocol on one loop sends nothing and answers a login at once",
  () =>
    withDir((dir) => {
      using setup = loopsOf(dir, 1);
      const a = new Conn(setup.protocols[0]);
      a.send(login(0, 0, 0), message(1));
      assertEquals(a.frames().messages, [[1, 1]]);
      assertEquals(setup.loops.log, []);
      a.close();
    }),
);

Deno.test(
  "sessionProtocol on two loops: the takeover limit holds per name across loops, its history moving with the name",
  () =>
    withDir(async (dir) => {
      using setup = loopsOf(dir, 2, { maxTakeovers: 3, takeoverWindow: 60_000 });
      const { loops, protocols } = setup;
      const conns: Conn[] = [];
      const statuses: (number | undefined)[] = [];
      // Two clients fighting over "c1" from two loops, in turn: every login after the first
      // is a takeover from the other loop.
      for (let i = 0; i < 7; i++) {
        const conn = new Conn(protocols[i % 2]);
        conn.send(login(0, 0, 0));
        await loops.idle();
        for (const other of conns) other.settle();
        conn.settle();
        conns.push(conn);
        statuses.push(conn.frames().status);
      }
      assertEquals(statuses, [
        LoginStatus.accepted,
        LoginStatus.accepted,
        LoginStatus.accepted,
        LoginStatus.accepted,
        LoginStatus.rejected,
        LoginStatus.rejected,
        LoginStatus.rejected,
      ]);
      // The fourth login keeps the session: the refused claims took nothing from it.
      assert(!conns[3].transport.closed);
      assertEquals(protocols[1].sessions.get("c1")?.connected, true);
      const stats = protocols.map((protocol) => protocol.sessions.stats());
      assertEquals(stats[0].takeovers + stats[1].takeovers, 3);
      assertEquals(stats[0].takeoversRefused + stats[1].takeoversRefused, 3);
      for (const conn of conns) conn.close();
    }),
);
