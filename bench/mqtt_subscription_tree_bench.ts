/**
 * Benchmarks of {@linkcode SubscriptionTree.match}:
 * `deno bench -A bench/mqtt_subscription_tree_bench.ts`.
 *
 * 10,000 clients, each with one exact filter (`devices/{n}/cmd`) and one in ten with a
 * wildcard one (`devices/+/cmd`, `devices/{n}/#`), and a shared subscription of 8 workers on
 * `devices/+/telemetry`. Each group compares a topic seen before (the cache) with the trie
 * alone (no cache); the delivery counts are checked once at load.
 *
 * @module
 */

import { SubscriptionTree } from "../protocols/mqtt/subscription_tree.ts";

const CLIENTS = 10_000;

function build(cachedTopics?: number): SubscriptionTree<number> {
  const tree = new SubscriptionTree<number>({ cachedTopics });
  for (let n = 0; n < CLIENTS; n++) {
    tree.subscribe(n, `devices/${n}/cmd`, { qos: 1 });
    if (n % 10 === 0) tree.subscribe(n, `devices/+/cmd`, { qos: 0 });
    if (n % 10 === 1) tree.subscribe(n, `devices/${n}/#`, { qos: 2, subscriptionId: 1 });
  }
  for (let w = 0; w < 8; w++) {
    tree.subscribe(-1 - w, "$share/workers/devices/+/telemetry", { qos: 1 });
  }
  return tree;
}

const cached = build();
const uncached = build(0);
// devices/1/cmd: client 1 twice (exact and #, one delivery), and the 1,000 `devices/+/cmd`.
if (cached.match("devices/1/cmd").length !== 1001) throw new Error("Wrong match count");
if (uncached.match("devices/5/telemetry").length !== 1) throw new Error("Wrong shared count");

let i = 0;

Deno.bench("SubscriptionTree.match, cached topic, one subscriber", { group: "match" }, () => {
  cached.match("devices/3/telemetry");
});

Deno.bench("SubscriptionTree.match, a new topic each time, no cache", { group: "match" }, () => {
  uncached.match(`devices/${i++ % CLIENTS}/telemetry`);
});

Deno.bench("SubscriptionTree.match, cached topic, 1,001 subscribers", { group: "fan-out" }, () => {
  cached.match("devices/1/cmd");
});

Deno.bench("SubscriptionTree.match, 1,001 subscribers, no cache", { group: "fan-out" }, () => {
  uncached.match("devices/1/cmd");
});
