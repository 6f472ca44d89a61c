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
 * (exit 1 unless every session sent, had acknowledged and received exactly N).
 *
 * The first line printed gives the port. On SIGINT or SIGTERM it closes gracefully, prints a
 * line per session, and a final line `sessions S: sent X, acknowledged Y, received Z, out of
 * order O`. It exits 0 when no message came out of order (and, with `--expect`, all counts
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
  portFlag,
  SESSION_NAME,
  textFlag,
} from "./_args.ts";
import {
  resetSession,
  type Session,
  type SessionMessage,
  sessionServer,
  SessionTable,
} from "@speedo/speedo/session";

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
});
const { port, expect, fsync } = args;
for (const name of args.reset) {
  const existed = resetSession({ dir: args.dir, peer: name });
  console.error(`session of ${name}: ${existed ? "reset" : "nothing to reset"}`);
}

let outOfOrder = 0;
const number = (payload: Uint8Array): number =>
  payload.length === 4 ? new DataView(payload.buffer, payload.byteOffset).getUint32(0, true) : -1;

const sessions = new SessionTable();
const server = sessionServer({
  hostname: args.hostname,
  port,
  idleTimeout: 0,
  onError: (error) => console.error(`error: ${error.name}: ${error.message}`),
  session: {
    dir: args.dir,
    name: args.name,
    fsync,
    sessions,
    onMessage(message: SessionMessage, session: Session) {
      // The client sends the numbers 1, 2, 3... as its messages 1, 2, 3...
      if (number(message.payload) !== message.seq) {
        if (outOfOrder++ < 10) {
          console.error(
            `out of order: message ${message.seq} of ${session.peer} carries ${
              number(message.payload)
            }`,
          );
        }
      }
      session.send(1, message.payload);
    },
    onFileError: (error) => console.error(`refused: ${error.message}`),
    onSequenceMismatch: (error) => console.error(`refused: ${error.message}`),
    onError: (error) => console.error(`error: ${error.name}: ${error.message}`),
  },
});

const address = await server.listen();
console.log(
  `Speedo session server listening on ${hostPort(address)} (dir ${args.dir}, fsync ${fsync})`,
);

onShutdownSignal(async (signal) => {
  await server.close();
  sessions.close();
  let sent = 0;
  let acknowledged = 0;
  let received = 0;
  let complete = true;
  for (const session of sessions) {
    const stats = session.stats();
    console.log(
      `session ${session.peer}: sent ${session.lastSentSeq}, acknowledged ${session.acknowledgedSeq}, received ${session.lastReceivedSeq}, duplicates dropped ${stats.duplicates}`,
    );
    sent += session.lastSentSeq;
    acknowledged += session.acknowledgedSeq;
    received += session.lastReceivedSeq;
    if (
      expect !== undefined &&
      (session.lastSentSeq !== expect || session.acknowledgedSeq !== expect ||
        session.lastReceivedSeq !== expect)
    ) complete = false;
  }
  if (expect !== undefined && sessions.size === 0) complete = false;
  console.log(
    `${signal}: sessions ${sessions.size}: sent ${sent}, acknowledged ${acknowledged}, received ${received}, out of order ${outOfOrder}`,
  );
  Deno.exit(outOfOrder === 0 && complete ? 0 : 1);
});
