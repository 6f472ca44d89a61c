/**
 * The worker pool: runs the message handler on Web Workers, or inline on the I/O thread when
 * its size is 0. Internal: the server builds one from its options (`Server.resize` changes
 * its size). It is the orchestrator of four parts, each in its own module:
 *
 * - `_pool_routing.ts`: each connection's route (which target its messages go to, what
 *   waits), with its state table, and key placement;
 * - `_pool_worker.ts`: one worker (its thread, its messages in flight, its replies), which
 *   crosses through a `_worker_link.ts` (`_ring_link.ts` or `_batch_link.ts`);
 * - `_inline_runner.ts`: the handler on the I/O thread.
 *
 * The pool itself keeps the workers: its size, the slots that place keys, the round-robin pick
 * of new pins, resize (growing starts workers, shrinking retires the newest), the replacement
 * of a worker that dies, and close.
 *
 * @module
 */

import { DEFAULT_RING_CAPACITY } from "./_ring.ts";
import type { InFlightCounter } from "./_in_flight_counter.ts";
import { InlineRunner, isHandlerObject } from "./_inline_runner.ts";
import {
  INLINE,
  keyHash,
  type MessageSource,
  PoolRouter,
  type RouteTarget,
  type RouteTargets,
} from "./_pool_routing.ts";
import {
  PoolWorker,
  type PoolWorkerHost,
  type ReplySink,
  type WorkerTransport,
} from "./_pool_worker.ts";
import type { MessageHandler } from "./message_handler.ts";

export type { MessageSource } from "./_pool_routing.ts";
export type { ReplySink, WorkerTransport } from "./_pool_worker.ts";

/** Default time a worker has to load its handler module. */
const DEFAULT_START_TIMEOUT = 10_000;

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The message handler: a module URL (its default export is the handler), which workers can
   * load, or a handler object, which runs inline only.
   */
  handler: string | URL | MessageHandler;
  /** Workers to start; 0 handles messages inline on the I/O thread. */
  size: number;
  /**
   * Startup data for the handler: structured-clonable, given (a clone) to its `init` once per
   * worker, and once inline, before its first message.
   */
  data?: unknown;
  /** The bound on messages submitted and not yet done; the pool admits and completes them. */
  inFlight: InFlightCounter;
  /** Where workers' replies go. */
  sink: ReplySink;
  /**
   * Per I/O loop of the server, the shared sequences of its open connections, for
   * `handle.open` and writes in workers (one entry for a server of one loop).
   */
  sequences: readonly Int32Array[];
  /**
   * Time a worker has to load its handler module, in milliseconds.
   *
   * @default {10000}
   */
  startTimeout?: number;
  /**
   * How batches cross to and from workers: `"ring"` writes them into two shared-memory rings
   * per worker, woken with `Atomics.waitAsync`; `"batch"` posts one transferred buffer per
   * worker per turn. The ring still posts a batch over a quarter of its capacity (a mark keeps
   * its place in the ring's order), since copying it through would cost more than the post.
   * The ring is faster for small messages and even for large ones (README's benchmarks).
   *
   * @default {"ring"}
   */
  transport?: WorkerTransport;
  /**
   * Bytes of each ring (one per direction per worker) with the ring transport; a power of two,
   * at least 4096. A batch larger than a quarter of it crosses by `postMessage` (transferred,
   * in its place in the order), so large messages cost no copies through the ring.
   *
   * @default {1048576}
   */
  ringCapacity?: number;
  /**
   * Messages of one connection that may be handled at once. 1: a worker handles its messages
   * one at a time (a handler's promise holds the next message), inline a connection's next
   * message waits for its promise, and replies keep the order of the messages. Above 1: a
   * handler's promise holds nothing; up to this many messages of a connection run at once and
   * their replies leave as each finishes, in any order (for protocols whose replies name their
   * request, such as RPC ids). A message still counts in flight until its promise settles,
   * and a connection that ends waits for all of them.
   *
   * @default {1}
   */
  concurrency?: number;
}

/**
 * The worker count that fits the machine: one worker per core but one, since the I/O thread
 * keeps a core busy itself, and at least one: every thread more than the cores costs wake-ups
 * and preemptions (README's benchmarks compare 1 and 2 workers on 2 cores).
 *
 * @param cores The cores to count on.
 * @returns `max(1, cores - 1)`.
 *
 * @example
 * ```ts
 * import { defaultWorkerCount } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(defaultWorkerCount(8), 7);
 * assertEquals(defaultWorkerCount(1), 1);
 * ```
 */
export function defaultWorkerCount(cores: number = navigator.hardwareConcurrency): number {
  if (!Number.isInteger(cores) || cores < 1) {
    throw new RangeError(`cores must be a positive integer, got ${cores}`);
  }
  return Math.max(1, cores - 1);
}

