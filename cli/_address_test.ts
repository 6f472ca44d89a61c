import { assertEquals } from "@std/assert";
import { hostPort, loopCount, workerCount } from "./_address.ts";

Deno.test("hostPort puts an IPv6 host in brackets", () => {
  assertEquals(hostPort({ hostname: "127.0.0.1", port: 9292 }), "127.0.0.1:9292");
  assertEquals(hostPort({ hostname: "::1", port: 9292 }), "[::1]:9292");
});

Deno.test("workerCount says inline, 1 worker, or N workers", () => {
  assertEquals([0, 1, 2].map(workerCount), ["inline", "1 worker", "2 workers"]);
});

Deno.test("loopCount says nothing of one loop, and counts several", () => {
  assertEquals([loopCount(1), loopCount(2)], ["", "2 loops"]);
});
