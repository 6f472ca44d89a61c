import { assert, assertEquals, assertInstanceOf, assertMatch, assertThrows } from "@std/assert";
import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { IdleTimeoutError, ServerClosedError, SlowConsumerError } from "../../core/errors.ts";
import type { ProtocolHandler } from "../../core/protocol.ts";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { runProtocol } from "../../testing/run_protocol.ts";
import { waitFor } from "../../testing/_socket_client.ts";
import {
  ControlLineTooLongError,
  HeadersNotSupportedError,
  InvalidArgumentsError,
  InvalidConnectError,
  InvalidSubjectError,
  PayloadTooLargeError,
  type PubSubError,
  StaleConnectionError,
  TooManySubscriptionsError,
  UnknownOperationError,
} from "./pubsub_errors.ts";
import { pubsubProtocol, type PubSubProtocolOptions } from "./pubsub_protocol.ts";

const encoder = new TextEncoder();
const QUIET = 'CONNECT {"verbose":false,"pedantic":false}\r\n';

/** What a connection was sent, without its INFO line. */
function afterInfo(text: string): string {
  assertMatch(text, /^INFO \{.*\}\r\n/);
  return text.slice(text.indexOf("\r\n") + 2);
}

/** Runs one connection's input through a fresh protocol; returns what it was sent after INFO. */
function converse(input: string, options: PubSubProtocolOptions = {}, chunkSize?: number): {
  text: string;
  closed: boolean;
  errors: PubSubError[];
} {
  const errors: PubSubError[] = [];
  const protocol = pubsubProtocol({
    pingInterval: 0,
    ...options,
    onProtocolError: (error) => void errors.push(error),
  });
  const transport = runProtocol(protocol, input, { chunkSize });
  return { text: afterInfo(transport.text()), closed: transport.closed, errors };
}

/** A connection of a shared protocol, driven by hand. */
class Peer {
  readonly transport: MemoryTransport;
  readonly handler: ProtocolHandler;
  #read = 0;

  constructor(protocol: ReturnType<typeof pubsubProtocol>, id: number) {
    this.transport = new MemoryTransport(id);
    this.handler = protocol.create(this.transport);
    this.handler.open?.();
    this.take();
  }

  send(text: string): void {
    this.handler.data(encoder.encode(text));
  }

