import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLess,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { waitFor } from "../../testing/_socket_client.ts";
import { SessionFileError, type SessionTornWriteError } from "./session_errors.ts";
import { resetSession, SessionStore, type SessionStoreOptions } from "./session_store.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

async function withDir(run: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "speedo-store-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function messages(from: number, to: number, size = 8) {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    seq: from + i,
    type: 1 + (i % 3),
    payload: new Uint8Array(size).fill((from + i) & 0xff),
  }));
}

function refused(options: SessionStoreOptions): SessionFileError {
  const error = assertThrows(() => SessionStore.open(options), SessionFileError);
  assertInstanceOf(error, SessionFileError);
  return error;
}

Deno.test(
  "SessionStore reads back its numbers and unacknowledged messages",
  SANITIZED,
  () =>
    withDir((dir) => {
      const options = { dir, localName: "a", peerName: "b" };
      const store = SessionStore.open(options);
      store.append(messages(1, 5), 0, 0);
      store.append(messages(6, 6), 3, 2);
      store.append([], 4, 2);
      store.close();
      const again = SessionStore.open(options);
      assertEquals([again.received, again.acknowledged, again.lastSent], [4, 2, 6]);
      assertEquals(again.pending.map((m) => [m.seq, m.type, m.payload[0]]), [
        [3, 3, 3],
        [4, 1, 4],
        [5, 2, 5],
        [6, 1, 6],
      ]);
      assertEquals(again.message(4)?.seq, 4);
      assertEquals(again.message(2), undefined);
      assertEquals(again.pendingBytes, 32);
      assertThrows(() => again.append(messages(8, 8), 4, 2), RangeError, "does not follow");
      assertThrows(() => again.append([], 3, 2), RangeError, "cannot go back");
      again.close();
    }),
);

Deno.test(
  "SessionStore makes its file at its first write, not at open",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const options = { dir: `${dir}/sessions`, localName: "a", peerName: "b", fsync: 5 };
      const store = SessionStore.open(options);
      assertEquals([store.received, store.acknowledged, store.lastSent, store.fileSize], [
        0,
        0,
        0,
        0,
      ]);
      store.sync();
      store.close();
      await assertRejects(() => Deno.stat(options.dir), Deno.errors.NotFound, undefined, "no dir");
      const again = SessionStore.open({ ...options, reset: true });
      await assertRejects(() => Deno.stat(again.path), Deno.errors.NotFound);
      again.append(messages(1, 1), 2, 0);
      assertEquals((await Deno.stat(again.path)).size, again.fileSize);
      again.close();
      assertThrows(() => again.append(messages(2, 2), 2, 0), Error, "is closed");
      const reopened = SessionStore.open(options);
      assertEquals([reopened.received, reopened.lastSent, reopened.pending.length], [2, 1, 1]);
      reopened.close();
    }),
);

Deno.test(
  "SessionStore compacts acknowledged records away and keeps the rest",
  SANITIZED,
  () =>
    withDir((dir) => {
      const options = { dir, localName: "a", peerName: "b", compactThreshold: 4096 };
      const store = SessionStore.open(options);
      let largest = 0;
      for (let batch = 0; batch < 100; batch++) {
        const from = batch * 10 + 1;
        store.append(messages(from, from + 9, 32), from + 9, Math.max(0, from - 3));
        largest = Math.max(largest, store.fileSize);
      }
      assertLess(largest, 3 * 4096, "the file never grows far past the threshold");
      assertEquals(store.pendingCount, 12);
      store.close();
      const again = SessionStore.open(options);
      assertEquals([again.received, again.acknowledged, again.lastSent], [1000, 988, 1000]);
      assertEquals(again.pending.map((m) => m.seq), Array.from({ length: 12 }, (_, i) => 989 + i));
      again.close();
    }),
);

Deno.test(
  "SessionStore refuses a file with a flipped byte, naming the record",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const options = { dir, localName: "a", peerName: "b" };
      const store = SessionStore.open(options);
      store.append(messages(1, 3), 0, 0);
      store.close();
      const bytes = await Deno.readFile(store.path);
      // The second message record starts after magic 8 + hello 15 + cursor 21 + message 23.
      bytes[8 + 15 + 21 + 23 + 12] ^= 1;
      await Deno.writeFile(store.path, bytes);
      const error = refused(options);
      assertEquals([error.problem, error.offset, error.path], ["checksum", 65, store.path]);
      assertEquals(error.name, "SessionFileError");
    }),
);

