import { nonNegativeInteger, positiveInteger } from "../_option_checks.ts";
import { FrameTooLongError } from "../errors.ts";
import { DEFAULT_MAX_FRAME_LENGTH } from "./_length_prefix.ts";
import { DEFAULT_MAX_LINE_LENGTH } from "./line_decoder.ts";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
/** The smallest buffer allocated. */
const MIN_CAPACITY = 256;
/** A buffer larger than this, found empty by a feed of a chunk a quarter its size, is replaced. */
const SHRINK_ABOVE = 16 * 1024;

/** Options of {@linkcode ByteCursor}. */
export interface ByteCursorOptions {
  /**
   * Longest line {@linkcode ByteCursor.readLine} accepts, in bytes, not counting its ending. A
   * longer line raises a {@linkcode FrameTooLongError} as soon as more than this many bytes of
   * it are held, and the rest of it is dropped as it arrives.
   *
   * @default {65536}
   */
  maxLineLength?: number;
  /**
   * Largest count {@linkcode ByteCursor.readBytes} accepts. A larger count (announced by the
   * peer) raises a {@linkcode FrameTooLongError} before any of those bytes are buffered.
   *
   * @default {1048576}
   */
  maxBytes?: number;
}

/**
 * A read cursor over one accumulated buffer, for formats that mix lines and counted bytes
 * (RESP bulk strings, NATS payloads, SMTP `DATA`, memcached values): feed chunks, then read a
 * line, then exactly `n` bytes, then a line… Each read returns a view of the buffer, not a copy.
 *
 * ```
 *  buffer: one Uint8Array, reused from feed to feed
 *  0              start (position)                             end        capacity
 *  ├─ read ───────┼─ held: `buffered` bytes, not yet read ──────┼─ free ─────┤
 *  │ (dropped at  │ $ 5 CR LF     h e l l o      CR LF         │ (filled by │
 *  │  compaction) │ └readLine()┘  └readBytes(5)┘ └readBytes(2)┘ │  feed)     │
 *
 *  a line:  ┌ content (≤ maxLineLength bytes), any byte but LF ┬ ending: LF or CR LF ┐
 *  counted: ┌ exactly n bytes (n ≤ maxBytes), any bytes, never searched ┐
 * ```
 *
 * - {@linkcode ByteCursor.feed} copies a chunk to the end of the buffer: the caller may reuse
 *   the chunk at once. The buffer is compacted (the unread bytes moved to its start) or grown
 *   only when the chunk does not fit after the unread bytes: compacted in place when the bytes
 *   already read are at least as many as those moved, grown (doubled) otherwise. Either cost is
 *   paid at most once per byte fed, on average.
 * - {@linkcode ByteCursor.readLine} returns the next line without its ending, and
 *   {@linkcode ByteCursor.readBytes} the next `n` bytes; both return `null` when the bytes are
 *   not all there yet ("need more bytes", a normal answer), and then consume nothing.
 * - **Validity of views:** a view returned by a read stays valid until the next
 *   {@linkcode ByteCursor.feed} (which may move or overwrite the bytes); later reads, skips and
 *   rewinds leave it valid. Copy a view to keep it longer.
 * - {@linkcode ByteCursor.position} and {@linkcode ByteCursor.rewind} undo reads made since the
 *   last feed: a parser can read a header line, find the payload incomplete, rewind, and parse
 *   the whole message again after the next feed, holding no state of its own.
 * - Limits: a line longer than `maxLineLength` raises {@linkcode FrameTooLongError} while it is
 *   still arriving (the cursor holds no more of it than the limit and one chunk), and its bytes
 *   up to its LF are dropped. A count over `maxBytes` raises it too, consuming nothing;
 *   {@linkcode ByteCursor.skip} then drops those bytes as they arrive, if the stream goes on.
 *
 * A line ends at LF, with or without a CR before it; a lone CR is content. (Telnet's CR NUL is
 * {@linkcode LineDecoder}'s, not the cursor's.)
 *
 * @example A RESP bulk-string reader
 * ```ts
 * import { ByteCursor } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * // `$<n> CR LF <n bytes> CR LF`; null when the whole string is not there yet.
 * function readBulkString(cursor: ByteCursor): Uint8Array | null {
 *   const start = cursor.position;
 *   const header = cursor.readLine();
 *   if (header === null) return null;
 *   const count = Number(new TextDecoder().decode(header.subarray(1)));
 *   const payload = cursor.readBytes(count);
 *   const ending = payload === null ? null : cursor.readBytes(2);
 *   if (ending === null) {
 *     cursor.rewind(start); // parse it again, whole, after the next feed
 *     return null;
 *   }
 *   return payload;
 * }
 *
 * const cursor = new ByteCursor();
 * const strings: string[] = [];
 * for (const chunk of ["$5\r\nhel", "lo\r\n$0\r\n\r\n$3\r", "\nabc\r\n"]) {
 *   cursor.feed(new TextEncoder().encode(chunk));
 *   for (let bytes = readBulkString(cursor); bytes !== null; bytes = readBulkString(cursor)) {
 *     strings.push(new TextDecoder().decode(bytes));
 *   }
 * }
 * assertEquals(strings, ["hello", "", "abc"]);
 * assertEquals(cursor.buffered, 0);
 * ```
 *
 * @example A line over the limit
 * ```ts
 * import { ByteCursor } from "@speedo/speedo/framing";
 * import { FrameTooLongError } from "@speedo/speedo";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const cursor = new ByteCursor({ maxLineLength: 4 });
 * cursor.feed(new TextEncoder().encode("toolong"));
 * assertThrows(() => cursor.readLine(), FrameTooLongError); // before its end arrives
 * cursor.feed(new TextEncoder().encode("...\r\nok\r\n"));
 * assertEquals(new TextDecoder().decode(cursor.readLine()!), "ok");
 * ```
 */
