import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { InvalidTopicFilterError, InvalidTopicNameError } from "./mqtt_topic_errors.ts";
import { topicMatches } from "./mqtt_topics.ts";
import { RetainedMessages } from "./retained_messages.ts";

function topics(retained: RetainedMessages<string>, filter: string): string[] {
  return retained.match(filter).map((r) => r.topic).sort();
}

Deno.test("RetainedMessages.match follows the wildcard rules of the MQTT specification", () => {
  const retained = new RetainedMessages<string>();
  const all = [
    "sport",
    "sport/",
    "sport/tennis",
    "sport/tennis/player1",
    "sport/tennis/player1/ranking",
    "sport/tennis/player1/score/wimbledon",
    "/finance",
    "/",
    "$SYS/uptime",
    "$SYS",
    "a/$b",
  ];
  for (const topic of all) assert(retained.set(topic, topic, 1));
  assertEquals(topics(retained, "sport/tennis/player1/#"), [
    "sport/tennis/player1",
    "sport/tennis/player1/ranking",
    "sport/tennis/player1/score/wimbledon",
  ]);
  assertEquals(topics(retained, "sport/+"), ["sport/", "sport/tennis"]);
  assertEquals(topics(retained, "+/+"), ["/", "/finance", "a/$b", "sport/", "sport/tennis"]);
  assertEquals(topics(retained, "/+"), ["/", "/finance"]);
  assertEquals(topics(retained, "+"), ["sport"]);
  assertEquals(topics(retained, "#").length, all.length - 2);
  assertEquals(topics(retained, "$SYS/#"), ["$SYS", "$SYS/uptime"]);
  assertEquals(topics(retained, "$SYS/+"), ["$SYS/uptime"]);
  assertEquals(topics(retained, "+/uptime"), []);
  assertEquals(topics(retained, "a/+"), ["a/$b"]);
  assertEquals(topics(retained, "sport/tennis"), ["sport/tennis"]);
  assertEquals(topics(retained, "nothing/#"), []);
  assertEquals(topics(retained, "$share/g/#"), []);
});

Deno.test("RetainedMessages.set replaces, delete removes, and the counts follow", () => {
  const retained = new RetainedMessages<string>();
  assert(retained.set("a/b", "1", 10));
  assert(retained.set("a/b", "2", 20));
  assert(retained.set("a", "3", 5));
  assertEquals(retained.get("a/b"), "2");
  assertEquals([retained.size, retained.bytes], [2, 20 + 3 + 5 + 1]);
  assertEquals(retained.match("a/b"), [{ topic: "a/b", message: "2", size: 20 }]);
  assert(retained.delete("a/b"));
  assertEquals(topics(retained, "#"), ["a"]);
  assertEquals([retained.size, retained.bytes], [1, 6]);
  assertFalse(retained.delete("a/b"));
  assert(retained.delete("a"));
  assertEquals([retained.size, retained.bytes], [0, 0]);
  assertEquals(retained.match("#"), []);
  // Topic bytes are UTF-8 bytes.
  retained.set("€", "x", 1);
  assertEquals(retained.bytes, 4);
});

Deno.test("RetainedMessages refuses new topics past maxMessages and counts them", () => {
  const retained = new RetainedMessages<string>({ maxMessages: 2 });
  assert(retained.set("a", "1", 1));
  assert(retained.set("b", "1", 1));
  assertFalse(retained.set("c", "1", 1));
  // A replacement needs no new room.
  assert(retained.set("a", "2", 1));
  assertEquals([retained.size, retained.refused], [2, 1]);
  retained.delete("b");
  assert(retained.set("c", "1", 1));
  assertEquals(topics(retained, "#"), ["a", "c"]);
});

Deno.test("RetainedMessages refuses what does not fit in maxBytes, and drops a stale replacement", () => {
  const retained = new RetainedMessages<string>({ maxBytes: 100 });
  assert(retained.set("a", "x", 59)); // 60 bytes
  assert(retained.set("b", "x", 39)); // 40 bytes: full
  assertFalse(retained.set("c", "x", 0));
  // Replacing with a smaller message fits.
  assert(retained.set("a", "y", 9));
  assertEquals(retained.bytes, 50);
  // A replacement that does not fit removes the old message: it would be stale.
  assertFalse(retained.set("b", "z", 95));
  assertEquals(retained.get("b"), undefined);
  assertEquals([retained.size, retained.bytes, retained.refused], [1, 10, 2]);
  assertFalse(retained.set("huge", "x", 1000));
  assertEquals(retained.refused, 3);
});

Deno.test("RetainedMessages checks topics, filters, sizes and options", () => {
  const retained = new RetainedMessages<string>();
  assertThrows(() => retained.set("a/+", "x", 1), InvalidTopicNameError);
  assertThrows(() => retained.set("", "x", 1), InvalidTopicNameError);
  assertThrows(() => retained.set("a", "x", -1), RangeError);
  assertThrows(() => retained.set("a", "x", 1.5), RangeError);
  assertThrows(() => retained.match("a/#/b"), InvalidTopicFilterError);
  assertThrows(() => retained.match("$share/g"), InvalidTopicFilterError);
  assertThrows(() => new RetainedMessages({ maxMessages: 0 }), RangeError);
  assertThrows(() => new RetainedMessages({ maxBytes: Infinity }), RangeError);
  assertEquals(retained.size, 0);
});

Deno.test("RetainedMessages handles a topic of 65,536 levels without running out of stack", () => {
  const retained = new RetainedMessages<string>();
  const deep = "/".repeat(65535);
  assert(retained.set(deep, "deep", 1));
  assertEquals(retained.match("#").length, 1);
  assertEquals(retained.match("+/".repeat(32766) + "+/#").length, 1);
  assertEquals(retained.match(deep).length, 1);
  assert(retained.delete(deep));
  assertEquals(retained.match("#"), []);
});

Deno.test("RetainedMessages.match agrees with topicMatches over random topics and filters", () => {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const words = ["a", "b", "", "$s"];
  const name = () =>
    Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(words)).join("/") || "/";
  const filter = () => {
    const levels = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick([...words, "+"]));
    if (next() < 0.3) levels.push("#");
    return levels.join("/") || "/";
  };
  const retained = new RetainedMessages<string>();
  const model = new Set<string>();
  let found = 0;
  for (let step = 0; step < 2000; step++) {
    const roll = next();
    if (roll < 0.4) {
      const topic = name();
      retained.set(topic, topic, 1);
      model.add(topic);
    } else if (roll < 0.55) {
      const topic = name();
      assertEquals(retained.delete(topic), model.delete(topic));
    } else {
      const f = filter();
      const expected = [...model].filter((topic) => topicMatches(f, topic)).sort();
      assertEquals(topics(retained, f), expected, f);
      found += expected.length;
    }
    assertEquals(retained.size, model.size);
  }
  assert(found > 500, `${found} matches`);
});
