import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { echoServer } from "../protocols/echo/echo_server.ts";
import { mqttServer } from "../protocols/mqtt/mqtt_server.ts";
import { SocketClient, waitFor, within } from "../testing/_socket_client.ts";
import { monitor } from "./monitor.ts";
import type { MqttSource } from "./monitor_sources.ts";
import { echoLines, get, natsClient, watched } from "./_monitor_test_helper.ts";

const sanitizers = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "monitor /varz reports each server's counters, totals and the process",
  sanitizers,
  async () => {
    await using w = await watched();
    using echo = await SocketClient.connect(w.echoPort);
    await echoLines(echo, "one", "two", "three");
    using sub = await natsClient(w.pubsubPort, "greet.*");
    using pub = await natsClient(w.pubsubPort);
    await pub.write("PUB greet.joe 2\r\nhi\r\n");
    assertEquals(await sub.readLines(2), ["MSG greet.joe 1 2\r\n", "hi\r\n"]);
    const { status, json } = await get(w.monitor, "/varz");
    assertEquals(status, 200);
    const [echoRow, pubsubRow] = json.protocols;
    assertEquals([echoRow.protocol, echoRow.connections, echoRow.messagesIn], ["echo", 1, 3]);
    assertEquals([echoRow.bytesIn, echoRow.loops.length], [14, 1]);
    assertEquals(echoRow.address, `127.0.0.1:${w.echoPort}`);
    assertEquals([pubsubRow.protocol, pubsubRow.connections], ["pubsub", 2]);
    assertEquals(json.connections, 3);
    assertEquals(json.pubsub, { subscriptions: 1, published: 1, delivered: 1 });
    assert(json.rss > 0 && json.heapUsed > 0);
    assertEquals(json.pid, Deno.pid);
  },
);

