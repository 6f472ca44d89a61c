/**
 * Pub/sub over WebSocket in the HTTP example, as a person uses it: a real browser (headless
 * Chromium, driven by playwright-core) loads pubsub.html, subscribes, and shows what a TCP client
 * publishes, and the other way round; Deno's own WebSocket at a custom path; the new flags.
 * Every wait has a deadline.
 */

import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { SocketClient, within } from "../testing/_socket_client.ts";
import { runToExit, spawnExample } from "./_example_test_helper.ts";
import { HAS_CHROMIUM, launchChromium } from "../testing/_chromium_test_helper.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

interface Example {
  readonly child: Deno.ChildProcess;
  readonly httpPort: number;
  readonly natsPort: number;
  /** Sends SIGTERM, and resolves with all the output and the exit code. */
  stop(): Promise<{ text: string; code: number }>;
}

/** Starts the example on free ports, with a TCP NATS listener; resolves once both listen. */
async function start(...args: string[]): Promise<Example> {
  const { child, firstLines, output } = await spawnExample(
    ["examples/http.ts", "--port", "0", "--nats-port", "0", ...args],
    2,
  );
  const httpPort = Number(/http:\/\/[^:]+:(\d+)\//.exec(firstLines)?.[1]);
  const natsPort = Number(/NATS over TCP on [^:]+:(\d+),/.exec(firstLines)?.[1]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    const text = await output();
    return { text, code: (await child.status).code };
  };
  if (!(httpPort > 0 && natsPort > 0)) {
    await stop();
    throw new Error(`The example did not say where it listens: ${firstLines}`);
  }
  return { child, httpPort, natsPort, stop };
}

/** A TCP NATS client that said CONNECT and subscribed to `subject` with sid 1. */
async function tcpSubscriber(port: number, subject: string): Promise<SocketClient> {
  const client = await SocketClient.connect(port);
  assertStringIncludes(await client.readLine(), "INFO ");
  assertEquals(
    await client.request(`CONNECT {"verbose":false}\r\nSUB ${subject} 1\r\nPING\r\n`),
    "PONG\r\n",
  );
  return client;
}

Deno.test({
  name: HAS_CHROMIUM
    ? "examples/http.ts in headless Chromium: pubsub.html subscribes over WebSocket and gets what a TCP client publishes"
    : "examples/http.ts pub/sub in headless Chromium (ignored: chromium is not installed)",
  ignore: !HAS_CHROMIUM,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const example = await start();
    let tcp: SocketClient | undefined;
    try {
      await using browser = await launchChromium();
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${example.httpPort}/pubsub.html`, { timeout: 15_000 });
      await page.locator("#status", { hasText: "connected" }).waitFor({ timeout: 10_000 });

      // The page subscribes; the entry appears once the server answered the PING after SUB.
      await page.fill("#subject", "greet.*");
      await page.click("#subscribe button[type=submit]");
      await page.locator('#subscriptions li[data-subject="greet.*"]').waitFor({ timeout: 10_000 });

      // A TCP client publishes; the page shows it.
      tcp = await tcpSubscriber(example.natsPort, "from.page");
      const text = "hello from TCP ✓";
      const bytes = encoder.encode(text);
      await tcp.write(`PUB greet.joe ${bytes.length}\r\n${text}\r\nPUB other 2\r\nno\r\n`);
      await page.locator("#log li.received").first().waitFor({ timeout: 10_000 });
      assertEquals(await page.locator("#log li.received").allTextContents(), [
        `← greet.joe: ${text}`,
      ]);

      // The page publishes; the TCP subscriber gets it.
      await page.fill("#pub-subject", "from.page");
      await page.fill("#pub-data", "hi from Chromium");
      await page.click("#publish button[type=submit]");
      assertEquals(await tcp.readLines(2, 10_000), [
        "MSG from.page 1 16\r\n",
        "hi from Chromium\r\n",
      ]);
      // An invalid subject is refused, and said so on the page.
      await page.fill("#subject", "bad..subject");
      await page.click("#subscribe button[type=submit]");
      await page.locator("#log li.error").waitFor({ timeout: 10_000 });
      assertStringIncludes(await page.locator("#log li.error").innerText(), "Invalid Subject");
      assertEquals(await page.locator("#subscriptions li").count(), 1);
    } finally {
      tcp?.close();
      const { text, code } = await example.stop();
      assertMatch(text, /SIGTERM: closed after .* s: \d+ connections/);
      assertEquals(code, 0);
    }
  },
});

for (const loops of ["1", "2"]) {
  Deno.test(
    `examples/http.ts --loops ${loops} serves NATS over WebSocket at --nats-path, sharing subjects with --nats-port`,
    { sanitizeOps: true, sanitizeResources: true },
    async () => {
      const example = await start("--nats-path", "/pubsub", "--loops", loops);
      let socket: WebSocket | undefined;
      let tcp: SocketClient | undefined;
      try {
        socket = new WebSocket(`ws://127.0.0.1:${example.httpPort}/pubsub`);
        socket.binaryType = "arraybuffer";
        let received = "";
        let arrived = () => {};
        socket.onmessage = (event) => {
          received += decoder.decode(event.data);
          arrived();
        };
        const until = (end: string) =>
          within(
            new Promise<void>((resolve) => {
              arrived = () => received.endsWith(end) && resolve();
              arrived();
            }),
            `${JSON.stringify(end)} over WebSocket (got ${JSON.stringify(received)})`,
          );
        const closed = new Promise((resolve) => socket!.onclose = resolve);
        await within(new Promise((resolve) => socket!.onopen = resolve), "the WebSocket to open");
        socket.send('CONNECT {"verbose":false}\r\nSUB news 9\r\nPING\r\n');
        await until("PONG\r\n");
        assert(received.startsWith("INFO {"), received);

        received = "";
        tcp = await tcpSubscriber(example.natsPort, "unused");
        await tcp.write("PUB news 5\r\nhello\r\n");
        await until("hello\r\n");
        assertEquals(received, "MSG news 9 5\r\nhello\r\n");
        socket.close();
        await within(closed, "the WebSocket to close");
      } finally {
        tcp?.close();
        if (socket !== undefined && socket.readyState !== WebSocket.CLOSED) {
          const closed = new Promise((resolve) => socket!.onclose = resolve);
          socket.close();
          await within(closed, "the WebSocket to close");
        }
        const { text, code } = await example.stop();
        assertStringIncludes(text, "NATS over WebSocket at /pubsub");
        // One server for both addresses: 2 connections (on one loop, the router's counts too).
        assertMatch(text, /SIGTERM: closed after .* s: 2 connections/);
        if (loops === "1") assertMatch(text, /\d+ published, \d+ delivered/);
        assertEquals(code, 0);
      }
    },
  );
}

Deno.test("examples/http.ts rejects bad pub/sub flags with exit code 2", async () => {
  for (
    const [args, message] of ([
      [["--nats-path", "nats"], '--nats-path must start with "/" and not be /ws, got "nats"'],
      [["--nats-path", "/ws"], '--nats-path must start with "/" and not be /ws, got "/ws"'],
      [["--nats-port", "x"], '--nats-port must be an integer from 0 to 65535, got "x"'],
    ] as const)
  ) {
    const { code, stderr } = await runToExit("examples/http.ts", ["--port", "0", ...args]);
    assertEquals(code, 2, args.join(" "));
    assertStringIncludes(stderr, message);
  }
});
