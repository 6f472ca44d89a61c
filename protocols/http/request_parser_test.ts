import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { BAD_REQUESTS } from "../../testing/_fixtures/http_bad_requests.ts";
import {
  ContentTooLargeError,
  HeaderFieldsTooLargeError,
  HttpError,
  UriTooLongError,
} from "./http_errors.ts";
import { HttpMessageFlag, readRequest, requestMethod } from "./http_message.ts";
import { RequestParser, type RequestParserOptions } from "./request_parser.ts";

const decoder = new TextDecoder();

interface Parsed {
  requests: { text: string; type: number }[];
  error?: HttpError;
  continues: number;
}

function parse(chunks: Uint8Array[], options: RequestParserOptions = {}): Parsed {
  const parser = new RequestParser(options);
  const parsed: Parsed = { requests: [], continues: 0 };
  for (const chunk of chunks) {
    // A copy overwritten after use catches payloads that are views of a reused buffer.
    const buffer = chunk.slice();
    parser.feed(buffer);
    try {
      for (let payload = parser.next(); payload !== null; payload = parser.next()) {
        parsed.requests.push({ text: decoder.decode(payload), type: parser.lastType });
      }
    } catch (error) {
      assertInstanceOf(error, HttpError);
      parsed.error = error as HttpError;
      return parsed;
    }
    if (parser.takeContinue()) parsed.continues++;
    buffer.fill(0xee);
  }
  return parsed;
}

/** Parses `input` at every chunk size and checks each result is the same as whole. */
function parseEverySize(input: string, options: RequestParserOptions = {}): Parsed {
  const whole = parse([new TextEncoder().encode(input)], options);
  forEachChunkSize(input, (chunks, size) => {
    const got = parse(chunks, options);
    assertEquals(got.requests, whole.requests, `chunk size ${size}`);
    assertEquals(got.error?.status, whole.error?.status, `chunk size ${size}`);
  });
  return whole;
}

Deno.test("RequestParser frames pipelined GET, POST and HTTP/1.0 requests at every chunk size", () => {
  const input = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
    "POST /b?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
    "HEAD /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
    "DELETE /d HTTP/1.0\r\n\r\n" +
    "GET /ignored HTTP/1.1\r\nHost: x\r\n\r\n";
  const { requests, error } = parseEverySize(input);
  assertEquals(error, undefined);
  assertEquals(requests.map((r) => r.text), [
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /b?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "HEAD /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "DELETE /d HTTP/1.0\r\n\r\n",
  ]);
  assertEquals(requests.map((r) => requestMethod(r.type)), ["GET", "POST", "HEAD", "DELETE"]);
  const keepAlive = requests.map((r) => (r.type & HttpMessageFlag.keepAlive) !== 0);
  assertEquals(keepAlive, [true, true, true, false], "1.1 by default, 1.0 when asked");
  const http10 = requests.map((r) => (r.type & HttpMessageFlag.http10) !== 0);
  assertEquals(http10, [false, false, true, true]);
});

Deno.test("RequestParser decodes chunked bodies with extensions and trailers at every chunk size", () => {
  const input = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n" +
    "5;name=value\r\nhello\r\n1 ; x\r\n,\r\n11\r\n world 0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n" +
    "GET /next HTTP/1.1\r\nHost: y\r\n\r\n";
  const { requests, error } = parseEverySize(input);
  assertEquals(error, undefined);
  assertEquals(requests.length, 2);
  const request = readRequest(new TextEncoder().encode(requests[0].text), requests[0].type);
  assertEquals(decoder.decode(request.body!), "hello, world 0123456789");
  assertEquals(request.headers["transfer-encoding"], "Chunked");
  assertEquals(
    readRequest(new TextEncoder().encode(requests[1].text), requests[1].type).target,
    "/next",
  );
});

Deno.test("RequestParser stops after Connection: close and ignores what follows", () => {
  const { requests } = parseEverySize(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assertEquals(requests.length, 1);
  assertEquals(requests[0].type & HttpMessageFlag.keepAlive, 0);
});

Deno.test("RequestParser accepts empty lines before a request, absolute targets and OPTIONS *", () => {
  const { requests, error } = parseEverySize(
    "\r\n\r\nGET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n" +
      "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assertEquals(error, undefined);
  assertEquals(requests.map((r) => r.text.split("\r\n")[0]), [
    "GET http://example.com/p?q HTTP/1.1",
    "OPTIONS * HTTP/1.1",
  ]);
});

Deno.test("RequestParser flags heads with obs-text bytes as Latin-1 and readRequest keeps them", () => {
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf"),
    0xe9,
    ...new TextEncoder().encode("\r\n\r\n"),
  ]);
  const parser = new RequestParser();
  parser.feed(bytes);
  const payload = parser.next()!;
  assert((parser.lastType & HttpMessageFlag.latin1) !== 0);
  assertEquals(readRequest(payload, parser.lastType).headers["x-name"], "caf\u00e9");
});

Deno.test("RequestParser asks for 100 Continue once the head of a body that waits arrived", () => {
  const input = "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
  forEachChunkSize(input, (chunks, size) => {
    const { requests, continues } = parse(chunks);
    assertEquals(requests.length, 1, `chunk size ${size}`);
    // Asked for only when the chunk that ends the head does not hold the whole body.
    const headEnd = input.indexOf("\r\n\r\n") + 4;
    const chunkEnd = Math.min(Math.ceil(headEnd / size) * size, input.length);
    assertEquals(continues, chunkEnd < input.length ? 1 : 0, `chunk size ${size}`);
  });
});

