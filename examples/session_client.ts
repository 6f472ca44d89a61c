/**
 * A persistent-session client: sends the numbers 1 to N as messages 1 to N, and checks that
 * the server's answers come back exactly once and in order, across disconnects and restarts
 * of either side. `deno run -A examples/session_client.ts --count 100000` against
 * `examples/session_server.ts`.
 *
 * Its session lives in `<dir>/<server name>.session`: kill this client (even with `kill -9`)
 * and start it again with the same flags, and it goes on from where its file says, sending
 * only what was never sent and expecting only what was never received.
 *
 * Flags: `--port` (9393), `--hostname` (127.0.0.1), `--dir` (`.speedo-sessions/client`),
 * `--name` (`client-1`), `--server-name` (`server`), `--count` (1000), `--fsync` (`never`,
 * `always`, or a number of milliseconds), `--reset` (delete the session file first),
 * `--progress N` (print `progress received R` every N answers; 0: never), `--timeout` (seconds
 * before giving up, 300), `--rate` (messages sent per second at most; 0: as fast as the session
 * takes them), `--secret S` (the credential its logins carry, for a server started with
 * `--secret`).
 *
 * The last line printed is `sent X, acknowledged Y, received Z, out of order O`. It exits 0
 * only when X, Y and Z all equal N and nothing came out of order; 1 otherwise (a corrupt
 * session file, a rejected login — `Login refused` without the server's secret —, a sequence
 * mismatch, the timeout); 2 for a bad flag, with one
 * line on stderr. `--help` prints the usage.
 *
 * @module
 */

import { delay } from "@std/async/delay";
import {
  exampleArgs,
  fsyncFlag,
  integerFlag,
  MAX_TIMER_MS,
  portFlag,
  SESSION_NAME,
  switchFlag,
  textFlag,
} from "./_args.ts";
import { SessionClient, type SessionMessage } from "@speedo/speedo/session";

const args = exampleArgs({
  name: "examples/session_client.ts",
  summary:
    "A persistent-session client: sends the numbers 1 to N and checks each answer comes back once, in order, across restarts",
}, {
  port: portFlag({ default: 9393, min: 1, help: "the server's port" }),
  hostname: textFlag({ default: "127.0.0.1", placeholder: "HOST", help: "the server's address" }),
  dir: textFlag({
    default: ".speedo-sessions/client",
    placeholder: "DIR",
    help: "the folder of the session file",
  }),
  name: textFlag({
    default: "client-1",
    placeholder: "NAME",
    help: "this client's name",
    ...SESSION_NAME,
  }),
  "server-name": textFlag({
    default: "server",
    placeholder: "NAME",
    help: "the server's name",
    ...SESSION_NAME,
  }),
  // Sequence numbers are 32-bit.
  count: integerFlag({ default: 1000, max: 0xffffffff, help: "messages to send" }),
  fsync: fsyncFlag(),
  reset: switchFlag("delete the session file first"),
  progress: integerFlag({ default: 0, help: "print progress every N answers; 0: never" }),
  timeout: integerFlag({
    default: 300,
    min: 1,
    max: Math.floor(MAX_TIMER_MS / 1000),
    help: "seconds before giving up",
  }),
  rate: integerFlag({
    default: 0,
    help: "messages sent per second at most; 0: as fast as the session takes them",
  }),
  secret: textFlag({
    placeholder: "S",
    help: "the secret of a server started with --secret",
    requirement: "be 1 to 255 bytes of UTF-8",
    check: (text) => text.length > 0 && new TextEncoder().encode(text).length <= 255,
  }),
});
const { port, count, progress, timeout, rate, fsync } = args;

let outOfOrder = 0;
let expected = 1;
const number = (payload: Uint8Array): number =>
  payload.length === 4 ? new DataView(payload.buffer, payload.byteOffset).getUint32(0, true) : -1;
const allAnswered = Promise.withResolvers<void>();

function onMessage(message: SessionMessage): void {
  // Answer k carries the number k: the server answers each message once, in order.
  if (message.seq !== expected || number(message.payload) !== message.seq) {
    if (outOfOrder++ < 10) {
      console.error(
        `out of order: answer ${message.seq} carries ${
          number(message.payload)
        }, expected ${expected}`,
      );
    }
  }
  expected = message.seq + 1;
  if (progress > 0 && message.seq % progress === 0) console.log(`progress received ${message.seq}`);
  if (message.seq >= count) allAnswered.resolve();
}

const stop = new AbortController();
const timer = setTimeout(
  () => stop.abort(new Error(`Gave up after --timeout ${timeout} s`)),
  timeout * 1000,
);
Deno.unrefTimer(timer);

let client: SessionClient;
try {
  client = new SessionClient({
    hostname: args.hostname,
    port,
    signal: stop.signal,
    reconnect: { initialDelay: 50, maxDelay: 1000 },
    onError: (error) => {
      if (error.name !== "ConnectionRefused") {
        console.error(`error: ${error.name}: ${error.message}`);
      }
    },
    session: {
      dir: args.dir,
      name: args.name,
      serverName: args["server-name"],
      secret: args.secret,
      fsync,
      reset: args.reset,
      onMessage,
      onLogin: (session) =>
        console.log(
          `logged in as ${args.name}: resuming after sent ${session.lastSentSeq}, received ${session.lastReceivedSeq}`,
        ),
      onError: (error) => console.error(`error: ${error.name}: ${error.message}`),
    },
  });
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  console.log("sent 0, acknowledged 0, received 0, out of order 0");
  Deno.exit(1);
}
const session = client.session;
expected = session.lastReceivedSeq + 1;
if (session.lastReceivedSeq >= count) allAnswered.resolve();

function report(): boolean {
  console.log(
    `sent ${session.lastSentSeq}, acknowledged ${session.acknowledgedSeq}, received ${session.lastReceivedSeq}, out of order ${outOfOrder}`,
  );
  return session.lastSentSeq === count && session.acknowledgedSeq === count &&
    session.lastReceivedSeq === count && outOfOrder === 0;
}

let ok = false;
try {
  const ended = client.ended.then((reason) => {
    throw reason ?? new Error("The session client stopped");
  });
  const aborted = new Promise<never>((_, reject) => {
    stop.signal.addEventListener("abort", () => reject(stop.signal.reason), { once: true });
  });
  await Promise.race([client.loggedIn, ended, aborted]);
  const payload = new Uint8Array(4);
  const view = new DataView(payload.buffer);
  const first = session.lastSentSeq + 1;
  const started = performance.now();
  for (let i = first; i <= count; i++) {
    if (session.full) await Promise.race([session.whenWritable(stop.signal), ended, aborted]);
    // Pacing for demonstrations (--rate), not synchronisation.
    while (rate > 0 && i - first >= (performance.now() - started) / 1000 * rate) {
      await Promise.race([delay(5), ended, aborted]);
    }
    view.setUint32(0, i, true);
    session.send(1, payload);
  }
  await Promise.race([
    Promise.all([allAnswered.promise, session.whenAcknowledged(count, stop.signal)]),
    ended,
    aborted,
  ]);
  ok = true;
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
}
clearTimeout(timer);
await client.close();
Deno.exit(report() && ok ? 0 : 1);
