import { assertEquals, assertThrows } from "@std/assert";
import {
  mqttFilterToNatsSubjects,
  mqttTopicToNatsSubject,
  natsSubjectToMqttTopic,
  UnmappableSubjectError,
  UnmappableTopicError,
} from "./nats_subjects.ts";
import { isValidPublishSubject, isValidSubject } from "../pubsub/subject.ts";

/** Topic names and the subjects nats-server (2.10 and later) publishes them on. */
const TOPICS: [string, string][] = [
  ["a", "a"],
  ["a/b", "a.b"],
  ["a/b/c", "a.b.c"],
  // Empty levels: the token "/".
  ["/a", "/.a"],
  ["a/", "a./"],
  ["a//b", "a./.b"],
  ["/", "/./"],
  ["//", "/././"],
  ["a//", "a././"],
  ["/a/", "/.a./"],
  // A "." inside a level: "//".
  ["a.b", "a//b"],
  ["v1.2/x", "v1//2.x"],
  [".", "//"],
  ["./a", "//.a"],
  ["a/./b", "a.//.b"],
  ["a/..", "a.////"],
  ["/.", "/.//"],
  // "$" topics, and characters NATS leaves alone.
  ["$SYS/broker/uptime", "$SYS.broker.uptime"],
  ["$x", "$x"],
  ["x*y/z>", "x*y.z>"],
  ["ünï/cødé", "ünï.cødé"],
];

Deno.test("mqttTopicToNatsSubject maps levels, empty levels and dots as nats-server does", () => {
  for (const [topic, subject] of TOPICS) {
    assertEquals(mqttTopicToNatsSubject(topic), subject, topic);
    assertEquals(isValidPublishSubject(subject), true, subject);
  }
});

Deno.test("natsSubjectToMqttTopic inverts mqttTopicToNatsSubject", () => {
  for (const [topic, subject] of TOPICS) assertEquals(natsSubjectToMqttTopic(subject), topic);
});

Deno.test("mqttTopicToNatsSubject refuses white space, wildcard levels and wildcards", () => {
  for (
    const topic of ["a b", "a/\tb", "a\n", "a\rb", "a\fb", "*", "a/*", "a/>/b", "a/+", "#", ""]
  ) {
    const error = assertThrows(() => mqttTopicToNatsSubject(topic), UnmappableTopicError);
    assertEquals(error.topic, topic);
  }
  // "*" and ">" inside a longer level are plain characters to NATS too.
  assertEquals(mqttTopicToNatsSubject("a*/>b"), "a*.>b");
});

Deno.test("mqttFilterToNatsSubjects maps + and #, and # also covers its parent level", () => {
  const cases: [string, string[]][] = [
    ["a/b", ["a.b"]],
    ["a/+", ["a.*"]],
    ["+", ["*"]],
    ["+/+", ["*.*"]],
    ["a/+/c", ["a.*.c"]],
    ["#", [">"]],
    ["a/#", ["a.>", "a"]],
    ["a/+/#", ["a.*.>", "a.*"]],
    ["+/#", ["*.>", "*"]],
    ["/#", ["/.>", "/"]],
    ["a//#", ["a./.>", "a./"]],
    ["a.b/#", ["a//b.>", "a//b"]],
    ["$SYS/#", ["$SYS.>", "$SYS"]],
    ["$share/g/a/#", ["a.>", "a"]],
    ["$share/g/+", ["*"]],
  ];
  for (const [filter, subjects] of cases) {
    assertEquals(mqttFilterToNatsSubjects(filter), subjects, filter);
    for (const subject of subjects) assertEquals(isValidSubject(subject), true, subject);
  }
});

Deno.test("mqttFilterToNatsSubjects refuses white space and literal * or > levels", () => {
  for (const filter of ["a b/#", "a/*", ">", "$share/g/a/>"]) {
    assertThrows(() => mqttFilterToNatsSubjects(filter), UnmappableTopicError);
  }
});

Deno.test("natsSubjectToMqttTopic refuses subjects no MQTT topic maps to", () => {
  for (
    const subject of [
      "",
      "a/b",
      "a.b/",
      "///",
      "a.///.b",
      "/",
      "a..b",
      ".a",
      "a.*",
      ">",
      "a.+",
      "a#b",
      "a\u0000",
    ]
  ) {
    const error = assertThrows(() => natsSubjectToMqttTopic(subject), UnmappableSubjectError);
    assertEquals(error.subject, subject);
  }
  assertEquals(natsSubjectToMqttTopic("_INBOX.abc"), "_INBOX/abc");
});

Deno.test("the mapping round-trips every topic of small levels from a few characters", () => {
  const alphabet = ["", "a", ".", "$", "..", "a.b"];
  let checked = 0;
  for (const x of alphabet) {
    for (const y of alphabet) {
      for (const z of alphabet) {
        for (const topic of [x, `${x}/${y}`, `${x}/${y}/${z}`]) {
          if (topic.length === 0) continue;
          const subject = mqttTopicToNatsSubject(topic);
          assertEquals(isValidPublishSubject(subject), true, `${topic} -> ${subject}`);
          assertEquals(natsSubjectToMqttTopic(subject), topic);
          checked++;
        }
      }
    }
  }
  assertEquals(checked > 200, true);
});
