/**
 * Integration tests of the HTTP server over real loopback sockets: Deno's fetch, a raw client
 * for what fetch cannot send, curl and wrk, the bad-input corpus, slowloris. Every wait has a
 * deadline; nothing sleeps to synchronise.
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Server, type ServerOptions } from "../../mod.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import { BAD_REQUESTS } from "../../testing/_fixtures/http_bad_requests.ts";
import { HttpTestClient } from "../../testing/_fixtures/http_client.ts";
import { httpHandler, httpProtocol, httpServer, type HttpServerOptions } from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const decoder = new TextDecoder();

/** Whether a program is on PATH; tests that need a missing one are ignored, by name. */
function hasCommand(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not there
    }
  }
  return false;
}

const HAS_CURL = hasCommand("curl");
const HAS_WRK = hasCommand("wrk");

/** Answers `METHOD path?query body` with a few request headers echoed back as `x-echo-*`. */
async function echoRequest(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/slow") await new Promise((resolve) => setTimeout(resolve, 60));
  if (url.pathname === "/throw") throw new Error("thrown on purpose");
  if (url.pathname === "/empty") return new Response(null, { status: 204 });
  if (url.pathname === "/stream") {
    const parts = ["one ", "two ", "three"];
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          const part = parts.shift();
          if (part === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(part));
        },
      }),
      { headers: { "content-type": "text/plain" } },
    );
  }
  const body = await request.text();
  return new Response(`${request.method} ${url.pathname}${url.search} ${body}`, {
    headers: {
      "x-echo-agent": request.headers.get("user-agent") ?? "",
      "x-echo-url": request.url,
    },
  });
}

function server(options: Partial<HttpServerOptions> = {}): Server {
  return httpServer({ port: 0, handler: echoRequest, onError: () => {}, ...options });
}

Deno.test(
  "httpServer answers fetch GET and POST with a web-standard Request and Response",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    const get = await fetch(`http://127.0.0.1:${port}/path?x=1`, {
      headers: { "user-agent": "speedo-test" },
    });
    assertEquals(get.status, 200);
    assertEquals(await get.text(), "GET /path?x=1 ");
    assertEquals(get.headers.get("x-echo-agent"), "speedo-test");
    assertEquals(get.headers.get("x-echo-url"), `http://127.0.0.1:${port}/path?x=1`);
    assertEquals(get.headers.get("content-type"), "text/plain;charset=UTF-8");
    assert(get.headers.get("date") !== null);
    const post = await fetch(`http://127.0.0.1:${port}/submit`, {
      method: "POST",
      body: "a=1&b=2",
    });
    assertEquals(await post.text(), "POST /submit a=1&b=2");
    const big = "x".repeat(200_000);
    const put = await fetch(`http://127.0.0.1:${port}/big`, { method: "PUT", body: big });
    assertEquals(await put.text(), `PUT /big ${big}`);
  },
);

Deno.test(
  "httpServer answers pipelined requests in order even when the first is slowest",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write(
      "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n" +
        "POST /fast HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi" +
        "GET /third HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push((await client.readResponse()).body);
    assertEquals(bodies, ["GET /slow ", "POST /fast hi", "GET /third "]);
    assertEquals(s.stats().accepted, 1);
  },
);

Deno.test(
  "httpServer keeps HTTP/1.1 connections alive and honours Connection: close",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    const first = await client.readResponse();
    assertEquals(first.headers.connection, undefined, "keep-alive is implicit in 1.1");
    await client.write(
      "GET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\n",
    );
    const second = await client.readResponse();
    assertEquals(second.body, "GET /2 ");
    assertEquals(second.headers.connection, "close");
    assertEquals(await client.readToEnd(), "", "nothing after the close, /3 ignored");
    assert(client.eof);
  },
);

