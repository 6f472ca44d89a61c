/**
 * The `speedo` command run as a person runs it from the repository's root
 * (`deno run -A cli/main.ts serve ...`), its output read a line at a time as it comes.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { within } from "../testing/_socket_client.ts";

const root = new URL("../", import.meta.url);
/** Long enough for a cold `deno run` to type-check the command on a slow machine. */
const START_TIMEOUT = 20_000;
/** How long a server has to close after SIGTERM. */
const STOP_TIMEOUT = 10_000;

/** A `speedo serve` running. */
export interface RunningCli {
  /** The port of its first log line: where it listens. */
  readonly port: number;
  /** Every line of stdout read so far, the first (where it listens) first. */
  readonly lines: readonly string[];
  /**
   * Reads lines until one matches.
   *
   * @param match Whether a line is the one.
   * @param what Said in the error on timeout.
   * @param timeout Deadline in milliseconds.
   * @returns The line.
   */
  waitForLine(match: (line: string) => boolean, what: string, timeout?: number): Promise<string>;
  /**
   * Sends SIGTERM and reads its output to the end.
   *
   * @returns Its exit code and what it wrote on stderr.
   */
  stop(): Promise<{ code: number; stderr: string }>;
}

/**
 * Starts `deno run -A cli/main.ts ...args` and waits for its first line, which says where it
 * listens.
 *
 * @param args The command line: `serve echo --port 0`.
 * @param portOf Reads the port from the first line.
 * @returns The running command.
 */
export async function startCli(
  args: string[],
  portOf: (line: string) => number = (line) => Number(/listening on \S*:(\d+)/.exec(line)?.[1]),
): Promise<RunningCli> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/main.ts", ...args],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const lines: string[] = [];
  let partial = "";
  let read = 0;
  /** The next whole line, or `undefined` at the end. */
  const nextLine = async (): Promise<string | undefined> => {
    while (read >= lines.length) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      const parts = (partial + value).split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
    }
    return lines[read++];
  };
  const waitForLine = async (match: (line: string) => boolean, what: string, timeout = 5000) => {
    const found = (async () => {
      while (true) {
        const line = await nextLine();
        if (line === undefined) throw new Error(`speedo ${args.join(" ")} ended before ${what}`);
        if (match(line)) return line;
      }
    })();
    return await within(found, `${what} from speedo ${args.join(" ")}`, timeout);
  };
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    try {
      await deadline(
        (async () => {
          while (await nextLine() !== undefined);
        })(),
        STOP_TIMEOUT,
      );
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    } finally {
      await reader.cancel().catch(() => {});
    }
    const { code } = await child.status;
    return { code, stderr: await stderr };
  };
  try {
    const first = await waitForLine(() => true, "its first line", START_TIMEOUT);
    const port = portOf(first);
    if (!(port > 0)) throw new Error(`No port in the first line: ${first}`);
    return { port, lines, waitForLine, stop };
  } catch (error) {
    const { stderr } = await stop().catch(() => ({ stderr: "" }));
    throw new Error(`speedo ${args.join(" ")} did not start: ${stderr}`, { cause: error });
  }
}
