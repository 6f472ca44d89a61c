import { assert, assertEquals, assertMatch } from "@std/assert";
import { HttpTestClient } from "../../testing/_fixtures/http_client.ts";
import { httpServer } from "./http_server.ts";
import { contentType, serveDir } from "./serve_dir.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

async function fixture(): Promise<{ root: string; outside: string; cleanup: () => Promise<void> }> {
  const base = await Deno.makeTempDir({ prefix: "speedo-serve-dir-" });
  const root = `${base}/public`;
  const outside = `${base}/secret.txt`;
  await Deno.mkdir(`${root}/docs`, { recursive: true });
  await Deno.writeTextFile(`${root}/index.html`, "<h1>home</h1>");
  await Deno.writeTextFile(`${root}/docs/index.html`, "<h1>docs</h1>");
  await Deno.writeTextFile(`${root}/style.css`, "body{}");
  await Deno.writeTextFile(`${root}/.env`, "TOKEN=1");
  await Deno.writeFile(`${root}/big.bin`, new Uint8Array(300_000).fill(7));
  await Deno.writeTextFile(outside, "secret");
  await Deno.symlink(outside, `${root}/link.txt`);
  // A folder named like a host, for protocol-relative redirects (`//evil.example.com`).
  await Deno.mkdir(`${root}/evil.example.com`);
  await Deno.mkdir(`${root}/two words`);
  // Links out of the root: to a folder with an index, to nothing; a link within the root.
  await Deno.mkdir(`${base}/outside`);
  await Deno.writeTextFile(`${base}/outside/index.html`, "outside");
  await Deno.symlink(`${base}/outside`, `${root}/out`);
  await Deno.symlink(`${base}/missing.txt`, `${root}/dangling.txt`);
  await Deno.symlink(`${root}/style.css`, `${root}/alias.css`);
  // A loop of links (ELOOP).
  await Deno.symlink(`${root}/loop-b`, `${root}/loop-a`);
  await Deno.symlink(`${root}/loop-a`, `${root}/loop-b`);
  return { root, outside, cleanup: () => Deno.remove(base, { recursive: true }) };
}

const get = (path: string, init?: RequestInit) => new Request(`http://localhost${path}`, init);

Deno.test("serveDir serves files with content types, index.html for folders, and redirects to the slash", async () => {
  const { root, cleanup } = await fixture();
  try {
    const serve = serveDir(root);
    const home = await serve(get("/"));
    assertEquals([home.status, home.headers.get("content-type"), await home.text()], [
      200,
      "text/html; charset=utf-8",
      "<h1>home</h1>",
    ]);
    const css = await serve(get("/style.css"));
    assertEquals([css.headers.get("content-type"), css.headers.get("content-length")], [
      "text/css; charset=utf-8",
      "6",
    ]);
    await css.body?.cancel();
    const docs = await serve(get("/docs"));
    assertEquals([docs.status, docs.headers.get("location")], [301, "/docs/"]);
    assertEquals(await (await serve(get("/docs/"))).text(), "<h1>docs</h1>");
    const big = await serve(get("/big.bin"));
    assertEquals(big.headers.get("content-length"), "300000");
    assertEquals((await big.bytes()).length, 300_000, "streamed above readWholeBelow");
  } finally {
    await cleanup();
  }
});

Deno.test("serveDir refuses path traversal, escaping symlinks and dotfiles", async () => {
  const { root, cleanup } = await fixture();
  try {
    const serve = serveDir(root);
    const cases: [string, number][] = [
      ["/..%2fsecret.txt", 403],
      ["/docs/..%2f..%2fsecret.txt", 403],
      ["/..%5csecret.txt", 403],
      ["/%2e%2e%2fsecret.txt", 403],
      ["/a%00b", 403],
      ["/link.txt", 404],
      ["/.env", 404],
      ["/docs/%2e%2e/.env", 404],
      ["/%E0%A4%A", 400],
      ["/missing.txt", 404],
      ["/style.css/x", 404],
    ];
    for (const [path, status] of cases) {
      const response = await serve(get(path));
      assertEquals(response.status, status, path);
      await response.body?.cancel();
    }
    // The URL parser already resolves plain and %2e dot segments before the handler sees them.
    const normalised = await serve(new Request("http://localhost/docs/../../secret.txt"));
    assertEquals(normalised.status, 404);
    await normalised.body?.cancel();
  } finally {
    await cleanup();
  }
});

