/**
 * The `Request` a fetch handler gets, without sockets: the handler's hot path and `toRequest`
 * (for upgrade hooks) share one builder, and must agree on every URL form.
 */

import { assertEquals } from "@std/assert";
import { runProtocolAsync } from "../../testing/mod.ts";
import { httpHandler, toRequest } from "./http_handler.ts";
import { readRequest } from "./http_message.ts";
import { httpProtocol } from "./http_protocol.ts";

/** What a test compares of a `Request`. */
async function seen(request: Request): Promise<unknown[]> {
  return [request.method, request.url, [...request.headers], await request.text()];
}

Deno.test(
  "httpHandler and toRequest build the same Request (URL forms, missing Host, bodies), at every chunk size",
  async () => {
    const input = [
      "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
      "GET /no-host HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: h:8080\r\n\r\n",
      "GET http://other.example/abs?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
      "POST /post HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello",
      "HEAD /head HTTP/1.1\r\nHost: example.com\r\n\r\n",
      "DELETE /empty HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
    ].join("");
    const expected = [
      ["GET", "http://example.com/a?b=1", [["x-a", "1, 2"], ["host", "example.com"]], ""],
      ["GET", "http://localhost/no-host", [["connection", "keep-alive"]], ""],
      ["OPTIONS", "http://h:8080/*", [["host", "h:8080"]], ""],
      ["GET", "http://other.example/abs?q", [["host", "example.com"]], ""],
      [
        "POST",
        "http://example.com/post",
        [["content-length", "5"], ["host", "example.com"]],
        "hello",
      ],
      ["HEAD", "http://example.com/head", [["host", "example.com"]], ""],
      ["DELETE", "http://example.com/empty", [["content-length", "0"], [
        "host",
        "example.com",
      ]], ""],
    ];
    const sorted = (row: unknown[]) => [
      row[0],
      row[1],
      (row[2] as string[][]).toSorted(([a], [b]) => a.localeCompare(b)),
      row[3],
    ];
    const runs: { size: number; handled: Request[]; built: Request[] }[] = [];
    for (let size = input.length; size >= 1; size--) {
      const handled: Request[] = [];
      const transport = await runProtocolAsync(httpProtocol(), input, {
        chunkSize: size,
        handler: httpHandler((request) => {
          handled.push(request);
          return new Response("ok");
        }),
      });
      const built = transport.messages.map((message) =>
        toRequest(readRequest(message.payload, message.type))
      );
      runs.push({ size, handled, built });
    }
    for (const { size, handled, built } of runs) {
      assertEquals(handled.length, expected.length, `chunk size ${size}`);
      for (let i = 0; i < expected.length; i++) {
        assertEquals(sorted(await seen(handled[i])), sorted(expected[i]), `chunk size ${size}`);
        assertEquals(sorted(await seen(built[i])), sorted(expected[i]), `chunk size ${size}`);
      }
    }
  },
);