export class ByteCursor {
  /** Longest line accepted, in bytes, without its ending. */
  readonly maxLineLength: number;
  /** Largest count `readBytes` accepts. */
  readonly maxBytes: number;
  #buffer: Uint8Array = EMPTY;
  /** The bytes held: `#buffer` up to `#end`, so that `indexOf` stops there. */
  #data: Uint8Array = EMPTY;
  /** Index of the next unread byte. */
  #start = 0;
  /** Index after the last byte held. */
  #end = 0;
  /** Stream position of `#buffer[0]`. */
  #base = 0;
  /** The lowest index `rewind` may go back to: bytes before it may be gone. */
  #floor = 0;
  /** While `#start` is `#scanStart`, no LF lies between `#start` and `#scanned`. */
  #scanStart = -1;
  #scanned = 0;
  /** Dropping the rest of an over-long line, up to its LF. */
  #discarding = false;
  #lastEndingLength = 0;

  /**
   * Makes a cursor. Its buffer is allocated at the first feed.
   *
   * @param options Limits.
   * @throws {RangeError} When a limit is not a positive integer.
   */
  constructor(options: ByteCursorOptions = {}) {
    this.maxLineLength = positiveInteger(
      "maxLineLength",
      options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
    );
    this.maxBytes = positiveInteger("maxBytes", options.maxBytes ?? DEFAULT_MAX_FRAME_LENGTH);
  }

