import { assert, assertFalse, assertThrows } from "@std/assert";
import { OriginPolicy, SAME_ORIGIN } from "./origin_policy.ts";

Deno.test("OriginPolicy allows same-origin pages by default: the Origin's host and port are Host's", () => {
  const policy = new OriginPolicy();
  assert(policy.allows("http://127.0.0.1:8080", "127.0.0.1:8080"));
  assert(policy.allows("http://LocalHost:8080", "localhost:8080"), "host case");
  assert(policy.allows("http://[::1]:4222", "[::1]:4222"));
  assertFalse(policy.allows("http://127.0.0.1:8081", "127.0.0.1:8080"), "another port");
  assertFalse(policy.allows("http://localhost:8080", "127.0.0.1:8080"), "another name");
  assertFalse(policy.allows("http://evil.example", "127.0.0.1:8080"));
  assertFalse(policy.allows("http://evil.example", "evil.example.127.0.0.1:80"));
});

Deno.test("OriginPolicy takes a port missing from Host or Origin as the default of the Origin's scheme", () => {
  const policy = new OriginPolicy();
  assert(policy.allows("http://a.example", "a.example"));
  assert(policy.allows("http://a.example", "a.example:80"));
  assert(policy.allows("http://a.example:80", "a.example"));
  assert(policy.allows("https://a.example", "a.example"), "a TLS-terminating proxy");
  assert(policy.allows("https://a.example", "a.example:443"));
  assertFalse(policy.allows("http://a.example", "a.example:443"));
  assertFalse(policy.allows("https://a.example", "a.example:80"));
  assertFalse(policy.allows("http://a.example:8080", "a.example"));
});

Deno.test("OriginPolicy refuses what is not a page's origin, and a Host that is not one", () => {
  const policy = new OriginPolicy();
  assertFalse(policy.allows("null", "a"), "opaque origins (sandboxed frames, file: pages)");
  assertFalse(policy.allows("", "a"));
  assertFalse(policy.allows("a", "a"));
  assertFalse(policy.allows("http://a/", "a"), "a path is not an origin");
  assertFalse(policy.allows("http://user@a", "a"));
  assertFalse(policy.allows("chrome-extension://a", "a"), "same origin is http(s) only");
  assertFalse(policy.allows("http://a", undefined), "no Host");
  assertFalse(policy.allows("http://a", ""));
  assertFalse(policy.allows("http://a", "a/b"));
  assertFalse(policy.allows("http://a", "x@a"));
  assertFalse(policy.allows("http://a", "a:99999"));
});

Deno.test("OriginPolicy allows a handshake without Origin, whatever the list: not a browser", () => {
  assert(new OriginPolicy().allows(undefined, "a"));
  assert(new OriginPolicy({ allowedOrigins: [] }).allows(undefined, undefined));
  assertFalse(new OriginPolicy({ allowedOrigins: [] }).allows("http://a", "a"));
});

Deno.test("OriginPolicy compares listed origins on scheme, host and port, case-insensitively", () => {
  const policy = new OriginPolicy({
    allowedOrigins: ["HTTPS://App.Example.COM", "http://localhost:3000", "http://b.example:80"],
  });
  assert(policy.allows("https://app.example.com", "ws.example.com"));
  assert(policy.allows("https://app.example.com:443", "ws.example.com"));
  assert(policy.allows("http://localhost:3000", "127.0.0.1:4222"));
  assert(policy.allows("http://b.example", "c"));
  assertFalse(policy.allows("http://app.example.com", "ws.example.com"), "another scheme");
  assertFalse(policy.allows("https://app.example.com:8443", "ws.example.com"), "another port");
  assertFalse(policy.allows("https://evil.app.example.com", "ws.example.com"));
  assertFalse(policy.allows("http://localhost:3001", "127.0.0.1:4222"));
  // A list replaces the same-origin default.
  assertFalse(policy.allows("http://ws.example.com", "ws.example.com"));
  assert(
    new OriginPolicy({ allowedOrigins: [SAME_ORIGIN, "https://app.example.com"] })
      .allows("http://ws.example.com", "ws.example.com"),
  );
  const extension = new OriginPolicy({ allowedOrigins: ["chrome-extension://abcdef"] });
  assert(extension.allows("chrome-extension://abcdef", "a"));
});

Deno.test('OriginPolicy allows "null" only when listed, and anything with "*"', () => {
  const opaque = new OriginPolicy({ allowedOrigins: ["null"] });
  assert(opaque.allows("null", "a"));
  assertFalse(opaque.allows("http://a", "a"));
  const any = new OriginPolicy({ allowedOrigins: ["*"] });
  for (const origin of ["http://evil.example", "null", "not an origin"]) {
    assert(any.allows(origin, "a"), origin);
  }
});

Deno.test("OriginPolicy refuses a malformed allowedOrigins with a TypeError naming the entry", () => {
  for (
    const entry of [
      "app.example.com",
      "https://app.example.com/",
      "https://a/path",
      "http://",
      "https://a?x",
      "http://u@a",
      "http://a:99999",
      " http://a",
      "same_origin",
    ]
  ) {
    assertThrows(
      () => new OriginPolicy({ allowedOrigins: [entry] }),
      TypeError,
      `allowedOrigins has "${entry}", which is not an origin`,
    );
  }
  assertThrows(
    () => new OriginPolicy({ allowedOrigins: [42 as unknown as string] }),
    TypeError,
    'allowedOrigins has "42"',
  );
  assertThrows(
    () => new OriginPolicy({ allowedOrigins: "https://a" as unknown as string[] }),
    TypeError,
    "allowedOrigins must be an array of origins, got https://a",
  );
});
