import { assert, assertEquals, assertThrows } from "@std/assert";
import { PermissionCheck, publishViolation, subscribeViolation } from "./pubsub_permissions.ts";

Deno.test("PermissionCheck: publish allow and deny lists, with wildcards", () => {
  const check = new PermissionCheck({
    publish: { allow: ["orders.>", "ping"], deny: ["orders.secret.*"] },
  });
  assert(check.mayPublish("orders.new"));
  assert(check.mayPublish("orders.a.b"));
  assert(check.mayPublish("ping"));
  assert(!check.mayPublish("orders"));
  assert(!check.mayPublish("orders.secret.x"));
  assert(!check.mayPublish("other"));
  assert(new PermissionCheck({}).mayPublish("anything"));
  assert(!new PermissionCheck({ publish: [] }).mayPublish("anything"));
  assert(new PermissionCheck({ publish: { deny: ["a"] } }).mayPublish("b"));
});

Deno.test("PermissionCheck: a subscription's wildcards are matched as written", () => {
  const check = new PermissionCheck({ subscribe: ["orders.*", "audit.>"] });
  assert(check.maySubscribe("orders.new"));
  assert(check.maySubscribe("orders.*"));
  assert(check.maySubscribe("audit.>"));
  assert(check.maySubscribe("audit.a.*"));
  assert(!check.maySubscribe(">"));
  assert(!check.maySubscribe("orders.a.b"));
  assert(!new PermissionCheck({ subscribe: ["orders.new"] }).maySubscribe("orders.*"));
});

Deno.test("PermissionCheck: deny refuses matching subscriptions and filters overlapping ones", () => {
  const check = new PermissionCheck({ subscribe: { deny: ["secret.>"] } });
  assert(!check.maySubscribe("secret.a"));
  assert(check.maySubscribe(">"));
  assert(check.filtersDeliveries);
  assert(!check.mayReceive("secret.a"));
  assert(check.mayReceive("public.a"));
});

Deno.test("PermissionCheck: queue patterns decide queue subscriptions", () => {
  const check = new PermissionCheck({
    subscribe: { allow: ["jobs.* workers", "news"], deny: ["jobs.x spies"] },
  });
  assert(check.maySubscribe("jobs.a", "workers"));
  assert(!check.maySubscribe("jobs.a", "others"));
  assert(!check.maySubscribe("jobs.a"));
  assert(check.maySubscribe("news"));
  assert(check.maySubscribe("news", "any"));
  assert(!check.maySubscribe("jobs.x", "spies"));
});

Deno.test("PermissionCheck: allow_responses lets a user answer each request it received, once", () => {
  const check = new PermissionCheck({ allow_responses: true });
  assert(!check.mayPublish("anything"), "responses alone turn publishing off");
  check.received("_INBOX.1");
  assert(check.mayPublish("_INBOX.1"));
  assert(!check.mayPublish("_INBOX.1"));
  const twice = new PermissionCheck({ allow_responses: { max: 2, expires: 1000 } });
  twice.received("r", 0);
  assert(twice.mayPublish("r", 10));
  assert(twice.mayPublish("r", 20));
  assert(!twice.mayPublish("r", 30));
  twice.received("late", 0);
  assert(!twice.mayPublish("late", 5000));
});

Deno.test("PermissionCheck: malformed permissions are refused", () => {
  assertThrows(() => new PermissionCheck({ publish: ["a..b"] }), TypeError);
  assertThrows(() => new PermissionCheck({ publish: ["a.>.b"] }), TypeError);
  assertThrows(() => new PermissionCheck({ publish: ["a q"] }), TypeError);
  assertThrows(() => new PermissionCheck({ subscribe: "a" as never }), TypeError);
});

Deno.test("violation texts are nats-server's", () => {
  assertEquals(publishViolation("a.b"), 'Permissions Violation for Publish to "a.b"');
  assertEquals(subscribeViolation("a.*"), 'Permissions Violation for Subscription to "a.*"');
  assertEquals(
    subscribeViolation("a", "q"),
    'Permissions Violation for Subscription to "a" using queue "q"',
  );
});
