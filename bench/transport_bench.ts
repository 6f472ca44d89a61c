/**
 * The worker crossing's codecs, without threads: packing 64 messages of 16 bytes into a batch
 * and reading them back, and passing that batch through a shared-memory ring. Run with
 * `deno bench -A bench/`.
 *
 * @module
 */

import { BatchReader, BatchWriter } from "../core/_batch.ts";
import { ByteRing } from "../core/_ring.ts";

const payload = new TextEncoder().encode("0123456789abcde\n");
const MESSAGES = 64;
const writer = new BatchWriter();

function packBatch(): { buffer: ArrayBuffer; length: number } {
  for (let i = 0; i < MESSAGES; i++) writer.add(0, i * 2 ** 20 + 1, payload);
  return writer.take();
}

function readBatch(buffer: ArrayBuffer, length: number): number {
  const reader = new BatchReader(buffer, length);
  let bytes = 0;
  while (reader.next()) bytes += reader.bytes.length;
  return bytes;
}

// Checked once at load, so a broken codec cannot bench as fast.
{
  const { buffer, length } = packBatch();
  if (readBatch(buffer, length) !== MESSAGES * payload.length) throw new Error("Batch mismatch");
}

Deno.bench("batch: pack 64 messages", { group: "batch", baseline: true }, () => {
  packBatch();
});

Deno.bench("batch: pack and read 64 messages", { group: "batch" }, () => {
  const { buffer, length } = packBatch();
  readBatch(buffer, length);
});

const producer = ByteRing.create(1 << 20);
const consumer = new ByteRing(producer.buffer);

Deno.bench("ring: pack, write, read and unpack 64 messages", { group: "batch" }, () => {
  const { buffer, length } = packBatch();
  producer.write(new Uint8Array(buffer, 0, length));
  const blob = consumer.read()!;
  readBatch(blob.buffer as ArrayBuffer, blob.length);
});

const big = new Uint8Array(256 * 1024);
Deno.bench("ring: a 256 KiB batch through a 1 MiB ring", { group: "ring large" }, () => {
  producer.write(big);
  consumer.read();
});
