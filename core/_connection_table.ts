/**
 * Connection ids and the table of open connections, shared with the workers.
 *
 * An id is `sequence * 2^20 + slot`: the slot indexes the table, the sequence (unique per
 * connection) tells a live connection from an earlier one of the same slot. The table holds,
 * in a SharedArrayBuffer, the sequence of the connection open in each slot (0 when free), so
 * any thread can tell whether an id is still open without a round trip.
 */

const SLOT_SPAN = 2 ** 20;
/** Most connections a table can hold. */
export const MAX_SLOTS = SLOT_SPAN;

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
  #sequence = 0;
  #size = 0;

  constructor(capacity: number) {
    this.sequences = new Int32Array(new SharedArrayBuffer(capacity * 4));
    this.#items = new Array(capacity);
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
    // Sequences stay in 1..2^31-1 so they fit the shared Int32Array; wrapping takes 2^31 connections.
    this.#sequence = this.#sequence === 0x7fffffff ? 1 : this.#sequence + 1;
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