Deno.test(
  "monitor /metrics has the counters per protocol and loop, and moves with traffic",
  sanitizers,
  async () => {
    await using w = await watched();
    using echo = await SocketClient.connect(w.echoPort);
    const before = (await get(w.monitor, "/metrics")).text;
    assertStringIncludes(before, 'speedo_messages_in_total{protocol="echo",loop="0"} 0\n');
    await echoLines(echo, "a", "b");
    const { status, headers, text } = await get(w.monitor, "/metrics");
    assertEquals(status, 200);
    assertEquals(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assertStringIncludes(text, 'speedo_messages_in_total{protocol="echo",loop="0"} 2\n');
    assertStringIncludes(text, 'speedo_read_bytes_total{protocol="echo",loop="0"} 4\n');
    assertStringIncludes(text, 'speedo_connections{protocol="pubsub",loop="0"} 0\n');
    assertStringIncludes(text, "speedo_pubsub_subscriptions 0\n");
    assertEquals(text.match(/^# TYPE speedo_connections gauge$/gm)?.length, 1);
    // Off by default: no histogram samples.
    assert(!text.includes("speedo_handler_duration_seconds_bucket"));
  },
);

Deno.test(
  "monitor with handlerTime fills the handler histogram of inline handlers",
  sanitizers,
  async () => {
    await using w = await watched({ handlerTime: true });
    using echo = await SocketClient.connect(w.echoPort);
    await echoLines(echo, "a", "b", "c");
    const { text } = await get(w.monitor, "/metrics");
    assertStringIncludes(
      text,
      'speedo_handler_duration_seconds_bucket{protocol="echo",le="+Inf"} 3\n',
    );
    assertStringIncludes(text, 'speedo_handler_duration_seconds_count{protocol="echo"} 3\n');
    // pub/sub dispatches nothing: it has no message handler to time.
    assert(!text.includes('speedo_handler_duration_seconds_count{protocol="pubsub"}'));
    await w.monitor.close();
    // Closed: the server is no longer timed.
    await echoLines(echo, "d");
    assertEquals(w.monitor.snapshot().protocols[0].handlerTime?.count, 3);
  },
);

Deno.test(
  "monitor /connz lists connections with bytes, messages and idle time, paged",
  sanitizers,
  async () => {
    await using w = await watched();
    const clients = await Promise.all([0, 1, 2].map(() => SocketClient.connect(w.echoPort)));
    try {
      await echoLines(clients[0], "hello");
      await waitFor(() => w.echo.stats().connections === 3, "three echo connections");
      const all = (await get(w.monitor, "/connz?protocol=echo")).json;
      assertEquals([all.offset, all.limit, all.servers.length], [0, 256, 1]);
      const [page] = all.servers;
      assertEquals([page.protocol, page.total, page.loops, page.connections.length], [
        "echo",
        3,
        [3],
        3,
      ]);
      const busy = page.connections.find((row: { bytesIn: number }) => row.bytesIn === 6);
      assertEquals([busy.bytesOut, busy.messagesIn, busy.pendingOutput], [6, 1, 0]);
      assertMatch(busy.address, /^127\.0\.0\.1:\d+$/);
      assert(busy.idleMs >= 0 && busy.idleMs < 60_000);
      assertMatch(busy.openedAt, /^\d{4}-\d\d-\d\dT/);
      const second = (await get(w.monitor, "/connz?protocol=echo&offset=1&limit=1")).json;
      assertEquals(second.servers[0].connections.length, 1);
      assertEquals(second.servers[0].total, 3);
      const ids = new Set(page.connections.map((row: { id: number }) => row.id));
      assert(ids.has(second.servers[0].connections[0].id));
      const both = (await get(w.monitor, "/connz")).json;
      assertEquals(both.servers.map((s: { protocol: string }) => s.protocol), ["echo", "pubsub"]);
    } finally {
      for (const client of clients) client.close();
    }
  },
);

Deno.test(
  "monitor /connz is bounded by maxConnz, and bad values are answered 400",
  sanitizers,
  async () => {
    await using w = await watched({ maxConnz: 2 });
    const clients = await Promise.all([0, 1, 2].map(() => SocketClient.connect(w.echoPort)));
    try {
      await waitFor(() => w.echo.stats().connections === 3, "three echo connections");
      const page = (await get(w.monitor, "/connz?protocol=echo")).json;
      assertEquals([page.limit, page.servers[0].connections.length, page.servers[0].total], [
        2,
        2,
        3,
      ]);
      for (
        const [query, message] of [
          ["limit=3", 'limit must be an integer from 1 to 2, got "3"'],
          ["limit=0", 'limit must be an integer from 1 to 2, got "0"'],
          ["limit=abc", 'limit must be an integer from 1 to 2, got "abc"'],
          ["offset=-1", 'offset must be an integer from 0 to 9007199254740991, got "-1"'],
          ["protocol=mqtt", 'protocol must be one of "echo", "pubsub", got "mqtt"'],
        ]
      ) {
        const answer = await get(w.monitor, `/connz?${query}`);
        assertEquals([answer.status, answer.json], [400, { error: message }], query);
      }
      const subs = await get(w.monitor, "/subsz?subs=maybe");
      assertEquals(subs.status, 400);
      assertEquals(subs.json.error, 'subs must be 1, true, 0 or false, got "maybe"');
    } finally {
      for (const client of clients) client.close();
    }
  },
);

Deno.test(
  "monitor /subsz counts pub/sub subscriptions and lists them with subs=1",
  sanitizers,
  async () => {
    await using w = await watched();
    using _subscriber = await natsClient(w.pubsubPort, "a.*", "b.>", "c");
    const counts = (await get(w.monitor, "/subsz")).json;
    assertEquals(counts.pubsub, { subscriptions: 3, published: 0, delivered: 0 });
    const listed = (await get(w.monitor, "/subsz?subs=1&offset=1&limit=1")).json;
    assertEquals(listed.pubsub.list.length, 1);
    const [row] = listed.pubsub.list;
    assertEquals([row.subject, row.sid, row.queue, row.delivered], ["b.>", "2", "", 0]);
    const connections =
      (await get(w.monitor, "/connz?protocol=pubsub")).json.servers[0].connections;
    assertEquals(connections.map((c: { id: number }) => c.id), [row.connection]);
  },
);

/** MQTT 3.1.1 packets, by hand: CONNECT (clean session) and SUBSCRIBE to one filter at QoS 1. */
function mqttPackets(clientId: string, filter: string): Uint8Array[] {
  const text = (value: string) => {
    const bytes = new TextEncoder().encode(value);
    return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
  };
  const connect = [...text("MQTT"), 4, 0x02, 0, 60, ...text(clientId)];
  const subscribe = [0, 1, ...text(filter), 1];
  return [
    new Uint8Array([0x10, connect.length, ...connect]),
    new Uint8Array([0x82, subscribe.length, ...subscribe]),
  ];
}

/** Reads exactly `count` bytes. */
async function readBytes(client: SocketClient, count: number): Promise<number[]> {
  const out: number[] = [];
  const buffer = new Uint8Array(count);
  while (out.length < count) {
    const read = await client.conn.read(buffer.subarray(0, count - out.length));
    if (read === null) throw new Error(`EOF after ${out.length} of ${count} bytes`);
    out.push(...buffer.subarray(0, read));
  }
  return out;
}

Deno.test(
  "monitor /subsz reads an MQTT broker's sessions and subscriptions",
  sanitizers,
  async () => {
    await using server = mqttServer({ port: 0 });
    const { port } = await server.listen();
    const source: MqttSource = server.broker; // the broker fits the source as it is
    await using watch = await monitor(server, { port: 0, sources: { mqtt: source } });
    using client = await SocketClient.connect(port);
    const [connect, subscribe] = mqttPackets("sensor-1", "home/+/temperature");
    await client.write(connect);
    assertEquals(await within(readBytes(client, 4), "CONNACK"), [0x20, 2, 0, 0]);
    await client.write(subscribe);
    assertEquals(await within(readBytes(client, 5), "SUBACK"), [0x90, 3, 0, 1, 1]);
    const { json } = await get(watch, "/subsz?subs=1");
    assertEquals(
      [json.mqtt.sessions, json.mqtt.connected, json.mqtt.subscriptions, json.mqtt.retained],
      [1, 1, 1, 0],
    );
    assertEquals(json.mqtt.list, [{
      clientId: "sensor-1",
      connected: true,
      subscriptions: [{ filter: "home/+/temperature", qos: 1 }],
    }]);
    const metrics = (await get(watch, "/metrics")).text;
    assertStringIncludes(metrics, "speedo_mqtt_connected_sessions 1\n");
    // One server alone is labelled "server".
    assertStringIncludes(metrics, 'speedo_connections{protocol="server",loop="0"} 1\n');
  },
);

Deno.test(
  "monitor with a token refuses requests without it, 401, on every path",
  sanitizers,
  async () => {
    await using w = await watched({ token: "s3cret" });
    for (const path of ["/", "/metrics", "/varz", "/connz", "/subsz", "/healthz", "/api/series"]) {
      const refused = await get(w.monitor, path);
      assertEquals(refused.status, 401, path);
      assertEquals(refused.headers.get("www-authenticate"), 'Bearer realm="speedo monitor"');
    }
    const wrong = await get(w.monitor, "/healthz", { headers: { authorization: "Bearer s3cres" } });
    assertEquals(wrong.status, 401);
    assertEquals((await get(w.monitor, "/healthz?token=s3cre")).status, 401);
    const bearer = await get(w.monitor, "/healthz", {
      headers: { authorization: "Bearer s3cret" },
    });
    assertEquals([bearer.status, bearer.json], [200, { status: "ok" }]);
    assertEquals((await get(w.monitor, "/metrics?token=s3cret")).status, 200);
  },
);

Deno.test(
  "monitor serves the dashboard page, with nothing from other origins",
  sanitizers,
  async () => {
    await using w = await watched();
    const page = await get(w.monitor, "/");
    assertEquals(page.status, 200);
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    assertStringIncludes(page.headers.get("content-security-policy")!, "default-src 'none'");
    assertStringIncludes(page.text, "<canvas>");
    assert(!/(src|href)="(https?:)?\/\//.test(page.text), "no script or style from elsewhere");
    const series = (await get(w.monitor, "/api/series")).json;
    assertEquals(series.interval, 1000);
    assert(Array.isArray(series.messagesPerSecond));
    const missing = await get(w.monitor, "/nope");
    assertEquals(missing.status, 404);
    const post = await get(w.monitor, "/varz", { method: "POST" });
    assertEquals([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
  },
);

Deno.test("monitor refuses bad options and an empty set of servers", sanitizers, async () => {
  await using server = echoServer({ port: 0, workers: 0 });
  await assertRejects(() => monitor({}, { port: 0 }), TypeError, "at least one server");
  await assertRejects(() => monitor(server, { port: 70000 }), RangeError, "got 70000");
  await assertRejects(() => monitor(server, { maxConnz: 2000 }), RangeError, "1 to 1024");
  await assertRejects(() => monitor(server, { token: "a b" }), TypeError, '"a b"');
  await assertRejects(() => monitor(server, { sampleInterval: 10 }), RangeError, "got 10");
  await using first = await monitor(server, { port: 0, history: 0 });
  await assertRejects(() => monitor(server, { port: first.port }), Deno.errors.AddrInUse);
  assertEquals((await get(first, "/api/series")).status, 404);
});

Deno.test(
  "monitor of a server of two loops: a metrics row per loop, /connz counts without rows",
  sanitizers,
  async () => {
    await using server = echoServer({ port: 0, workers: 0, loops: 2 });
    const { port } = await server.listen();
    await using watch = await monitor({ echo: server }, { port: 0, handlerTime: true });
    const clients: SocketClient[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        clients.push(await SocketClient.connect(port));
        await echoLines(clients[i], `hi ${i}`);
      }
      const metrics = (await get(watch, "/metrics")).text;
      const rows = [
        ...metrics.matchAll(/^speedo_messages_in_total\{protocol="echo",loop="(\d)"\} (\d+)$/gm),
      ];
      assertEquals(rows.map((row) => row[1]), ["0", "1"]);
      assertEquals(rows.reduce((sum, row) => sum + Number(row[2]), 0), 4);
      // Each loop's handler runs on its thread: not timed, and said so in /varz.
      assertEquals((await get(watch, "/varz")).json.monitor.handlerTime, []);
      const [page] = (await get(watch, "/connz")).json.servers;
      assertEquals([page.total, page.connections.length], [4, 0]);
      assertEquals(page.loops.reduce((a: number, b: number) => a + b, 0), 4);
    } finally {
      for (const client of clients) client.close();
    }
  },
);
