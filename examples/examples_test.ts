import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { NATS_SERVER_PATH } from "../testing/_fixtures/nats_server.ts";
import { runToExit, spawnExample } from "./_example_test_helper.ts";

const root = new URL("../", import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts an example; resolves with the child and the port from its first line of output. */
async function start(
  args: string[],
): Promise<{ child: Deno.ChildProcess; port: number; output: () => Promise<string> }> {
  const { child, firstLines, output } = await spawnExample(args);
  const port = Number(/port (\d+)|:(\d+)/.exec(firstLines)?.slice(1).find(Boolean));
  return { child, port, output };
}

async function roundTrip(port: number, line: string, length = line.length): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(line));
  const buffer = new Uint8Array(length);
  let read = 0;
  while (read < length) {
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

Deno.test("examples/echo.ts --loops 2 echoes on the loops of one port, says so, and shuts down", async () => {
  const { child, port, output } = await start([
    "examples/echo.ts",
    "--port",
    "0",
    "--workers",
    "0",
    "--loops",
    "2",
  ]);
  // The kernel spreads connections over the loops: each is answered wherever it lands.
  for (let i = 0; i < 8; i++) assertEquals(await roundTrip(port, `hello ${i}\n`), `hello ${i}\n`);
  child.kill("SIGTERM");
  const text = await output();
  assertStringIncludes(text, "(2 loops, inline)");
  assertMatch(text, /SIGTERM: closed after .*8 connections, 8 lines in, 8 answered/);
  assertEquals((await child.status).code, 0);
});

/** The MSGs (with their payloads, one line each here) in what a NATS client received, sorted. */
function messagesIn(received: string): string[] {
  return (received.match(/MSG [^\r]*\r\n[^\r]*\r\n/g) ?? []).sort();
}

/** A NATS client over TCP that keeps what it received and waits for an ending. */
async function natsClient(port: number): Promise<{
  send(text: string): Promise<void>;
  /** Waits until what was received ends with `end`. */
  until(end: string): Promise<string>;
  /** Waits until what was received holds `count` MSGs, and gives them sorted. */
  messages(count: number): Promise<string[]>;
  close(): void;
}> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let received = "";
  const buffer = new Uint8Array(4096);
  const read = async () => {
    const n = await deadline(conn.read(buffer), 5000);
    if (n === null) throw new Error(`The server closed after ${JSON.stringify(received)}`);
    received += decoder.decode(buffer.subarray(0, n));
  };
  return {
    send: async (text) => void await conn.write(encoder.encode(text)),
    async until(end) {
      while (!received.endsWith(end)) await read();
      return received;
    },
    async messages(count) {
      while (messagesIn(received).length < count) await read();
      return messagesIn(received);
    },
    close: () => conn.close(),
  };
}

Deno.test("examples/pubsub.ts --loops 2 delivers from publishers on either loop, then shuts down", async () => {
  const { child, port, output } = await start([
    "examples/pubsub.ts",
    "--port",
    "0",
    "--loops",
    "2",
  ]);
  const clients = [];
  try {
    // After the PONG every loop knows the subscription; the kernel puts each publisher on
    // either loop, and each message arrives once.
    const subscriber = await natsClient(port);
    clients.push(subscriber);
    await subscriber.send('CONNECT {"verbose":false}\r\nSUB news 1\r\nPING\r\n');
    await subscriber.until("PONG\r\n");
    for (let i = 0; i < 4; i++) {
      const publisher = await natsClient(port);
      clients.push(publisher);
      await publisher.send(`CONNECT {"verbose":false}\r\nPUB news 2\r\nm${i}\r\nPING\r\n`);
      await publisher.until("PONG\r\n");
    }
    // Each publisher's messages keep their order; messages of different publishers need not.
    assertEquals(
      await subscriber.messages(4),
      [0, 1, 2, 3].map((i) => `MSG news 1 2\r\nm${i}\r\n`),
    );
  } finally {
    for (const client of clients) client.close();
  }
  child.kill("SIGTERM");
  const text = await output();
  assertMatch(text, /^Speedo pub\/sub listening on 127\.0\.0\.1:\d+ \(2 loops\)/);
  assertMatch(text, /SIGTERM: closed after .* s: 5 connections, /);
  assertEquals((await child.status).code, 0);
});

