import { assertEquals, assertMatch } from "@std/assert";
import type { ProtocolHandler } from "../../core/protocol.ts";
import { IdleTimeoutError } from "../../core/errors.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { httpHandler } from "./http_handler.ts";
import { HttpMessageKind } from "./http_message.ts";
import { httpProtocol, type HttpProtocolOptions } from "./http_protocol.ts";

const handler = httpHandler(async (request) =>
  new Response(`${request.method} ${new URL(request.url).pathname} ${await request.text()}`)
);

/** Feeds the chunks, then handles the dispatched messages in order, awaiting each. */
async function converse(
  chunks: Uint8Array[],
  options: HttpProtocolOptions = {},
): Promise<MemoryTransport> {
  const transport = new MemoryTransport();
  const protocol = httpProtocol({ headersTimeout: 0, requestTimeout: 0, ...options }).create(
    transport,
  );
  protocol.open?.();
  for (const chunk of chunks) protocol.data(chunk.slice());
  for (const message of transport.messages) {
    await handler.onMessage(message, transport.handle, transport.context);
  }
  protocol.close?.();
  return transport;
}

/** The status lines and bodies of the responses written, without the date header. */
function responses(transport: MemoryTransport): string[] {
  return transport.text().split(/(?=HTTP\/1\.1 )/).map((response) =>
    response.replace(/date: .*\r\n/, "")
  );
}

Deno.test("httpProtocol dispatches pipelined requests in order; responses follow, at every chunk size", async () => {
  const input = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
    "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" +
    "HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n";
  const expected = [
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 7\r\n\r\nGET /a ",
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 10\r\n\r\nPOST /b hi",
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 8\r\n\r\n",
  ];
  const runs: Promise<void>[] = [];
  forEachChunkSize(input, (chunks, size) => {
    runs.push(
      converse(chunks).then((transport) => {
        assertEquals(responses(transport), expected, `chunk size ${size}`);
        assertEquals(transport.closed, false);
      }),
    );
  });
  await Promise.all(runs);
});

Deno.test("httpProtocol answers a bad request after the good ones before it, then closes", async () => {
  const transport = await converse([
    new TextEncoder().encode(
      "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost x\r\n\r\nGET /never HTTP/1.1\r\n",
    ),
  ]);
  assertEquals(transport.messages.map((m) => m.type & 0b11), [
    HttpMessageKind.request,
    HttpMessageKind.writeAndClose,
  ]);
  const [ok, bad] = responses(transport);
  assertMatch(ok, /^HTTP\/1\.1 200 OK/);
  assertMatch(
    bad,
    /^HTTP\/1\.1 400 Bad Request\r\n[^]*connection: close\r\n\r\n400 Bad Request: Header line has no colon\n$/,
  );
  assertEquals(transport.closed, true);
});

Deno.test("httpProtocol hands an upgraded connection and the bytes after the head to the new handler", () => {
  const seen: string[] = [];
  const upgraded: ProtocolHandler = {
    open: () => void seen.push("open"),
    data: (chunk) => void seen.push(new TextDecoder().decode(chunk)),
    close: () => void seen.push("close"),
  };
  const transport = new MemoryTransport();
  const protocol = httpProtocol({
    upgrade: (request) =>
      request.headers.upgrade === "yes-please"
        ? { response: "HTTP/1.1 101 Switching Protocols\r\n\r\n", handler: upgraded }
        : undefined,
  }).create(transport);
  protocol.data(new TextEncoder().encode(
    "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: no\r\n\r\n" +
      "GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: yes-please\r\n\r\nfirst",
  ));
  protocol.data(new TextEncoder().encode("second"));
  protocol.close?.();
  assertEquals(transport.messages.map((m) => m.type & 0b11), [
    HttpMessageKind.request,
    HttpMessageKind.write,
  ]);
  assertEquals(
    new TextDecoder().decode(transport.messages[1].payload),
    "HTTP/1.1 101 Switching Protocols\r\n\r\n",
  );
  assertEquals(seen, ["open", "first", "second", "close"]);
});

Deno.test("httpProtocol says 408 as goodbye mid-request, and nothing between requests", () => {
  const transport = new MemoryTransport();
  const protocol = httpProtocol().create(transport);
  const idle = new IdleTimeoutError(1000);
  assertEquals(protocol.goodbye?.(idle), undefined);
  protocol.data(new TextEncoder().encode("GET / HTTP/1.1\r\nHo"));
  const goodbye = protocol.goodbye?.(idle);
  assertMatch(
    new TextDecoder().decode(goodbye as Uint8Array),
    /^HTTP\/1\.1 408 Request Timeout\r\n/,
  );
  protocol.close?.();
});

Deno.test("httpProtocol serves an upgrade request nobody takes as a plain request and goes on", async () => {
  const transport = await converse([
    new TextEncoder().encode(
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n" +
        "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
  ]);
  assertEquals(responses(transport).map((r) => r.split("\r\n\r\n")[1]), ["GET /a ", "GET /b "]);
});

Deno.test("httpHandler keeps Latin-1 header bytes both ways and trims the values' whitespace", async () => {
  const transport = new MemoryTransport();
  const protocol = httpProtocol({ headersTimeout: 0, requestTimeout: 0 }).create(transport);
  const echo = httpHandler((request) =>
    new Response(`[${request.headers.get("x-a")}][${request.headers.get("host")}]`, {
      headers: { "x-name": request.headers.get("x-name")! },
    })
  );
  // "X-Name: café" with é as the single byte 0xE9 (obs-text), and OWS around the values.
  const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost:\t h \r\nX-A:  1\t\r\nX-Name: caf");
  protocol.data(new Uint8Array([...head, 0xe9, 0x0d, 0x0a, 0x0d, 0x0a]));
  await echo.onMessage(transport.messages[0], transport.handle, transport.context);
  protocol.close?.();
  const bytes = transport.bytes();
  const text = Array.from(bytes, (byte) => String.fromCharCode(byte)).join("");
  assertMatch(text, /\r\nx-name: caf\u00e9\r\n/, "one byte 0xE9, not UTF-8");
  assertEquals(text.split("\r\n\r\n")[1], "[1][h]");
  assertMatch(text, /\r\ncontent-length: 6\r\n/);
});
