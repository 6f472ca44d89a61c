/**
 * A persistent-session server that answers every message with the same payload:
 * `deno run -A examples/session_server.ts`, then `examples/session_client.ts` against it.
 *
 * Each client's session lives in `<dir>/<client name>.session`: kill this server (even with
 * `kill -9`) and start it again with the same `--dir`, and every client resumes where it was,
 * each message delivered once and in order.
 *
 * Flags: `--port` (9393; 0 picks one), `--hostname` (127.0.0.1), `--dir`
 * (`.speedo-sessions/server`), `--name` (`server`), `--fsync` (`never`, `always`, or a number
 * of milliseconds), `--reset NAME` (delete that client's session first; repeatable), `--expect N`
 * (exit 1 unless every session sent, had acknowledged and received exactly N), `--loops` (1; N
 * or `auto`: I/O loops sharing the port, each building the protocol from `sessionAnswers`'s
 * recipe; a session's file is held by one loop at a time), `--secret S` (refuse every login that
 * does not carry the secret S: the server's authenticator is `sessionSecrets` with S for every
 * name; without it, any client may log in under any name).
 *
 * The first line printed gives the port. On SIGINT or SIGTERM it closes gracefully, prints a
 * line per session, and a final line `sessions S: sent X, acknowledged Y, received Z, out of
 * order O`, for every session that logged in since the start, whichever loop it was on (the
 * loops record each session's numbers in shared memory). It exits 0 when no message came out of order (and, with `--expect`, all counts
 * are N); 2 for a bad flag, with one line on stderr. `--help` prints the usage.
 *
 * @module
 */

import { hostPort } from "./_address.ts";
import { onShutdownSignal } from "./_close_on_signal.ts";
import {
  exampleArgs,
  fsyncFlag,
  integerFlag,
  listFlag,
  loopCount,
  loopsFlag,
  portFlag,
  serverOrExit,
  SESSION_NAME,
  textFlag,
} from "./_args.ts";
import { Server } from "@speedo/speedo";
import {
  type FsyncPolicy,
  resetSession,
  type Session,
  type SessionProtocol,
  sessionProtocol,
  sessionSecrets,
} from "@speedo/speedo/session";

/** Options of {@linkcode sessionAnswers}: structured-clonable, for every loop's copy. */
export interface SessionAnswersOptions {
  /** The folder of the session files. */
  dir: string;
  /** This server's name. */
  name: string;
  /** When the files are flushed to the disk. */
  fsync: FsyncPolicy;
  /** What the loops tell the main thread: made by {@linkcode sessionReports}. */
  shared: SharedArrayBuffer;
}

/** One session's numbers, as the final report gives them. */
export interface SessionReport {
  /** The client's name. */
  peer: string;
  /** The last message sent to it. */
  sent: number;
  /** The last of those it acknowledged. */
  acknowledged: number;
  /** The last message received from it. */
  received: number;
  /** Messages from it seen again and dropped. */
  duplicates: number;
}

// The shared memory: a header of Int32 [out of order, records used, last stamp], then records
// of Int32 [stamp, sent, acknowledged, received, duplicates, name length] and the name's bytes.
// A loop writes a session's record when the session opens and when its connection closes
// (its numbers change only while it has one); a session that moved to another loop has a
// record on each, and the one with the latest stamp is the truth.
const HEADER = 4;
const FIELDS = 6;
const NAME_BYTES = 64;
const RECORD = FIELDS * 4 + NAME_BYTES;
/** Room for a full table (1,024 sessions) on each of 16 loops. */
const RECORDS = 16 * 1024;

/**
 * The shared memory for {@linkcode sessionAnswers}.
 *
 * @returns Zeroed memory, about 1.4 MB.
 */
export function sessionReports(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER * 4 + RECORDS * RECORD);
}

/**
 * Reads what the protocol recorded; call it once the server is closed.
 *
 * @param shared The memory given to {@linkcode sessionAnswers}.
 * @returns Messages out of order, and the last numbers of each session that logged in.
 */
export function readReports(
  shared: SharedArrayBuffer,
): { outOfOrder: number; sessions: SessionReport[] } {
  const header = new Int32Array(shared, 0, HEADER);
  const latest = new Map<string, { stamp: number; report: SessionReport }>();
  for (let i = 0; i < Math.min(header[1], RECORDS); i++) {
    const at = HEADER * 4 + i * RECORD;
    const [stamp, sent, acknowledged, received, duplicates, length] = new Int32Array(
      shared,
      at,
      FIELDS,
    );
    const peer = new TextDecoder().decode(new Uint8Array(shared, at + FIELDS * 4, length).slice());
    if ((latest.get(peer)?.stamp ?? -1) < stamp) {
      latest.set(peer, { stamp, report: { peer, sent, acknowledged, received, duplicates } });
    }
  }
  return { outOfOrder: header[0], sessions: [...latest.values()].map(({ report }) => report) };
}

/**
 * The protocol: answers every message with its payload, counts the messages whose payload is
 * not their number, and records each session's numbers in `shared`. Its recipe names this
 * function, so each loop builds it again.
 *
 * @param options The folder, the names and the shared memory.
 * @returns The session protocol.
 */
