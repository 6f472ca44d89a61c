/**
 * The HTTP example as a person uses it: a real browser (headless Chromium, driven by
 * playwright-core) loads the page, which opens a WebSocket and shows the echoes; curl-like checks
 * with fetch; flags and shutdown.
 */

import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { within } from "../testing/_socket_client.ts";
import { runToExit, spawnExample } from "./_example_test_helper.ts";
import { HAS_CHROMIUM, launchChromium } from "../testing/_chromium_test_helper.ts";

const decoder = new TextDecoder();

/** Starts the example on a free port; resolves with the child and the port it printed. */
async function start(...args: string[]): Promise<{
  child: Deno.ChildProcess;
  port: number;
  output: () => Promise<string>;
}> {
  const { child, firstLines, output } = await spawnExample([
    "examples/http.ts",
    "--port",
    "0",
    ...args,
  ]);
  return { child, port: Number(/:(\d+)\//.exec(firstLines)?.[1]), output };
}

Deno.test("examples/http.ts serves the page and its assets, then shuts down on SIGTERM", async () => {
  const { child, port, output } = await start();
  let text = "";
  let status: Deno.CommandStatus | undefined;
  try {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    assertStringIncludes(await page.text(), "<title>Speedo: WebSocket echo</title>");
    const script = await fetch(`http://127.0.0.1:${port}/app.js`);
    assertEquals(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    await script.body?.cancel();
    const missing = await fetch(`http://127.0.0.1:${port}/nope.txt`);
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
    // An encoded slash cannot climb out of the folder (fetch would normalise "..", so raw bytes).
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode(
        "GET /..%2fhttp.ts HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      ),
    );
    const reply = new Uint8Array(1024);
    const count = await deadline(conn.read(reply), 5000);
    conn.close();
    assertMatch(decoder.decode(reply.subarray(0, count ?? 0)), /^HTTP\/1\.1 403 /);
  } finally {
    child.kill("SIGTERM");
    text = await output();
    status = await child.status;
  }
  assertStringIncludes(text, "Speedo HTTP listening on http://127.0.0.1:");
  assertMatch(text, /SIGTERM: closed after .* s: \d+ connections/);
  assertEquals(status?.code, 0);
});

/** The status a WebSocket handshake to `path` from a page of `origin` gets (raw socket). */
async function handshakeStatus(
  port: number,
  path: string,
  origin: string | undefined,
): Promise<number> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\n` +
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        (origin === undefined ? "" : `Origin: ${origin}\r\n`) + "\r\n",
    ),
  );
  const reply = new Uint8Array(1024);
  const count = await deadline(conn.read(reply), 5000);
  return Number(decoder.decode(reply.subarray(0, count ?? 0)).split(" ")[1]);
}

/** A WebSocket client that keeps what it received as text and waits for an ending. */
async function openSocket(url: string): Promise<{
  send(text: string): void;
  until(end: string | ((received: string) => boolean)): Promise<string>;
  close(): Promise<void>;
}> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  let received = "";
  let arrived = () => {};
  socket.onmessage = (event) => {
    received += typeof event.data === "string" ? event.data : decoder.decode(event.data);
    arrived();
  };
  const closed = new Promise((resolve) => socket.onclose = resolve);
  await within(new Promise((resolve) => socket.onopen = resolve), `${url} to open`);
  return {
    send: (text) => socket.send(text),
    until: (end) =>
      within(
        new Promise<string>((resolve) => {
          arrived = () =>
            (typeof end === "string" ? received.endsWith(end) : end(received)) &&
            resolve(received);
          arrived();
        }),
        `${typeof end === "string" ? JSON.stringify(end) : "the messages"} from ${url} (got ${
          JSON.stringify(received)
        })`,
      ),
    async close() {
      socket.close();
      await within(closed, `${url} to close`);
    },
  };
}

Deno.test(
  "examples/http.ts --loops 2 serves pages, the /ws echo and NATS over WebSocket across loops, then shuts down",
  { sanitizeOps: true, sanitizeResources: true },
  async () => {
    const { child, port, output } = await start("--loops", "2");
    const sockets: { close(): Promise<void> }[] = [];
    let text = "";
    let status: Deno.CommandStatus | undefined;
    try {
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assertStringIncludes(await page.text(), "<title>Speedo: WebSocket echo</title>");
      const echo = await openSocket(`ws://127.0.0.1:${port}/ws`);
      sockets.push(echo);
      echo.send("hello loops");
      assertEquals(await echo.until("hello loops"), "hello loops");
      // The subscriber's PONG comes once every loop knows its interest; the publishers land on
      // either loop (the kernel's choice), and each message reaches it once.
      const subscriber = await openSocket(`ws://127.0.0.1:${port}/nats`);
      sockets.push(subscriber);
      subscriber.send('CONNECT {"verbose":false}\r\nSUB news 1\r\nPING\r\n');
      await subscriber.until("PONG\r\n");
      for (let i = 0; i < 4; i++) {
        const publisher = await openSocket(`ws://127.0.0.1:${port}/nats`);
        sockets.push(publisher);
        publisher.send(`CONNECT {"verbose":false}\r\nPUB news 2\r\nm${i}\r\nPING\r\n`);
        await publisher.until("PONG\r\n");
      }
      // Each publisher's messages keep their order; messages of different publishers need not.
      const messages = (text: string) => (text.match(/MSG [^\r]*\r\n[^\r]*\r\n/g) ?? []).sort();
      const delivered = await subscriber.until((text) => messages(text).length === 4);
      assertEquals(messages(delivered), [0, 1, 2, 3].map((i) => `MSG news 1 2\r\nm${i}\r\n`));
    } finally {
      for (const socket of sockets) await socket.close();
      child.kill("SIGTERM");
      text = await output();
      status = await child.status;
    }
    assertStringIncludes(text, "(2 loops; serving ");
    assertMatch(text, /SIGTERM: closed after .* s: 7 connections/);
    assertEquals(status?.code, 0);
  },
);

