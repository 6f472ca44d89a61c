import { assertEquals } from "@std/assert";
import { checkedResult, isRefusal } from "./authentication.ts";

Deno.test("checkedResult keeps identities and refusals, and refuses anything else", () => {
  assertEquals(checkedResult({ name: "a" }), { name: "a" });
  assertEquals(checkedResult({ name: "a", grants: [1] }), { name: "a", grants: [1] });
  assertEquals(checkedResult({ refused: "no", name: "a" }), { refused: "no" });
  for (const nonsense of [undefined, null, true, "alice", { name: 7 }, { ok: true }]) {
    const result = checkedResult(nonsense);
    assertEquals(isRefusal(result), true, String(nonsense));
  }
});
