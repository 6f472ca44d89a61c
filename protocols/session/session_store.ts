/**
 * The persistent half of a session: one append-only file per peer that holds this side's
 * unacknowledged outgoing messages and its cursors, every record with a CRC-32.
 *
 * ```
 *  file:    ┌ magic "SPDSESS1" (8) ┬ hello ┬ cursor ┬ record … ┐
 *  record:  ┌ length u32 ┬ crc32 u32 ┬ kind u8 ┬ body … ┐      length = 1 + body; CRC of kind + body
 *  kind 1 hello:    ┌ local name length u8 ┬ local name ┬ peer name length u8 ┬ peer name ┐
 *  kind 2 message:  ┌ seq u32 ┬ type u16 ┬ payload … ┐
 *  kind 3 cursor:   ┌ received u32 ┬ acknowledged u32 ┬ last sent u32 ┐
 * ```
 *
 * All numbers are little-endian. The first cursor sets the numbers the file starts from; each
 * message then takes the next sequence number, and each later cursor moves `received` and
 * `acknowledged` forward (never back).
 *
 * Every write is one `write` call of whole records that ends with a cursor, the record that
 * commits it (as a write-ahead log's commit record does). A killed process never leaves half a
 * write behind; a machine crash or a full disk can. At open, a file that ends in a torn write
 * (a last record cut short or failing its CRC, with no whole write after it) is cut back to
 * the end of its last cursor, and a {@linkcode SessionTornWriteError} warning says so: the
 * replies a handler sent and the cursor of the message they answer stay together, both kept or
 * both dropped. A bad record that whole writes follow is corruption, and the file is refused.
 *
 * Acknowledged records are compacted away: once the file passes `compactThreshold` and
 * holds more dead bytes than live ones, the live records are written to a new file that
 * replaces the old one by rename.
 *
 * @module
 */

import { crc32 } from "./crc32.ts";
import { checkName } from "./_names.ts";
import { resolveStoreOptions } from "./_session_options.ts";
import { SessionFileError, SessionTornWriteError } from "./session_errors.ts";

/**
 * When a session file is flushed to the disk with `fsync`:
 *
 * - `"never"`: the kernel writes it when it likes. A killed process loses nothing (every
 *   append is a finished `write`); a machine crash can lose the last writes.
 * - `"always"`: after every append, before the messages it holds are sent or acknowledged.
 *   The safest and the slowest.
 * - a number N: every N milliseconds, when something was written. A machine crash loses at
 *   most about N ms of writes.
 */
export type FsyncPolicy = "never" | "always" | number;

/** Options of {@linkcode SessionStore.open}. */
export interface SessionStoreOptions {
  /** The directory of session files; made if missing, at the first write. */
  dir: string;
  /** This side's name. */
  localName: string;
  /** The peer's name; the file is `<dir>/<peerName>.session`. */
  peerName: string;
  /**
   * When to `fsync`.
   *
   * @default {"never"}
   */
  fsync?: FsyncPolicy;
  /**
   * File size past which acknowledged records are compacted away (when they are more than
   * half of it), in bytes.
   *
   * @default {1048576}
   */
  compactThreshold?: number;
  /**
   * Delete the file first and start the session over, from sequence number 1.
   *
   * @default {false}
   */
  reset?: boolean;
  /**
   * Told when the file ended in a torn write that was cut off at open (the store then opens).
   * Without it, the warning is logged with `console.warn`.
   */
  onWarning?(warning: SessionTornWriteError): void;
}

/** A message kept until the peer acknowledges it. */
export interface StoredMessage {
  /** Its sequence number. */
  readonly seq: number;
  /** Its message type, 1 to 65535. */
  readonly type: number;
  /** Its payload (owned by the store). */
  readonly payload: Uint8Array;
}

const MAGIC = new TextEncoder().encode("SPDSESS1");
const RECORD_HEADER = 9;
const Kind = { hello: 1, message: 2, cursor: 3 } as const;
/** Largest record accepted at open: a message's payload is at most 64 KiB. */
const MAX_RECORD = 1 << 20;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * The path of the session file for `peer` under `dir`.
 *
 * @param dir The directory of session files.
 * @param peer The peer's name.
 * @returns `<dir>/<peer>.session`.
 *
 * @example
 * ```ts
 * import { sessionPath } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(sessionPath("/var/lib/app", "client-1"), "/var/lib/app/client-1.session");
 * ```
 */
