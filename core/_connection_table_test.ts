import { assert, assertEquals, assertFalse } from "@std/assert";
import { ConnectionTable, isOpenIn } from "./_connection_table.ts";

/** Adds `name` and returns the id it got. */
function addNamed(table: ConnectionTable<string>, name: string): number {
  let given = -1;
  table.add((id) => (given = id, name));
  return given;
}

Deno.test("ConnectionTable gives a reused slot a new id, so old ids stay closed", () => {
  const table = new ConnectionTable<string>(2);
  const a = addNamed(table, "a");
  const b = addNamed(table, "b");
  assertEquals(table.add(() => "c"), undefined, "full at capacity");
  assertEquals([table.get(a), table.get(b)], ["a", "b"]);
  assert(table.remove(a));
  assertFalse(table.remove(a), "a second remove is a no-op");
  const d = addNamed(table, "d");
  assertEquals(d % 2 ** 20, a % 2 ** 20, "the freed slot is reused");
  assert(d !== a);
  assertEquals(table.get(a), undefined, "the old id does not reach the new entry");
  assertFalse(isOpenIn(table.sequences, a));
  assert(isOpenIn(table.sequences, d));
  assert(isOpenIn(table.sequences, b));
  assertEquals(table.size, 2);
  assertEquals([...table.values()].sort(), ["b", "d"]);
});

Deno.test("isOpenIn answers false for ids beyond the table", () => {
  const table = new ConnectionTable<string>(1);
  assertFalse(isOpenIn(table.sequences, 5 * 2 ** 20 + 7));
});