Deno.test(
  "SessionStore cuts a torn last write back to its last cursor, with a warning, at every cut",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const options = { dir, localName: "a", peerName: "b" };
      const store = SessionStore.open(options);
      // Write A (messages 1, 2 and its cursor) ends at 109, write B (3, 4, cursor) at 176:
      // magic 8 + hello 13 + first cursor 21 = 42, a message of 8 bytes is 23, a cursor 21.
      store.append(messages(1, 2), 3, 0);
      store.append(messages(3, 4), 4, 1);
      store.close();
      const bytes = await Deno.readFile(store.path);
      assertEquals(bytes.length, 176);
      // Cuts between whole records leave no bad record, so nothing says a write was torn.
      const ends = new Set([42, 65, 88, 109, 132, 155]);
      for (let cut = 0; cut < bytes.length; cut++) {
        if (ends.has(cut)) continue;
        await Deno.writeFile(store.path, bytes.subarray(0, cut));
        if (cut < 42) {
          // Before its first cursor a file holds no state to go back to: refused as before.
          const error = refused(options);
          assert(
            error.problem === "truncated" || (cut < 8 && error.problem === "header"),
            `cut at ${cut}: ${error.message}`,
          );
          continue;
        }
        const warnings: SessionTornWriteError[] = [];
        const again = SessionStore.open({ ...options, onWarning: (w) => void warnings.push(w) });
        const kept = cut < 109 ? 42 : 109;
        assertEquals(warnings.length, 1, `cut at ${cut}`);
        assertEquals([warnings[0].length, warnings[0].dropped], [kept, cut - kept]);
        assertEquals(warnings[0].path, store.path);
        assertEquals((await Deno.stat(store.path)).size, kept, `cut at ${cut}: the file shrinks`);
        assertEquals(again.fileSize, kept);
        if (kept === 42) {
          assertEquals([again.received, again.acknowledged, again.lastSent], [0, 0, 0]);
          assertEquals(again.pending, []);
        } else {
          assertEquals([again.received, again.acknowledged, again.lastSent], [3, 0, 2]);
          assertEquals(again.pending, messages(1, 2), "write A is intact");
        }
        // The store works on: the next write follows the kept one, and reads back whole.
        again.append(messages(again.lastSent + 1, again.lastSent + 1), 5, 0);
        again.close();
        const reopened = SessionStore.open({ ...options, onWarning: (w) => void warnings.push(w) });
        assertEquals(warnings.length, 1, "no second warning");
        assertEquals(reopened.lastSent, kept === 42 ? 1 : 3);
        assertEquals(reopened.received, 5);
        reopened.close();
      }

      // A last record whose CRC fails and that reaches the end is torn too; the default
      // warning goes to console.warn.
      const flipped = bytes.slice();
      flipped[170] ^= 1;
      await Deno.writeFile(store.path, flipped);
      const logged: unknown[][] = [];
      const warn = console.warn;
      console.warn = (...args: unknown[]) => void logged.push(args);
      try {
        const again = SessionStore.open(options);
        assertEquals(again.lastSent, 2);
        again.close();
      } finally {
        console.warn = warn;
      }
      assertEquals(logged.length, 1);
      assertStringIncludes(
        String(logged[0][0]),
        `SessionTornWriteError: Session file ${store.path} ended in a torn write at byte 155 (checksum mismatch`,
      );
      // So is a tail of zeros (a file grown whose data never reached the disk).
      await Deno.writeFile(store.path, new Uint8Array([...bytes, ...new Uint8Array(100)]));
      const warnings: SessionTornWriteError[] = [];
      const zeros = SessionStore.open({ ...options, onWarning: (w) => void warnings.push(w) });
      assertEquals([zeros.lastSent, zeros.fileSize], [4, 176]);
      assertEquals([warnings[0].offset, warnings[0].dropped], [176, 100]);
      zeros.close();
    }),
);

Deno.test(
  "SessionStore refuses a bad record in the middle, with whole writes after it",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const options = { dir, localName: "a", peerName: "b" };
      const store = SessionStore.open(options);
      store.append(messages(1, 2), 3, 0);
      store.append(messages(3, 4), 4, 1);
      store.close();
      const bytes = await Deno.readFile(store.path);
      const warnings: SessionTornWriteError[] = [];
      const onWarning = (warning: SessionTornWriteError) => void warnings.push(warning);
      // A flipped byte in message 3 (at 109), then message 4 and write B's cursor.
      const flipped = bytes.slice();
      flipped[120] ^= 1;
      await Deno.writeFile(store.path, flipped);
      let error = refused({ ...options, onWarning });
      assertEquals([error.problem, error.offset], ["checksum", 109]);
      // A cut in write A followed by the whole write B: a torn write cannot have one after it.
      await Deno.writeFile(
        store.path,
        new Uint8Array([...bytes.subarray(0, 100), ...bytes.subarray(109)]),
      );
      error = refused({ ...options, onWarning });
      assertEquals([error.problem, error.offset], ["checksum", 88]);
      // A length broken to run past the end, with whole records after it.
      const long = bytes.slice();
      new DataView(long.buffer).setUint32(109, 0xffff, true);
      await Deno.writeFile(store.path, long);
      error = refused({ ...options, onWarning });
      assertEquals([error.problem, error.offset], ["record", 109]);
      assertEquals(warnings, [], "no file was cut");
      assertEquals(await Deno.readFile(store.path), long, "a refused file is left as it is");
    }),
);

