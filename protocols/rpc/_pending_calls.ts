/**
 * The calls of an `RpcClient` waiting for their replies: a table indexed by id, and
 * the queue of the calls with the client's default timeout, oldest first.
 *
 * Ids are handed out in sequence, so a power-of-two table indexed by the id's low bits finds a
 * call with one array read: an id whose slot is held by an older call still waiting is skipped,
 * and the table doubles before it is half full. A Map costs 8 times more (50 calls added and
 * taken: 160 ns a call against 20), its hash table rebuilt as each batch of calls comes and
 * goes.
 *
 * ```
 *  slots (8):  [ 8 | 1 | · | 3 | · | · | 6 | · ]     call id → slot id & 7
 *  queue:      head → 1, 3, (5 settled), 6, 8 ← tail  default-timeout calls, in the order made
 * ```
 *
 * The queue is a ring of calls; a call settled is dropped from it when it reaches the head (in
 * the usual case, replies in order, at once), or when the ring is full (then the calls still
 * waiting are packed, and the ring grows only if that leaves it more than half full).
 *
 * @module
 */

/** A call waiting for its reply: its promise, and what can settle it first. */
export class PendingCall {
  /** The request's id. */
  readonly id: number;
  /** The service called. */
  readonly type: number;
  /** Settles with the reply's body, or the call's error. */
  readonly promise: Promise<Uint8Array>;
  /** Resolves {@linkcode PendingCall.promise}. */
  resolve!: (body: Uint8Array) => void;
  /** Rejects {@linkcode PendingCall.promise}. */
  reject!: (error: unknown) => void;
  /** The call's own timer, for a timeout other than the client's default. */
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /**
   * When a call with the default timeout expires (`performance.now()` time): `Infinity` until
   * its turn ends and the client dates it.
   */
  deadline = Infinity;
  /** The call's abort signal, and its listener on it. */
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(id: number, type: number) {
    this.id = id;
    this.type = type;
    // An executor costs less than `Promise.withResolvers` and the object it returns.
    this.promise = new Promise<Uint8Array>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

const MIN_SLOTS = 64;
const MIN_QUEUE = 64;
/** An empty table larger than this goes back to its first size. */
const SHRINK_ABOVE = 4096;

/** The table of pending calls by id, and the queue of those with the default timeout. */
export class PendingCalls {
  #slots: (PendingCall | undefined)[] = emptySlots(MIN_SLOTS);
  #mask = MIN_SLOTS - 1;
  #size = 0;
  #nextId: number;
  #queue: (PendingCall | undefined)[] = emptySlots(MIN_QUEUE);
  #queueMask = MIN_QUEUE - 1;
  /** Positions in the ring (not wrapped); `#tail - #head` entries are queued. */
  #head = 0;
  #tail = 0;

  /** @param firstId The first id handed out (tests start near the wrap). */
  constructor(firstId = 1) {
    this.#nextId = firstId >>> 0;
  }

  /** Calls waiting. */
  get size(): number {
    return this.#size;
  }

  /** Entries of the queue, settled calls not yet dropped included. */
  get queued(): number {
    return this.#tail - this.#head;
  }

  /**
   * The id for the next call: the next in sequence (wrapping at 2^32 - 1, never 0) whose slot
   * is free, so never the id of a call still waiting.
   */
  nextId(): number {
    if (this.#size >= this.#slots.length >>> 1) this.#grow();
    const slots = this.#slots;
    const mask = this.#mask;
    let id = this.#nextId;
    while (id === 0 || slots[id & mask] !== undefined) id = (id + 1) >>> 0;
    this.#nextId = (id + 1) >>> 0;
    return id;
  }

  /**
   * Adds a call whose id {@linkcode PendingCalls.nextId} just gave.
   *
   * @param queued Whether it has the default timeout: then it joins the queue, made last.
   */
  add(call: PendingCall, queued: boolean): void {
    this.#slots[call.id & this.#mask] = call;
    this.#size++;
    if (!queued) return;
    if (this.#tail - this.#head > this.#queueMask) this.#packQueue();
    this.#queue[this.#tail++ & this.#queueMask] = call;
  }

  /** Removes and returns the call of `id`, or `undefined` when none is waiting with it. */
  take(id: number): PendingCall | undefined {
    const index = id & this.#mask;
    const call = this.#slots[index];
    if (call === undefined || call.id !== id) return undefined;
    this.#remove(call, index);
    return call;
  }

  /** Removes `call`; `false` when it was settled already. */
  delete(call: PendingCall): boolean {
    const index = call.id & this.#mask;
    if (this.#slots[index] !== call) return false;
    this.#remove(call, index);
    return true;
  }

  /** The oldest call of the queue still waiting, or `undefined`. */
  oldest(): PendingCall | undefined {
    this.#dropSettled();
    return this.#head === this.#tail ? undefined : this.#queue[this.#head & this.#queueMask];
  }

  /** Removes and returns every call waiting. */
  takeAll(): PendingCall[] {
    const calls = this.#slots.filter((call) => call !== undefined);
    this.#slots = emptySlots(MIN_SLOTS);
    this.#mask = MIN_SLOTS - 1;
    this.#size = 0;
    this.#queue = emptySlots(MIN_QUEUE);
    this.#queueMask = MIN_QUEUE - 1;
    this.#head = this.#tail = 0;
    return calls;
  }

  #remove(call: PendingCall, index: number): void {
    this.#slots[index] = undefined;
    if (--this.#size === 0 && this.#slots.length > SHRINK_ABOVE) {
      this.takeAll();
    } else if (this.#head !== this.#tail) {
      // Replies come in order, mostly: the call settled is then the head of the queue. With none
      // waiting, every queued call is settled: the queue empties.
      const head = this.#head & this.#queueMask;
      if (this.#queue[head] === call) {
        this.#queue[head] = undefined;
        this.#head++;
        this.#dropSettled();
      } else if (this.#size === 0) {
        this.#dropSettled();
      }
    }
  }

  #isWaiting(call: PendingCall): boolean {
    return this.#slots[call.id & this.#mask] === call;
  }

  /** Drops settled calls from the head of the queue. */
  #dropSettled(): void {
    const queue = this.#queue;
    const mask = this.#queueMask;
    while (this.#head !== this.#tail) {
      const index = this.#head & mask;
      if (this.#isWaiting(queue[index]!)) return;
      queue[index] = undefined;
      this.#head++;
    }
    this.#head = this.#tail = 0;
  }

  /** The queue is full: packs the calls still waiting, in order, and grows if they fill half. */
  #packQueue(): void {
    const old = this.#queue;
    const oldMask = this.#queueMask;
    const waiting: PendingCall[] = [];
    for (let at = this.#head; at !== this.#tail; at++) {
      const call = old[at & oldMask]!;
      if (this.#isWaiting(call)) waiting.push(call);
    }
    let size = old.length;
    while (waiting.length > size >>> 1) size *= 2;
    const queue = emptySlots(size);
    for (let i = 0; i < waiting.length; i++) queue[i] = waiting[i];
    this.#queue = queue;
    this.#queueMask = size - 1;
    this.#head = 0;
    this.#tail = waiting.length;
  }

  /** Doubles the table: calls keep distinct slots, since their ids differ in the low bits. */
  #grow(): void {
    const slots = emptySlots(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (const call of this.#slots) if (call !== undefined) slots[call.id & mask] = call;
    this.#slots = slots;
    this.#mask = mask;
  }
}

function emptySlots(size: number): (PendingCall | undefined)[] {
  return new Array<PendingCall | undefined>(size).fill(undefined);
}
