/**
 * A single-producer, single-consumer queue of byte blobs in a SharedArrayBuffer: the shared-
 * memory transport between the I/O thread and one worker (one ring per direction). A blob is
 * one packed batch of records (see `_batch.ts`).
 *
 * ```
 *  control (64 bytes, Int32):  head | tail | seq | consumerWaiting | spaceSeq | producerWaiting
 *  data (capacity bytes):      [length i32 | flags i32 | bytes … | pad to 8] [ … ] …
 * ```
 *
 * `head` and `tail` count bytes since creation, modulo 2^32. A blob larger than what fits is
 * written as several records, all but the last flagged MORE, and the consumer joins them; a
 * record never crosses the end of the data area: the last bytes before it, when fewer than a
 * record header and 8 bytes, are skipped by both sides.
 * The consumer copies each blob out before releasing its space, so what it hands on is
 * ordinary memory.
 *
 * Wake-ups: a side that finds nothing to do sets its "waiting" flag, checks once more, and
 * waits with `Atomics.waitAsync` (its event loop stays free for timers and promises); the other
 * side notifies only when the flag is set, so a busy consumer costs the producer no syscall.
 *
 * @module
 */

const HEAD = 0;
const TAIL = 1;
const SEQ = 2;
const CONSUMER_WAITING = 3;
const SPACE_SEQ = 4;
const PRODUCER_WAITING = 5;
const CONTROL_BYTES = 64;
const RECORD_HEADER = 8;
const MORE = 1;

/** Default bytes of a ring's data area: 1 MiB per direction per worker. */
export const DEFAULT_RING_CAPACITY = 1 << 20;

/**
 * Stands in the ring for a blob that crossed by `postMessage` instead: a blob longer than a
 * quarter of the ring is transferred (no copy), where the ring would copy it in and out, in
 * parts. The mark keeps its place in the order; a batch is never one byte long.
 */
export const POSTED_MARK: Uint8Array = new Uint8Array([0xff]);

/** Whether a blob of `length` bytes crosses by `postMessage` past a ring of `capacity` bytes. */
export function crossesByPost(length: number, capacity: number): boolean {
  return length > capacity >> 2;
}

/** Whether a blob read from a ring is {@linkcode POSTED_MARK}. */
export function isPostedMark(blob: Uint8Array): boolean {
  return blob.length === 1;
}

/** A batch that crossed by `postMessage`: its transferred buffer and its length. */
export interface PostedBatch {
  buffer: ArrayBuffer;
  length: number;
}

/**
 * The consumer's side of the posted batches: they arrive by `postMessage`, in order, and wait
 * here until the ring reader reaches their marks.
 */
export class PostedBatches {
  #batches: PostedBatch[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;

  /** A batch arrived by `postMessage`. */
  push(batch: PostedBatch): void {
    this.#batches.push(batch);
    this.#wake();
  }

