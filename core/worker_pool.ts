import { BatchReader, BatchWriter, ReplyOp } from "./_batch.ts";
import {
  ByteRing,
  crossesByPost,
  DEFAULT_RING_CAPACITY,
  isPostedMark,
  POSTED_MARK,
  PostedBatches,
} from "./_ring.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { MessageFailedError, WorkerStartError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { MessageHandler, MessageHandlerContext } from "./message_handler.ts";
import type { InFlightCounter } from "./_in_flight_counter.ts";

const decoder = new TextDecoder();

/** Default time a worker has to load its handler module. */
const DEFAULT_START_TIMEOUT = 10_000;

/**
 * The connection a message comes from, as the pool sees it on the I/O thread. The server's
 * connections implement it; tests use `MemoryTransport`.
 */
export interface MessageSource {
  /** The connection's id. */
  readonly id: number;
  /** Its handle, given to the message handler. */
  readonly handle: ConnectionHandle;
  /** Routing state the pool keeps on the connection (which worker, what waits); pool-owned. */
  poolState: unknown;
  /** One message of this connection is done (handled, or failed). */
  messageDone(): void;
  /** One message of this connection failed: tell the peer, or close. */
  messageFailed(error: MessageFailedError): void;
}

/**
 * Where a {@linkcode WorkerPool} delivers what workers do, by connection id. The server
 * implements it; tests can record calls.
 */
export interface ReplySink {
  /** The handle of connection `id` on the I/O thread (closed if `id` is unknown). */
  handle(id: number): ConnectionHandle;
  /** A worker wrote `bytes` to connection `id`. */
  write(id: number, bytes: Uint8Array): void;
  /** A worker closed connection `id`. */
  close(id: number): void;
  /** A message of connection `error.connectionId` failed in a worker. */
  failed(error: MessageFailedError): void;
  /** Something went wrong that concerns no one connection (a worker died, say). */
  error(error: Error): void;
}

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The message handler: a module URL (its default export is the handler), which workers can
   * load, or a handler object, which runs inline only.
   */
  handler: string | URL | MessageHandler;
  /** Workers to start; 0 handles messages inline on the I/O thread. */
  size: number;
  /** The bound on messages submitted and not yet done; the pool admits and completes them. */
  inFlight: InFlightCounter;
  /** Where workers' replies go. */
  sink: ReplySink;
  /** The shared table of open connections, for `handle.open` and writes in workers. */
  sequences: Int32Array;
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
   * Measured with echo through 1 worker on 2 cores, the ring was 15-45% faster for small
   * messages (16-byte lines: 0.32x raw Deno against 0.22x at 1 connection, 0.82x against 0.67x
   * at 50, 0.65x against 0.56x at 50x16) and even with batch for 1 MiB lines (0.27x, 0.28x).
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
   * request, such as RPC ids). A message still counts against the queue until its promise
   * settles, and a connection that ends waits for all of them.
   *
   * @default {1}
   */
  concurrency?: number;
}

/**
 * The worker count that fits the machine: one worker per core but one, since the I/O thread
 * keeps a core busy itself, and at least one. On 2 cores with the load generator on the same
 * box, echo through 1 worker measured 0.81-0.91x raw Deno at 50 connections, against 0.68x
 * with 2 workers: every thread more than the cores costs wake-ups and preemptions.
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

/** How batches cross between the I/O thread and the workers. */
export type WorkerTransport = "batch" | "ring";

/** Handles messages on the I/O thread; stands where a worker would in a pin. */
const INLINE = null;

interface PoolWorker {
  readonly index: number;
  readonly worker: Worker;
  readonly batch: BatchWriter;
  /** The ring transport's rings (to the worker, from it), or undefined. */
  readonly rings: { toWorker: ByteRing; toPool: ByteRing } | undefined;
  /** Batches waiting for room in the ring to the worker, in order, with what went in. */
  overflow: Uint8Array[];
  overflowOffset: number;
  /** Ring transport: reply batches that crossed by `postMessage`, until their mark is read. */
  readonly postedReplies: PostedBatches;
  /** The sources of the messages posted and not yet done, oldest first (concurrency 1). */
  inFlight: MessageSource[];
  inFlightHead: number;
  /**
   * With concurrency above 1, where messages finish in any order: the connections with
   * messages on this worker, by id (each pin's `inFlight` counts them).
   */
  readonly sources: Map<number, MessageSource>;
  state: "starting" | "ready" | "retiring" | "dead";
}

