/**
 * What the example tests share: an example run as a child process, as a person runs it from the
 * repository's root, with its output read as it comes or its refusal of bad flags.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { within } from "../testing/_socket_client.ts";

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();
/** Long enough for a cold `deno run` to type-check an example on a slow machine. */
const OUTPUT_TIMEOUT = 20_000;

/** An example started by {@linkcode spawnExample}. */
export interface SpawnedExample {
  readonly child: Deno.ChildProcess;
  /** Its first lines of output: where it listens. */
  readonly firstLines: string;
  /** Reads its output to the end (stop it first), and resolves with all of it, first lines too. */
  output(): Promise<string>;
}

/**
 * Starts `deno run -A ...args` and waits for its first `lines` lines of output, or its end.
 *
 * @param args The script and its flags.
 * @param lines How many lines to wait for: the examples say where they listen there.
 */
export async function spawnExample(args: string[], lines = 1): Promise<SpawnedExample> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  // One decoder per child: `stream: true` keeps a character split across reads whole.
  const streamDecoder = new TextDecoder();
  let text = "";
  const readMore = async () => {
    const { value, done } = await within(reader.read(), "the example's output", OUTPUT_TIMEOUT);
    if (!done) text += streamDecoder.decode(value, { stream: true });
    return !done;
  };
  try {
    while (text.split("\n").length <= lines && await readMore());
  } catch (error) {
    // Silent or hung: stop it, so that the failure is the test's and not a leaked process.
    child.kill("SIGKILL");
    await reader.cancel();
    await child.status;
    throw error;
  }
  const firstLines = text;
  const output = async () => {
    while (await readMore());
    return text;
  };
  return { child, firstLines, output };
}

/**
 * Runs an example to its exit from a scratch folder (what it writes stays there), and kills it
 * if it still runs after `timeout` ms: an example that ignores a bad flag starts serving.
 */
export async function runToExit(
  example: string,
  args: string[],
  timeout = 15_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cwd = await Deno.makeTempDir({ prefix: "speedo_example_" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("deno.json", root).pathname,
      new URL(example, root).pathname,
      ...args,
    ],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const output = child.output();
  try {
    const { code, stdout, stderr } = await deadline(output, timeout);
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } catch (error) {
    child.kill("SIGKILL");
    await output;
    throw new Error(`${example} ${args.join(" ")} was still running after ${timeout} ms`, {
      cause: error,
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}