Deno.test(
  "SessionStore keeps a compacted file's messages when the write after the compaction tears",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const options = { dir, localName: "a", peerName: "b" };
      const store = SessionStore.open(options);
      store.append(messages(1, 5), 2, 2);
      store.compact();
      const compacted = store.fileSize;
      store.append(messages(6, 6), 3, 2);
      store.close();
      const bytes = await Deno.readFile(store.path);
      await Deno.writeFile(store.path, bytes.subarray(0, bytes.length - 5));
      const warnings: SessionTornWriteError[] = [];
      const again = SessionStore.open({ ...options, onWarning: (w) => void warnings.push(w) });
      assertEquals(warnings.map((w) => w.length), [compacted]);
      assertEquals([again.received, again.acknowledged, again.lastSent], [2, 2, 5]);
      assertEquals(
        again.pending,
        messages(3, 5).map((m, i) => ({ ...m, type: 1 + ((i + 2) % 3) })),
      );
      again.close();
    }),
);

Deno.test(
  "SessionStore refuses another session's file and contradicting numbers",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const store = SessionStore.open({ dir, localName: "a", peerName: "b" });
      store.append(messages(1, 1), 0, 0);
      store.close();
      assertEquals(refused({ dir, localName: "x", peerName: "b" }).problem, "names");
      const bytes = await Deno.readFile(store.path);
      await Deno.writeFile(store.path, new Uint8Array([...bytes, ...bytes.subarray(42, 65)]));
      const error = refused({ dir, localName: "a", peerName: "b" });
      assertEquals(error.problem, "sequence");
      assertEquals(error.message.includes("message 1 does not follow message 1"), true);
      await Deno.writeFile(store.path, new TextEncoder().encode("not a session file"));
      assertEquals(refused({ dir, localName: "a", peerName: "b" }).problem, "header");
    }),
);

Deno.test(
  "SessionStore reset and resetSession start a session over",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const options = { dir, localName: "a", peerName: "b" };
      const store = SessionStore.open(options);
      store.append(messages(1, 2), 5, 1);
      store.close();
      await Deno.writeFile(store.path, new Uint8Array([1, 2, 3]));
      refused(options);
      const fresh = SessionStore.open({ ...options, reset: true });
      assertEquals([fresh.received, fresh.acknowledged, fresh.lastSent], [0, 0, 0]);
      fresh.append([], 1, 0); // the new file is made at the first write
      fresh.close();
      assertEquals(resetSession({ dir, peer: "b" }), true);
      assertEquals(resetSession({ dir, peer: "b" }), false);
    }),
);

Deno.test(
  "SessionStore flushes to the disk as each fsync policy says and rejects bad options",
  SANITIZED,
  () =>
    withDir(async (dir) => {
      const never = SessionStore.open({ dir, localName: "a", peerName: "never", fsync: "never" });
      never.append(messages(1, 3), 0, 0);
      never.append(messages(4, 5), 0, 0);
      never.close();
      assertEquals(never.syncs, 0);
      const always = SessionStore.open({
        dir,
        localName: "a",
        peerName: "always",
        fsync: "always",
      });
      always.append(messages(1, 3), 0, 0);
      always.append(messages(4, 5), 0, 0);
      assertEquals(always.syncs, 2);
      always.close();
      assertEquals(always.syncs, 2, "nothing left to flush at close");
      const timed = SessionStore.open({ dir, localName: "a", peerName: "timed", fsync: 5 });
      timed.append(messages(1, 3), 0, 0);
      assertEquals(timed.syncs, 0, "the period's timer flushes, not the append");
      await waitFor(() => timed.syncs === 1, "the period's flush");
      timed.append(messages(4, 5), 0, 0);
      timed.close();
      assertEquals(timed.syncs, 2, "the second append flushed by the timer or at close, once");
      assertThrows(
        () =>
          SessionStore.open({ dir, localName: "a", peerName: "b", fsync: "sometimes" as "never" }),
        RangeError,
        "fsync",
      );
      assertThrows(
        () => SessionStore.open({ dir, localName: "a/b", peerName: "b" }),
        RangeError,
        "localName",
      );
      assertThrows(
        () => SessionStore.open({ dir, localName: "a", peerName: ".." }),
        RangeError,
        "peer",
      );
    }),
);
