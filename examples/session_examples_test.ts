/**
 * The session examples as real processes: a 100,000-message stream survives `kill -9` of the
 * server and of the client, each message exactly once and in order; a corrupt session file is
 * refused with a clear error, and `--reset` starts over; with `--secret`, a client without it is
 * refused. Every wait has a deadline.
 */

import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { within } from "../testing/_socket_client.ts";

const root = new URL("../", import.meta.url);
/** The op and resource sanitizers are opt-in in Deno 2.9: these tests want both. */
const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const decoder = new TextDecoder();
const COUNT = 100_000;
/** Fast enough to finish in ~2 s, slow enough that a kill lands mid-stream. */
const RATE = 50_000;

/** A child process whose stdout is read line by line and stderr kept. */
class Example {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  #stderr = "";
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly #done: Promise<void>;

  constructor(script: string, args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = Promise.all([this.#read(), this.#readErrors()]).then(() => {});
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first line (past or future) that matches. */
  line(pattern: RegExp, what: string, timeout = 20_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    const { promise, resolve } = Promise.withResolvers<string>();
    this.#waiters.push({ test: (line) => pattern.test(line), resolve });
    return within(
      promise,
      `${what} (output so far: ${this.lines.slice(-5).join(" | ")}; stderr: ${
        this.#stderr.slice(-500)
      })`,
      timeout,
    );
  }

  /** Waits for the exit; the streams are read to their end. */
  async exit(timeout = 30_000): Promise<number> {
    const status = await within(this.child.status, "the process to exit", timeout);
    await within(this.#done, "its output to end", 5000);
    return status.code;
  }

  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Exited already.
    }
  }

  async #read(): Promise<void> {
    let text = "";
    for await (const chunk of this.child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, end);
        text = text.slice(end + 1);
        this.lines.push(line);
        for (const waiter of this.#waiters.filter((w) => w.test(line))) waiter.resolve(line);
        this.#waiters = this.#waiters.filter((w) => !w.test(line));
      }
    }
  }

  async #readErrors(): Promise<void> {
    for await (const chunk of this.child.stderr) {
      if (this.#stderr.length < 64 * 1024) this.#stderr += decoder.decode(chunk, { stream: true });
    }
  }
}

async function startServer(
  dir: string,
  port = 0,
  extra: string[] = [],
): Promise<{ server: Example; port: number }> {
  const server = new Example("examples/session_server.ts", [
    "--port",
    String(port),
    "--dir",
    dir,
    ...extra,
  ]);
  const line = await server.line(/listening on/, "the server to listen");
  return { server, port: Number(/:(\d+) /.exec(line)![1]) };
}

function client(port: number, dir: string, extra: string[] = []): Example {
  return new Example("examples/session_client.ts", [
    "--port",
    String(port),
    "--dir",
    dir,
    "--count",
    String(COUNT),
    "--progress",
    "10000",
    "--rate",
    String(RATE),
    "--timeout",
    "60",
    ...extra,
  ]);
}

/** Stops a server with SIGTERM and returns its final line and exit code. */
async function stopServer(server: Example): Promise<{ code: number; final: string }> {
  server.kill("SIGTERM");
  const code = await server.exit();
  return { code, final: server.lines.at(-1) ?? "" };
}

/** A short stream, unpaced: for tests about logins and session files rather than the stream. */
function smallRun(extra: string[] = []): string[] {
  return ["--count", "100", "--rate", "0", ...extra];
}

/**
 * Runs `test` with a fresh folder and a list for every process it starts. Whatever the test does,
 * the processes are killed and awaited and the folder removed, so a failed assertion leaves no
 * process or file behind for the sanitizers or the next test.
 */