  /**
   * Bytes held and not yet read.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new TextEncoder().encode("ab\ncd"));
   * cursor.readLine();
   * assertEquals(cursor.buffered, 2);
   * ```
   */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Bytes of the buffer allocated (held, read, and free): at most about twice the largest of a
   * chunk, a line, or a count read. A buffer grown by a burst is replaced by a small one when a
   * feed finds it empty.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * assertEquals(cursor.capacity, 0);
   * cursor.feed(new Uint8Array(1000));
   * assertEquals(cursor.capacity, 1024);
   * ```
   */
  get capacity(): number {
    return this.#buffer.length;
  }

  /**
   * The stream position of the next unread byte (bytes read since the cursor was made, not
   * counting bytes dropped with an over-long line), for {@linkcode ByteCursor.rewind}.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new TextEncoder().encode("ab\r\ncd"));
   * cursor.readLine();
   * assertEquals(cursor.position, 4);
   * ```
   */
  get position(): number {
    return this.#base + this.#start;
  }

  /**
   * Length of the ending of the line last read: 1 for LF, 2 for CR LF.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new TextEncoder().encode("a\r\n"));
   * cursor.readLine();
   * assertEquals(cursor.lastEndingLength, 2);
   * ```
   */
  get lastEndingLength(): number {
    return this.#lastEndingLength;
  }

