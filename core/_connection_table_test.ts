import { assert, assertEquals, assertFalse } from "@std/assert";
import { ConnectionTable, isOpenAmong, isOpenIn, loopOf } from "./_connection_table.ts";

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

Deno.test("Tables of three loops give ids that name their loop, open to every loop's reader", () => {
  const tables = [0, 1, 2].map((loop) => new ConnectionTable<string>(4, { loop, count: 3 }));
  const shared = tables.map((table) => table.sequences);
  const ids = tables.map((table, loop) =>
    Array.from({ length: 5 }, (_, i) => addNamed(table, `${loop}.${i}`))
  );
  for (const [loop, table] of tables.entries()) {
    for (const id of ids[loop].slice(0, 4)) {
      assertEquals(loopOf(id, 3), loop);
      assert(isOpenAmong(shared, id));
      table.remove(id);
      assertFalse(isOpenAmong(shared, id), "closed on its loop, closed for every reader");
    }
  }
  assertEquals(new Set(ids.flat().filter((id) => id >= 0)).size, 12, "no two loops share an id");
  for (const stranger of [0, 5, -1, 2 ** 20 - 1, 1.5, NaN]) {
    assertFalse(isOpenAmong(shared, stranger), `${stranger} names no loop's connection`);
  }
});
