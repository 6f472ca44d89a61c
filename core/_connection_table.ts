/**
 * Connection ids and the table of open connections, shared with the workers.
 *
 * An id is `sequence * 2^20 + slot`: the slot indexes the table, the sequence (unique per
 * connection) tells a live connection from an earlier one of the same slot. The table holds,
 * in a SharedArrayBuffer, the sequence of the connection open in each slot (0 when free), so
 * any thread can tell whether an id is still open without a round trip.
 *
 * A server of several I/O loops has one table per loop. The sequences of loop `L` of `N` are
 * `L + 1`, `L + 1 + N`, ...: an id names its loop (`loopOf`), and every thread that holds the
 * loops' shared sequences (`isOpenAmong`) can tell whether any id is open, on any loop.
 */

const SLOT_SPAN = 2 ** 20;
/** Most connections a table can hold. */
export const MAX_SLOTS = SLOT_SPAN;

/** The loop of `id` among `count` loops. */
export function loopOf(id: number, count: number): number {
  if (count === 1) return 0;
  return (Math.floor(id / SLOT_SPAN) - 1) % count;
}

/** Whether `id` is open, read from the shared sequences of every loop's table, by loop. */
export function isOpenAmong(loops: readonly Int32Array<ArrayBufferLike>[], id: number): boolean {
  // An id that no loop gave (sequence 0, negative, fractional) names no table.
  const table = loops[loopOf(id, loops.length)];
  return table !== undefined && isOpenIn(table, id);
}

/** Where a table sits among the loops of a server, and the memory it shares. */
export interface ConnectionTableOptions {
  /** Its loop. @default {0} */
  loop?: number;
  /** The server's loops. @default {1} */
  count?: number;
  /**
   * The shared sequences to use (`capacity` entries), kept by whoever outlives the table: a
   * loop replaced after it died takes over its predecessor's, zeroed.
   *
   * @default {a new SharedArrayBuffer}
   */
  sequences?: Int32Array<SharedArrayBuffer>;
}

/** Whether `id` is open, read from a table's shared sequences. */
export function isOpenIn(sequences: Int32Array<ArrayBufferLike>, id: number): boolean {
  const slot = id % SLOT_SPAN;
  return slot < sequences.length && Atomics.load(sequences, slot) === (id - slot) / SLOT_SPAN;
}

/** The I/O thread's side: allocates ids and maps them to connections. */
export class ConnectionTable<T> {
  /** Per slot, the sequence of the open connection, or 0; share it with workers. */
  readonly sequences: Int32Array<SharedArrayBuffer>;
  #items: (T | undefined)[];
  #free: number[] = [];
  #fresh = 0;
  #sequence: number;
  readonly #first: number;
  readonly #step: number;
  #size = 0;

  constructor(capacity: number, options: ConnectionTableOptions = {}) {
    this.sequences = options.sequences ?? new Int32Array(new SharedArrayBuffer(capacity * 4));
    if (this.sequences.length < capacity) {
      throw new RangeError(`A table of ${capacity} needs as many shared sequences`);
    }
    this.#items = new Array(capacity);
    this.#step = options.count ?? 1;
    this.#first = (options.loop ?? 0) + 1;
    this.#sequence = this.#first - this.#step;
  }

  /** Open entries. */
  get size(): number {
    return this.#size;
  }

  /** Adds the entry that `create` makes for a new id; `undefined` when the table is full. */
  add(create: (id: number) => T): T | undefined {
    let slot: number;
    if (this.#free.length > 0) slot = this.#free.pop()!;
    else if (this.#fresh < this.#items.length) slot = this.#fresh++;
    else return undefined;
    // Sequences stay in 1..2^31-1 so they fit the shared Int32Array; wrapping takes 2^31 / N
    // connections of one loop, and keeps the sequence's loop.
    this.#sequence = this.#sequence > 0x7fffffff - this.#step
      ? this.#first
      : this.#sequence + this.#step;
    const item = create(this.#sequence * SLOT_SPAN + slot);
    Atomics.store(this.sequences, slot, this.#sequence);
    this.#items[slot] = item;
    this.#size++;
    return item;
  }

  /** The open entry with this id, or `undefined`. */
  get(id: number): T | undefined {
    return isOpenIn(this.sequences, id) ? this.#items[id % SLOT_SPAN] : undefined;
  }

  /** Removes the entry with this id; returns whether it was open. */
  remove(id: number): boolean {
    if (!isOpenIn(this.sequences, id)) return false;
    const slot = id % SLOT_SPAN;
    Atomics.store(this.sequences, slot, 0);
    this.#items[slot] = undefined;
    this.#free.push(slot);
    this.#size--;
    return true;
  }

  /** Every open entry. */
  *values(): IterableIterator<T> {
    for (let slot = 0; slot < this.#fresh; slot++) {
      const item = this.#items[slot];
      if (item !== undefined) yield item;
    }
  }
}