Deno.test({
  name: "examples/cluster.ts --demo: a publish on Speedo A reaches subscribers on B and C" +
    (NATS_SERVER_PATH === undefined ? " (ignored: nats-server not installed)" : ""),
  ignore: NATS_SERVER_PATH === undefined,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "examples/cluster.ts", "--demo", "--port", "0", "--nats-port", "0"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const { code, stdout, stderr } = await deadline(child.output(), 30_000);
    const text = decoder.decode(stdout);
    assertEquals(code, 0, decoder.decode(stderr));
    assertStringIncludes(text, "B < MSG news.sport 1 5\nB < hello\n");
    assertStringIncludes(text, "C < MSG news.sport 7 5\nC < hello\n");
  },
});

Deno.test("examples/echo.ts on SIGTERM under load: every line its summary counts as answered arrives", async () => {
  const { child, port, output } = await start([
    "examples/echo.ts",
    "--port",
    "0",
    "--workers",
    "0",
  ]);
  const batch = encoder.encode("0123456789abcdefghijklmnopqrstu\n".repeat(2048));
  const clients = await Promise.all(
    Array.from({ length: 8 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  const received = clients.map(() => 0);
  const enough = Promise.withResolvers<void>();
  const resets: number[] = [];
  const runs = clients.map(async (conn, i) => {
    let stopped = false;
    // Sends without pause until the server's stream ends.
    const sending = (async () => {
      try {
        while (!stopped) await conn.write(batch);
      } catch {
        // The server is gone, or our own close below.
      }
    })();
    // Reads slowly (small reads), so that answers wait in the kernel's buffers at the close.
    const buffer = new Uint8Array(2048);
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        for (let at = buffer.indexOf(10); at >= 0 && at < n; at = buffer.indexOf(10, at + 1)) {
          received[i]++;
        }
        if (received.every((count) => count >= 20_000)) enough.resolve();
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
      resets.push(i);
    }
    stopped = true;
    conn.close();
    await sending;
  });
  await deadline(enough.promise, 20_000);
  child.kill("SIGTERM");
  await deadline(Promise.all(runs), 20_000);
  const text = await output();
  const answered = Number(/ (\d+) answered/.exec(text)?.[1]);
  assertEquals(resets, []);
  assertEquals(received.reduce((a, b) => a + b), answered);
  assertEquals((await child.status).code, 0);
});

Deno.test("examples/echo.ts rejects a bad flag with exit code 2", async () => {
  const { code, stderr } = await runToExit("examples/echo.ts", ["--workers", "many"]);
  assertEquals(code, 2);
  assertStringIncludes(
    stderr,
    '--workers must be a non-negative integer, got "many"',
  );
});

Deno.test("examples/upper.ts upper-cases lines, and README shows it as it is", async () => {
  const { child, port, output } = await start(["examples/upper.ts", "0"]);
  assertEquals(await roundTrip(port, "speedo\n"), "SPEEDO\n");
  // An over-long line is answered, and the lines after it still are.
  const long = `${"x".repeat(2000)}\nok\n`;
  const expected = "ERR line too long (max 1024 bytes)\nOK\n";
  assertEquals(await roundTrip(port, long, expected.length), expected);
  child.kill("SIGTERM");
  await output();
  await child.status;
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const example = (await Deno.readTextFile(new URL("examples/upper.ts", root)))
    .replace('"../mod.ts"', '"@speedo/speedo"');
  assertStringIncludes(readme, "```ts\n" + example + "```");
});

Deno.test("examples/upper.ts --loops 2 upper-cases on each loop, then shuts down on SIGTERM", async () => {
  const { child, port, output } = await start(["examples/upper.ts", "0", "--loops", "2"]);
  // The kernel spreads connections over the loops: each is answered wherever it lands.
  for (let i = 0; i < 4; i++) assertEquals(await roundTrip(port, `line ${i}\n`), `LINE ${i}\n`);
  child.kill("SIGTERM");
  const text = await output();
  assertStringIncludes(text, `upper-casing lines on port ${port} (2 loops)`);
  assertMatch(text, /SIGTERM: closed after .* s: 4 lines upper-cased/);
  assertEquals((await child.status).code, 0);
});

for (const loops of [1, 2]) {
  Deno.test(
    `examples/rpc.ts${
      loops === 1 ? "" : ` --loops ${loops}`
    } calls each service, sees a timed-out call cancelled on the server, and exits 0`,
    async () => {
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "examples/rpc.ts", ...(loops === 1 ? [] : ["--loops", String(loops)])],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const lines = decoder.decode(stdout).trim().split("\n");
      assertEquals(code, 0, decoder.decode(stderr));
      assertMatch(
        lines[0],
        loops === 1
          ? /^Speedo RPC listening on 127\.0\.0\.1:\d+ \(services: /
          : /^Speedo RPC listening on 127\.0\.0\.1:\d+ \(2 loops; services: /,
      );
      assertEquals(lines.slice(1), [
        'upper("hello speedo") -> "HELLO SPEEDO"',
        "add(2, 40) -> 42",
        "100 calls side by side -> 100 answers",
        "wait(10000 ms), timeout 100 ms -> RpcTimeoutError; the server's handler was cancelled",
        "type 99 -> RpcUnknownTypeError: No service for message type 99",
      ]);
    },
  );
}

/** Per example, command lines it must refuse, each with the line it must print. */
const BAD_COMMAND_LINES: Record<string, [string[], string | RegExp][]> = {
  "examples/echo.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--workers", "1000"], /^--workers must be at most \d+ \(4 per core\), got "1000"$/],
    [["--max-line-length", "0"], '--max-line-length must be an integer of at least 1, got "0"'],
    [["--max-line-length", "1e3"], '--max-line-length must be an integer of at least 1, got "1e3"'],
    [["--worker", "0"], /^Unknown flag "--worker"; flags: --port, /],
    [["--port"], "--port needs a value"],
    [["--loops", "0"], '--loops must be auto or an integer from 1 to 256, got "0"'],
    [["--loops", "two"], '--loops must be auto or an integer from 1 to 256, got "two"'],
  ],
  "examples/pubsub.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--loops", "257"], '--loops must be auto or an integer from 1 to 256, got "257"'],
    [["--max-payload", "0"], '--max-payload must be an integer of at least 1, got "0"'],
    [["--workers", "1000"], /^Unknown flag "--workers"/],
    [["--backplane", "127.0.0.1"], '--backplane must be a nats:// or tls:// URL, got "127.0.0.1"'],
  ],
  "examples/mqtt.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--max-keepalive", "70000"], /^--max-keepalive must be at most 65535, got "70000"$/],
    [["--max-packet-size", "0"], '--max-packet-size must be an integer of at least 1, got "0"'],
    [["--loops", "2"], /^Unknown flag "--loops"/],
    [
      ["--deny-subscribe", "a/#/b"],
      '--deny-subscribe must be a valid MQTT topic filter, got "a/#/b"',
    ],
    [["--nats-port", "-1"], '--nats-port must be an integer from 0 to 65535, got "-1"'],
    [["--backplane", "127.0.0.1"], '--backplane must be a nats:// or tls:// URL, got "127.0.0.1"'],
  ],
  "examples/cluster.ts": [
    [["--backplane", "http://x"], '--backplane must be a nats:// or tls:// URL, got "http://x"'],
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
  ],
  "examples/http.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--nats-port", "-1"], '--nats-port must be an integer from 0 to 65535, got "-1"'],
    // TCP clients share the subjects of /nats through one router: one loop.
    [["--workers", "1000"], /^Unknown flag "--workers"/],
  ],
  "examples/rpc.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--prot", "0"], /^Unknown flag "--prot"/],
    [["extra"], 'Unexpected argument "extra"; see --help'],
  ],
  "examples/upper.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--max-line-length", "0"], /^Unknown flag "--max-line-length"/],
  ],
  "examples/session_server.ts": [
    [["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [["--fsync", "0"], /^--fsync must be never, always or a number of milliseconds from 1 to /],
    [["--expect", "-1"], '--expect must be a non-negative integer, got "-1"'],
    [["--name", "../up"], /^--name must be 1 to 64 letters, digits, dots, dashes or underscores/],
    [["--reset", "a/b"], /^--reset must be 1 to 64 letters/],
    [["--workers", "0"], /^Unknown flag "--workers"/],
  ],
  "examples/session_client.ts": [
    [["--port", "70000"], '--port must be an integer from 1 to 65535, got "70000"'],
    [["--port", "0"], '--port must be an integer from 1 to 65535, got "0"'],
    [["--timeout", "0"], '--timeout must be an integer of at least 1, got "0"'],
    [["--timeout", "9999999"], /^--timeout must be at most \d+, got "9999999"$/],
    [["--count", "4294967296"], '--count must be at most 4294967295, got "4294967296"'],
    [["--reset=yes"], '--reset takes no value, got "yes"'],
    [["--workers", "0"], /^Unknown flag "--workers"/],
  ],
};

/** Terminal colours, which Deno adds to its stack traces (NO_COLOR is a request, not a promise). */
// deno-lint-ignore no-control-regex -- the escape byte is what a colour code starts with
const ANSI = /\x1b\[[0-9;]*m/g;

for (const [example, cases] of Object.entries(BAD_COMMAND_LINES)) {
  Deno.test(
    `${example} refuses out-of-range numbers and unknown flags: exit code 2, one line on stderr, no stack trace`,
    async () => {
      for (const [args, message] of cases) {
        const { code, stdout, stderr } = await runToExit(example, args);
        const shown = `${example} ${args.join(" ")}: stderr ${JSON.stringify(stderr)}`;
        const lines = stderr.replace(ANSI, "").trimEnd().split("\n");
        assertEquals(code, 2, shown);
        assertEquals(lines.length, 1, shown);
        assertEquals(lines.some((line) => /^\s*at /.test(line)), false, shown);
        if (typeof message === "string") assertEquals(lines[0], message, shown);
        else assertMatch(lines[0], message, shown);
        assertEquals(stdout, "", `${shown}: nothing runs`);
      }
    },
  );
}

Deno.test("examples/*.ts print their usage on --help (or -h) and exit 0, running nothing", async () => {
  for (const example of Object.keys(BAD_COMMAND_LINES)) {
    for (const help of ["--help", "-h"]) {
      const { code, stdout, stderr } = await runToExit(example, ["--port", "1", help]);
      const shown = `${example} ${help}: stdout ${JSON.stringify(stdout)}`;
      assertEquals([code, stderr], [0, ""], shown);
      assertMatch(stdout, new RegExp(`^Usage: deno run -A ${example} \\[--port PORT`), shown);
      assertStringIncludes(stdout, "\n  --help ", shown);
    }
  }
  const { stdout } = await runToExit("examples/echo.ts", ["--help"]);
  assertMatch(
    stdout,
    /\n {2}--workers N +worker threads .*0 to \d+ \(4 per core\) \(default \d+\)\n/,
  );
  assertMatch(stdout, /\n {2}--loops N\|auto +I\/O loops.*\(default 1\)\n/);
});
