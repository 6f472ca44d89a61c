import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { InvalidTopicFilterError, SharedNoLocalError } from "./mqtt_topic_errors.ts";
import { topicMatches } from "./mqtt_topics.ts";
import { type Delivery, SubscriptionTree } from "./subscription_tree.ts";

/** The deliveries as comparable tuples, own ones sorted by client. */
function own<C>(deliveries: readonly Delivery<C>[]): [C, number, number[], boolean][] {
  return deliveries
    .filter((d) => d.group === undefined)
    .map((d): [C, number, number[], boolean] => [
      d.client,
      d.qos,
      [...d.subscriptionIds].sort((a, b) => a - b),
      d.retainAsPublished,
    ])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

function clients<C>(deliveries: readonly Delivery<C>[]): C[] {
  return deliveries.map((d) => d.client).sort();
}

Deno.test("SubscriptionTree.match follows the wildcard examples of the MQTT specification", () => {
  const cases: [string, string, boolean][] = [
    ["sport/tennis/player1/#", "sport/tennis/player1", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
    ["sport/#", "sport", true],
    ["sport/+", "sport/tennis/x", false],
    ["sport/+", "sport", false],
    ["sport/+", "sport/", true],
    ["+/+", "/finance", true],
    ["/+", "/finance", true],
    ["+", "/finance", false],
    ["#", "$SYS/x", false],
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["$SYS/+", "$SYS/x", true],
    ["a/+/#", "a/b", true],
    ["a/+/#", "a", false],
    ["#", "/", true],
  ];
  for (const [filter, topic, expected] of cases) {
    const tree = new SubscriptionTree<string>();
    tree.subscribe("c", filter, { qos: 0 });
    assertEquals(tree.match(topic).length, expected ? 1 : 0, `${filter} ~ ${topic}`);
  }
});

Deno.test("SubscriptionTree.subscribe replaces a subscription to the same filter", () => {
  const tree = new SubscriptionTree<string>();
  assertEquals(tree.subscribe("a", "x/+", { qos: 0, subscriptionId: 1 }), "added");
  assertEquals(tree.subscribe("a", "x/#", { qos: 0 }), "added");
  assertEquals(tree.subscribe("b", "x/+", { qos: 0 }), "added");
  assertEquals(tree.subscribe("a", "x/+", { qos: 2 }), "replaced");
  assertEquals([tree.size, tree.clients], [3, 2]);
  // The replacement dropped subscription id 1: options are replaced as a whole.
  assertEquals(own(tree.match("x/y")), [["a", 2, [], false], ["b", 0, [], false]]);
  assertEquals(tree.subscriptionsOf("a").map((s) => [s.filter, s.options.qos]), [
    ["x/+", 2],
    ["x/#", 0],
  ]);
});

Deno.test("SubscriptionTree.match makes one delivery per client at the highest QoS with every subscription id", () => {
  const tree = new SubscriptionTree<string>();
  tree.subscribe("a", "sport/#", { qos: 0, subscriptionId: 1 });
  tree.subscribe("a", "sport/tennis/+", { qos: 2, subscriptionId: 2 });
  tree.subscribe("a", "+/tennis/player1", { qos: 1, subscriptionId: 2 });
  tree.subscribe("a", "sport/tennis/player1", { qos: 1 });
  tree.subscribe("b", "sport/#", { qos: 1, retainAsPublished: true });
  tree.subscribe("b", "sport/+/player1", { qos: 0, subscriptionId: 9 });
  assertEquals(own(tree.match("sport/tennis/player1")), [
    ["a", 2, [1, 2], false],
    ["b", 1, [9], true],
  ]);
  assertEquals(own(tree.match("sport/golf")), [["a", 0, [1], false], ["b", 1, [], true]]);
});

Deno.test("SubscriptionTree.match leaves out the publisher's No Local subscriptions only", () => {
  const tree = new SubscriptionTree<string>();
  tree.subscribe("a", "chat/+", { qos: 1, noLocal: true, subscriptionId: 1 });
  tree.subscribe("a", "chat/#", { qos: 0, subscriptionId: 2 });
  tree.subscribe("b", "chat/+", { qos: 1, noLocal: true });
  // a's other subscription still matches, at its own QoS and id.
  assertEquals(own(tree.match("chat/room", "a")), [["a", 0, [2], false], ["b", 1, [], false]]);
  // b's only subscription is No Local: nothing for b.
  assertEquals(own(tree.match("chat/room", "b")), [["a", 1, [1, 2], false]]);
  assertEquals(own(tree.match("chat/room")), [["a", 1, [1, 2], false], ["b", 1, [], false]]);
  assertEquals(own(tree.match("chat/room", "c")).length, 2);
  // The cached match serves publishers and non-publishers alike.
  assertEquals(own(tree.match("chat/room", "b")), [["a", 1, [1, 2], false]]);
});

Deno.test("SubscriptionTree.match gives each shared subscription to one member in turn", () => {
  const tree = new SubscriptionTree<string>();
  tree.subscribe("w1", "$share/g/jobs/+", { qos: 1 });
  tree.subscribe("w2", "$share/g/jobs/+", { qos: 1, subscriptionId: 5 });
  tree.subscribe("w3", "$share/g/jobs/+", { qos: 0 });
  // Same group, other filter: another shared subscription (MQTT 5 §4.8.2).
  tree.subscribe("w1", "$share/g/jobs/#", { qos: 2 });
  tree.subscribe("x", "$share/h/jobs/+", { qos: 0 });
  const turns: string[][] = [];
  for (let i = 0; i < 4; i++) {
    // A different topic each time: the turn is kept by the shared subscription, not the cache.
    turns.push(tree.match(`jobs/${i}`).map((d) => `${d.client}:${d.group}:${d.qos}`).sort());
  }
  assertEquals(turns, [
    ["w1:g:1", "w1:g:2", "x:h:0"],
    ["w1:g:2", "w2:g:1", "x:h:0"],
    ["w1:g:2", "w3:g:0", "x:h:0"],
    ["w1:g:1", "w1:g:2", "x:h:0"],
  ]);
  assertEquals(tree.match("jobs/1").find((d) => d.client === "w2")?.subscriptionIds, [5]);
  // w3's turn; w2 leaves first, and the turn stays with w3.
  assert(tree.unsubscribe("w2", "$share/g/jobs/+"));
  assertEquals(
    [0, 1, 2].map(() => tree.match("jobs/z").find((d) => d.qos < 2 && d.group === "g")?.client),
    ["w3", "w1", "w3"],
  );
});

Deno.test("SubscriptionTree.match passes over shared members that are not available", () => {
  const offline = new Set<string>(["w2"]);
  const tree = new SubscriptionTree<string>({ available: (client) => !offline.has(client) });
  for (const client of ["w1", "w2", "w3"]) tree.subscribe(client, "$share/g/t", { qos: 0 });
  assertEquals([0, 1, 2, 3].map(() => tree.match("t")[0].client), ["w1", "w3", "w1", "w3"]);
  offline.add("w1").add("w3");
  // Nobody available: the turn's member gets it, to queue in its session.
  assertEquals(tree.match("t").length, 1);
});

Deno.test("SubscriptionTree.subscribe refuses invalid filters, No Local on a shared subscription and bad options", () => {
  const tree = new SubscriptionTree<string>();
  assertThrows(() => tree.subscribe("a", "a/#/b", { qos: 0 }), InvalidTopicFilterError);
  assertThrows(() => tree.subscribe("a", "$share/g", { qos: 0 }), InvalidTopicFilterError);
  assertThrows(() => tree.subscribe("a", "", { qos: 0 }), InvalidTopicFilterError);
  assertThrows(
    () => tree.subscribe("a", "$share/g/a", { qos: 0, noLocal: true }),
    SharedNoLocalError,
  );
  tree.subscribe("a", "$share/g/a", { qos: 0 });
  assertThrows(
    () => tree.subscribe("a", "$share/g/a", { qos: 0, noLocal: true }),
    SharedNoLocalError,
  );
  assertThrows(() => tree.subscribe("a", "a", { qos: 3 as 0 }), RangeError);
  assertThrows(() => tree.subscribe("a", "a", { qos: 0, retainHandling: 3 as 0 }), RangeError);
  assertThrows(() => tree.subscribe("a", "a", { qos: 0, subscriptionId: 0 }), RangeError);
  assertThrows(() => tree.subscribe("a", "a", { qos: 0, subscriptionId: 268_435_456 }), RangeError);
  assertThrows(() => new SubscriptionTree({ cachedTopics: -1 }), RangeError);
  assertEquals([tree.size, tree.clients], [1, 1]);
});

Deno.test("SubscriptionTree.unsubscribe and removeClient end subscriptions and prune the trie", () => {
  const tree = new SubscriptionTree<string>();
  tree.subscribe("a", "x/y/z", { qos: 0 });
  tree.subscribe("a", "x/+/#", { qos: 0 });
  tree.subscribe("a", "$share/g/x/#", { qos: 0 });
  tree.subscribe("b", "x/y/z", { qos: 1 });
  assertEquals(clients(tree.match("x/y/z")), ["a", "a", "b"]);
  assertFalse(tree.unsubscribe("a", "x/y"));
  assertFalse(tree.unsubscribe("c", "x/y/z"));
  assertFalse(tree.unsubscribe("a", "x/#"));
  assert(tree.unsubscribe("b", "x/y/z"));
  assertEquals(clients(tree.match("x/y/z")), ["a", "a"]);
  assertEquals(tree.removeClient("a"), 3);
  assertEquals(tree.removeClient("a"), 0);
  assertEquals([tree.size, tree.clients], [0, 0]);
  assertEquals(tree.match("x/y/z"), []);
  assertEquals(tree.subscriptionsOf("a"), []);
  // The trie pruned back to nothing still takes new subscriptions.
  tree.subscribe("c", "x/y/z", { qos: 2 });
  assertEquals(own(tree.match("x/y/z")), [["c", 2, [], false]]);
});

Deno.test("SubscriptionTree.match sees every change after a cached match", () => {
  const tree = new SubscriptionTree<string>();
  tree.subscribe("a", "t/+", { qos: 0 });
  assertEquals(own(tree.match("t/1")), [["a", 0, [], false]]);
  tree.subscribe("b", "t/#", { qos: 1 });
  assertEquals(clients(tree.match("t/1")), ["a", "b"]);
  tree.subscribe("a", "t/+", { qos: 2, subscriptionId: 3 });
  assertEquals(own(tree.match("t/1"))[0], ["a", 2, [3], false]);
  tree.unsubscribe("a", "t/+");
  assertEquals(clients(tree.match("t/1")), ["b"]);
  tree.subscribe("c", "$share/g/t/1", { qos: 0 });
  assertEquals(clients(tree.match("t/1")), ["b", "c"]);
  tree.removeClient("b");
  assertEquals(clients(tree.match("t/1")), ["c"]);
  tree.removeClient("c");
  assertEquals(tree.match("t/1"), []);
});

Deno.test("SubscriptionTree caches at most cachedTopics topics, and works without a cache", () => {
  for (const cachedTopics of [0, 1, 2]) {
    const tree = new SubscriptionTree<number>({ cachedTopics });
    tree.subscribe(1, "+", { qos: 0 });
    tree.subscribe(2, "b", { qos: 0 });
    for (let round = 0; round < 3; round++) {
      assertEquals(clients(tree.match("a")), [1]);
      assertEquals(clients(tree.match("b")), [1, 2]);
      assertEquals(clients(tree.match("c")), [1]);
    }
  }
});

Deno.test("SubscriptionTree matches a topic of 65,536 levels without running out of stack", () => {
  const tree = new SubscriptionTree<string>();
  const deep = "/".repeat(65535);
  tree.subscribe("a", deep, { qos: 0 });
  tree.subscribe("b", "+/".repeat(32766) + "+/#", { qos: 0 });
  assertEquals(clients(tree.match(deep)), ["a", "b"]);
  assertEquals(tree.removeClient("a"), 1);
  assertEquals(clients(tree.match(deep)), ["b"]);
});

/** A seeded generator (mulberry32), so that a failure repeats. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("SubscriptionTree.match agrees with topicMatches over random filters and topics", () => {
  const next = random(20261204);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const words = ["a", "b", "", "$s"];
  const topic = () => {
    const levels = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(words));
    // A single empty level is no topic name: make it two.
    return levels.join("/") || "/";
  };
  const filter = () => {
    const levels = Array.from(
      { length: 1 + Math.floor(next() * 4) },
      () => pick([...words, "+", "+"]),
    );
    if (next() < 0.3) levels.push("#");
    return levels.join("/") || "/";
  };
  const tree = new SubscriptionTree<number>();
  /** The model: client -> filter -> [qos, noLocal, id]. */
  const model = new Map<number, Map<string, [0 | 1 | 2, boolean, number | undefined]>>();
  /** Matches that reached several clients, and clients with several matching subscriptions. */
  let wide = 0;
  let overlapping = 0;
  for (let step = 0; step < 3000; step++) {
    const client = Math.floor(next() * 12);
    const roll = next();
    if (roll < 0.5) {
      const f = filter();
      const qos = pick([0, 1, 2] as const);
      const noLocal = next() < 0.2;
      const id = next() < 0.5 ? 1 + Math.floor(next() * 5) : undefined;
      const subs = model.get(client) ?? new Map();
      const expected = subs.has(f) ? "replaced" : "added";
      assertEquals(tree.subscribe(client, f, { qos, noLocal, subscriptionId: id }), expected);
      model.set(client, subs.set(f, [qos, noLocal, id]));
    } else if (roll < 0.65) {
      const subs = model.get(client);
      const f = subs !== undefined && next() < 0.8 ? pick([...subs.keys()]) : filter();
      assertEquals(tree.unsubscribe(client, f), subs?.delete(f) ?? false);
      if (subs?.size === 0) model.delete(client);
    } else if (roll < 0.68) {
      assertEquals(tree.removeClient(client), model.get(client)?.size ?? 0);
      model.delete(client);
    } else {
      const name = topic();
      const publisher = next() < 0.5 ? client : undefined;
      const expected: [number, number, number[], boolean][] = [];
      for (const [c, subs] of model) {
        let qos = -1;
        let matching = 0;
        const ids = new Set<number>();
        for (const [f, [q, noLocal, id]] of subs) {
          if (!topicMatches(f, name) || (noLocal && c === publisher)) continue;
          if (++matching === 2) overlapping++;
          qos = Math.max(qos, q);
          if (id !== undefined) ids.add(id);
        }
        if (qos >= 0) expected.push([c, qos, [...ids].sort((a, b) => a - b), false]);
      }
      expected.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assertEquals(own(tree.match(name, publisher)), expected, `${name} from ${publisher}`);
      if (expected.length > 1) wide++;
    }
    let size = 0;
    for (const subs of model.values()) size += subs.size;
    assertEquals([tree.size, tree.clients], [size, model.size]);
  }
  // The random cases are not all trivial ones.
  assert(wide > 100 && overlapping > 100, `${wide} wide, ${overlapping} overlapping`);
});

Deno.test("SubscriptionTree.watchFilters tells a filter's first subscription and its last", () => {
  const tree = new SubscriptionTree<string>();
  tree.subscribe("a", "x/#", { qos: 0 });
  const seen: string[] = [];
  const stop = tree.watchFilters((filter, on) => seen.push(`${on ? "+" : "-"}${filter}`));
  assertEquals(seen, ["+x/#"]);
  tree.subscribe("a", "x/#", { qos: 1 });
  tree.subscribe("b", "x/#", { qos: 0 });
  tree.subscribe("b", "$share/g/x/#", { qos: 0 });
  tree.subscribe("c", "/", { qos: 0 });
  tree.unsubscribe("a", "x/#");
  tree.removeClient("b");
  tree.unsubscribe("c", "/");
  stop();
  tree.subscribe("d", "y", { qos: 0 });
  assertEquals(seen, ["+x/#", "+/", "-x/#", "-/"]);
});