/**
 * Runs the message handler on a pool of Web Workers, or inline on the I/O thread when the size
 * is 0.
 *
 * - Each connection's messages follow its route (`_pool_routing.ts`): to one target at a
 *   time, so its replies keep their order (with `concurrency` 1; above it, up to that many
 *   messages of a connection run at once, finishing in any order). A message with a key goes
 *   to its key's worker. Messages are routed as they are submitted: packed into the target
 *   worker's batch (the one copy), or handled inline at once with the payload as a view of
 *   the read buffer (no copy; a payload that is not keepable is copied for a handler that
 *   keeps payloads).
 * - Crossings are batched: a turn's messages for a worker are packed into one blob, and its
 *   replies come back the same way, through two shared-memory rings per worker (the default)
 *   or one transferred buffer per `postMessage` (`transport: "batch"`).
 * - A handler that throws fails that message only. A worker that dies is replaced (in its
 *   slot: its keys stay with its replacement); the messages it held are failed (the protocol
 *   handler tells its peer), never lost silently. A worker that cannot start is not
 *   replaced: that error is reported once.
 * - Every message submitted and not done counts in the in-flight counter, which is what
 *   pauses reading when the handlers fall behind.
 */
export class WorkerPool implements RouteTargets {
  readonly concurrency: number;
  readonly #handler: string | URL | MessageHandler;
  readonly #data: unknown;
  readonly #sink: ReplySink;
  readonly #sequences: readonly Int32Array[];
  readonly #startTimeout: number;
  readonly #transport: WorkerTransport;
  readonly #ringCapacity: number;
  readonly #inline: InlineRunner;
  readonly #router: PoolRouter;
  readonly #workerHost: PoolWorkerHost;
  /** Every worker not dead, retiring ones too (they still answer). */
  #workers: PoolWorker[] = [];
  /** The worker of each slot, `size` of them: where keys are placed. */
  #slots: (PoolWorker | undefined)[] = [];
  #nextWorkerIndex = 0;
  #roundRobin = 0;
  #size: number;
  #postScheduled = false;
  #closed = false;