Deno.test("RequestParser stops at an upgrade request; rest() is the new protocol's first bytes", () => {
  const parser = new RequestParser();
  const head = new TextEncoder().encode(
    "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  parser.feed(new Uint8Array([...head, 0x81, 0x80]));
  assert(parser.next() !== null);
  assert((parser.lastType & HttpMessageFlag.upgrade) !== 0);
  assertEquals(parser.next(), null);
  assertEquals(parser.rest(), new Uint8Array([0x81, 0x80]));
});

Deno.test("RequestParser returns views of the chunk for whole requests and copies otherwise", () => {
  const parser = new RequestParser();
  const chunk = new TextEncoder().encode(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nh",
  );
  parser.feed(chunk);
  const first = parser.next()!;
  assert(first.buffer === chunk.buffer, "the first request is a view of the chunk");
  assertEquals(parser.next(), null);
  parser.feed(new TextEncoder().encode("i"));
  const second = parser.next()!;
  assert(second.buffer !== chunk.buffer);
  assertEquals(decoder.decode(second).slice(-2), "hi");
});

Deno.test("RequestParser enforces maxBodySize, maxUriLength, maxHeaderSize and maxHeaderCount exactly", () => {
  const options = { maxBodySize: 4, maxUriLength: 8, maxHeaderSize: 40, maxHeaderCount: 2 };
  const ok = parseEverySize(
    "POST /1234567 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd",
    options,
  );
  assertEquals([ok.requests.length, ok.error], [1, undefined]);
  const cases: [string, new (...args: never[]) => HttpError][] = [
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde", ContentTooLargeError],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      ContentTooLargeError,
    ],
    ["GET /12345678 HTTP/1.1\r\nHost: x\r\n\r\n", UriTooLongError],
    [`GET / HTTP/1.1\r\nHost: x\r\nX-Long: ${"a".repeat(30)}\r\n\r\n`, HeaderFieldsTooLargeError],
    ["GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", HeaderFieldsTooLargeError],
  ];
  for (const [input, type] of cases) {
    const { error } = parseEverySize(input, options);
    assertInstanceOf(error, type, input);
  }
});

Deno.test("RequestParser cuts a request line or header that never ends at its bound", () => {
  const parser = new RequestParser({ maxUriLength: 100, maxHeaderSize: 100 });
  parser.feed(new TextEncoder().encode(`GET /${"a".repeat(200)}`));
  assertInstanceOf(assertThrows(() => parser.next()), UriTooLongError);
  const headers = new RequestParser({ maxHeaderSize: 100 });
  headers.feed(new TextEncoder().encode(`GET / HTTP/1.1\r\nX: ${"a".repeat(200)}`));
  assertInstanceOf(assertThrows(() => headers.next()), HeaderFieldsTooLargeError);
});

Deno.test("RequestParser checks its options at construction", () => {
  assertThrows(() => new RequestParser({ maxHeaderSize: 0 }), RangeError, "maxHeaderSize");
  assertThrows(() => new RequestParser({ maxBodySize: -1 }), RangeError, "maxBodySize");
  assertThrows(() => new RequestParser({ maxUriLength: 1.5 }), RangeError, "maxUriLength");
});

for (const bad of BAD_REQUESTS) {
  Deno.test(`RequestParser answers ${bad.status} to ${bad.name}, at every chunk size`, () => {
    const { error, requests } = parseEverySize(bad.input);
    assertEquals(requests, []);
    assertEquals(error?.status, bad.status, error?.message);
  });
}

Deno.test("RequestParser holds a body's bytes as they arrive, not the length announced", () => {
  const MiB = 1024 * 1024;
  const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${MiB}\r\n\r\n`;
  const chunkedHead = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n";
  for (const [name, input] of [["Content-Length", head], ["chunked", chunkedHead]]) {
    const parser = new RequestParser();
    parser.feed(new TextEncoder().encode(`${input}a`));
    assertEquals(parser.next(), null);
    // Announcing a body costs the peer nothing: what it has sent is all the parser may hold.
    assert(parser.heldBytes <= 32 * 1024, `${name}: ${parser.heldBytes} bytes held for 1 byte`);
  }
  // Sent in 64 KiB reads, the buffer keeps within twice the bytes received, and the body is whole.
  const parser = new RequestParser();
  parser.feed(new TextEncoder().encode(head));
  assertEquals(parser.next(), null);
  const body = new Uint8Array(MiB).map((_, i) => i % 251);
  let payload: Uint8Array | null = null;
  for (let at = 0; at < MiB; at += 64 * 1024) {
    parser.feed(body.subarray(at, at + 64 * 1024));
    payload = parser.next();
    const received = head.length + Math.min(MiB, at + 64 * 1024);
    assert(parser.heldBytes <= 2 * received, `${parser.heldBytes} bytes held for ${received}`);
  }
  assertEquals(payload!.subarray(head.length), body);
  assertEquals(decoder.decode(payload!.subarray(0, head.length)), head);
  assertEquals(parser.heldBytes < 4096, true, "the body's buffer is let go once returned");
});