export function sessionAnswers(options: SessionAnswersOptions): SessionProtocol {
  const header = new Int32Array(options.shared, 0, HEADER);
  const slots = new Map<string, number>();
  const number = (payload: Uint8Array): number =>
    payload.length === 4 ? new DataView(payload.buffer, payload.byteOffset).getUint32(0, true) : -1;
  const record = (session: Session) => {
    const at = (slot: number) => HEADER * 4 + slot * RECORD;
    let slot = slots.get(session.peer);
    if (slot === undefined) {
      slot = Atomics.add(header, 1, 1);
      if (slot >= RECORDS) return;
      slots.set(session.peer, slot);
      const name = new TextEncoder().encode(session.peer);
      new Uint8Array(options.shared, at(slot) + FIELDS * 4, NAME_BYTES).set(name);
      new Int32Array(options.shared, at(slot), FIELDS)[5] = name.length;
    }
    new Int32Array(options.shared, at(slot), FIELDS).set([
      Atomics.add(header, 2, 1) + 1,
      session.lastSentSeq,
      session.acknowledgedSeq,
      session.lastReceivedSeq,
      session.stats().duplicates,
    ]);
  };
  return sessionProtocol({
    dir: options.dir,
    name: options.name,
    fsync: options.fsync,
    onMessage(message, session) {
      // The client sends the numbers 1, 2, 3... as its messages 1, 2, 3...
      if (number(message.payload) !== message.seq && Atomics.add(header, 0, 1) < 10) {
        console.error(
          `out of order: message ${message.seq} of ${session.peer} carries ${
            number(message.payload)
          }`,
        );
      }
      session.send(1, message.payload);
    },
    onSessionOpen: record,
    onSessionClose: record,
    onFileError: (error) => console.error(`refused: ${error.message}`),
    onSequenceMismatch: (error) => console.error(`refused: ${error.message}`),
    onError: (error) => console.error(`error: ${error.name}: ${error.message}`),
    recipe: { module: import.meta.url, export: "sessionAnswers", options },
  });
}

async function main(): Promise<void> {
  const args = exampleArgs({
    name: "examples/session_server.ts",
    summary:
      "A persistent-session server that answers every message with its payload; each client's session survives restarts",
  }, {
    port: portFlag({ default: 9393, help: "port to listen on; 0 picks a free one" }),
    hostname: textFlag({ default: "127.0.0.1", placeholder: "HOST", help: "address to listen on" }),
    dir: textFlag({
      default: ".speedo-sessions/server",
      placeholder: "DIR",
      help: "the folder of the session files",
    }),
    name: textFlag({
      default: "server",
      placeholder: "NAME",
      help: "this server's name, as clients know it",
      ...SESSION_NAME,
    }),
    fsync: fsyncFlag(),
    reset: listFlag("delete that client's session first", "CLIENT", SESSION_NAME),
    expect: integerFlag({
      max: 0xffffffff,
      help: "exit 1 unless every session sent, had acknowledged and received exactly N",
    }),
    loops: loopsFlag(),
    secret: textFlag({
      placeholder: "S",
      help: "refuse every login without this secret (one for every client name)",
      requirement: "be 1 to 255 bytes of UTF-8",
      check: (text) => text.length > 0 && new TextEncoder().encode(text).length <= 255,
    }),
  });
  const { port, expect, fsync } = args;
  for (const name of args.reset) {
    const existed = resetSession({ dir: args.dir, peer: name });
    console.error(`session of ${name}: ${existed ? "reset" : "nothing to reset"}`);
  }

  const shared = sessionReports();
  const protocol = sessionAnswers({ dir: args.dir, name: args.name, fsync, shared });
  const server = serverOrExit(() =>
    new Server({
      hostname: args.hostname,
      port,
      loops: args.loops,
      idleTimeout: 0,
      // One secret for every name; the hook runs on this thread, whatever the loops.
      authenticate: args.secret === undefined ? undefined : sessionSecrets(() => args.secret),
      onError: (error) => console.error(`error: ${error.name}: ${error.message}`),
      protocol,
    })
  );

  const address = await server.listen();
  const loops = server.stats().loops.length;
  console.log(
    `Speedo session server listening on ${hostPort(address)} (${
      loops === 1 ? "" : `${loopCount(loops)}, `
    }dir ${args.dir}, fsync ${fsync}${args.secret === undefined ? "" : ", secret required"})`,
  );

  onShutdownSignal(async (signal) => {
    // The protocol's close, at the end of the server's, closes the sessions and their files.
    await server.close();
    // Read from what the protocol recorded, on this thread or on the loops' threads.
    const { outOfOrder, sessions } = readReports(shared);
    let sent = 0;
    let acknowledged = 0;
    let received = 0;
    let complete = true;
    for (const session of sessions) {
      console.log(
        `session ${session.peer}: sent ${session.sent}, acknowledged ${session.acknowledged}, received ${session.received}, duplicates dropped ${session.duplicates}`,
      );
      sent += session.sent;
      acknowledged += session.acknowledged;
      received += session.received;
      if (
        expect !== undefined &&
        (session.sent !== expect || session.acknowledged !== expect || session.received !== expect)
      ) complete = false;
    }
    if (expect !== undefined && sessions.length === 0) complete = false;
    console.log(
      `${signal}: sessions ${sessions.length}: sent ${sent}, acknowledged ${acknowledged}, received ${received}, out of order ${outOfOrder}`,
    );
    Deno.exit(outOfOrder === 0 && complete ? 0 : 1);
  });
}

// The server runs when this file is run, not when a loop loads it for sessionAnswers.
if (import.meta.main) await main();
