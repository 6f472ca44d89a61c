import { assertEquals } from "@std/assert";
import { BatchReader, BatchWriter, ReplyOp } from "./_batch.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function records(writer: BatchWriter): [number, number, string][] {
  const { buffer, length } = writer.take();
  const reader = new BatchReader(buffer, length);
  const out: [number, number, string][] = [];
  while (reader.next()) out.push([reader.tag, reader.id, decoder.decode(reader.bytes)]);
  return out;
}

Deno.test("BatchWriter round-trips records through growth, text and empty bodies", () => {
  const writer = new BatchWriter(16);
  writer.add(7, 2 ** 40 + 3, encoder.encode("x".repeat(100)));
  writer.addText(ReplyOp.fail, 5, "héllo");
  writer.add(ReplyOp.close, 6);
  assertEquals(writer.count, 3);
  assertEquals(records(writer), [
    [7, 2 ** 40 + 3, "x".repeat(100)],
    [ReplyOp.fail, 5, "héllo"],
    [ReplyOp.close, 6, ""],
  ]);
  assertEquals(writer.count, 0, "take starts a new batch");
});

Deno.test("BatchWriter.append grows the last record only for the same tag and id", () => {
  const writer = new BatchWriter(16);
  writer.append(ReplyOp.write, 1, encoder.encode("a"));
  writer.append(ReplyOp.write, 1, encoder.encode("bb"));
  writer.append(ReplyOp.write, 2, encoder.encode("c"));
  writer.append(ReplyOp.write, 1, encoder.encode("d"));
  writer.add(ReplyOp.close, 1);
  writer.append(ReplyOp.write, 1, encoder.encode("e"));
  assertEquals(records(writer), [
    [ReplyOp.write, 1, "abb"],
    [ReplyOp.write, 2, "c"],
    [ReplyOp.write, 1, "d"],
    [ReplyOp.close, 1, ""],
    [ReplyOp.write, 1, "e"],
  ]);
  writer.append(ReplyOp.write, 1, encoder.encode("f"));
  assertEquals(records(writer), [[ReplyOp.write, 1, "f"]], "no merge across take");
});
