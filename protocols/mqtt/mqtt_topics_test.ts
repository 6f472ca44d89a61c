import { assert, assertEquals, assertFalse } from "@std/assert";
import {
  parseSharedFilter,
  topicMatches,
  validTopicFilter,
  validTopicName,
} from "./mqtt_topics.ts";

Deno.test("validTopicName accepts empty levels and rejects wildcards, U+0000 and overlong names", () => {
  for (const name of ["a", "/", "//", "/finance", "sport/", "$SYS/uptime", "ü/€/😀", " "]) {
    assert(validTopicName(name), name);
  }
  for (const name of ["", "+", "#", "a/+", "a/#", "a+b", "a#", "a\u0000b", "a\ud800"]) {
    assertFalse(validTopicName(name), JSON.stringify(name));
  }
  assert(validTopicName("a".repeat(65535)));
  assertFalse(validTopicName("a".repeat(65536)));
  // 21,845 three-byte characters are 65,535 bytes; one more ASCII byte is too many.
  assert(validTopicName("€".repeat(21845)));
  assertFalse(validTopicName("€".repeat(21845) + "a"));
});

Deno.test("validTopicFilter places + and # on whole levels only, # last", () => {
  const valid = [
    "#",
    "+",
    "/",
    "+/+",
    "/+",
    "+/",
    "sport/#",
    "sport/tennis/+",
    "sport/+/player1",
    "+/tennis/#",
    "sport//#",
    "$SYS/#",
    "$share",
    "$share/g/#",
    "$share/g/+/x",
    "$share/g//",
  ];
  for (const filter of valid) assert(validTopicFilter(filter), filter);
  const invalid = [
    "",
    "sport/tennis#",
    "sport/tennis/#/ranking",
    "#/",
    "##",
    "sport+",
    "+sport",
    "sport/+x/y",
    "a\u0000",
    "$share/",
    "$share/g",
    "$share/g/",
    "$share//a",
    "$share/g+/a",
    "$share/#/a",
    "$share/g/a/#/b",
  ];
  for (const filter of invalid) assertFalse(validTopicFilter(filter), JSON.stringify(filter));
  assert(validTopicFilter("a".repeat(65535)));
  assertFalse(validTopicFilter("a".repeat(65536)));
  assertFalse(validTopicFilter("$share/g/" + "a".repeat(65535 - 8)));
});

Deno.test("parseSharedFilter splits $share/{group}/{filter} and refuses malformed ones", () => {
  assertEquals(parseSharedFilter("$share/g/a/b"), { group: "g", filter: "a/b" });
  assertEquals(parseSharedFilter("$share/consumer1/sport/tennis/+"), {
    group: "consumer1",
    filter: "sport/tennis/+",
  });
  assertEquals(parseSharedFilter("$share/g/#"), { group: "g", filter: "#" });
  assertEquals(parseSharedFilter("$share/g//"), { group: "g", filter: "/" });
  assertEquals(parseSharedFilter("$share/$g/a"), { group: "$g", filter: "a" });
  for (const filter of ["a/b", "$share", "$share/", "$share/g", "$share/g/", "$share//a"]) {
    assertEquals(parseSharedFilter(filter), undefined, filter);
  }
  assertEquals(parseSharedFilter("$share/+/a"), undefined);
  assertEquals(parseSharedFilter("$share/g#/a"), undefined);
  assertEquals(parseSharedFilter("$SHARE/g/a"), undefined);
});

Deno.test("topicMatches follows the examples of the MQTT specification", () => {
  const cases: [string, string, boolean][] = [
    ["sport/tennis/player1/#", "sport/tennis/player1", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
    ["sport/#", "sport", true],
    ["#", "sport", true],
    ["#", "/", true],
    ["sport/tennis/+", "sport/tennis/player1", true],
    ["sport/tennis/+", "sport/tennis/player2", true],
    ["sport/tennis/+", "sport/tennis/player1/ranking", false],
    ["sport/+", "sport", false],
    ["sport/+", "sport/", true],
    ["sport/+", "sport/tennis/x", false],
    ["+/+", "/finance", true],
    ["/+", "/finance", true],
    ["+", "/finance", false],
    ["+/tennis/#", "sport/tennis", true],
    ["sport/+/player1", "sport/tennis/player1", true],
    ["sport//#", "sport/", true],
    ["sport/", "sport", false],
    ["sport", "sport/", false],
    ["a/b", "a/b", true],
    ["a/b", "A/b", false],
    ["#", "$SYS/uptime", false],
    ["+/monitor/Clients", "$SYS/monitor/Clients", false],
    ["$SYS/#", "$SYS/monitor/Clients", true],
    ["$SYS/monitor/+", "$SYS/monitor/Clients", true],
    ["$SYS/#", "$SYS", true],
    ["#", "a/$SYS", true],
    ["a/+", "a/$x", true],
  ];
  for (const [filter, name, expected] of cases) {
    assertEquals(topicMatches(filter, name), expected, `${filter} ~ ${name}`);
  }
});