/** Where a connection's messages go, kept on the connection itself (no lookup per message). */
interface Pin {
  target: PoolWorker | typeof INLINE;
  /** Messages handed to the target and not yet done. */
  inFlight: number;
  /** Messages waiting, in order, for the messages in flight to finish (copied payloads). */
  waiting: Message[] | undefined;
}

/**
 * Runs the message handler on a pool of Web Workers, or inline on the I/O thread when the size
 * is 0.
 *
 * - A connection's messages all go to one target (its pin: a worker picked round-robin at its
 *   first message, or the I/O thread), so its replies keep their order (with `concurrency`
 *   1; above it, up to that many messages of a connection run at once, finishing in any
 *   order, and the next wait for one of them to finish). Messages are routed
 *   as they are submitted: packed into the target worker's batch (the one copy), or handled
 *   inline at once with the payload as a view of the read buffer (no copy; a frame that
 *   lies elsewhere, such as one a decoder assembled, is copied for a handler that keeps it).
 * - Crossings are batched: a turn's messages for a worker are packed into one blob, and its
 *   replies come back the same way, through two shared-memory rings per worker (the default)
 *   or one transferred buffer per `postMessage` (`transport: "batch"`).
 * - Inline, a handler that returns a promise holds its connection's next messages (copied)
 *   until it settles, as a worker would; other connections go on.
 * - When a connection's worker is retired or dies, or the pool switches between workers and
 *   inline, its next messages wait until its messages in flight are done, then it is re-pinned.
 * - A handler that throws fails that message only. A worker that dies is replaced; the
 *   messages it held are failed (the protocol handler tells its peer), never lost silently.
 *   A worker that cannot start is not replaced: that error is reported once.
 * - Every message submitted and not done counts against the queue's capacity, which is what
 *   pauses reading when the handlers fall behind.
 *
 * The server builds its pool from its options and exposes it as `server.pool` for `resize`.
 *
 * @example Inline, with a handler object
 * ```ts
 * import { WorkerPool } from "@speedo/speedo";
 * import { InFlightCounter } from "./_in_flight_counter.ts";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const transport = new MemoryTransport();
 * const pool = new WorkerPool({
 *   handler: { onMessage: (message, connection) => void connection.write(message.payload) },
 *   size: 0,
 *   inFlight: new InFlightCounter(),
 *   sink: transport.sink,
 *   sequences: new Int32Array(1),
 * });
 * await pool.start();
 * pool.submit(transport, new TextEncoder().encode("hi"), 0);
 * assertEquals(transport.text(), "hi");
 * await pool.close();
 * ```
 */
export class WorkerPool {
  readonly #handler: string | URL | MessageHandler;
  readonly #counter: InFlightCounter;
  readonly #sink: ReplySink;
  readonly #sequences: Int32Array;
  readonly #startTimeout: number;
  readonly #transport: WorkerTransport;
  readonly #ringCapacity: number;
  readonly #inlineContext: MessageHandlerContext;
  readonly #concurrency: number;
  #workers: PoolWorker[] = [];
  #nextWorkerIndex = 0;
  #roundRobin = 0;
  #size: number;
  #inline: MessageHandler | undefined;
  #postScheduled = false;
  #closed = false;

  /**
   * Makes a pool; {@linkcode WorkerPool.start} starts it.
   *
   * @param options The handler, size, queue and sink.
   */
  constructor(options: WorkerPoolOptions) {
    checkSize(options.size);
    if (options.size > 0 && isHandlerObject(options.handler)) {
      throw new TypeError(
        "A handler object cannot cross to workers: pass the URL of a module whose default export is the handler, or use 0 workers",
      );
    }
    this.#handler = options.handler;
    this.#counter = options.inFlight;
    this.#sink = options.sink;
    this.#sequences = options.sequences;
    this.#startTimeout = options.startTimeout ?? DEFAULT_START_TIMEOUT;
    this.#transport = options.transport ?? "ring";
    if (this.#transport !== "batch" && this.#transport !== "ring") {
      throw new TypeError(`transport must be "batch" or "ring", got "${this.#transport}"`);
    }
    this.#ringCapacity = options.ringCapacity ?? DEFAULT_RING_CAPACITY;
    if (this.#transport === "ring") ByteRing.create(this.#ringCapacity); // checks the capacity
    this.#size = options.size;
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65_536) {
      throw new RangeError(`concurrency must be an integer from 1 to 65536, got ${concurrency}`);
    }
    this.#concurrency = concurrency;
    this.#inlineContext = { workerIndex: -1, handle: (id) => this.#sink.handle(id) };
  }

