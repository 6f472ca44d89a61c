import { assertEquals } from "@std/assert";
import { SeriesRing } from "./_series.ts";
import type { StatsSnapshot } from "./stats_snapshot.ts";

function sample(time: number, messagesIn: number, connections: number): StatsSnapshot {
  return {
    time,
    startedAt: 0,
    connections,
    accepted: 0,
    refused: 0,
    messagesIn,
    messagesOut: 0,
    queueDepth: 0,
    bytesIn: messagesIn * 10,
    bytesOut: 0,
    workers: 0,
    slowConsumers: 0,
    errors: 0,
    rss: 1000,
    heapUsed: 0,
    protocols: [],
    pubsub: { subscriptions: 0, published: messagesIn * 2, delivered: 0 },
  };
}

Deno.test("SeriesRing answers rates between samples and levels, oldest first", () => {
  const ring = new SeriesRing(10);
  ring.push(sample(1000, 0, 1));
  assertEquals(ring.answer().time, []); // a rate needs two samples
  ring.push(sample(2000, 100, 2));
  ring.push(sample(2500, 150, 3));
  const answer = ring.answer();
  assertEquals(answer.time, [2000, 2500]);
  assertEquals(answer.messagesPerSecond, [100, 100]);
  assertEquals(answer.pubsubPerSecond, [200, 200]);
  assertEquals(answer.mqttPerSecond, [0, 0]);
  assertEquals(answer.bytesInPerSecond, [1000, 1000]);
  assertEquals(answer.connections, [2, 3]);
  assertEquals(answer.rss, [1000, 1000]);
});

Deno.test("SeriesRing keeps the last samples only, in order across the wrap", () => {
  const ring = new SeriesRing(3);
  for (let n = 1; n <= 5; n++) ring.push(sample(n * 1000, n * 10, n));
  assertEquals(ring.size, 3);
  assertEquals(ring.answer().connections, [4, 5]);
  assertEquals(ring.answer().time, [4000, 5000]);
});
