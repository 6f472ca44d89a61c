import { assertEquals } from "@std/assert";
import { isValidPublishSubject, isValidSubject, subjectMatches } from "./subject.ts";

Deno.test("isValidSubject accepts tokens and wildcards as nats-server does", () => {
  for (
    const subject of ["a", "a.b.c", "*", ">", "a.*", "a.>", "*.*", "*.>", "a*.b", "foo>", "é.ü"]
  ) {
    assertEquals(isValidSubject(subject), true, subject);
  }
});

Deno.test("isValidSubject refuses empty tokens, white space and > before the end", () => {
  for (const subject of ["", ".", "a.", ".a", "a..b", ">.a", "a.>.b", "a b", "a\tb", "a\r\n"]) {
    assertEquals(isValidSubject(subject), false, JSON.stringify(subject));
  }
});

Deno.test("isValidPublishSubject refuses wildcard tokens, and keeps partial ones as literals", () => {
  assertEquals(isValidPublishSubject("a.b"), true);
  assertEquals(isValidPublishSubject("a*.b>"), true);
  for (const subject of ["*", ">", "a.*", "a.>", "*.b", "a..b", ""]) {
    assertEquals(isValidPublishSubject(subject), false, subject);
  }
});

Deno.test("subjectMatches: * is one token, > one or more trailing tokens", () => {
  const cases: [string, string, boolean][] = [
    ["a", "a", true],
    ["a", "b", false],
    ["a", "a.b", false],
    ["a.*", "a.b", true],
    ["a.*", "a", false],
    ["a.*", "a.b.c", false],
    ["*.b", "a.b", true],
    ["*.*", "a.b", true],
    ["a.>", "a.b", true],
    ["a.>", "a.b.c", true],
    ["a.>", "a", false],
    [">", "a", true],
    [">", "a.b.c", true],
    ["a.*.c", "a.b.c", true],
    ["a.*.c", "a.b.d", false],
    ["*.>", "a", false],
    ["*.>", "a.b", true],
    ["a*", "ab", false],
    ["a*", "a*", true],
  ];
  for (const [pattern, subject, expected] of cases) {
    assertEquals(subjectMatches(pattern, subject), expected, `${pattern} ~ ${subject}`);
  }
});