  /** Workers asked for (not counting retiring ones); 0 when inline. */
  get size(): number {
    return this.#size;
  }

  /** Workers started and not retired or dead: `size`, less replacements under way. */
  get running(): number {
    return this.#workers.filter(isLive).length;
  }

  /** Messages posted to workers and not yet done. */
  get inFlight(): number {
    let count = 0;
    for (const worker of this.#workers) {
      count += worker.inFlight.length - worker.inFlightHead;
      for (const source of worker.sources.values()) count += (source.poolState as Pin).inFlight;
    }
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
   * handles messages inline from then on.
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
    if (size === 0) await this.#loadInline();
    this.#size = size;
    const live = this.#workers.filter(isLive);
    for (const worker of live.slice(size)) this.#retire(worker);
    const starting: Promise<void>[] = [];
    for (let i = live.length; i < size; i++) starting.push(this.#spawn());
    await Promise.all(starting);
  }

  /**
   * Hands a message to its connection's worker, or handles it inline now.
   *
   * @param source The connection it comes from.
   * @param payload The framed bytes; a view that may be reused once this returns `false`.
   * @param type The message type.
   * @param keepable Whether an inline handler may keep `payload` as it is: `true` for a view
   *   of the caller's read buffer, which the caller gives up when this returns `true`, or for
   *   bytes nobody reuses. `false` (the default) for a view of a buffer that later chunks
   *   overwrite, such as a decoder's buffer of a frame assembled from several chunks: an
   *   inline handler that keeps payloads gets a copy.
   * @param overtake Whether it goes ahead of the connection's messages waiting their turn (to
   *   a target that is current; see `DispatchOptions.overtake`).
   * @returns Whether an inline handler is still running on the message: with `keepable`, on
   *   `payload` itself, whose buffer the caller must then not reuse (without it, on a copy).
   */
  submit(
    source: MessageSource,
    payload: Uint8Array,
    type: number,
    keepable = false,
    overtake = false,
  ): boolean {
    let pin = source.poolState as Pin | undefined;
    if (pin === undefined) {
      pin = { target: this.#pick(), inFlight: 0, waiting: undefined };
      source.poolState = pin;
    }
    const message: Message = { connectionId: source.id, type, payload };
    if (
      (pin.waiting !== undefined || (pin.inFlight > 0 && !this.#canTake(pin))) &&
      !(overtake && this.#isCurrent(pin.target))
    ) {
      this.#counter.admit(1);
      (pin.waiting ??= []).push({ connectionId: source.id, type, payload: payload.slice() });
      return false;
    }
    return this.#route(source, pin, message, keepable);
  }

  /**
   * Ends every worker at once. Messages they hold are failed; a server calls it once its
   * messages are done, for a graceful stop.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of [...this.#workers]) this.#kill(worker, "The worker pool closed");
    await Promise.resolve();
  }

  /** Whether the pin's target can take another message now, keeping order. */
  #canTake(pin: Pin): boolean {
    const target = pin.target;
    // Concurrency 1: inline runs one message of a connection at a time; a worker queues them.
    // A target no longer current (the pool resized) takes nothing until its messages are done.
    if (target === INLINE) return this.#size === 0 && pin.inFlight < this.#concurrency;
    return isLive(target) && this.#size > 0 &&
      (this.#concurrency === 1 || pin.inFlight < this.#concurrency);
  }

  /** Routes a message that nothing of its connection waits ahead of; see `submit`. */
  #route(source: MessageSource, pin: Pin, message: Message, keepable: boolean): boolean {
    if (pin.inFlight === 0 && !this.#isCurrent(pin.target)) pin.target = this.#pick();
    const target = pin.target;
    if (target === INLINE) {
      if (this.#inline === undefined) return this.#fail(source, message, "No worker is running");
      if (!keepable && this.#inline.keepsPayload !== false) {
        // The handler may read the payload after it returns, and the buffer it lies in is
        // not the caller's to give up: later chunks would overwrite it under the handler.
        message = {
          connectionId: message.connectionId,
          type: message.type,
          payload: message.payload.slice(),
        };
      }
      return this.#runInline(source, pin, message);
    }
    if (!isLive(target)) return this.#fail(source, message, "No worker is running");
    pin.inFlight++;
    this.#counter.admit(1);
    if (this.#concurrency === 1) target.inFlight.push(source);
    else if (pin.inFlight === 1) target.sources.set(source.id, source); // its first one there
    target.batch.add(message.type, source.id, message.payload);
    if (!this.#postScheduled) {
      this.#postScheduled = true;
      queueMicrotask(this.#post);
    }
    return false;
  }

  /** Whether a pin's target is where new messages should go now. */
  #isCurrent(target: PoolWorker | typeof INLINE): boolean {
    return target === INLINE ? this.#size === 0 : isLive(target) && this.#size > 0;
  }

  #fail(source: MessageSource, message: Message, reason: string): false {
    source.messageFailed(
      new MessageFailedError(message.connectionId, `${reason} to handle the message`),
    );
    source.messageDone();
    return false;
  }

  /** Posts every worker's batch: one `postMessage` per worker per turn. */
  readonly #post = (): void => {
    this.#postScheduled = false;
    for (const worker of this.#workers) {
      if (worker.batch.count === 0) continue;
      const { buffer, length } = worker.batch.take();
      if (worker.rings === undefined) {
        worker.worker.postMessage({ t: "batch", buffer, length }, [buffer]);
        continue;
      }
      if (crossesByPost(length, worker.rings.toWorker.capacity)) {
        worker.worker.postMessage({ t: "batch", buffer, length }, [buffer]);
        worker.overflow.push(POSTED_MARK);
      } else {
        worker.overflow.push(new Uint8Array(buffer, 0, length));
      }
      if (worker.overflow.length === 1) this.#fillRing(worker);
    }
  };

  /** Writes waiting batches into the worker's ring, in order, waiting for room when full. */
  async #fillRing(worker: PoolWorker): Promise<void> {
    const ring = worker.rings!.toWorker;
    while (worker.overflow.length > 0 && !ring.closed) {
      const batch = worker.overflow[0];
      worker.overflowOffset = ring.write(batch, worker.overflowOffset);
      if (worker.overflowOffset < batch.length) {
        await ring.waitForSpace();
        continue;
      }
      worker.overflow.shift();
      worker.overflowOffset = 0;
    }
  }

  /** Reads the worker's replies from its ring until the ring closes. */
  async #drainRing(worker: PoolWorker): Promise<void> {
    const ring = worker.rings!.toPool;
    while (!ring.closed) {
      const blob = ring.read();
      if (blob === null) await ring.waitForData();
      else if (!isPostedMark(blob)) {
        this.#onReplies(worker, blob.buffer as ArrayBuffer, blob.length);
      } else {
        const posted = await worker.postedReplies.take();
        if (posted === undefined) return;
        this.#onReplies(worker, posted.buffer, posted.length);
      }
    }
  }

  #runInline(source: MessageSource, pin: Pin, message: Message): boolean {
    let result: void | Promise<void>;
    try {
      result = this.#inline!.onMessage(message, source.handle, this.#inlineContext);
    } catch (error) {
      source.messageFailed(inlineFailure(source.id, error));
      source.messageDone();
      return false;
    }
    if (!(result instanceof Promise)) {
      source.messageDone();
      return false;
    }
    pin.inFlight++;
    this.#counter.admit(1);
    result.then(
      () => this.#inlineSettled(source, pin),
      (error) => {
        source.messageFailed(inlineFailure(source.id, error));
        this.#inlineSettled(source, pin);
      },
    );
    return this.#inline!.keepsPayload !== false;
  }

  #inlineSettled(source: MessageSource, pin: Pin): void {
    pin.inFlight--;
    source.messageDone();
    this.#counter.complete(1);
    this.#release(source, pin);
  }

  /** Routes the messages that waited for the connection's messages in flight, in order. */
  #release(source: MessageSource, pin: Pin): void {
    while (pin.waiting !== undefined && (pin.inFlight === 0 || this.#canTake(pin))) {
      const message = pin.waiting.shift()!;
      if (pin.waiting.length === 0) pin.waiting = undefined;
      // It was admitted when it began to wait; routing admits it again if it stays in flight.
      this.#counter.complete(1);
      this.#route(source, pin, message, true); // its payload is the pool's own copy
    }
  }

  #pick(): PoolWorker | typeof INLINE {
    if (this.#size === 0) return INLINE;
    const count = this.#workers.length;
    for (let i = 0; i < count; i++) {
      const worker = this.#workers[(this.#roundRobin + i) % count];
      if (isLive(worker)) {
        this.#roundRobin = (this.#roundRobin + i + 1) % count;
        return worker;
      }
    }
    return INLINE;
  }

  async #loadInline(): Promise<void> {
    if (this.#inline !== undefined) return;
    const handler = this.#handler;
    if (isHandlerObject(handler)) {
      this.#inline = handler;
      return;
    }
    let module;
    try {
      module = await import(String(handler));
    } catch (error) {
      throw new WorkerStartError(`Cannot load handler module ${handler}: ${errorText(error)}`, {
        cause: error,
      });
    }
    if (typeof module.default?.onMessage !== "function") {
      throw new WorkerStartError(`Module ${handler} has no default export with onMessage`);
    }
    this.#inline = module.default;
  }

  #spawn(): Promise<void> {
    const index = this.#nextWorkerIndex++;
    const rings = this.#transport === "ring"
      ? {
        toWorker: ByteRing.create(this.#ringCapacity),
        toPool: ByteRing.create(this.#ringCapacity),
      }
      : undefined;
    const worker: PoolWorker = {
      index,
      worker: new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
      batch: new BatchWriter(),
      rings,
      overflow: [],
      overflowOffset: 0,
      postedReplies: new PostedBatches(),
      inFlight: [],
      inFlightHead: 0,
      sources: new Map(),
      state: "starting",
    };
    this.#workers.push(worker);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#kill(worker, "The worker did not start in time");
      reject(new WorkerStartError(`Worker ${index} did not start within ${this.#startTimeout} ms`));
    }, this.#startTimeout);
    worker.worker.onmessage = (event) => {
      const data = event.data;
      if (data.t === "replies") {
        if (rings === undefined) this.#onReplies(worker, data.buffer, data.length);
        // Handled when the drain reaches its mark in the ring, in order.
        else worker.postedReplies.push(data);
      } else if (data.t === "ready") {
        clearTimeout(timer);
        if (worker.state === "starting") worker.state = "ready";
        if (rings !== undefined) this.#drainRing(worker);
        resolve();
      } else if (data.t === "fatal") {
        clearTimeout(timer);
        this.#kill(worker, `Worker ${index} could not start`);
        reject(new WorkerStartError(`Worker ${index} could not start: ${data.message}`));
      }
    };
    worker.worker.onerror = (event) => {
      // Without this the error would end the whole process.
      event.preventDefault();
      const wasStarting = worker.state === "starting";
      const message = `Worker ${index} died: ${event.message}`;
      this.#kill(worker, message);
      this.#sink.error(new Error(message));
      if (wasStarting) {
        clearTimeout(timer);
        reject(new WorkerStartError(message));
      } else if (!this.#closed && this.running < this.#size) {
        this.#spawn().catch((error) => this.#sink.error(error));
      }
    };
    worker.worker.postMessage({
      t: "init",
      module: String(this.#handler),
      index,
      sequences: this.#sequences.buffer,
      concurrency: this.#concurrency,
      rings: rings && { toWorker: rings.toWorker.buffer, toPool: rings.toPool.buffer },
    });
    return promise;
  }

  #onReplies(worker: PoolWorker, buffer: ArrayBuffer, length: number): void {
    if (worker.state === "dead") return;
    const reader = new BatchReader(buffer, length);
    while (reader.next()) {
      const tag = reader.tag;
      if (tag === ReplyOp.write) this.#sink.write(reader.id, reader.bytes);
      else if (tag === ReplyOp.done) this.#finish(worker, reader.id);
      else if (tag === ReplyOp.doneFor) this.#finishFor(worker, reader.id, readCount(reader.bytes));
      else if (tag === ReplyOp.close) this.#sink.close(reader.id);
      else if (tag === ReplyOp.fail) {
        const text = decoder.decode(reader.bytes);
        this.#sink.failed(new MessageFailedError(reader.id, `Message handler failed: ${text}`));
      }
    }
    if (worker.state === "retiring" && isIdle(worker)) this.#kill(worker, "retired");
  }

  /** Marks `count` messages of connection `id` on `worker` as done (concurrency above 1). */
  #finishFor(worker: PoolWorker, id: number, count: number): void {
    const source = worker.sources.get(id);
    if (source === undefined) return;
    const pin = source.poolState as Pin;
    count = Math.min(count, pin.inFlight);
    pin.inFlight -= count;
    if (pin.inFlight === 0) worker.sources.delete(id);
    for (let i = 0; i < count; i++) source.messageDone();
    this.#counter.complete(count);
    if (pin.waiting !== undefined) this.#release(source, pin);
  }