Deno.test(
  "httpServer serves HTTP/1.0: closes by default, keeps alive when asked",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    using closing = await HttpTestClient.connect(port);
    await closing.write("GET /a HTTP/1.0\r\n\r\n");
    const once = await closing.readResponse();
    assertEquals([once.statusLine, once.body], ["HTTP/1.1 200 OK", "GET /a "]);
    assertEquals(once.headers.connection, "close");
    assertEquals(await closing.readToEnd(), "");

    using alive = await HttpTestClient.connect(port);
    await alive.write("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assertEquals((await alive.readResponse()).headers.connection, "keep-alive");
    await alive.write("GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assertEquals((await alive.readResponse()).body, "GET /c ");
    // A streamed body in 1.0 has no chunked coding: it ends with the connection.
    await alive.write("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const streamed = await alive.readResponse();
    assertEquals([streamed.body, streamed.headers["transfer-encoding"]], [
      "one two three",
      undefined,
    ]);
    assert(alive.eof);
  },
);

Deno.test(
  "httpServer answers HEAD with the GET's headers and no body, and 204 with none",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /empty HTTP/1.1\r\nHost: a\r\n\r\n");
    const head = await client.readResponse({ head: true });
    assertEquals([head.status, head.headers["content-length"], head.body], [200, "8", ""]);
    const empty = await client.readResponse();
    assertEquals([empty.status, empty.headers["content-length"]], [204, undefined]);
    await client.write("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals((await client.readResponse()).body, "GET /after ", "nothing stray in between");
  },
);

Deno.test("httpServer streams a ReadableStream body with chunked coding", SANITIZED, async () => {
  await using s = server();
  const { port } = await s.listen();
  using client = await HttpTestClient.connect(port);
  await client.write("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
  const response = await client.readResponse();
  assertEquals(response.headers["transfer-encoding"], "chunked");
  assertEquals(response.body, "one two three");
  const viaFetch = await fetch(`http://127.0.0.1:${port}/stream`);
  assertEquals(await viaFetch.text(), "one two three");
});

Deno.test(
  "httpServer sends 100 Continue before a body the client waits to send",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write(
      "PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    const interim = await client.readResponse();
    assertEquals(interim.statusLine, "HTTP/1.1 100 Continue");
    await client.write("data");
    assertEquals((await client.readResponse()).body, "PUT /up data");
  },
);

Deno.test(
  "httpServer answers 500 when the handler throws, keeps the connection, and tells onError",
  SANITIZED,
  async () => {
    const errors: Error[] = [];
    await using s = server({ onError: (error) => void errors.push(error) });
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write(
      "GET /throw HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assertEquals((await client.readResponse()).status, 500);
    assertEquals((await client.readResponse()).body, "GET /after ");
    assertEquals(errors.map((error) => error.message), ["thrown on purpose"]);
    await using custom = server({
      onRequestError: (error, request) =>
        new Response(`${new URL(request.url).pathname}: ${(error as Error).message}`, {
          status: 502,
        }),
    });
    const response = await fetch(`http://127.0.0.1:${(await custom.listen()).port}/throw`);
    assertEquals([response.status, await response.text()], [502, "/throw: thrown on purpose"]);
  },
);

Deno.test(
  "httpServer answers 500 and closes when the error handler fails too",
  SANITIZED,
  async () => {
    await using s = server({
      onRequestError: () => {
        throw new Error("the error handler failed");
      },
    });
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write("GET /throw HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals((await client.readResponse()).status, 500);
    assertEquals(await client.readToEnd(), "");
  },
);

Deno.test("httpServer answers a request dribbled one byte per write", SANITIZED, async () => {
  await using s = server();
  const { port } = await s.listen();
  using client = await HttpTestClient.connect(port);
  const bytes = new TextEncoder().encode(
    "POST /drip HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  );
  for (let i = 0; i < bytes.length; i++) {
    await client.write(bytes.subarray(i, i + 1));
    await waitFor(() => s.stats().bytesIn === i + 1, `byte ${i + 1} read`);
  }
  assertEquals((await client.readResponse()).body, "POST /drip abc");
});

Deno.test(
  "httpServer answers every request of the bad-input corpus with its status, then closes; others are served",
  SANITIZED,
  async () => {
    await using s = server();
    const { port } = await s.listen();
    using healthy = await HttpTestClient.connect(port);
    await healthy.write("GET /before HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals((await healthy.readResponse()).status, 200);
    const results = await Promise.all(BAD_REQUESTS.map(async (bad) => {
      using client = await HttpTestClient.connect(port);
      await client.write(bad.input);
      const text = await client.readToEnd();
      return { name: bad.name, expected: bad.status, got: text.split("\r\n")[0] };
    }));
    for (const result of results) {
      assertMatch(result.got, new RegExp(`^HTTP/1\\.1 ${result.expected} `), result.name);
    }
    await healthy.write("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals((await healthy.readResponse()).body, "GET /after ");
    await waitFor(() => s.stats().connections === 1, "every bad connection closed");
  },
);

Deno.test(
  "httpServer closes a slowloris with 408 after headersTimeout while serving others",
  SANITIZED,
  async () => {
    await using s = server({ http: { headersTimeout: 300 } });
    const { port } = await s.listen();
    using loris = await HttpTestClient.connect(port);
    using healthy = await HttpTestClient.connect(port);
    const started = performance.now();
    await loris.write("GET / HTTP/1.1\r\nHost: a\r\n");
    let done = false;
    const closed = loris.readToEnd(5000).finally(() => done = true);
    let served = 0;
    for (let i = 0; !done; i++) {
      // The loris keeps sending header lines, so only the header timeout can stop it.
      await loris.write(`X-Drip-${i}: 1\r\n`).catch(() => {});
      await healthy.write("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
      assertEquals((await healthy.readResponse()).status, 200);
      served++;
      await new Promise((resolve) => setTimeout(resolve, 40)); // pacing, not synchronisation
    }
    const text = await within(closed, "the slowloris to be closed");
    assertMatch(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    const elapsed = performance.now() - started;
    assert(elapsed >= 300, `closed after ${elapsed.toFixed(0)} ms`);
    assertGreater(served, 2);
  },
);

Deno.test(
  "httpServer closes a connection that sends no request within headersTimeout of accept",
  SANITIZED,
  async () => {
    await using s = server({ http: { headersTimeout: 200 } });
    const { port } = await s.listen();
    const started = performance.now();
    using silent = await HttpTestClient.connect(port);
    using blank = await HttpTestClient.connect(port);
    using oneByte = await HttpTestClient.connect(port);
    using healthy = await HttpTestClient.connect(port);
    // Empty lines before a request line are tolerated, and must not stop the clock.
    await blank.write("\r\n");
    await oneByte.write("G");
    await healthy.write("GET /first HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals((await healthy.readResponse()).status, 200);
    const closed = (client: HttpTestClient, name: string) =>
      client.readToEnd(3000).catch((error) => {
        throw new Error(`The ${name} connection was not closed within 3 s`, { cause: error });
      });
    const [silentText, blankText, oneByteText] = await Promise.all([
      closed(silent, "silent"),
      closed(blank, "blank-line"),
      closed(oneByte, "one-byte"),
    ]);
    const elapsed = performance.now() - started;
    assert(elapsed >= 200, `closed after ${elapsed.toFixed(0)} ms`);
    assertEquals([silentText, blankText], ["", ""], "no request, no response: closed silently");
    assertMatch(oneByteText, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert(silent.eof && blank.eof && oneByte.eof);
    // A connection that sent its request in time is not closed by it, idle as it was since.
    await healthy.write("GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals((await healthy.readResponse()).body, "GET /second ");
  },
);

Deno.test(
  "httpServer closes a request whose body never completes after requestTimeout",
  SANITIZED,
  async () => {
    await using s = server({ http: { requestTimeout: 200 } });
    const { port } = await s.listen();
    using client = await HttpTestClient.connect(port);
    await client.write("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    assertMatch(await client.readToEnd(), /^HTTP\/1\.1 408 /);
  },
);

Deno.test("httpServer refuses connections past maxConnections with 503", SANITIZED, async () => {
  await using s = server({ maxConnections: 1 });
  const { port } = await s.listen();
  using first = await HttpTestClient.connect(port);
  await first.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  await first.readResponse();
  using second = await HttpTestClient.connect(port);
  assertMatch(await second.readToEnd(), /^HTTP\/1\.1 503 /);
});

Deno.test(
  "httpServer runs a handler module in workers, in order per connection",
  SANITIZED,
  async () => {
    await using s = httpServer({
      port: 0,
      workers: 2,
      handler: new URL("../../testing/_fixtures/http_handler.ts", import.meta.url),
    });
    const { port } = await s.listen();
    assertEquals(s.stats().workers, 2);
    using client = await HttpTestClient.connect(port);
    await client.write(
      "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nPOST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz",
    );
    assertEquals((await client.readResponse()).body, "GET /slow ");
    assertEquals((await client.readResponse()).body, "POST /p z");
    const viaFetch = await fetch(`http://127.0.0.1:${port}/x`, { method: "DELETE" });
    assertEquals(await viaFetch.text(), "DELETE /x ");
  },
);

Deno.test("httpServer checks its options", () => {
  assertThrows(
    () => httpServer({ port: 0, workers: 2, handler: () => new Response() }),
    TypeError,
    "runs inline",
  );
  assertThrows(
    () => httpServer({ port: 0, handler: () => new Response(), http: { headersTimeout: -1 } }),
    RangeError,
    "headersTimeout",
  );
  assertThrows(
    () => httpServer({ port: 0, handler: () => new Response(), http: { maxBodySize: -1 } }),
    RangeError,
  );
  assertThrows(
    () => httpServer({ port: 0, handler: () => new Response(), concurrency: 2 as 1 }),
    RangeError,
    "pipelined responses keep their order",
  );
  assertThrows(
    () =>
      httpServer({
        port: 0,
        handler: () => new Response(),
        http: { upgrade: () => undefined },
        websocket: { onMessage: () => {} },
      }),
    TypeError,
    "not both",
  );
  assertThrows(() => httpHandler("nope" as unknown as () => Response), TypeError);
});

Deno.test("httpProtocol and httpHandler make a server with new Server", SANITIZED, async () => {
  const options: ServerOptions = {
    port: 0,
    protocol: httpProtocol({ maxBodySize: 8 }),
    onMessage: httpHandler((request) => new Response(request.method)).onMessage,
  };
  await using s = new Server(options);
  const { port } = await s.listen();
  assertEquals(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "GET");
  const tooBig = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "123456789" });
  assertEquals(tooBig.status, 413);
  await tooBig.body?.cancel();
});

async function curl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await within(
    new Deno.Command("curl", {
      args: ["-sS", "--max-time", "10", ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output(),
    "curl",
    15_000,
  );
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test({
  name: HAS_CURL
    ? "curl gets, posts, heads, uploads chunked and reuses the connection"
    : "curl tests (ignored: curl is not installed)",
  ignore: !HAS_CURL,
  ...SANITIZED,
  async fn() {
    await using s = server();
    const { port } = await s.listen();
    const base = `http://127.0.0.1:${port}`;
    const get = await curl("-i", `${base}/hello?a=b`);
    assertEquals(get.code, 0, get.stderr);
    assertMatch(get.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assertStringIncludes(get.stdout, "\r\n\r\nGET /hello?a=b ");
    const post = await curl("--data-binary", "x=1", `${base}/form`);
    assertEquals(post.stdout, "POST /form x=1");
    const head = await curl("-I", `${base}/h`);
    assertMatch(head.stdout, /content-length: 8\r\n/);
    const chunked = await curl(
      "-H",
      "Transfer-Encoding: chunked",
      "--data-binary",
      "chunked body",
      `${base}/chunked`,
    );
    assertEquals(chunked.stdout, "POST /chunked chunked body");
    // Expect: 100-continue, then the body.
    const expect = await curl(
      "-H",
      "Expect: 100-continue",
      "--data-binary",
      "waited",
      `${base}/expect`,
    );
    assertEquals(expect.stdout, "POST /expect waited");
    const before = s.stats().accepted;
    const two = await curl(`${base}/one`, `${base}/two`);
    assertEquals(two.stdout, "GET /one GET /two ");
    assertEquals(s.stats().accepted - before, 1, "curl reused the connection");
    const traversal = await curl(
      "--path-as-is",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `${base}/../../etc/passwd`,
    );
    assertEquals(traversal.stdout, "200", "normalised to /etc/passwd, inside the handler's world");
  },
});

Deno.test({
  name: HAS_WRK
    ? "wrk drives keep-alive load without errors"
    : "wrk test (ignored: wrk is not installed)",
  ignore: !HAS_WRK,
  ...SANITIZED,
  async fn() {
    await using s = httpServer({ port: 0, handler: () => new Response("ok") });
    const { port } = await s.listen();
    const { code, stdout } = await within(
      new Deno.Command("wrk", {
        args: ["-t1", "-c8", "-d1s", `http://127.0.0.1:${port}/`],
        stdout: "piped",
        stderr: "piped",
      }).output(),
      "wrk",
      15_000,
    );
    const text = decoder.decode(stdout);
    assertEquals(code, 0, text);
    const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
    assertGreater(rate, 100, text);
    assert(!/Non-2xx|Socket errors/.test(text), text);
    assertGreater(s.stats().accepted, 7, "wrk's 8 connections (and its probe)");
  },
});