async function withSessionDir(
  test: (dir: string, cleanup: Example[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "speedo-session-" });
  const cleanup: Example[] = [];
  try {
    await test(dir, cleanup);
  } finally {
    for (const process of cleanup) process.kill("SIGKILL");
    for (const process of cleanup) await process.exit().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

const FINAL = `sent ${COUNT}, acknowledged ${COUNT}, received ${COUNT}, out of order 0`;

Deno.test(
  "session examples: kill -9 of the server mid-stream, restart, and the stream completes exactly once in order",
  SANITIZED,
  () =>
    withSessionDir(async (dir, cleanup) => {
      const first = await startServer(`${dir}/server`);
      cleanup.push(first.server);
      const sender = client(first.port, `${dir}/client`);
      cleanup.push(sender);
      await sender.line(/^progress received 20000$/, "20,000 answers");
      first.server.kill("SIGKILL");
      assertEquals((await first.server.child.status).signal, "SIGKILL");
      assert(!sender.lines.includes(`progress received ${COUNT}`), "the kill came mid-stream");

      const second = await startServer(`${dir}/server`, first.port, ["--expect", String(COUNT)]);
      cleanup.push(second.server);
      assertEquals(await sender.exit(), 0, `client stderr: ${sender.stderr}`);
      assertEquals(sender.lines.at(-1), FINAL);
      assert(
        sender.lines.filter((line) => line.startsWith("logged in")).length >= 2,
        "it logged in again",
      );
      const progress = sender.lines.filter((line) => line.startsWith("progress"));
      assertEquals(
        progress,
        Array.from({ length: 10 }, (_, i) => `progress received ${(i + 1) * 10_000}`),
      );

      const { code, final } = await stopServer(second.server);
      assertEquals(code, 0, `server stderr: ${second.server.stderr}`);
      assertEquals(final, `SIGTERM: sessions 1: ${FINAL}`);
      assertEquals(sender.stderr.includes("out of order"), false);
    }),
);

Deno.test(
  "session examples: kill -9 of the client mid-stream, restart, and the stream completes exactly once in order",
  SANITIZED,
  () =>
    withSessionDir(async (dir, cleanup) => {
      const { server, port } = await startServer(`${dir}/server`, 0, ["--expect", String(COUNT)]);
      cleanup.push(server);
      const first = client(port, `${dir}/client`);
      cleanup.push(first);
      await first.line(/^progress received 20000$/, "20,000 answers");
      first.kill("SIGKILL");
      assertEquals((await first.child.status).signal, "SIGKILL");
      assert(!first.lines.includes(`progress received ${COUNT}`), "the kill came mid-stream");

      const second = client(port, `${dir}/client`);
      cleanup.push(second);
      const resumed = await second.line(/^logged in/, "the restarted client to log in");
      const [, sent, received] = /sent (\d+), received (\d+)/.exec(resumed)!.map(Number);
      // The client persists its received cursor in batches, so it resumes near (before or
      // after) the last progress line the test saw: what matters is that it resumes rather than
      // starting over, and that the stream then completes exactly once, in order.
      assert(received > 0 && received < COUNT, `resumed after received ${received}`);
      assert(sent >= received && sent < COUNT, `resumed after sent ${sent}`);
      assertEquals(await second.exit(), 0, `client stderr: ${second.stderr}`);
      assertEquals(second.lines.at(-1), FINAL);
      assertEquals(second.stderr.includes("out of order"), false);

      const { code, final } = await stopServer(server);
      assertEquals(code, 0, `server stderr: ${server.stderr}`);
      assertEquals(final, `SIGTERM: sessions 1: ${FINAL}`);
    }),
);

Deno.test(
  "session examples: a corrupt or truncated session file is refused with a clear error, a torn write is cut off with a warning; --reset starts over",
  SANITIZED,
  () =>
    withSessionDir(async (dir, cleanup) => {
      let { server, port } = await startServer(`${dir}/server`);
      cleanup.push(server);
      const ok = client(port, `${dir}/client`, smallRun());
      cleanup.push(ok);
      assertEquals(await ok.exit(), 0, ok.stderr);
      assertEquals(ok.lines.at(-1), "sent 100, acknowledged 100, received 100, out of order 0");

      const file = `${dir}/client/server.session`;
      const original = await Deno.readFile(file);
      const corrupt = original.slice();
      // In the record before the last cursor: a whole write follows it, so it is corruption.
      corrupt[corrupt.length - 30] ^= 0x40;
      await Deno.writeFile(file, corrupt);
      const refused = client(port, `${dir}/client`, smallRun());
      cleanup.push(refused);
      assertEquals(await refused.exit(), 1);
      assertMatch(
        refused.stderr,
        /Session file .*server\.session is corrupt at byte \d+: checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\); reset the session to start over/,
      );
      assertEquals(refused.lines.at(-1), "sent 0, acknowledged 0, received 0, out of order 0");

      // A torn write (15 of a cursor's 21 bytes after the last whole write) is cut off with a
      // warning, and the session goes on.
      await Deno.writeFile(
        file,
        new Uint8Array([...original, ...original.subarray(original.length - 21, -6)]),
      );
      const torn = client(port, `${dir}/client`, smallRun());
      cleanup.push(torn);
      assertEquals(await torn.exit(), 0, torn.stderr);
      assertMatch(
        torn.stderr,
        /SessionTornWriteError: Session file .*server\.session ended in a torn write at byte \d+ \(a record of 13 bytes runs past the end of the file/,
      );
      assertEquals(torn.lines.at(-1), "sent 100, acknowledged 100, received 100, out of order 0");
      assertEquals((await Deno.stat(file)).size, original.length);

      // Cut inside its first cursor, a file holds nothing to go back to: refused as truncated.
      await Deno.writeFile(file, original.subarray(0, 50));
      const truncated = client(port, `${dir}/client`, smallRun());
      cleanup.push(truncated);
      assertEquals(await truncated.exit(), 1);
      assertMatch(
        truncated.stderr,
        /Session file .*server\.session is truncated at byte \d+: a record of 13 bytes runs past the end of the file/,
      );

      // The documented way out: reset both sides of the session.
      assertEquals((await stopServer(server)).code, 0);
      ({ server, port } = await startServer(`${dir}/server`, 0, ["--reset", "client-1"]));
      cleanup.push(server);
      assertStringIncludes(server.stderr, "session of client-1: reset");
      const fresh = client(port, `${dir}/client`, smallRun(["--reset"]));
      cleanup.push(fresh);
      assertEquals(await fresh.exit(), 0, fresh.stderr);
      assertEquals(fresh.lines.at(-1), "sent 100, acknowledged 100, received 100, out of order 0");
      assertEquals((await stopServer(server)).code, 0);
    }),
);

Deno.test(
  "session examples: --loops 2, two clients complete their streams, and the final report counts both sessions, whichever loop had them",
  SANITIZED,
  () =>
    withSessionDir(async (dir, cleanup) => {
      const { server, port } = await startServer(`${dir}/server`, 0, [
        "--loops",
        "2",
        "--expect",
        "100",
      ]);
      cleanup.push(server);
      assertStringIncludes(server.lines[0], "(2 loops, dir ");
      // Two clients: the kernel puts each on either loop.
      const clients = ["client-1", "client-2"].map((name) =>
        client(port, `${dir}/${name}`, ["--name", name, "--count", "100", "--rate", "0"])
      );
      cleanup.push(...clients);
      for (const each of clients) {
        assertEquals(await each.exit(), 0, each.stderr);
        assertEquals(each.lines.at(-1), "sent 100, acknowledged 100, received 100, out of order 0");
      }
      const { code, final } = await stopServer(server);
      assertEquals(code, 0, `server stderr: ${server.stderr}; stdout: ${server.lines.join(" | ")}`);
      assertEquals(
        server.lines.filter((line) => line.startsWith("session ")).sort(),
        [1, 2].map((i) =>
          `session client-${i}: sent 100, acknowledged 100, received 100, duplicates dropped 0`
        ),
      );
      assertEquals(
        final,
        "SIGTERM: sessions 2: sent 200, acknowledged 200, received 200, out of order 0",
      );
    }),
);

Deno.test(
  "session examples: with --secret, a client without the secret or with a wrong one is refused at once, one with it completes",
  SANITIZED,
  () =>
    withSessionDir(async (dir, cleanup) => {
      const { server, port } = await startServer(`${dir}/server`, 0, ["--secret", "open sesame"]);
      cleanup.push(server);
      assertStringIncludes(server.lines[0], "secret required");
      for (const extra of [[], ["--secret", "guess"]]) {
        const refused = client(port, `${dir}/client`, smallRun(extra));
        cleanup.push(refused);
        assertEquals(await refused.exit(), 1);
        assertStringIncludes(refused.stderr, "Login refused: Authentication failed");
        assertEquals(refused.lines.at(-1), "sent 0, acknowledged 0, received 0, out of order 0");
      }
      const ok = client(port, `${dir}/client`, smallRun(["--secret", "open sesame"]));
      cleanup.push(ok);
      assertEquals(await ok.exit(), 0, ok.stderr);
      assertEquals(ok.lines.at(-1), "sent 100, acknowledged 100, received 100, out of order 0");
      assertEquals((await stopServer(server)).code, 0);
    }),
);
