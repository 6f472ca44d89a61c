/**
 * The packed form of many records crossing between the I/O thread and a worker in one
 * transferred ArrayBuffer: one `postMessage` per batch instead of one per message.
 *
 * ```
 *  record: ┌ tag u16 ┬ connection id f64 ┬ length u32 ┬ bytes … ┐   (little-endian)
 *          0         2                   10           14
 * ```
 *
 * Towards a worker the tag is the message type; back from it, a {@linkcode ReplyOp} (a `fail`
 * record carries the error text, in order with the writes around it; a `done` record, last,
 * carries in its id how many messages are done, in the order they came; a `doneFor` record,
 * where messages finish in any order, how many messages of the connection in its id are done,
 * as a u32).
 */

const HEADER = 14;

/** What a record from a worker asks of the I/O thread. */
export const ReplyOp = { write: 1, close: 2, fail: 3, done: 4, doneFor: 5 } as const;

/** Accumulates records into a growable buffer; `take` hands the buffer over for transfer. */
export class BatchWriter {
  #buffer: ArrayBuffer;
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;
  #count = 0;
  /** Offset of the last record if `append` may grow it, else -1. */
  #last = -1;
  #lastTag = 0;
  #lastId = 0;
  readonly #initialSize: number;

  constructor(initialSize = 4096) {
    this.#initialSize = initialSize;
    this.#buffer = new ArrayBuffer(initialSize);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#view = new DataView(this.#buffer);
  }

  /** Records written since the last `take`. */
  get count(): number {
    return this.#count;
  }

  add(tag: number, id: number, bytes?: Uint8Array): void {
    this.#last = -1;
    const length = bytes === undefined ? 0 : bytes.length;
    this.#reserve(HEADER + length);
    const at = this.#length;
    this.#view.setUint16(at, tag, true);
    this.#view.setFloat64(at + 2, id, true);
    this.#view.setUint32(at + 10, length, true);
    if (length > 0) this.#bytes.set(bytes!, at + HEADER);
    this.#length = at + HEADER + length;
    this.#count++;
  }

  /**
   * Adds bytes as a record, or, when the last record has the same tag and id, grows that one:
   * consecutive writes to one connection then cost the reader one record.
   */
  append(tag: number, id: number, bytes: Uint8Array): void {
    const last = this.#last;
    if (last >= 0 && this.#lastTag === tag && this.#lastId === id) {
      this.#reserve(bytes.length);
      this.#bytes.set(bytes, this.#length);
      this.#length += bytes.length;
      this.#view.setUint32(last + 10, this.#length - last - HEADER, true);
      return;
    }
    const at = this.#length;
    this.add(tag, id, bytes);
    this.#last = at;
    this.#lastTag = tag;
    this.#lastId = id;
  }

  /** Adds a record whose bytes are UTF-8 text, encoded in place. */
  addText(tag: number, id: number, text: string): void {
    this.#last = -1;
    this.#reserve(HEADER + text.length * 3);
    const at = this.#length;
    const { written } = encoder.encodeInto(text, this.#bytes.subarray(at + HEADER));
    this.#view.setUint16(at, tag, true);
    this.#view.setFloat64(at + 2, id, true);
    this.#view.setUint32(at + 10, written, true);
    this.#length = at + HEADER + written;
    this.#count++;
  }

  /** Returns the batch and starts a new buffer; the batch's buffer is the caller's to transfer. */
  take(): { buffer: ArrayBuffer; length: number } {
    const batch = { buffer: this.#buffer, length: this.#length };
    // The next batch is likely the size of this one: start there (up to 4 MiB) to spare regrowth.
    let size = this.#initialSize;
    while (size < this.#length && size < 1 << 22) size *= 2;
    this.#buffer = new ArrayBuffer(size);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#view = new DataView(this.#buffer);
    this.#length = 0;
    this.#count = 0;
    this.#last = -1;
    return batch;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.byteLength) return;
    let size = this.#buffer.byteLength * 2;
    while (size < needed) size *= 2;
    const grown = new ArrayBuffer(size);
    const bytes = new Uint8Array(grown);
    bytes.set(this.#bytes.subarray(0, this.#length));
    this.#buffer = grown;
    this.#bytes = bytes;
    this.#view = new DataView(grown);
  }
}

const encoder = new TextEncoder();

/** Walks the records of a batch; the fields describe the current record after `next()`. */
export class BatchReader {
  tag = 0;
  id = 0;
  /** A view of the record's bytes in the batch buffer. */
  bytes: Uint8Array = new Uint8Array(0);
  readonly #buffer: ArrayBufferLike;
  readonly #view: DataView;
  readonly #length: number;
  #at = 0;

  constructor(buffer: ArrayBuffer, length: number) {
    this.#buffer = buffer;
    this.#view = new DataView(buffer, 0, length);
    this.#length = length;
  }

  next(): boolean {
    const at = this.#at;
    if (at + HEADER > this.#length) return false;
    this.tag = this.#view.getUint16(at, true);
    this.id = this.#view.getFloat64(at + 2, true);
    const length = this.#view.getUint32(at + 10, true);
    // The constructor makes a view faster than subarray does (~40 ns against ~62 ns).
    this.bytes = new Uint8Array(this.#buffer, at + HEADER, length);
    this.#at = at + HEADER + length;
    return true;
  }
}