  /**
   * Appends a chunk of the stream to the bytes held, copying it: the chunk may be reused as
   * soon as `feed` returns. Views returned by earlier reads are no longer valid after it.
   *
   * @param chunk Bytes read.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * const chunk = new Uint8Array([1, 2, 3]);
   * cursor.feed(chunk);
   * chunk.fill(0);
   * assertEquals(cursor.readBytes(3), new Uint8Array([1, 2, 3]));
   * ```
   */
  feed(chunk: Uint8Array): void {
    if (this.#discarding) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) return;
      this.#discarding = false;
      chunk = chunk.subarray(lf + 1);
    }
    const length = chunk.length;
    if (length === 0) return;
    const held = this.#end - this.#start;
    let buffer = this.#buffer;
    if (held === 0) {
      // Nothing held: write from the start, and give back a buffer grown by a burst.
      const capacity = buffer.length;
      if (capacity < length || (capacity > SHRINK_ABOVE && length <= capacity >> 2)) {
        buffer = this.#buffer = new Uint8Array(capacityFor(length));
      }
      this.#moved(0);
    } else if (this.#end + length > buffer.length) {
      const needed = held + length;
      if (needed <= buffer.length && this.#start >= held) {
        // Moving `held` bytes is paid for by the `#start` bytes read since the last move.
        buffer.copyWithin(0, this.#start, this.#end);
      } else {
        buffer = new Uint8Array(capacityFor(Math.max(needed, 2 * buffer.length)));
        buffer.set(this.#data.subarray(this.#start));
        this.#buffer = buffer;
      }
      this.#moved(held);
    }
    buffer.set(chunk, this.#end);
    this.#end += length;
    this.#data = new Uint8Array(buffer.buffer, 0, this.#end);
  }

  /**
   * Reads the next line, up to and without its ending (LF or CR LF).
   *
   * @returns A view of the line, valid until the next feed; or `null` when its LF has not
   *   arrived yet (nothing is consumed then).
   * @throws {FrameTooLongError} When the line passes `maxLineLength`, even before its LF has
   *   arrived; the line is dropped (the rest of it as it arrives), and reads go on after it.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new TextEncoder().encode("one\r\ntw"));
   * assertEquals(new TextDecoder().decode(cursor.readLine()!), "one");
   * assertEquals(cursor.readLine(), null);
   * cursor.feed(new TextEncoder().encode("o\n"));
   * assertEquals(new TextDecoder().decode(cursor.readLine()!), "two");
   * ```
   */
  readLine(): Uint8Array | null {
    const start = this.#start;
    const end = this.#end;
    if (start === end) return null;
    // Bytes scanned by an earlier call that found no LF are not scanned again.
    const from = this.#scanStart === start ? this.#scanned : start;
    const lf = this.#data.indexOf(LF, from);
    if (lf < 0) {
      const held = end - start;
      // A trailing CR may begin the line's ending.
      const content = this.#buffer[end - 1] === CR ? held - 1 : held;
      if (content > this.maxLineLength) {
        this.#start = this.#floor = end;
        this.#discarding = true;
        throw new FrameTooLongError(content, this.maxLineLength);
      }
      this.#scanStart = start;
      this.#scanned = end;
      return null;
    }
    this.#start = lf + 1;
    const lineEnd = lf > start && this.#buffer[lf - 1] === CR ? lf - 1 : lf;
    this.#lastEndingLength = lf + 1 - lineEnd;
    if (lineEnd - start > this.maxLineLength) {
      throw new FrameTooLongError(lineEnd - start, this.maxLineLength);
    }
    return new Uint8Array(this.#buffer.buffer, start, lineEnd - start);
  }

  /**
   * Reads exactly `count` bytes, whatever they hold.
   *
   * @param count Bytes to read, from 0 to `maxBytes`.
   * @returns A view of the bytes, valid until the next feed; or `null` when fewer than
   *   `count` are held (nothing is consumed then).
   * @throws {FrameTooLongError} When `count` is over `maxBytes`; nothing is consumed.
   * @throws {RangeError} When `count` is not a non-negative integer.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new Uint8Array([1, 2, 3]));
   * assertEquals(cursor.readBytes(4), null);
   * assertEquals(cursor.readBytes(2), new Uint8Array([1, 2]));
   * ```
   */
  readBytes(count: number): Uint8Array | null {
    nonNegativeInteger("count", count);
    if (count > this.maxBytes) throw new FrameTooLongError(count, this.maxBytes);
    const start = this.#start;
    if (this.#end - start < count) return null;
    this.#start = start + count;
    return new Uint8Array(this.#buffer.buffer, start, count);
  }

  /**
   * Drops up to `count` of the bytes held, without `maxBytes` limit: to pass over a payload
   * refused for its size, call it after each feed until it has dropped them all.
   *
   * @param count Bytes to drop.
   * @returns Bytes dropped: `count`, or fewer when fewer are held.
   * @throws {RangeError} When `count` is not a non-negative integer.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new Uint8Array([1, 2, 3]));
   * assertEquals(cursor.skip(5), 3);
   * assertEquals(cursor.buffered, 0);
   * ```
   */
  skip(count: number): number {
    nonNegativeInteger("count", count);
    const skipped = Math.min(count, this.#end - this.#start);
    this.#start += skipped;
    return skipped;
  }

  /**
   * Goes back to a {@linkcode ByteCursor.position} taken since the last feed, to read the bytes
   * after it again.
   *
   * @param position A position taken since the last feed, at or before the current one.
   * @throws {RangeError} When the bytes at `position` are no longer held.
   *
   * @example
   * ```ts
   * import { ByteCursor } from "@speedo/speedo/framing";
   * import { assertEquals } from "@std/assert";
   *
   * const cursor = new ByteCursor();
   * cursor.feed(new TextEncoder().encode("$3\r\nab"));
   * const start = cursor.position;
   * cursor.readLine();
   * assertEquals(cursor.readBytes(3), null);
   * cursor.rewind(start);
   * assertEquals(cursor.buffered, 6);
   * ```
   */
  rewind(position: number): void {
    const index = position - this.#base;
    if (!Number.isInteger(position) || index < this.#floor || index > this.#start) {
      throw new RangeError(
        `Cannot rewind to position ${position}: positions ${
          this.#base + this.#floor
        } to ${this.position} are held`,
      );
    }
    this.#start = index;
  }

  /** Records that the unread bytes now start at index 0 and that `held` of them are held. */
  #moved(held: number): void {
    const start = this.#start;
    this.#base += start;
    this.#scanStart = this.#scanStart === start ? 0 : -1;
    this.#scanned -= start;
    this.#start = this.#floor = 0;
    this.#end = held;
  }
}

/** A power of two, at least `length` and at least MIN_CAPACITY. */
function capacityFor(length: number): number {
  let capacity = MIN_CAPACITY;
  while (capacity < length) capacity *= 2;
  return capacity;
}