  /** The batch of the mark just read, once it arrived; `undefined` once closed. */
  async take(): Promise<PostedBatch | undefined> {
    while (this.#batches.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    return this.#closed ? undefined : this.#batches.shift();
  }

  /** Ends a pending `take`: the other thread is gone. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    this.#waiter?.();
    this.#waiter = undefined;
  }
}

/** One end (producer or consumer) of a ring over shared memory. */
export class ByteRing {
  /** The shared memory, to post to the other thread. */
  readonly buffer: SharedArrayBuffer;
  readonly #control: Int32Array<SharedArrayBuffer>;
  readonly #data: Uint8Array<SharedArrayBuffer>;
  readonly #words: DataView<SharedArrayBuffer>;
  readonly #capacity: number;
  #closed = false;
  /** Producer side: the consumer's head when `write` last looked. */
  #headAtWrite = 0;
  /** Consumer side: the tail last seen by `read`, to wait for news beyond it. */
  #seenTail = 0;
  /** Consumer side: the parts read so far of a blob larger than one record. */
  #parts: Uint8Array[] = [];
  #partsLength = 0;

  /**
   * Makes a ring's memory.
   *
   * @param capacity Bytes of the data area: a power of two, at least 4 KiB.
   */
  static create(capacity: number = DEFAULT_RING_CAPACITY): ByteRing {
    if (!Number.isInteger(capacity) || capacity < 4096 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(
        `Ring capacity must be a power of two of at least 4096, got ${capacity}`,
      );
    }
    return new ByteRing(new SharedArrayBuffer(CONTROL_BYTES + capacity));
  }

  /** Opens an end of the ring whose memory is `buffer`. */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.#data = new Uint8Array(buffer, CONTROL_BYTES);
    this.#words = new DataView(buffer, CONTROL_BYTES);
    this.#capacity = buffer.byteLength - CONTROL_BYTES;
  }

  /** Bytes of the data area. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Consumer: whether records came in since `read` last looked. */
  get hasNews(): boolean {
    return Atomics.load(this.#control, TAIL) !== this.#seenTail;
  }

  /**
   * Producer: writes as much of `blob` from `offset` as fits, and publishes it.
   *
   * @returns The new offset: `blob.length` once the whole blob is in.
   */
  write(blob: Uint8Array, offset = 0): number {
    const control = this.#control;
    const capacity = this.#capacity;
    let tail = Atomics.load(control, TAIL);
    const head = Atomics.load(control, HEAD);
    let free = capacity - ((tail - head) >>> 0);
    while (offset < blob.length) {
      let at = tail & (capacity - 1);
      const contiguous = capacity - at;
      if (contiguous < RECORD_HEADER + 8) {
        if (free < contiguous + RECORD_HEADER + 8) break;
        tail = (tail + contiguous) | 0;
        free -= contiguous;
        continue;
      }
      const room = Math.min(contiguous, free) - RECORD_HEADER;
      if (room < 8) break;
      const length = Math.min(blob.length - offset, room & ~7, capacity >> 2);
      const last = offset + length === blob.length;
      this.#words.setInt32(at, length, true);
      this.#words.setInt32(at + 4, last ? 0 : MORE, true);
      at += RECORD_HEADER;
      this.#data.set(blob.subarray(offset, offset + length), at);
      const size = RECORD_HEADER + ((length + 7) & ~7);
      tail = (tail + size) | 0;
      free -= size;
      offset += length;
      if (last) break;
    }
    Atomics.store(control, TAIL, tail);
    this.#headAtWrite = head;
    if (Atomics.load(control, CONSUMER_WAITING) === 1) {
      Atomics.store(control, CONSUMER_WAITING, 0);
      Atomics.add(control, SEQ, 1);
      Atomics.notify(control, SEQ);
    }
    return offset;
  }

  /**
   * Consumer: takes the next whole blob, copied out of the ring, or `null` when no whole blob
   * is there yet. The parts of a blob larger than the ring are copied out (and their space
   * released) as they come, so such a blob streams through.
   */
  read(): Uint8Array | null {
    const capacity = this.#capacity;
    let head = Atomics.load(this.#control, HEAD);
    const tail = Atomics.load(this.#control, TAIL);
    this.#seenTail = tail;
    while (head !== tail) {
      let at = head & (capacity - 1);
      if (capacity - at < RECORD_HEADER + 8) {
        head = (head + (capacity - at)) | 0;
        continue;
      }
      const length = this.#words.getInt32(at, true);
      const more = this.#words.getInt32(at + 4, true) === MORE;
      at += RECORD_HEADER;
      const part = this.#data.slice(at, at + length);
      head = (head + RECORD_HEADER + ((length + 7) & ~7)) | 0;
      this.#release(head);
      if (!more && this.#parts.length === 0) return part;
      this.#parts.push(part);
      this.#partsLength += length;
      if (!more) return this.#joinParts();
    }
    return null;
  }

  #joinParts(): Uint8Array {
    const blob = new Uint8Array(this.#partsLength);
    let offset = 0;
    for (const part of this.#parts) {
      blob.set(part, offset);
      offset += part.length;
    }
    this.#parts = [];
    this.#partsLength = 0;
    return blob;
  }

  #release(head: number): void {
    const control = this.#control;
    Atomics.store(control, HEAD, head);
    if (Atomics.load(control, PRODUCER_WAITING) === 1) {
      Atomics.store(control, PRODUCER_WAITING, 0);
      Atomics.add(control, SPACE_SEQ, 1);
      Atomics.notify(control, SPACE_SEQ);
    }
  }

  /** Consumer: resolves once records came in since `read` last looked (or on close). */
  async waitForData(): Promise<void> {
    const control = this.#control;
    while (!this.#closed && !this.hasNews) {
      const seq = Atomics.load(control, SEQ);
      Atomics.store(control, CONSUMER_WAITING, 1);
      if (this.hasNews || this.#closed) {
        Atomics.store(control, CONSUMER_WAITING, 0);
        return;
      }
      const wait = Atomics.waitAsync(control, SEQ, seq);
      if (wait.async) await wait.value;
    }
  }

  /**
   * Producer: resolves once the consumer released space since the last `write` (or the ring
   * was closed).
   */
  async waitForSpace(): Promise<void> {
    const control = this.#control;
    while (!this.#closed && Atomics.load(control, HEAD) === this.#headAtWrite) {
      const seq = Atomics.load(control, SPACE_SEQ);
      Atomics.store(control, PRODUCER_WAITING, 1);
      if (Atomics.load(control, HEAD) !== this.#headAtWrite || this.#closed) {
        Atomics.store(control, PRODUCER_WAITING, 0);
        return;
      }
      const wait = Atomics.waitAsync(control, SPACE_SEQ, seq);
      if (wait.async) await wait.value;
    }
  }

  /** Ends every wait on this end: the other thread is gone. */
  close(): void {
    this.#closed = true;
    Atomics.add(this.#control, SEQ, 1);
    Atomics.notify(this.#control, SEQ);
    Atomics.add(this.#control, SPACE_SEQ, 1);
    Atomics.notify(this.#control, SPACE_SEQ);
  }

  /** Whether `close` was called on this end. */
  get closed(): boolean {
    return this.#closed;
  }
}