  /** Marks the `count` oldest messages in flight on `worker` as done. */
  #finish(worker: PoolWorker, count: number): void {
    const sources = worker.inFlight;
    const end = worker.inFlightHead + count;
    let released: MessageSource[] | undefined;
    for (let i = worker.inFlightHead; i < end; i++) {
      const source = sources[i];
      const pin = source.poolState as Pin;
      pin.inFlight--;
      source.messageDone();
      if (pin.waiting !== undefined && pin.inFlight === 0) (released ??= []).push(source);
    }
    worker.inFlightHead = end;
    if (end === sources.length) {
      worker.inFlight = [];
      worker.inFlightHead = 0;
    } else if (end > 1024 && end * 2 > sources.length) {
      worker.inFlight = sources.slice(end);
      worker.inFlightHead = 0;
    }
    this.#counter.complete(count);
    if (released !== undefined) {
      for (const source of released) this.#release(source, source.poolState as Pin);
    }
  }

  #retire(worker: PoolWorker): void {
    if (isIdle(worker)) this.#kill(worker, "retired");
    else worker.state = "retiring";
  }

  /** Ends a worker; the messages it held fail. */
  #kill(worker: PoolWorker, reason: string): void {
    if (worker.state === "dead") return;
    worker.state = "dead";
    worker.worker.terminate();
    worker.rings?.toWorker.close();
    worker.rings?.toPool.close();
    worker.postedReplies.close();
    this.#workers = this.#workers.filter((w) => w !== worker);
    for (const source of [...worker.sources.values()]) {
      for (let i = (source.poolState as Pin).inFlight; i > 0; i--) {
        source.messageFailed(new MessageFailedError(source.id, reason));
        this.#finishFor(worker, source.id, 1);
      }
    }
    const lost = worker.inFlight.length - worker.inFlightHead;
    if (lost === 0) return;
    for (let i = worker.inFlightHead; i < worker.inFlight.length; i++) {
      const source = worker.inFlight[i];
      source.messageFailed(new MessageFailedError(source.id, reason));
    }
    this.#finish(worker, lost);
  }
}

/** The count of a `doneFor` record: a u32, little-endian. */
function readCount(bytes: Uint8Array): number {
  return (bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24) >>> 0;
}

/** Whether no message posted to the worker is still to be done. */
function isIdle(worker: PoolWorker): boolean {
  return worker.inFlight.length === worker.inFlightHead && worker.sources.size === 0;
}

function isLive(worker: PoolWorker): boolean {
  return worker.state === "ready" || worker.state === "starting";
}

function isHandlerObject(handler: string | URL | MessageHandler): handler is MessageHandler {
  return typeof handler === "object" && !(handler instanceof URL);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > 1024) {
    throw new RangeError(`Worker count must be an integer from 0 to 1024, got ${size}`);
  }
}

function inlineFailure(id: number, error: unknown): MessageFailedError {
  return new MessageFailedError(id, `Message handler failed: ${errorText(error)}`, {
    cause: error,
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
