/**
 * The floors of `http_load.ts`: what any HTTP server written over `Deno.listen` costs at least,
 * measured with the same load. Not servers: they parse nothing, they count request heads (the
 * empty line that ends each, found across reads) and answer each with the bench's response.
 *
 * - `--mode io`: a fixed response per head, written as bytes made once: the cost of the reads
 *   and writes alone.
 * - `--mode objects`: per head, also what a `Request` -> `Response` API must do at least: build
 *   the web-standard `Request` (URL and its one `Host` header, as wrk sends it), call the handler,
 *   read the `Response`'s status, content type and body, and encode the head.
 *
 * `deno run -A bench/_http_floor.ts --mode io|objects [--until-stdin-closes] [--cert c --key k]`
 * listens on 127.0.0.1 (over TLS with a certificate), on a free port, and prints the port as
 * the first line of stdout.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { exitWhenStdinCloses } from "./_exit_when_stdin_closes.ts";
import { HTTP_BENCH_BODY } from "./_http_body.ts";

const args = parseArgs(Deno.args, {
  boolean: ["until-stdin-closes"],
  string: ["cert", "key", "mode"],
  default: { mode: "io" },
});
if (args["until-stdin-closes"]) exitWhenStdinCloses();
const mode = args.mode;
if (mode !== "io" && mode !== "objects") {
  console.error(`--mode must be io or objects, got "${mode}"`);
  Deno.exit(2);
}

const encoder = new TextEncoder();
const body = encoder.encode(HTTP_BENCH_BODY);
const fixedResponse = encoder.encode(
  `HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: ${body.length}\r\n\r\n${HTTP_BENCH_BODY}`,
);
const handler = (_request: Request) => new Response(HTTP_BENCH_BODY);
const CR = 0x0d;
const LF = 0x0a;

/** The response the objects floor writes for one request to `host`. */
async function objectsResponse(host: string): Promise<Uint8Array> {
  const request = new Request(`http://${host}/`);
  request.headers.append("host", host);
  const response = handler(request);
  const content = new Uint8Array(await response.arrayBuffer());
  const head = encoder.encode(
    `HTTP/1.1 ${response.status} ${response.statusText || "OK"}\r\ncontent-type: ${
      response.headers.get("content-type")
    }\r\ncontent-length: ${content.length}\r\n\r\n`,
  );
  const bytes = new Uint8Array(head.length + content.length);
  bytes.set(head);
  bytes.set(content, head.length);
  return bytes;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

async function serve(conn: Deno.Conn, host: string): Promise<void> {
  if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  const buffer = new Uint8Array(16 * 1024);
  // How far into CR LF CR LF the bytes read so far are: 0 to 3.
  let matched = 0;
  try {
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) break;
      let heads = 0;
      for (let i = 0; i < count; i++) {
        const byte = buffer[i];
        if (byte === (matched % 2 === 0 ? CR : LF)) {
          if (++matched === 4) {
            heads++;
            matched = 0;
          }
        } else matched = byte === CR ? 1 : 0;
      }
      for (let i = 0; i < heads; i++) {
        await writeAll(conn, mode === "io" ? fixedResponse : await objectsResponse(host));
      }
    }
  } catch {
    // wrk resets its connections at the end of a run: routine here.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

const options = { hostname: "127.0.0.1", port: 0 };
const listener = args.cert && args.key
  ? Deno.listenTls({
    ...options,
    cert: Deno.readTextFileSync(args.cert),
    key: Deno.readTextFileSync(args.key),
  })
  : Deno.listen(options);
const { port } = listener.addr as Deno.NetAddr;
console.log(port);
for await (const conn of listener) void serve(conn, `127.0.0.1:${port}`);
