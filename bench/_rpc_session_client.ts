/**
 * The session client of `rpc_load.ts`'s session runs: sends 16-byte messages as fast as the
 * session's window allows (`--one-at-a-time`: one, then waits for its answer) and counts the
 * answers (each a full round trip, both sides storing every message under the same fsync
 * policy).
 *
 * ```
 * deno run -A bench/_rpc_session_client.ts --port P --dir DIR --fsync never|always|MS \
 *   [--warmup 1] [--seconds 3] [--one-at-a-time]
 * ```
 *
 * Prints one JSON line: `{ messages, seconds, rate }` (answers in the measured window).
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { connectSession, type FsyncPolicy } from "../protocols/session/mod.ts";

/** Reads a `--fsync` value. */
export function fsyncPolicy(value: string): FsyncPolicy {
  if (value === "never" || value === "always") return value;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) throw new RangeError(`Bad --fsync "${value}"`);
  return ms;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["port", "dir", "fsync", "warmup", "seconds"],
    boolean: ["one-at-a-time"],
    default: { fsync: "never", warmup: "1", seconds: "3" },
  });
  const warmup = Number(args.warmup);
  const seconds = Number(args.seconds);
  let answers = 0;
  let measuring = false;
  let stopping = false;
  let answered: (() => void) | undefined;
  try {
    const client = await connectSession({
      port: Number(args.port),
      session: {
        dir: args.dir!,
        name: "bench",
        fsync: fsyncPolicy(args.fsync),
        onMessage: () => {
          if (measuring) answers++;
          answered?.();
        },
      },
    });
    const payload = new Uint8Array(16);
    const sending = args["one-at-a-time"]
      ? (async () => {
        while (!stopping) {
          const { promise, resolve } = Promise.withResolvers<void>();
          answered = resolve;
          client.session.send(1, payload);
          await promise;
        }
      })()
      : (async () => {
        while (!stopping) {
          if (client.session.full) await client.session.whenWritable();
          // A burst per turn, then yield so that replies and acknowledgements are read.
          for (let i = 0; i < 256 && !client.session.full; i++) client.session.send(1, payload);
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      })();

    await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
    const started = performance.now();
    measuring = true;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - started) / 1000;
    stopping = true;
    await sending;
    await client.close();
    console.log(JSON.stringify({ messages: answers, seconds: elapsed, rate: answers / elapsed }));
    Deno.exit(0);
  } catch (error) {
    console.error(error);
    Deno.exit(1);
  }
}
