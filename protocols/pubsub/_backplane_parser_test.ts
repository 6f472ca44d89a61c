import { assertEquals, assertThrows } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { type BackplaneOp, BackplaneParser } from "./_backplane_parser.ts";
import { BackplaneProtocolError } from "./backplane_errors.ts";

const decoder = new TextDecoder();

function describe(op: BackplaneOp): string {
  const text = (bytes: Uint8Array) => decoder.decode(bytes);
  switch (op.kind) {
    case "msg":
      return `msg ${text(op.subject)} sid=${op.sid} reply=${
        text(op.reply)
      } headers=${op.headerSize} ${JSON.stringify(text(op.payload))}`;
    case "info":
    case "err":
      return `${op.kind} ${op.text}`;
    default:
      return op.kind;
  }
}

/** Parses chunks in order, each a copy overwritten once fed, as a reused read buffer would be. */
function parse(parts: Uint8Array[], parser = new BackplaneParser()): string[] {
  const ops: string[] = [];
  for (const part of parts) {
    const copy = part.slice();
    parser.feed(copy);
    copy.fill(0x21);
    for (let op = parser.next(); op !== null; op = parser.next()) ops.push(describe(op));
  }
  return ops;
}

const STREAM = 'INFO {"server_id":"N1","headers":true}\r\n' +
  "MSG a.b 1 5\r\nhello\r\n" +
  "MSG a.b 12 _INBOX.x.1 0\r\n\r\n" +
  "HMSG req 3 _INBOX.y.2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" +
  "HMSG _INBOX.y.3 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n" +
  "PING\r\nPONG\r\n+OK\r\n-ERR 'Permissions Violation'\r\n" +
  "MSG bin 2 4\r\n\r\n\r\n\r\n";

const EXPECTED = [
  'info {"server_id":"N1","headers":true}',
  'msg a.b sid=1 reply= headers=-1 "hello"',
  'msg a.b sid=12 reply=_INBOX.x.1 headers=-1 ""',
  'msg req sid=3 reply=_INBOX.y.2 headers=12 "NATS/1.0\\r\\n\\r\\nhi"',
  'msg _INBOX.y.3 sid=3 reply= headers=16 "NATS/1.0 503\\r\\n\\r\\n"',
  "ping",
  "pong",
  "ok",
  "err 'Permissions Violation'",
  'msg bin sid=2 reply= headers=-1 "\\r\\n\\r\\n"',
];

Deno.test("BackplaneParser reads every server operation at every chunk size", () => {
  forEachChunkSize(STREAM, (parts, size) => {
    assertEquals(parse(parts), EXPECTED, `chunk size ${size}`);
  });
});

Deno.test("BackplaneParser reads a payload larger than its first buffer", () => {
  const body = "x".repeat(200_000);
  const stream = new TextEncoder().encode(`MSG big 1 ${body.length}\r\n${body}\r\nPING\r\n`);
  for (const size of [1000, 65536, stream.length]) {
    const parts = [];
    for (let i = 0; i < stream.length; i += size) parts.push(stream.subarray(i, i + size));
    const ops = parse(parts);
    assertEquals(ops.length, 2, `chunk size ${size}`);
    assertEquals(ops[1], "ping");
    assertEquals(ops[0], `msg big sid=1 reply= headers=-1 ${JSON.stringify(body)}`);
  }
});

Deno.test("BackplaneParser refuses what is malformed or past its bounds", () => {
  const failing = (text: string, options = {}) => {
    const parser = new BackplaneParser(options);
    parser.feed(new TextEncoder().encode(text));
    return () => {
      while (parser.next() !== null) { /* until it throws */ }
    };
  };
  assertThrows(failing("BOGUS\r\n"), BackplaneProtocolError, "unknown operation");
  assertThrows(failing("MSG a\r\n"), BackplaneProtocolError, "malformed MSG");
  assertThrows(failing("MSG a 1 x\r\n"), BackplaneProtocolError, "malformed MSG");
  assertThrows(failing("HMSG a 1 20 10\r\n"), BackplaneProtocolError, "malformed HMSG");
  assertThrows(
    failing("MSG a 1 100\r\n", { maxPayload: 99 }),
    BackplaneProtocolError,
    "payload of 100 bytes",
  );
  assertThrows(
    failing("INFO " + "x".repeat(200), { maxControlLine: 100 }),
    BackplaneProtocolError,
    "control line too long",
  );
  assertThrows(
    failing("INFO " + "x".repeat(200) + "\r\n", { maxControlLine: 100 }),
    BackplaneProtocolError,
    "control line too long",
  );
});

Deno.test("BackplaneParser reads operation names in any case, and only exact ones", () => {
  const parts = [new TextEncoder().encode("msg a 1 1\r\nx\r\nPing\r\n+ok\r\n")];
  assertEquals(parse(parts), ['msg a sid=1 reply= headers=-1 "x"', "ping", "ok"]);
  const parser = new BackplaneParser();
  parser.feed(new TextEncoder().encode("\x0bOK\r\n"));
  assertThrows(() => parser.next(), BackplaneProtocolError, "unknown operation");
});
