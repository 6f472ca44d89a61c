/**
 * `speedo` as a person runs it (`deno run -A cli/main.ts ...`): each protocol served on a free
 * port and answered by a real client, stats off a terminal, JSON logs, SIGTERM; `--help` and
 * `--version`; bad command lines. The processes of a test start side by side.
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import * as nats from "nats";
import mqtt from "mqtt";
import { connectRpc } from "../protocols/rpc/rpc_client.ts";
import { SocketClient, within } from "../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../testing/_tls.ts";
import { runToExit } from "../examples/_example_test_helper.ts";
import { type RunningCli, startCli } from "./_cli_test_helper.ts";
import { main, VERSION } from "./main.ts";

const text = new TextDecoder();

/** Stops a running command: it must close gracefully, exit 0 and write nothing on stderr. */
async function stopsCleanly(cli: RunningCli, closed: (line: string) => boolean): Promise<void> {
  const { code, stderr } = await cli.stop();
  assertEquals([code, stderr], [0, ""], cli.lines.join("\n"));
  assert(cli.lines.some(closed), `a closed line in:\n${cli.lines.join("\n")}`);
}

async function echo(): Promise<void> {
  const args = ["serve", "echo", "--port", "0", "--workers", "1", "--log", "json"];
  const cli = await startCli([...args, "--stats-interval", "1"], (line) => JSON.parse(line).port);
  assertEquals(JSON.parse(cli.lines[0]).event, "listening");
  using client = await SocketClient.connect(cli.port);
  assertEquals(await client.request("hello speedo\n"), "hello speedo\n");
  const stats = JSON.parse(
    await cli.waitForLine((line) => JSON.parse(line).event === "stats", "a stats line"),
  );
  assertEquals([stats.level, typeof stats.messagesInPerSecond, typeof stats.rss], [
    "info",
    "number",
    "number",
  ]);
  client.conn.close();
  await stopsCleanly(cli, (line) => JSON.parse(line).event === "closed");
  // Every line is one JSON object with a time, a level and an event.
  for (const line of cli.lines.filter((line) => line !== "")) {
    const { time, level, event } = JSON.parse(line);
    assertEquals([typeof time, typeof level, typeof event], ["string", "string", "string"], line);
  }
}

async function pubsub(): Promise<void> {
  const cli = await startCli(["serve", "pubsub", "--port", "0", "--stats-interval", "1"]);
  assertMatch(cli.lines[0], /info {2}speedo pubsub listening on 127\.0\.0\.1:\d+/);
  const nc = await nats.connect({ servers: `127.0.0.1:${cli.port}`, reconnect: false });
  try {
    const sub = nc.subscribe("greet.*", { max: 1 });
    await nc.flush();
    nc.publish("greet.joe", "hello");
    for await (const message of sub) assertEquals(message.string(), "hello");
    await cli.waitForLine(
      (line) => line.includes("stats: ") && line.includes("published"),
      "a stats line with the router's counts",
    );
  } finally {
    await nc.close();
  }
  await stopsCleanly(
    cli,
    (line) => /closed on SIGTERM after .*1 published, 1 delivered/.test(line),
  );
}

async function mqttBroker(): Promise<void> {
  const cli = await startCli(["serve", "mqtt", "--port", "0", "--deny-subscribe", "secret/#"]);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${cli.port}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  try {
    const received = new Promise<string>((resolve) =>
      client.on("message", (topic, payload) => resolve(`${topic} ${text.decode(payload)}`))
    );
    // --deny-subscribe: the filter within it is refused (0x87, Not authorized).
    await assertRejects(() => client.subscribeAsync("secret/a"), Error, "Not authorized");
    await client.subscribeAsync("home/#");
    await client.publishAsync("home/kitchen", "21");
    assertEquals(await received, "home/kitchen 21");
  } finally {
    await client.endAsync(true);
  }
  await stopsCleanly(cli, (line) => line.includes("speedo mqtt closed on SIGTERM"));
}

