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
  /** Its arguments; the server must print its port as the first line of stdout. */
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
  /** What it wrote on stderr so far (the first 8 KiB). */
  stderr(): string;
  /** Whether it is still running. */
  readonly running: boolean;
  /** Ends it; resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
}

const STDERR_KEPT = 8 * 1024;
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

/**
 * Starts a server and waits for its port.
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
  const child = new Deno.Command(spec.command, {
    args: spec.args,
    cwd: options.cwd,
    // A pipe on stdin that closes when this process ends, even when it is killed: the servers
    // watch it and exit (`--until-stdin-closes`).
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const stderr = collect(child.stderr, STDERR_KEPT);
  let running = true;
  const exited = child.status.then(() => {
    running = false;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      stdin.close().catch(() => {});
      if (running) kill(child, "SIGTERM");
      const timer = setTimeout(() => kill(child, "SIGKILL"), 2000);
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
  const port = typeof line === "string" ? Number(line) : NaN;
  if (!Number.isInteger(port) || port <= 0) {
    await stop();
    const why = line === "timeout"
      ? `printed no port within ${options.timeoutMs} ms`
      : line === null
      ? "exited before printing its port"
      : `printed "${line}" instead of a port`;
    throw new Error(`Server ${spec.name} ${why}. Its stderr:\n${stderr()}`);
  }
  return {
    name: spec.name,
    pid: child.pid,
    port,
    stderr,
    get running() {
      return running;
    },
    stop,
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