  /** What it was sent since the last call. */
  take(): string {
    const text = this.transport.text();
    const fresh = text.slice(this.#read);
    this.#read = text.length;
    return fresh;
  }
}

Deno.test("pubsubProtocol greets with INFO that NATS clients need", () => {
  const transport = new MemoryTransport(42);
  const protocol = pubsubProtocol({
    pingInterval: 0,
    serverName: "test",
    maxPayload: 1000,
    address: () => ({ transport: "tcp", hostname: "127.0.0.1", port: 4321 }),
  });
  const handler = protocol.create(transport);
  handler.open?.();
  const text = transport.text();
  assertMatch(text, /^INFO \{.*\}\r\n$/);
  const info = JSON.parse(text.slice(5, -2));
  assertMatch(info.server_id, /^N[A-Z2-7]{55}$/);
  assertEquals(info.server_name, "test");
  assertEquals(info.version, "2.10.0");
  assertEquals(info.proto, 1);
  assertEquals(info.headers, true);
  assertEquals(info.max_payload, 1000);
  assertEquals([info.host, info.port, info.client_id], ["127.0.0.1", 4321, 42]);
  assertEquals(typeof info.go, "string");
  assertEquals(protocol.connections, 1);
  handler.close?.();
  assertEquals(protocol.connections, 0);
});

Deno.test("pubsubProtocol delivers a client's own messages the same at every chunk size", () => {
  const input = QUIET +
    "SUB greet.* 1\r\nsub greet.> 2\nPUB greet.joe 5\r\nhello\r\n" +
    "pub greet.ann reply.1 0\r\n\r\nUNSUB 2\r\0PUB greet.x 2\r\nhi\r\nPING\r\n";
  // Between subscriptions, the order is the router's (> before * before literals), not a promise.
  const expected = "MSG greet.joe 2 5\r\nhello\r\nMSG greet.joe 1 5\r\nhello\r\n" +
    "MSG greet.ann 2 reply.1 0\r\n\r\nMSG greet.ann 1 reply.1 0\r\n\r\n" +
    "MSG greet.x 1 2\r\nhi\r\nPONG\r\n";
  forEachChunkSize(input, (_chunks, size) => {
    const { text, closed, errors } = converse(input, {}, size);
    assertEquals(text, expected, `chunk size ${size}`);
    assertEquals([closed, errors], [false, []]);
  });
});

Deno.test("pubsubProtocol is verbose and pedantic until CONNECT says otherwise, as nats-server", () => {
  const { text } = converse(
    "SUB a.* 1\r\nPUB a.* 1\r\nx\r\nPING\r\nPONG\r\n" + QUIET + "PUB a.* 1\r\ny\r\nPING\r\n",
  );
  assertEquals(
    text,
    "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG a.* 1 1\r\nx\r\nPONG\r\n" +
      "MSG a.* 1 1\r\ny\r\nPONG\r\n",
  );
});

Deno.test("pubsubProtocol answers +OK to CONNECT, PUB, SUB and UNSUB when verbose", () => {
  const { text } = converse(
    'CONNECT {"verbose":true}\r\nSUB a 1\r\nPUB a 1\r\nx\r\nUNSUB 1\r\nPING\r\n',
  );
  assertEquals(text, "+OK\r\n+OK\r\n+OK\r\nMSG a 1 1\r\nx\r\n+OK\r\nPONG\r\n");
});

Deno.test("pubsubProtocol tells an invalid SUB subject and keeps the connection", () => {
  const { text, closed, errors } = converse(QUIET + "SUB a..b 1\r\nSUB ok 2\r\nPUB ok 1\r\nx\r\n");
  assertEquals(text, "-ERR 'Invalid Subject'\r\nMSG ok 2 1\r\nx\r\n");
  assertEquals(closed, false);
  assertEquals(errors.length, 1);
  assertInstanceOf(errors[0], InvalidSubjectError);
});

Deno.test("pubsubProtocol refuses a SUB past maxSubscriptions and keeps the connection", () => {
  const input = QUIET +
    "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nUNSUB 1\r\nSUB d 4\r\nPUB c 1\r\nx\r\nPUB d 1\r\ny\r\n";
  forEachChunkSize(input, (_chunks, chunkSize) => {
    const { text, closed, errors } = converse(input, { maxSubscriptions: 2 }, chunkSize);
    // The third SUB is refused; after an UNSUB there is room again.
    assertEquals(text, "-ERR 'maximum subscriptions exceeded'\r\nMSG d 4 1\r\ny\r\n");
    assertEquals(closed, false);
    assertEquals(errors.length, 1);
    assertInstanceOf(errors[0], TooManySubscriptionsError);
  });
  const unlimited = converse(QUIET + "SUB a 1\r\nSUB b 2\r\nPING\r\n", { maxSubscriptions: 0 });
  assertEquals(unlimited.text, "PONG\r\n");
});

Deno.test("pubsubProtocol ends the connection with -ERR on bad input, and stops reading it", () => {
  const cases: [string, string, new (...args: never[]) => PubSubError][] = [
    ["FOO bar\r\n", "Unknown Protocol Operation", UnknownOperationError],
    [`SUB ${"a".repeat(5000)} 1\r\n`, "Maximum Control Line Exceeded", ControlLineTooLongError],
    ["PUB a 2000000\r\n", "Maximum Payload Violation", PayloadTooLargeError],
    ["PUB a b c 1\r\n", "Invalid PUB Arguments", InvalidArgumentsError],
    [
      "HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
      "Message Headers Not Supported",
      HeadersNotSupportedError,
    ],
    ["CONNECT {nope\r\n", "Invalid CONNECT Options", InvalidConnectError],
    ["CONNECT [1]\r\n", "Invalid CONNECT Options", InvalidConnectError],
    [
      'CONNECT {"no_responders":true}\r\n',
      "no responders requires headers support",
      InvalidConnectError,
    ],
  ];
  for (const [bad, errText, type] of cases) {
    const { text, closed, errors } = converse(QUIET + "SUB a 1\r\n" + bad + "PUB a 1\r\nx\r\n");
    assertEquals(text, `-ERR '${errText}'\r\n`, bad.slice(0, 40));
    assert(closed, "closed");
    assertEquals(errors.length, 1);
    assertInstanceOf(errors[0], type);
  }
});

Deno.test("pubsubProtocol answers a request nobody listens to with a 503 when asked to", () => {
  const requester = 'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n' +
    "SUB _INBOX.abc.* 7\r\nPUB svc.time _INBOX.abc.1 0\r\n\r\n" +
    "HPUB svc.time _INBOX.abc.2 12 12\r\nNATS/1.0\r\n\r\n\r\nPUB svc.time 0\r\n\r\n";
  assertEquals(
    converse(requester).text,
    "HMSG _INBOX.abc.1 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n" +
      "HMSG _INBOX.abc.2 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
  );
  const plain = QUIET + "SUB _INBOX.abc.* 7\r\nPUB svc.time _INBOX.abc.1 0\r\n\r\nPING\r\n";
  assertEquals(converse(plain).text, "PONG\r\n", "not without no_responders");
});

Deno.test("pubsubProtocol routes between connections and honours echo:false", () => {
  const protocol = pubsubProtocol({ pingInterval: 0 });
  const alice = new Peer(protocol, 1);
  const bob = new Peer(protocol, 2);
  alice.send('CONNECT {"verbose":false,"echo":false,"headers":true}\r\nSUB chat 1\r\n');
  bob.send(QUIET + "SUB chat 9\r\n");
  alice.send("HPUB chat 17 19\r\nNATS/1.0\r\nA:b\r\n\r\nhi\r\n");
  assertEquals(alice.take(), "");
  assertEquals(bob.take(), "MSG chat 9 2\r\nhi\r\n", "bob has no headers: stripped");
  bob.send("PUB chat 3\r\nyo!\r\n");
  assertEquals(alice.take(), "MSG chat 1 3\r\nyo!\r\n");
  assertEquals(bob.take(), "MSG chat 9 3\r\nyo!\r\n");
  alice.handler.close?.();
  assertEquals(protocol.router.size, 1, "alice's subscription ended with her connection");
  bob.handler.close?.();
  assertEquals(protocol.router.size, 0);
});

Deno.test("pubsubProtocol says why when the server closes a connection", () => {
  const transport = new MemoryTransport();
  const handler = pubsubProtocol({ pingInterval: 0 }).create(transport);
  assertEquals(handler.goodbye?.(new SlowConsumerError("full")), "-ERR 'Slow Consumer'\r\n");
  assertEquals(handler.goodbye?.(new IdleTimeoutError(10)), "-ERR 'Stale Connection'\r\n");
  assertEquals(handler.goodbye?.(new ServerClosedError()), undefined);
});

Deno.test("pubsubProtocol pings a silent connection and closes it after maxPingsOut unanswered", async () => {
  const errors: { error: PubSubError; connection: ConnectionHandle }[] = [];
  const protocol = pubsubProtocol({
    pingInterval: 20,
    maxPingsOut: 2,
    onProtocolError: (error, connection) => void errors.push({ error, connection }),
  });
  const silent = new Peer(protocol, 1);
  const polite = new Peer(protocol, 2);
  const chatty = new Peer(protocol, 3);
  try {
    let pongs = 0;
    let chats = 0;
    await waitFor(() => {
      // The polite peer answers every PING; the chatty one never does, but keeps talking.
      const pings = polite.take().split("PING\r\n").length - 1;
      for (let i = 0; i < pings; i++, pongs++) polite.send("PONG\r\n");
      chatty.send("PUB nobody 0\r\n\r\n");
      chats++;
      return silent.transport.closed;
    }, "the silent connection to be closed as stale");
    assertEquals(afterInfo(silent.transport.text()), "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    assertEquals(errors.length, 1);
    assertInstanceOf(errors[0].error, StaleConnectionError);
    assertEquals(errors[0].connection.id, 1);
    assert(pongs >= 1, "the polite peer was pinged");
    assert(chats >= 3);
    assertEquals([polite.transport.closed, chatty.transport.closed], [false, false]);
  } finally {
    for (const peer of [silent, polite, chatty]) peer.handler.close?.();
  }
  assertEquals(protocol.connections, 0, "the ping timer stops with the last connection");
});

Deno.test("pubsubProtocol refuses a connection over the limit in words NATS clients know", () => {
  const refusal = pubsubProtocol({ pingInterval: 0 }).refusal?.();
  assertEquals(new TextDecoder().decode(refusal), "-ERR 'maximum connections exceeded'\r\n");
});

Deno.test("pubsubProtocol checks its options at construction", () => {
  assertThrows(() => pubsubProtocol({ pingInterval: -1 }), RangeError, "pingInterval");
  assertThrows(() => pubsubProtocol({ maxPingsOut: 0 }), RangeError, "maxPingsOut");
  assertThrows(() => pubsubProtocol({ version: "1.9.0" }), RangeError, "version");
  assertThrows(() => pubsubProtocol({ maxPayload: 0 }), RangeError, "maxPayload");
  assertThrows(() => pubsubProtocol({ maxSubscriptions: -1 }), RangeError, "maxSubscriptions");
  assertThrows(() => pubsubProtocol({ maxSubscriptions: 1.5 }), RangeError, "maxSubscriptions");
});