async function http(): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/hello.txt`, "hi from speedo");
    const cli = await startCli(["serve", "http", "--port", "0", "--dir", dir]);
    const response = await fetch(`http://127.0.0.1:${cli.port}/hello.txt`);
    assertEquals([response.status, await response.text()], [200, "hi from speedo"]);
    await stopsCleanly(cli, (line) => line.includes("speedo http closed on SIGTERM"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rpc(): Promise<void> {
  const cli = await startCli(["serve", "rpc", "--port", "0"]);
  {
    await using client = await connectRpc({ port: cli.port, timeout: 5000 });
    assertEquals(text.decode(await client.call(1, "ping")), "ping");
  }
  await stopsCleanly(cli, (line) => line.includes("speedo rpc closed on SIGTERM"));
}

async function echoOverTls(): Promise<void> {
  const { cert, key, ca } = await testCertificate();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, cert);
    await Deno.writeTextFile(`${dir}/key.pem`, key);
    const cli = await startCli([
      ...["serve", "echo", "--port", "0", "--workers", "0"],
      ...["--tls-cert", `${dir}/cert.pem`, "--tls-key", `${dir}/key.pem`],
    ]);
    assertStringIncludes(cli.lines[0], "(TLS)");
    const conn = await Deno.connectTls({ hostname: "localhost", port: cli.port, caCerts: [ca] });
    await conn.write(new TextEncoder().encode("secret\n"));
    const reply = new Uint8Array(7);
    for (let read = 0; read < reply.length;) {
      const n = await within(conn.read(reply.subarray(read)), "the echo over TLS");
      if (n === null) break;
      read += n;
    }
    conn.close();
    assertEquals(text.decode(reply), "secret\n");
    await stopsCleanly(cli, (line) => line.includes("speedo echo closed on SIGTERM"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("speedo serve echo (also over TLS), pubsub, mqtt, http and rpc each answer a real client, log stats (text and JSON) off a terminal, and exit 0 on SIGTERM", async () => {
  await Promise.all([
    echo(),
    pubsub(),
    mqttBroker(),
    http(),
    rpc(),
    ...(hasOpenssl() ? [echoOverTls()] : []),
  ]);
});

Deno.test("speedo --help at every level and --version print to stdout and exit 0", async () => {
  const runs = await Promise.all(
    [
      ["--help"],
      ["-h"],
      ["serve", "--help"],
      ["serve", "mqtt", "--help"],
      ["serve", "echo", "--port", "70000", "--help"],
      ["--version"],
    ].map((args) => runToExit("cli/main.ts", args)),
  );
  for (const { code, stderr } of runs) assertEquals([code, stderr], [0, ""]);
  const [top, short, serve, mqttHelp, echoHelp, version] = runs.map(({ stdout }) => stdout);
  assertMatch(top, /^Usage: speedo <command>/);
  assertEquals(short, top);
  assertMatch(serve, /^Usage: speedo serve <echo\|pubsub\|mqtt\|http\|rpc> \[FLAGS\]/);
  for (const name of ["echo", "pubsub", "mqtt", "http", "rpc"]) assertStringIncludes(serve, name);
  assertMatch(mqttHelp, /^Usage: speedo serve mqtt \[FLAGS\]/);
  assertStringIncludes(mqttHelp, "(default 1883)");
  assertStringIncludes(mqttHelp, "--deny-subscribe FILTER");
  assertStringIncludes(mqttHelp, "--monitor PORT");
  assertStringIncludes(echoHelp, "(default 9292)");
  assertEquals(version, `speedo ${VERSION}\n`);
});

/** Command lines refused, and the one line each gets (a RegExp where it says more). */
const BAD_COMMAND_LINES: [string[], string | RegExp][] = [
  [[], "speedo needs a command: serve; see --help"],
  [["start"], 'Unknown command "start"; commands: serve; see --help'],
  [["serve"], "speedo serve needs a protocol: echo, pubsub, mqtt, http, rpc"],
  [["serve", "ftp"], 'Unknown protocol "ftp"; protocols: echo, pubsub, mqtt, http, rpc'],
  [["serve", "echo", "--prot", "1"], /^Unknown flag "--prot"; flags: --port, --hostname/],
  [["serve", "echo", "70000"], 'Unexpected argument "70000"; see --help'],
  [["serve", "echo", "--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
  [["serve", "echo", "--log", "xml"], '--log must be text or json, got "xml"'],
  [["serve", "echo", "--log-level", "loud"], /^--log-level must be one of debug, info/],
  [["serve", "echo", "--stats-interval", "-1"], /^--stats-interval must be a non-negative/],
  [["serve", "echo", "--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"],
  [
    ["serve", "echo", "--tls-cert", "/nonexistent", "--tls-key", "k"],
    /^--tls-cert \/nonexistent: /,
  ],
  [
    ["serve", "echo", "--monitor", "0", "--monitor-hostname", "192.0.2.1", "--workers", "0"],
    /^--monitor: cannot listen on 192\.0\.2\.1:0: /,
  ],
  [["serve", "echo", "--monitor-token", "t"], "--monitor-token needs --monitor PORT"],
  // The server's own refusal, as it says it.
  [["serve", "mqtt", "--loops", "2"], /^mqttServer runs on one I\/O loop/],
  [["serve", "mqtt", "--workers", "2"], /^--workers must be at most 0 \(mqtt's broker runs/],
  [["serve", "mqtt", "--user", "ann"], "--user and --pass go together"],
  [["serve", "mqtt", "--store", "README.md"], /^--store: MQTT store README\.md: /],
  [["serve", "pubsub", "--token", "t", "--auth", "a.json"], /^Give one of --user/],
  [["serve", "http", "--dir", "/nonexistent"], '--dir must be a folder, got "/nonexistent"'],
  [
    ["serve", "rpc", "--services", "none.ts"],
    '--services must be a module file or URL, got "none.ts"',
  ],
];

/** What `main` wrote to the console while it ran, and its exit code. */
async function mainOutput(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { log, error } = console;
  let stdout = "";
  let stderr = "";
  console.log = (...data: unknown[]) => void (stdout += `${data.join(" ")}\n`);
  console.error = (...data: unknown[]) => void (stderr += `${data.join(" ")}\n`);
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    Object.assign(console, { log, error });
  }
}

function assertRefused(
  args: string[],
  message: string | RegExp,
  { code, stdout, stderr }: { code: number; stdout: string; stderr: string },
): void {
  const shown = `speedo ${args.join(" ")}: stderr ${JSON.stringify(stderr)}`;
  const lines = stderr.trimEnd().split("\n");
  assertEquals([code, lines.length, stdout], [2, 1, ""], shown);
  if (typeof message === "string") assertEquals(lines[0], message, shown);
  else assertMatch(lines[0], message, shown);
}

Deno.test("main refuses bad command lines and unknown commands with exit code 2 and one line on stderr", async () => {
  for (const [args, message] of BAD_COMMAND_LINES) {
    assertRefused(args, message, await mainOutput(args));
  }
});

Deno.test("speedo as run refuses a bad command line: exit code 2, one line on stderr, nothing on stdout", async () => {
  // A few of the above through the real entry point, side by side; the monitor's refusal
  // comes after the server was made, which must not keep the process alive.
  const cases = BAD_COMMAND_LINES.filter(([args]) =>
    args.length < 3 || ["70000", "--monitor", "--loops"].includes(args[2])
  );
  const runs = await Promise.all(cases.map(([args]) => runToExit("cli/main.ts", args)));
  runs.forEach((run, i) => assertRefused(cases[i][0], cases[i][1], run));
});

Deno.test("speedo serve exits 1 with one line on stderr when its port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = taken.addr;
  const { code, stdout, stderr } = await runToExit("cli/main.ts", [
    "serve",
    "echo",
    "--port",
    String(port),
    "--workers",
    "0",
  ]);
  assertEquals([code, stdout], [1, ""]);
  assertMatch(
    stderr,
    new RegExp(`^speedo serve echo: cannot listen on 127\\.0\\.0\\.1:${port}: .+\\n$`),
  );
});

Deno.test("speedo serve pubsub --monitor 0: the monitor answers /healthz, /metrics and /subsz", async () => {
  const cli = await startCli([
    "serve",
    "pubsub",
    "--port",
    "0",
    "--monitor",
    "0",
    "--monitor-token",
    "secret",
    "--monitor-handler-time",
    "--stats-interval",
    "0",
  ]);
  try {
    const line = await cli.waitForLine((text) => text.includes("monitor on "), "the monitor line");
    const url = /monitor on (\S+)/.exec(line)![1];
    const get = (path: string, token = "secret") =>
      fetch(`${url}${path.slice(1)}`, { headers: { authorization: `Bearer ${token}` } });
    const refused = await get("/healthz", "wrong");
    await refused.body?.cancel();
    assertEquals(refused.status, 401);
    const health = await get("/healthz");
    assertEquals(health.status, 200);
    await health.body?.cancel();
    const metrics = await (await get("/metrics")).text();
    assertMatch(metrics, /^# TYPE speedo_connections gauge$/m);
    assertMatch(metrics, /protocol="pubsub"/);
    const subsz = await get("/subsz");
    assertEquals(subsz.status, 200);
    await subsz.body?.cancel();
  } finally {
    assertEquals((await cli.stop()).code, 0);
  }
});
