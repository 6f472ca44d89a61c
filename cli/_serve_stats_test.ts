import { assertEquals } from "@std/assert";
import {
  type ServeSample,
  ServeStats,
  shortBytes,
  shortCount,
  statsFields,
  statsText,
} from "./_serve_stats.ts";

const idle: ServeSample = {
  connections: 0,
  queueDepth: 0,
  slowConsumers: 0,
  errors: 0,
  rss: 1024,
  routes: true,
  messagesIn: 0,
  messagesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  published: 0,
  delivered: 0,
};

Deno.test("ServeStats gives zero rates at its first reading, then the rates since the last", () => {
  let sample = idle;
  const stats = new ServeStats(() => sample);
  assertEquals(stats.read(0).rates.bytesIn, 0);
  sample = { ...idle, bytesIn: 4096, published: 10, delivered: 30 };
  const { rates } = stats.read(2000);
  assertEquals([rates.bytesIn, rates.published, rates.delivered], [2048, 5, 15]);
});

Deno.test("shortCount and shortBytes keep numbers short", () => {
  assertEquals([0, 999, 1000, 1_234_567, 5e9].map(shortCount), [
    "0",
    "999",
    "1.0k",
    "1.2M",
    "5.0G",
  ]);
  assertEquals([0, 1023, 1024, 1536 * 1024, 3 * 2 ** 30].map(shortBytes), [
    "0 B",
    "1023 B",
    "1.0 KiB",
    "1.5 MiB",
    "3.0 GiB",
  ]);
});

Deno.test("statsText and statsFields say published and delivered only for a protocol that routes", () => {
  const rates = { ...idle, published: 2, delivered: 4 };
  const routed = { sample: idle, rates };
  const plain = { sample: { ...idle, routes: false }, rates };
  assertEquals(statsText(routed).includes("published 2/s delivered 4/s"), true);
  assertEquals(statsText(plain).includes("published"), false);
  assertEquals(statsFields(routed).deliveredPerSecond, 4);
  assertEquals("deliveredPerSecond" in statsFields(plain), false);
  assertEquals(statsFields(plain), {
    connections: 0,
    queueDepth: 0,
    slowConsumers: 0,
    errors: 0,
    rss: 1024,
    messagesInPerSecond: 0,
    messagesOutPerSecond: 0,
    bytesInPerSecond: 0,
    bytesOutPerSecond: 0,
  });
});