Deno.test(
  "examples/http.ts --allowed-origin lets pages of that origin open /ws and /nats; its own pages still may",
  { sanitizeOps: true, sanitizeResources: true },
  async () => {
    const { child, port, output } = await start(
      "--allowed-origin",
      "http://app.example:3000",
      "--allowed-origin=https://other.example",
    );
    try {
      const cases: [string, string | undefined, number][] = [
        ["/ws", "http://app.example:3000", 101],
        ["/nats", "https://other.example", 101],
        ["/nats", `http://127.0.0.1:${port}`, 101],
        ["/ws", undefined, 101],
        ["/ws", "http://evil.example", 403],
        ["/nats", "http://app.example:3001", 403],
      ];
      for (const [path, origin, status] of cases) {
        assertEquals(await handshakeStatus(port, path, origin), status, `${path} from ${origin}`);
      }
    } finally {
      child.kill("SIGTERM");
      await output();
      await child.status;
    }
  },
);

Deno.test("examples/http.ts rejects a bad flag with exit code 2", async () => {
  const { code, stderr } = await runToExit("examples/http.ts", ["--dir", "/nonexistent/folder"]);
  assertEquals(code, 2);
  assertStringIncludes(stderr, '--dir must be a folder, got "/nonexistent/folder"');
});

Deno.test("examples/http.ts rejects an --allowed-origin that is not an origin with exit code 2", async () => {
  const { code, stderr } = await runToExit("examples/http.ts", [
    "--allowed-origin",
    "https://app.example.com/",
  ]);
  assertEquals(code, 2);
  assertStringIncludes(
    stderr,
    '--allowed-origin must be an origin such as https://app.example.com, or *, got "https://app.example.com/"',
  );
});

/** Opens a WebSocket from the page's script: `"open"`, or `"error"` when refused. */
function openWebSocket(
  page: { evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> },
  url: string,
): Promise<string> {
  return page.evaluate((url: string) =>
    new Promise<string>((resolve) => {
      const socket = new WebSocket(url);
      socket.onopen = () => {
        resolve("open");
        socket.close();
      };
      socket.onerror = () => resolve("error");
    }), url);
}

Deno.test({
  name: HAS_CHROMIUM
    ? "examples/http.ts in headless Chromium: the page opens a WebSocket, sends and shows the echoes; a page of another origin is refused"
    : "examples/http.ts in headless Chromium (ignored: chromium is not installed)",
  ignore: !HAS_CHROMIUM,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { child, port, output } = await start();
    try {
      await using browser = await launchChromium();
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${port}/`, { timeout: 15_000 });
      await page.locator("#status", { hasText: "open" }).waitFor({ timeout: 10_000 });
      for (const text of ["hello from Chromium", "ünïcödé ✓"]) {
        await page.fill("#text", text);
        await page.click("button[type=submit]");
      }
      await page.locator("#log li.received").nth(1).waitFor({ timeout: 10_000 });
      const received = await page.locator("#log li.received").allTextContents();
      assertEquals(received, ["← hello from Chromium", "← ünïcödé ✓"]);
      // A message sent from the page's own script, bigger than one TCP segment.
      const echoed = await page.evaluate(() =>
        new Promise<number>((resolve) => {
          const socket = new WebSocket(`ws://${location.host}/ws`);
          socket.onopen = () => socket.send("z".repeat(50_000));
          socket.onmessage = (event) => {
            resolve(String(event.data).length);
            socket.close();
          };
        })
      );
      assertEquals(echoed, 50_000);

      // A page of another origin (another port: a site the user visits, say) opening a
      // WebSocket to the example is refused (403 during the handshake: onerror, never onopen).
      const otherSite = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () =>
          new Response("<!doctype html><title>other</title>", {
            headers: { "content-type": "text/html" },
          }),
      );
      try {
        await page.goto(`http://127.0.0.1:${otherSite.addr.port}/`, { timeout: 15_000 });
        assertEquals(
          await deadline(openWebSocket(page, `ws://127.0.0.1:${port}/ws`), 10_000),
          "error",
        );
        assertEquals(
          await deadline(openWebSocket(page, `ws://127.0.0.1:${port}/nats`), 10_000),
          "error",
        );
      } finally {
        await otherSite.shutdown();
      }
      // Back on the example's own origin, the same script connects.
      await page.goto(`http://127.0.0.1:${port}/`, { timeout: 15_000 });
      assertEquals(
        await deadline(openWebSocket(page, `ws://127.0.0.1:${port}/nats`), 10_000),
        "open",
      );
    } finally {
      child.kill("SIGTERM");
      await output();
      await child.status;
    }
  },
});