  /**
   * Makes a pool; {@linkcode WorkerPool.start} starts it.
   *
   * @param options The handler, size, counter and sink.
   */
  constructor(options: WorkerPoolOptions) {
    checkSize(options.size);
    if (options.size > 0 && isHandlerObject(options.handler)) {
      throw new TypeError(
        "A handler object cannot cross to workers: pass the URL of a module whose default export is the handler, or use 0 workers",
      );
    }
    try {
      structuredClone(options.data);
    } catch (error) {
      throw new TypeError(`The handler's startup data must be structured-clonable: ${error}`);
    }
    this.#handler = options.handler;
    this.#data = options.data;
    this.#sink = options.sink;
    this.#sequences = options.sequences;
    this.#startTimeout = options.startTimeout ?? DEFAULT_START_TIMEOUT;
    this.#transport = options.transport ?? "ring";
    if (this.#transport !== "batch" && this.#transport !== "ring") {
      throw new TypeError(`transport must be "batch" or "ring", got "${this.#transport}"`);
    }
    this.#ringCapacity = options.ringCapacity ?? DEFAULT_RING_CAPACITY;
    const capacity = this.#ringCapacity;
    if (
      this.#transport === "ring" &&
      (!Number.isInteger(capacity) || capacity < 4096 || (capacity & (capacity - 1)) !== 0)
    ) {
      throw new RangeError(
        `Ring capacity must be a power of two of at least 4096, got ${capacity}`,
      );
    }
    this.#size = options.size;
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65_536) {
      throw new RangeError(`concurrency must be an integer from 1 to 65536, got ${concurrency}`);
    }
    this.concurrency = concurrency;
    this.#inline = new InlineRunner(options.handler, options.data, (id) => this.#sink.handle(id));
    this.#router = new PoolRouter(this, options.inFlight, this.#inline);
    this.#workerHost = {
      sink: this.#sink,
      done: (source, count) => this.#router.done(source, count),
      ended: (worker) => {
        this.#workers = this.#workers.filter((w) => w !== worker);
      },
      died: (worker) => {
        // A replacement takes the slot, and with it the slot's keys.
        if (this.#closed || worker.slot >= this.#size || this.#slots[worker.slot] !== worker) {
          return;
        }
        this.#spawn(worker.slot).catch((error) => this.#sink.error(error));
      },
    };
  }

  /** Times the inline handler for `observer` (`Server.observeHandlerTime`); undefined stops. */
  observeHandlerTime(observer: ((seconds: number) => void) | undefined): void {
    this.#inline.observer = observer;
  }

  /** Workers asked for (not counting retiring ones); 0 when inline. */
  get size(): number {
    return this.#size;
  }

  /** Workers started and not retired or dead: `size`, less replacements under way. */
  get running(): number {
    return this.#workers.filter((worker) => worker.live).length;
  }

  /** Messages posted to workers and not yet done. */
  get inFlight(): number {
    let count = 0;
    for (const worker of this.#workers) count += worker.inFlight;
    return count;
  }

  /**
   * Starts the workers (or loads the handler inline) and waits until each is ready.
   *
   * @throws {WorkerStartError} When the handler module fails to load.
   */
  async start(): Promise<void> {
    await this.resize(this.#size);
  }

  /**
   * Changes the number of workers. Growing waits for the new workers to be ready; shrinking
   * retires the newest workers, which end once the messages they hold are done. Resizing to 0
   * handles messages inline from then on. Keys are placed over the new size at once.
   *
   * @param size The new number of workers.
   * @throws {WorkerStartError} When a new worker cannot load the handler module.
   */
  async resize(size: number): Promise<void> {
    checkSize(size);
    if (this.#closed) throw new Error("The worker pool is closed");
    if (size > 0 && isHandlerObject(this.#handler)) {
      throw new TypeError("A handler object cannot cross to workers: pass a module URL");
    }
    if (size === 0) await this.#inline.load();
    this.#size = size;
    const slots = this.#slots;
    for (const worker of slots.slice(size)) worker?.retire();
    slots.length = size;
    const starting: Promise<void>[] = [];
    for (let slot = 0; slot < size; slot++) {
      if (slots[slot]?.live !== true) starting.push(this.#spawn(slot));
    }
    await Promise.all(starting);
  }

  /**
   * Hands a message to its target worker, or handles it inline now, or keeps it waiting its
   * turn (see `_pool_routing.ts`).
   *
   * @param source The connection it comes from.
   * @param payload The framed bytes; a view that may be reused once this returns `false`.
   * @param type The message type.
   * @param flags `DispatchFlag` bits: `keepable` (an inline handler may keep `payload` as it
   *   is; the caller gives its buffer up when this returns `true`), `overtake`.
   * @param key The key that places it on a worker, if any.
   * @returns Whether an inline handler is still running on `payload` itself (keepable only).
   */
  submit(
    source: MessageSource,
    payload: Uint8Array,
    type: number,
    flags: number,
    key?: string | number,
  ): boolean {
    return this.#router.submit(source, payload, type, flags, key);
  }

  /**
   * Ends every worker at once. Messages they hold are failed; a server calls it once its
   * messages are done, for a graceful stop.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of [...this.#workers]) worker.kill("The worker pool closed");
    await Promise.resolve();
  }

  /** The next live worker round-robin; inline when the size is 0 (or none is live). */
  pick(): RouteTarget {
    if (this.#size === 0) return INLINE;
    const workers = this.#workers;
    const count = workers.length;
    for (let i = 0; i < count; i++) {
      const worker = workers[(this.#roundRobin + i) % count];
      if (worker.live) {
        this.#roundRobin = (this.#roundRobin + i + 1) % count;
        return worker;
      }
    }
    return INLINE;
  }

  /** The worker of a key's slot; another live one while the slot has none. */
  place(key: string | number): RouteTarget {
    const size = this.#size;
    if (size === 0) return INLINE;
    const worker = this.#slots[size === 1 ? 0 : keyHash(key) % size];
    return worker !== undefined && worker.live ? worker : this.pick();
  }

  isCurrent(target: RouteTarget): boolean {
    return target === INLINE ? this.#size === 0 : target.live && this.#size > 0;
  }

  schedulePost(): void {
    if (this.#postScheduled) return;
    this.#postScheduled = true;
    queueMicrotask(this.#post);
  }

  /** Posts every worker's batch: one crossing per worker per turn. */
  readonly #post = (): void => {
    this.#postScheduled = false;
    for (const worker of this.#workers) worker.flush();
  };

  #spawn(slot: number): Promise<void> {
    const worker = new PoolWorker({
      index: this.#nextWorkerIndex++,
      slot,
      module: String(this.#handler),
      data: this.#data,
      sequences: this.#sequences,
      concurrency: this.concurrency,
      transport: this.#transport,
      ringCapacity: this.#ringCapacity,
      startTimeout: this.#startTimeout,
    }, this.#workerHost);
    this.#workers.push(worker);
    this.#slots[slot] = worker;
    return worker.started;
  }
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > 1024) {
    throw new RangeError(`Worker count must be an integer from 0 to 1024, got ${size}`);
  }
}