export function sessionPath(dir: string, peer: string): string {
  checkName("peer", peer);
  return `${dir.replace(/\/+$/, "") || "."}/${peer}.session`;
}

/**
 * Deletes the session file of `peer`, so that the session starts over from sequence number 1
 * the next time it opens. This is the way out of a corrupt file or a sequence mismatch; reset
 * both sides, or the other side reports a mismatch at the next login.
 *
 * @param options The directory and the peer's name.
 * @returns Whether there was a file to delete.
 *
 * @example
 * ```ts
 * import { resetSession, SessionStore } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const store = SessionStore.open({ dir, localName: "a", peerName: "b" });
 * store.append([], 1, 0); // the file is made at the first write
 * store.close();
 * assertEquals(resetSession({ dir, peer: "b" }), true);
 * assertEquals(resetSession({ dir, peer: "b" }), false);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function resetSession(options: { dir: string; peer: string }): boolean {
  const path = sessionPath(options.dir, options.peer);
  try {
    Deno.removeSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * One side's file for one peer: its unacknowledged messages (kept in memory too, for resends)
 * and its cursors. Open it with {@linkcode SessionStore.open}; it checks every record, cuts a
 * torn last write off (with a {@linkcode SessionTornWriteError} warning), and refuses a
 * corrupt or truncated file with a {@linkcode SessionFileError}. A missing file is made at
 * the first {@linkcode SessionStore.append}, so a session that never stores anything leaves
 * nothing on the disk.
 *
 * @example Messages survive a reopen until acknowledged
 * ```ts
 * import { SessionStore } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const options = { dir, localName: "client", peerName: "server" };
 * const store = SessionStore.open(options);
 * const payload = new TextEncoder().encode("hi");
 * store.append([{ seq: 1, type: 1, payload }, { seq: 2, type: 1, payload }], 0, 0);
 * store.append([], 7, 1); // received 7 from the peer; it acknowledged 1
 * store.close();
 *
 * const again = SessionStore.open(options);
 * assertEquals([again.received, again.acknowledged, again.lastSent], [7, 1, 2]);
 * assertEquals(again.pending.map((message) => message.seq), [2]);
 * again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SessionStore {
  /** The file's path. */
  readonly path: string;
  readonly #dir: string;
  readonly #localName: string;
  readonly #peerName: string;
  readonly #fsync: FsyncPolicy;
  readonly #compactThreshold: number;
  /** Undefined until the first write when the file was missing, and after close. */
  #file: Deno.FsFile | undefined;
  #closed = false;
  #received = 0;
  #acknowledged = 0;
  #lastSent = 0;
  #pending: StoredMessage[] = [];
  #head = 0;
  #pendingBytes = 0;
  #fileSize = 0;
  #liveBytes = 0;
  #dirty = false;
  #syncs = 0;
  #syncTimer: ReturnType<typeof setInterval> | undefined;
  #buffer = new Uint8Array(4096);
  #view = new DataView(this.#buffer.buffer);

  private constructor(path: string, options: SessionStoreOptions) {
    this.path = path;
    this.#dir = options.dir;
    this.#localName = options.localName;
    this.#peerName = options.peerName;
    this.#fsync = options.fsync ?? "never";
    this.#compactThreshold = options.compactThreshold ?? 1 << 20;
  }

  /**
   * Opens the file of a peer and reads it back. A missing file (or one deleted by `reset`) is
   * made, with its directory, at the first {@linkcode SessionStore.append}: opening alone
   * writes nothing.
   *
   * @param options The directory, the two names, and the durability.
   * @returns The store, its numbers and pending messages read from the file.
   * @throws {SessionFileError} When the file is corrupt, or ends before its first cursor.
   * @throws {RangeError} When a name or an option is invalid.
   *
   * @example
   * ```ts
   * import { SessionStore } from "@speedo/speedo/session";
   * import { assertEquals } from "@std/assert";
   *
   * const dir = await Deno.makeTempDir();
   * const store = SessionStore.open({ dir, localName: "a", peerName: "b", fsync: "always" });
   * assertEquals([store.received, store.acknowledged, store.lastSent], [0, 0, 0]);
   * store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static open(options: SessionStoreOptions): SessionStore {
    checkName("localName", options.localName);
    const path = sessionPath(options.dir, options.peerName);
    const { fsync } = resolveStoreOptions(options);
    if (options.reset) resetSession({ dir: options.dir, peer: options.peerName });
    const store = new SessionStore(path, options);
    let bytes: Uint8Array | undefined;
    try {
      bytes = Deno.readFileSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let torn: SessionTornWriteError | undefined;
    if (bytes !== undefined) {
      torn = store.#load(bytes);
      store.#file = Deno.openSync(path, { append: true });
    }
    if (torn !== undefined) {
      store.#file!.truncateSync(torn.length);
      // The cut must reach the disk before new writes follow it, or a crash could leave them
      // behind the torn bytes, which would then look like corruption in the middle.
      if (fsync !== "never") store.sync();
      try {
        (options.onWarning ?? logWarning)(torn);
      } catch (error) {
        store.close();
        throw error;
      }
    }
    if (typeof fsync === "number") {
      const timer = setInterval(() => {
        if (store.#dirty) store.sync();
      }, fsync);
      Deno.unrefTimer(timer);
      store.#syncTimer = timer;
    }
    return store;
  }

  /** The last sequence number received from the peer, in order. */
  get received(): number {
    return this.#received;
  }

  /** The last of this side's messages the peer acknowledged. */
  get acknowledged(): number {
    return this.#acknowledged;
  }

  /** The last sequence number stored to send. */
  get lastSent(): number {
    return this.#lastSent;
  }

  /** The messages the peer has not acknowledged, oldest first (`acknowledged + 1` on). */
  get pending(): readonly StoredMessage[] {
    return this.#head === 0 ? this.#pending : this.#pending.slice(this.#head);
  }

  /** How many messages the peer has not acknowledged. */
  get pendingCount(): number {
    return this.#pending.length - this.#head;
  }

  /** The payload bytes of those messages. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The file's size, in bytes (0 until the first write makes a missing file). */
  get fileSize(): number {
    return this.#fileSize;
  }

  /**
   * The pending message of sequence number `seq`, or `undefined`.
   *
   * @param seq A sequence number from `acknowledged + 1` to `lastSent`.
   * @returns The message.
   */
  message(seq: number): StoredMessage | undefined {
    const index = this.#head + seq - this.#acknowledged - 1;
    return index >= this.#head && index < this.#pending.length ? this.#pending[index] : undefined;
  }

  /**
   * Appends messages and the cursors in one write (then `fsync`s if the policy says so),
   * drops the messages now acknowledged, and compacts the file when it is due.
   *
   * @param messages New messages, numbered from `lastSent + 1` on; their payloads are kept.
   * @param received The last sequence number received from the peer.
   * @param acknowledged The last of this side's messages the peer acknowledged.
   * @throws {RangeError} When the numbers go back or skip.
   */
  append(messages: readonly StoredMessage[], received: number, acknowledged: number): void {
    if (this.#closed) throw new Error(`Session file ${this.path} is closed`);
    let next = this.#lastSent;
    for (const message of messages) {
      if (message.seq !== ++next) {
        throw new RangeError(`Message seq ${message.seq} does not follow ${next - 1}`);
      }
    }
    if (received < this.#received || acknowledged < this.#acknowledged || acknowledged > next) {
      throw new RangeError(
        `Cursors cannot go back or past what was sent: received ${received} (was ${this.#received}), acknowledged ${acknowledged} (was ${this.#acknowledged}, sent ${next})`,
      );
    }
    let length = 0;
    for (const message of messages) length += RECORD_HEADER + 6 + message.payload.length;
    length += RECORD_HEADER + 12;
    // Made here when missing (before the buffer is filled: making it writes with the buffer).
    const file = this.#requireFile();
    this.#reserve(length);
    let at = 0;
    for (const message of messages) {
      at = this.#putMessage(at, message);
      this.#pending.push(message);
      this.#pendingBytes += message.payload.length;
      this.#liveBytes += RECORD_HEADER + 6 + message.payload.length;
    }
    this.#lastSent = next;
    this.#received = received;
    at = this.#putCursor(at, received, acknowledged, next);
    writeAll(file, this.#buffer.subarray(0, at));
    this.#fileSize += at;
    this.#dirty = true;
    this.#drop(acknowledged);
    if (this.#fsync === "always") this.sync();
    if (this.#fileSize > this.#compactThreshold && this.#fileSize > 2 * this.#liveBytes) {
      this.compact();
    }
  }

  /** Writes the live records to a new file that replaces this one. */
  compact(): void {
    this.#requireFile().close();
    this.#file = undefined;
    this.#rewrite();
    this.#file = Deno.openSync(this.path, { append: true });
  }

  /**
   * How many times the file was flushed to the disk (the `fsync` policy's cost, as a count):
   * none under `"never"`, one per {@linkcode SessionStore.append} under `"always"`, at most
   * one per period otherwise, and one at close when anything is left to flush.
   */
  get syncs(): number {
    return this.#syncs;
  }

  /** Flushes what was written to the disk (`fsync` of the data). */
  sync(): void {
    this.#dirty = false;
    if (this.#file === undefined) return;
    this.#file.syncDataSync();
    this.#syncs++;
  }

  /** Flushes (unless the policy is `"never"`) and closes the file. Safe to call twice. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#syncTimer);
    if (this.#file === undefined) return;
    if (this.#fsync !== "never" && this.#dirty) this.sync();
    this.#file.close();
    this.#file = undefined;
  }

  /** The file, made at the first write when it was missing. */
  #requireFile(): Deno.FsFile {
    if (this.#closed) throw new Error(`Session file ${this.path} is closed`);
    if (this.#file === undefined) {
      Deno.mkdirSync(this.#dir, { recursive: true });
      this.#rewrite();
      this.#file = Deno.openSync(this.path, { append: true });
    }
    return this.#file;
  }

  /** Drops the pending messages up to `acknowledged`. */
  #drop(acknowledged: number): void {
    while (this.#acknowledged < acknowledged) {
      const message = this.#pending[this.#head++];
      this.#pendingBytes -= message.payload.length;
      this.#liveBytes -= RECORD_HEADER + 6 + message.payload.length;
      this.#acknowledged++;
    }
    if (this.#head === this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Writes the whole file anew (creation, compaction): temporary file, then rename. */
  #rewrite(): void {
    const names = utf8.encode(this.#localName).length + utf8.encode(this.#peerName).length;
    let length = MAGIC.length + RECORD_HEADER + 2 + names + RECORD_HEADER + 12;
    for (let i = this.#head; i < this.#pending.length; i++) {
      length += RECORD_HEADER + 6 + this.#pending[i].payload.length;
    }
    const messages = this.#head < this.#pending.length;
    if (messages) length += RECORD_HEADER + 12;
    this.#reserve(length);
    this.#buffer.set(MAGIC, 0);
    let at = this.#putHello(MAGIC.length);
    at = this.#putCursor(at, this.#received, this.#acknowledged, this.#acknowledged);
    for (let i = this.#head; i < this.#pending.length; i++) {
      at = this.#putMessage(at, this.#pending[i]);
    }
    // Every write ends with its cursor: at open, a torn write is cut back to the last cursor,
    // so messages after the first cursor need one of their own.
    if (messages) at = this.#putCursor(at, this.#received, this.#acknowledged, this.#lastSent);
    const temporary = `${this.path}.tmp`;
    const file = Deno.openSync(temporary, { write: true, create: true, truncate: true });
    try {
      writeAll(file, this.#buffer.subarray(0, at));
      if (this.#fsync !== "never") file.syncDataSync();
    } finally {
      file.close();
    }
    Deno.renameSync(temporary, this.path);
    this.#fileSize = at;
    this.#liveBytes = at - MAGIC.length;
    this.#dirty = false;
    if (this.#buffer.length > 1 << 20) {
      this.#buffer = new Uint8Array(4096);
      this.#view = new DataView(this.#buffer.buffer);
    }
  }

  /**
   * Reads the file back, checking every record. A bad record that no whole write follows is a
   * torn write: the state goes back to the last cursor and the warning is returned (the
   * caller cuts the file).
   */
  #load(bytes: Uint8Array): SessionTornWriteError | undefined {
    const fail = (
      problem: ConstructorParameters<typeof SessionFileError>[1],
      offset: number,
      detail: string,
    ): never => {
      throw new SessionFileError(this.path, problem, offset, detail);
    };
    if (bytes.length < MAGIC.length || MAGIC.some((byte, i) => bytes[i] !== byte)) {
      fail(
        "header",
        0,
        `it does not start with the session file's magic bytes (${bytes.length} bytes long)`,
      );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = MAGIC.length;
    let records = 0;
    // The end of the last whole write (its cursor) and the state there.
    let committed = 0;
    let committedPending = 0;
    let committedBytes = 0;
    let committedLive = 0;
    let committedSent = 0;
    let torn: string | undefined;
    /** A bad record at `at`: the end of a torn write, or corruption when a whole write follows. */
    const bad = (problem: "truncated" | "checksum" | "record", detail: string): void => {
      if (records >= 2 && !cursorFollows(bytes, view, at + 1)) {
        torn = detail;
        return;
      }
      // Past the first cursor, a record that runs past the end yet has whole writes after it
      // has a broken length: it is not truncated.
      fail(records >= 2 && problem === "truncated" ? "record" : problem, at, detail);
    };
    while (at < bytes.length) {
      if (bytes.length - at < RECORD_HEADER) {
        bad(
          "truncated",
          `a record header needs ${RECORD_HEADER} bytes, ${bytes.length - at} remain`,
        );
        break;
      }
      const length = view.getUint32(at, true);
      if (length < 1 || length > MAX_RECORD) {
        bad("record", `a record claims a length of ${length} bytes`);
        break;
      }
      if (at + 8 + length > bytes.length) {
        bad(
          "truncated",
          `a record of ${length} bytes runs past the end of the file (${
            bytes.length - at - 8
          } remain)`,
        );
        break;
      }
      const body = bytes.subarray(at + 8, at + 8 + length);
      const expected = view.getUint32(at + 4, true);
      const actual = crc32(body);
      if (expected !== actual) {
        bad("checksum", `checksum mismatch (stored ${hex(expected)}, computed ${hex(actual)})`);
        break;
      }
      const kind = body[0];
      const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (records === 0) {
        if (kind !== Kind.hello) {
          fail("record", at, `the first record is of kind ${kind}, not a hello`);
        }
        const localLength = body[1];
        const local = text.decode(body.subarray(2, 2 + localLength));
        const peer = text.decode(
          body.subarray(3 + localLength, 3 + localLength + body[2 + localLength]),
        );
        if (local !== this.#localName || peer !== this.#peerName) {
          fail(
            "names",
            at,
            `it belongs to "${local}" talking to "${peer}", not "${this.#localName}" talking to "${this.#peerName}"`,
          );
        }
      } else if (kind === Kind.cursor && length === 13) {
        const received = bodyView.getUint32(1, true);
        const acknowledged = bodyView.getUint32(5, true);
        const lastSent = bodyView.getUint32(9, true);
        if (records === 1) {
          this.#received = received;
          this.#acknowledged = this.#lastSent = lastSent;
          if (acknowledged !== lastSent) {
            fail(
              "sequence",
              at,
              `the first cursor acknowledges ${acknowledged} but starts at ${lastSent}`,
            );
          }
        } else if (
          received < this.#received || acknowledged < this.#acknowledged ||
          lastSent !== this.#lastSent || acknowledged > lastSent
        ) {
          fail(
            "sequence",
            at,
            `a cursor (received ${received}, acknowledged ${acknowledged}, sent ${lastSent}) contradicts the records before it (received ${this.#received}, acknowledged ${this.#acknowledged}, sent ${this.#lastSent})`,
          );
        } else {
          this.#received = received;
          this.#drop(acknowledged);
        }
        committed = at + 8 + length;
        committedPending = this.#pending.length;
        committedBytes = this.#pendingBytes;
        committedLive = this.#liveBytes;
        committedSent = this.#lastSent;
      } else if (kind === Kind.message && length >= 7 && records >= 2) {
        const seq = bodyView.getUint32(1, true);
        if (seq !== this.#lastSent + 1) {
          fail("sequence", at, `message ${seq} does not follow message ${this.#lastSent}`);
        }
        const payload = body.slice(7);
        this.#pending.push({ seq, type: bodyView.getUint16(5, true), payload });
        this.#pendingBytes += payload.length;
        this.#liveBytes += RECORD_HEADER + 6 + payload.length;
        this.#lastSent = seq;
      } else {
        fail("record", at, `a record of kind ${kind} and length ${length} is out of place`);
      }
      records++;
      at += 8 + length;
    }
    if (records < 2) fail("truncated", at, "it ends before its first cursor");
    if (torn === undefined) {
      this.#fileSize = bytes.length;
      return undefined;
    }
    // The messages of the torn write were never sent: they go with the cursor they lacked.
    this.#pending.length = committedPending;
    this.#pendingBytes = committedBytes;
    this.#liveBytes = committedLive;
    this.#lastSent = committedSent;
    this.#fileSize = committed;
    return new SessionTornWriteError(this.path, committed, bytes.length, torn, at);
  }

  #putHello(at: number): number {
    const local = utf8.encode(this.#localName);
    const peer = utf8.encode(this.#peerName);
    const body = new Uint8Array(3 + local.length + peer.length);
    body[0] = Kind.hello;
    body[1] = local.length;
    body.set(local, 2);
    body[2 + local.length] = peer.length;
    body.set(peer, 3 + local.length);
    this.#view.setUint32(at, body.length, true);
    this.#view.setUint32(at + 4, crc32(body), true);
    this.#buffer.set(body, at + 8);
    return at + 8 + body.length;
  }

  #putMessage(at: number, message: StoredMessage): number {
    const buffer = this.#buffer;
    const view = this.#view;
    const length = 7 + message.payload.length;
    view.setUint32(at, length, true);
    buffer[at + 8] = Kind.message;
    view.setUint32(at + 9, message.seq, true);
    view.setUint16(at + 13, message.type, true);
    buffer.set(message.payload, at + 15);
    view.setUint32(at + 4, crc32(buffer.subarray(at + 8, at + 8 + length)), true);
    return at + 8 + length;
  }

  #putCursor(at: number, received: number, acknowledged: number, lastSent: number): number {
    const view = this.#view;
    view.setUint32(at, 13, true);
    this.#buffer[at + 8] = Kind.cursor;
    view.setUint32(at + 9, received, true);
    view.setUint32(at + 13, acknowledged, true);
    view.setUint32(at + 17, lastSent, true);
    view.setUint32(at + 4, crc32(this.#buffer.subarray(at + 8, at + 21)), true);
    return at + 21;
  }

  #reserve(length: number): void {
    if (length <= this.#buffer.length) return;
    let size = this.#buffer.length;
    while (size < length) size *= 2;
    this.#buffer = new Uint8Array(size);
    this.#view = new DataView(this.#buffer.buffer);
  }
}

/**
 * Whether a whole cursor record (length, CRC and kind right) starts anywhere from `from` on:
 * every whole write ends with one, so a bad record with one after it is not a torn write.
 */
function cursorFollows(bytes: Uint8Array, view: DataView, from: number): boolean {
  for (
    let i = bytes.indexOf(13, from);
    i >= 0 && i + 21 <= bytes.length;
    i = bytes.indexOf(13, i + 1)
  ) {
    if (
      view.getUint32(i, true) === 13 && bytes[i + 8] === Kind.cursor &&
      view.getUint32(i + 4, true) === crc32(bytes.subarray(i + 8, i + 21))
    ) return true;
  }
  return false;
}

function logWarning(warning: SessionTornWriteError): void {
  console.warn(`speedo session: ${warning.name}: ${warning.message}`);
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
