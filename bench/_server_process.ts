/**
 * A server under test run as a child process: started, its port read from the first line of
 * its stdout, and stopped for sure (stdin closed, SIGTERM, then SIGKILL).
 *
 * @module
 */

/** How to start one server. */
export interface ServerCommand {
  /** The name in the report. */
  name: string;
  /** The program (`Deno.execPath()`, `node`). */
  command: string;
  /**
   * Its arguments; the server must print its port as the first line of stdout, and a monitored
   * one its monitor's port after it, on the same line.
   */
  args: string[];
}

/** A running server child. */
export interface ServerProcess {
  /** The name in the report. */
  readonly name: string;
  /** The child's process id, to read its CPU time. */
  readonly pid: number;
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Its monitor's port on 127.0.0.1, when it runs one. */
  readonly monitorPort?: number;
  /** What it wrote on stderr so far (the first 8 KiB). */
  stderr(): string;
  /** Whether it is still running. */
  readonly running: boolean;
  /** Ends it; resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
}

const STDERR_KEPT = 8 * 1024;
/** Time a stopped child gets to exit on SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;
const decoder = new TextDecoder();

/** Reads a stream to its end in the background, keeping at most `limit` bytes of text. */
export function collect(stream: ReadableStream<Uint8Array>, limit: number): () => string {
  let text = "";
  (async () => {
    try {
      for await (const chunk of stream) {
        if (text.length < limit) text += decoder.decode(chunk, { stream: true });
      }
    } catch {
      // The child was killed mid-write: what we have is enough.
    }
  })();
  return () => text.slice(0, limit);
}

/** Reads up to the first newline; the rest of the stream is drained in the background. */
export async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string | null> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      reader.releaseLock();
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  // Keep reading so that a chatty server can never block on a full pipe.
  collect(stream, 0);
  return text.slice(0, text.indexOf("\n")).trim();
}

/** A running child whose first line of stdout was read into `value`. */
export interface StartedChild<T> {
  readonly pid: number;
  /** What `parse` made of the child's first line. */
  readonly value: T;
  /** What it wrote on stderr so far (the first `stderrKept` characters). */
  stderr(): string;
  /** Whether it is still running. */
  readonly running: boolean;
  /** Ends it (stdin closed, SIGTERM, then SIGKILL); resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a child with a pipe on stdin (it closes when this process ends, even killed: the
 * servers watch it and exit, `--until-stdin-closes`) and waits for its first line of stdout.
 *
 * @param command The program and its arguments.
 * @param options `cwd`, how long the first line may take, how much stderr to keep, and what
 *   the line is called in errors ("port", "ports").
 * @param parse Reads the line; `undefined` when it is not what was expected.
 * @returns The running child.
 * @throws {Error} When the child exits, stays silent past the timeout, or prints something
 *   else (it is killed then).
 */
export async function startChild<T>(
  command: { name: string; command: string; args: string[] },
  options: { cwd: string; timeoutMs: number; stderrKept: number; expected: string },
  parse: (line: string) => T | undefined,
): Promise<StartedChild<T>> {
  const child = new Deno.Command(command.command, {
    args: command.args,
    cwd: options.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const stderr = collect(child.stderr, options.stderrKept);
  let running = true;
  const exited = child.status.then(() => {
    running = false;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      stdin.close().catch(() => {});
      if (running) kill(child, "SIGTERM");
      const timer = setTimeout(() => kill(child, "SIGKILL"), KILL_GRACE_MS);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
  });
  const line = await Promise.race([firstLine(child.stdout), timeout]);
  clearTimeout(timer);
  const value = typeof line === "string" ? parse(line) : undefined;
  if (value === undefined) {
    await stop();
    const why = line === "timeout"
      ? `printed no ${options.expected} within ${options.timeoutMs} ms`
      : line === null
      ? `exited before printing its ${options.expected}`
      : `printed "${line}" instead of its ${options.expected}`;
    throw new Error(`${command.name} ${why}. Its stderr:\n${stderr()}`);
  }
  return {
    pid: child.pid,
    value,
    stderr,
    get running() {
      return running;
    },
    stop,
  };
}

/**
 * Starts a server and waits for its port (and its monitor's, when it prints one).
 *
 * @param spec What to run.
 * @param options `cwd` for the child, and how long it may take to print its port.
 * @returns The running server.
 * @throws {Error} When the child exits or stays silent past the timeout (it is killed then).
 */
export async function startServer(
  spec: ServerCommand,
  options: { cwd: string; timeoutMs: number },
): Promise<ServerProcess> {
  const started = await startChild(
    { ...spec, name: `Server ${spec.name}` },
    { ...options, stderrKept: STDERR_KEPT, expected: "port" },
    (line) => {
      const ports = line.split(" ").map(Number);
      const valid = ports.length <= 2 && ports.every((port) => Number.isInteger(port) && port > 0);
      return valid ? ports : undefined;
    },
  );
  const [port, monitorPort] = started.value;
  return {
    name: spec.name,
    pid: started.pid,
    port,
    ...(monitorPort === undefined ? {} : { monitorPort }),
    stderr: started.stderr,
    get running() {
      return started.running;
    },
    stop: started.stop,
  };
}

/** Sends `signal` to a child that may have exited already. */
export function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Exited already.
  }
}
