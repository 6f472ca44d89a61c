import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { deadline } from "@std/async/deadline";

const root = new URL("../", import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts an example; resolves with the child and the port from its first line of output. */
async function start(
  args: string[],
): Promise<{ child: Deno.ChildProcess; port: number; output: () => Promise<string> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await deadline(reader.read(), 20_000);
    if (done) break;
    text += decoder.decode(value);
  }
  const port = Number(/port (\d+)|:(\d+)/.exec(text)?.slice(1).find(Boolean));
  const output = async () => {
    for (;;) {
      const { value, done } = await deadline(reader.read(), 20_000);
      if (done) return text;
      text += decoder.decode(value);
    }
  };
  return { child, port, output };
}

async function roundTrip(port: number, line: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(line));
  const buffer = new Uint8Array(line.length);
  let read = 0;
  while (read < line.length) {
    const n = await deadline(conn.read(buffer.subarray(read)), 5000);
    if (n === null) break;
    read += n;
  }
  conn.close();
  return decoder.decode(buffer.subarray(0, read));
}

Deno.test("examples/echo.ts echoes, then shuts down on SIGTERM with a summary", async () => {
  const { child, port, output } = await start([
    "examples/echo.ts",
    "--port",
    "0",
    "--workers",
    "1",
  ]);
  assertEquals(await roundTrip(port, "hello\r\n"), "hello\r\n");
  child.kill("SIGTERM");
  const text = await output();
  assertStringIncludes(text, "Speedo echo listening on 127.0.0.1:");
  assertMatch(text, /SIGTERM: closed after .*1 connections, 1 lines in, 1 answered/);
  assertEquals((await child.status).code, 0);
});

Deno.test("examples/echo.ts rejects a bad flag with exit code 2", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/echo.ts", "--workers", "many"],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(code, 2);
  assertStringIncludes(
    decoder.decode(stderr),
    '--workers must be a non-negative integer, got "many"',
  );
});

Deno.test("examples/upper.ts upper-cases lines, and README shows it as it is", async () => {
  const { child, port, output } = await start(["examples/upper.ts", "0"]);
  assertEquals(await roundTrip(port, "speedo\n"), "SPEEDO\n");
  child.kill("SIGTERM");
  await output();
  await child.status;
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const example = (await Deno.readTextFile(new URL("examples/upper.ts", root)))
    .replace('"../mod.ts"', '"@speedo/speedo"');
  assertStringIncludes(readme, "```ts\n" + example + "```");
});

Deno.test("examples/rpc.ts calls each service, sees a timed-out call cancelled on the server, and exits 0", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/rpc.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = decoder.decode(stdout).trim().split("\n");
  assertEquals(code, 0, decoder.decode(stderr));
  assertMatch(lines[0], /^Speedo RPC listening on 127\.0\.0\.1:\d+ /);
  assertEquals(lines.slice(1), [
    'upper("hello speedo") -> "HELLO SPEEDO"',
    "add(2, 40) -> 42",
    "100 calls side by side -> 100 answers",
    "wait(10000 ms), timeout 100 ms -> RpcTimeoutError; the server's handler was cancelled",
    "type 99 -> RpcUnknownTypeError: No service for message type 99",
  ]);
});