Deno.test("serveDir answers HEAD without a body, 304 for a matching ETag, 405 for other methods", async () => {
  const { root, cleanup } = await fixture();
  try {
    const serve = serveDir(root, { cacheControl: "max-age=60" });
    const head = await serve(get("/index.html", { method: "HEAD" }));
    assertEquals([head.status, head.headers.get("content-length"), head.body], [200, "13", null]);
    const etag = head.headers.get("etag")!;
    assertMatch(etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    assertEquals(head.headers.get("cache-control"), "max-age=60");
    const cached = await serve(
      get("/index.html", { headers: { "if-none-match": `"x", ${etag}` } }),
    );
    assertEquals([cached.status, cached.body], [304, null]);
    const post = await serve(get("/index.html", { method: "POST", body: "x" }));
    assertEquals([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
    await post.body?.cancel();
  } finally {
    await cleanup();
  }
});

Deno.test("contentType knows common extensions, in any case", () => {
  assertEquals(contentType("a.JS"), "text/javascript; charset=utf-8");
  assertEquals(contentType("x.wasm"), "application/wasm");
  assertEquals(contentType("noext"), "application/octet-stream");
  assertEquals(contentType(".hidden"), "application/octet-stream");
});

Deno.test("serveDir answers links out of the root exactly as missing files", async () => {
  const { root, cleanup } = await fixture();
  try {
    const serve = serveDir(root);
    const answer = async (path: string) => {
      const response = await serve(get(path));
      return {
        status: response.status,
        headers: [...response.headers],
        body: await response.text(),
      };
    };
    const missing = await answer("/missing.txt");
    assertEquals(missing.status, 404);
    // 403 against 404 would tell what exists outside the root; a redirect would too.
    for (const path of ["/link.txt", "/out", "/out/", "/out/index.html", "/dangling.txt"]) {
      assertEquals(await answer(path), missing, path);
    }
    const alias = await serve(get("/alias.css"));
    assertEquals([alias.status, await alias.text()], [200, "body{}"], "a link within the root");
  } finally {
    await cleanup();
  }
});

Deno.test("serveDir never redirects to another host: repeated slashes and backslashes collapse", async () => {
  const { root, cleanup } = await fixture();
  try {
    const serve = serveDir(root);
    const redirects: [string, string][] = [
      ["//evil.example.com", "/evil.example.com/"],
      ["/\\evil.example.com", "/evil.example.com/"],
      ["///evil.example.com", "/evil.example.com/"],
      ["/\\/evil.example.com", "/evil.example.com/"],
      ["/.//evil.example.com", "/evil.example.com/"],
      ["/evil.example.com", "/evil.example.com/"],
      ["//docs", "/docs/"],
      ["//two%20words", "/two%20words/"],
    ];
    for (const [target, expected] of redirects) {
      const response = await serve(new Request(`http://localhost${target}`));
      const location = response.headers.get("location") ?? "";
      assertEquals(response.status, 301, target);
      assert(!/^[\/\\]{2}/.test(location), `${target} -> ${location}`);
      assertEquals(location, expected, target);
    }
    // Repeated slashes count as one for what is served too.
    assertEquals(await (await serve(get("//docs//"))).text(), "<h1>docs</h1>");
  } finally {
    await cleanup();
  }
});

Deno.test(
  "serveDir over httpServer answers 404 to paths the filesystem refuses, and logs nothing",
  SANITIZED,
  async () => {
    const { root, cleanup } = await fixture();
    try {
      const errors: Error[] = [];
      await using server = httpServer({
        port: 0,
        handler: serveDir(root),
        onError: (error) => void errors.push(error),
      });
      const { port } = await server.listen();
      const missing = await (await fetch(`http://127.0.0.1:${port}/missing.txt`)).text();
      const paths = [
        `/${"a".repeat(257)}`, // ENAMETOOLONG: a segment past NAME_MAX
        `/${"a".repeat(200)}/`.repeat(21), // ENAMETOOLONG: past PATH_MAX
        "/style.css/x", // ENOTDIR
        "/loop-a", // ELOOP
        "/loop-a/x",
      ];
      for (const path of paths) {
        const response = await fetch(`http://127.0.0.1:${port}${path}`);
        assertEquals([response.status, await response.text()], [404, missing], path.slice(0, 40));
      }
      assertEquals(errors, []);
    } finally {
      await cleanup();
    }
  },
);

Deno.test(
  "serveDir over httpServer redirects GET /\\evil.example.com to a path on the same host",
  SANITIZED,
  async () => {
    const { root, cleanup } = await fixture();
    try {
      await using server = httpServer({ port: 0, handler: serveDir(root), onError: () => {} });
      const { port } = await server.listen();
      using client = await HttpTestClient.connect(port);
      // The raw bytes, which fetch would not send: slashes and backslashes after the first.
      await client.write(
        "GET /\\evil.example.com HTTP/1.1\r\nHost: a\r\n\r\n" +
          "GET //evil.example.com HTTP/1.1\r\nHost: a\r\n\r\n",
      );
      for (let i = 0; i < 2; i++) {
        const redirect = await client.readResponse();
        assertEquals([redirect.status, redirect.headers.location], [301, "/evil.example.com/"]);
      }
    } finally {
      await cleanup();
    }
  },
);
