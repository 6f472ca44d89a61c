import { BatchReader, BatchWriter, ReplyOp } from "./_batch.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { MessageFailedError, WorkerStartError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { MessageHandler, MessageHandlerContext } from "./message_handler.ts";
import type { MessageQueue } from "./message_queue.ts";

const decoder = new TextDecoder();

/** Default time a worker has to load its handler module. */
const DEFAULT_START_TIMEOUT = 10_000;

/**
 * Where a {@linkcode WorkerPool} delivers what handlers do. The server implements it; tests can
 * record calls.
 */
export interface ReplySink {
  /** The handle of connection `id` on the I/O thread (closed if `id` is unknown). */
  handle(id: number): ConnectionHandle;
  /** A worker wrote `bytes` to connection `id`. */
  write(id: number, bytes: Uint8Array): void;
  /** A worker closed connection `id`. */
  close(id: number): void;
  /** A message of connection `id` is done (handled, or failed). */
  done(id: number): void;
  /** A message of connection `id` failed. */
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
  /** The queue the pool drains. */
  queue: MessageQueue<Message>;
  /** Where replies go. */
  sink: ReplySink;
  /** The shared table of open connections, for `handle.open` and writes in workers. */
  sequences: Int32Array;
  /**
   * Time a worker has to load its handler module, in milliseconds.
   *
   * @default {10000}
   */
  startTimeout?: number;
}

interface Pin {
  worker: PoolWorker;
  inFlight: number;
  closed: boolean;
}

interface PoolWorker {
  readonly index: number;
  readonly worker: Worker;
  readonly batch: BatchWriter;
  /** Connection ids of the messages posted and not yet done, oldest first. */
  inFlight: number[];
  inFlightHead: number;
  state: "starting" | "ready" | "retiring" | "dead";
}

/**
 * Runs the message handler on a pool of Web Workers, or inline on the I/O thread when the size
 * is 0, draining a {@linkcode MessageQueue}.
 *
 * - Crossings are batched: at most one `postMessage` per worker per drain in each direction,
 *   the messages packed into one transferred buffer.
 * - A connection's messages all go to one worker (its pin), picked round-robin at its first
 *   message, so its replies keep their order. When a worker is retired or dies, the
 *   connection is re-pinned once its messages in flight are done.
 * - A handler that throws fails that message only. A worker that dies is replaced; the
 *   messages it held are failed (the protocol handler tells its peer), never lost silently.
 *   A worker that cannot start is not replaced: that error is reported once.
 * - `resize(n)` at runtime: new workers start before they get work; retired ones finish what
 *   they hold, then end.
 *
 * The server builds its pool from its options and exposes it as `server.pool`.
 *
 * @example Inline, with a handler object
 * ```ts
 * import { type Message, MessageQueue, WorkerPool } from "@speedo/speedo";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const transport = new MemoryTransport();
 * const queue = new MessageQueue<Message>();
 * const pool = new WorkerPool({
 *   handler: { onMessage: (message, connection) => void connection.write(message.payload) },
 *   size: 0,
 *   queue,
 *   sink: transport.sink,
 *   sequences: new Int32Array(1),
 * });
 * await pool.start();
 * queue.push({ connectionId: transport.id, type: 0, payload: new TextEncoder().encode("hi") });
 * pool.drain();
 * assertEquals(transport.text(), "hi");
 * await pool.close();
 * ```
 */
export class WorkerPool {
  readonly #handler: string | URL | MessageHandler;
  readonly #queue: MessageQueue<Message>;
  readonly #sink: ReplySink;
  readonly #sequences: Int32Array;
  readonly #startTimeout: number;
  readonly #pins = new Map<number, Pin>();
  #workers: PoolWorker[] = [];
  #nextWorkerIndex = 0;
  #roundRobin = 0;
  #size: number;
  #inline: MessageHandler | undefined;
  #inlineContext: MessageHandlerContext;
  /** Messages waiting for their connection's retiring or dead worker to finish. */
  #held: Message[] = [];
  #drainScheduled = false;
  #closed = false;
  /** Connections whose inline handler is awaiting a promise, with their messages waiting. */
  readonly #inlineBusy = new Map<number, Message[]>();

  /**
   * Makes a pool; {@linkcode WorkerPool.start} starts it.
   *
   * @param options The handler, size, queue and sink.
   */
  constructor(options: WorkerPoolOptions) {
    checkSize(options.size);
    if (
      options.size > 0 && typeof options.handler === "object" && !(options.handler instanceof URL)
    ) {
      throw new TypeError(
        "A handler object cannot cross to workers: pass the URL of a module whose default export is the handler, or use 0 workers",
      );
    }
    this.#handler = options.handler;
    this.#queue = options.queue;
    this.#sink = options.sink;
    this.#sequences = options.sequences;
    this.#startTimeout = options.startTimeout ?? DEFAULT_START_TIMEOUT;
    this.#size = options.size;
    this.#inlineContext = { workerIndex: -1, handle: (id) => this.#sink.handle(id) };
  }

  /** Workers running or starting (not counting retiring ones); 0 when inline. */
  get size(): number {
    return this.#size;
  }

  /** Workers started and not retired or dead: what `size` asks for, less replacements under way. */
  get running(): number {
    return this.#liveCount();
  }

  /** Messages posted to workers and not yet done. */
  get inFlight(): number {
    let count = 0;
    for (const worker of this.#workers) count += worker.inFlight.length - worker.inFlightHead;
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
   * handles messages inline from then on (after the retired workers finish theirs).
   *
   * @param size The new number of workers.
   * @throws {WorkerStartError} When a new worker cannot load the handler module.
   */
  async resize(size: number): Promise<void> {
    checkSize(size);
    if (this.#closed) throw new Error("The worker pool is closed");
    if (size > 0 && typeof this.#handler === "object" && !(this.#handler instanceof URL)) {
      throw new TypeError("A handler object cannot cross to workers: pass a module URL");
    }
    if (size === 0) await this.#loadInline();
    this.#size = size;
    const live = this.#workers.filter((w) => w.state === "starting" || w.state === "ready");
    for (const worker of live.slice(size)) this.#retire(worker);
    const starting: Promise<void>[] = [];
    for (let i = live.length; i < size; i++) starting.push(this.#spawn());
    await Promise.all(starting);
    this.schedule();
  }

  /** Drains the queue on the next microtask, once however many messages were pushed. */
  schedule(): void {
    if (this.#drainScheduled || this.#closed) return;
    this.#drainScheduled = true;
    queueMicrotask(this.#drainTask);
  }

  readonly #drainTask = (): void => {
    this.#drainScheduled = false;
    this.drain();
  };

  /**
   * Hands every waiting message to a worker (one post per worker), or handles them inline.
   * The server calls it through {@linkcode WorkerPool.schedule}; tests may call it directly.
   */
  drain(): void {
    if (this.#closed) return;
    if (this.#size === 0 && this.#inline !== undefined) {
      if (this.#held.length > 0) this.#releaseHeld();
      if (this.#held.length === 0) this.#drainInline();
      return;
    }
    if (this.#held.length > 0) this.#releaseHeld();
    for (let message = this.#queue.shift(); message !== undefined; message = this.#queue.shift()) {
      this.#route(message);
    }
    for (const worker of this.#workers) {
      if (worker.batch.count === 0) continue;
      const { buffer, length } = worker.batch.take();
      worker.worker.postMessage({ t: "batch", buffer, length }, [buffer]);
    }
  }

  /** Forgets connection `id`'s pin once its messages in flight are done. */
  forget(id: number): void {
    const pin = this.#pins.get(id);
    if (pin === undefined) return;
    if (pin.inFlight === 0) this.#pins.delete(id);
    else pin.closed = true;
  }

  /**
   * Ends every worker at once. Messages they hold are failed; call it after the queue drained
   * for a graceful stop.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of [...this.#workers]) this.#kill(worker, "The worker pool closed");
    await Promise.resolve();
  }

  #drainInline(): void {
    let completed = 0;
    for (let message = this.#queue.shift(); message !== undefined; message = this.#queue.shift()) {
      if (this.#runInline(message)) completed++;
    }
    // One queue update per drain instead of one per message.
    if (completed > 0) this.#queue.complete(completed);
  }

  /**
   * Runs a message on the I/O thread. A connection whose handler returned a promise gets its
   * next messages only once that promise settles, as in a worker; other connections go on.
   *
   * @returns Whether the message is done now (the caller completes it in the queue).
   */
  #runInline(message: Message): boolean {
    const id = message.connectionId;
    const waiting = this.#inlineBusy.get(id);
    if (waiting !== undefined) {
      waiting.push(message);
      return false;
    }
    let result: void | Promise<void>;
    try {
      result = this.#inline!.onMessage(message, this.#sink.handle(id), this.#inlineContext);
    } catch (error) {
      this.#sink.failed(inlineFailure(id, error));
      this.#sink.done(id);
      return true;
    }
    if (result instanceof Promise) {
      this.#inlineBusy.set(id, []);
      result.then(
        () => this.#inlineSettled(id),
        (error) => {
          this.#sink.failed(inlineFailure(id, error));
          this.#inlineSettled(id);
        },
      );
      return false;
    }
    this.#sink.done(id);
    return true;
  }

  #inlineSettled(id: number): void {
    this.#sink.done(id);
    this.#queue.complete(1);
    const waiting = this.#inlineBusy.get(id)!;
    this.#inlineBusy.delete(id);
    for (const message of waiting) {
      if (this.#runInline(message)) this.#queue.complete(1);
    }
  }

  #route(message: Message): void {
    const id = message.connectionId;
    let pin = this.#pins.get(id);
    if (pin !== undefined && pin.worker.state !== "ready" && pin.worker.state !== "starting") {
      if (pin.inFlight > 0) {
        this.#held.push(message);
        return;
      }
      const worker = this.#pick();
      if (worker === undefined) return this.#routeNowhere(message);
      pin.worker = worker;
    }
    if (pin === undefined) {
      const worker = this.#pick();
      if (worker === undefined) return this.#routeNowhere(message);
      pin = { worker, inFlight: 0, closed: false };
      this.#pins.set(id, pin);
    }
    pin.inFlight++;
    pin.worker.inFlight.push(id);
    pin.worker.batch.add(message.type, id, message.payload);
  }

  /** No worker can take the message: inline if the pool is inline now, else fail it. */
  #routeNowhere(message: Message): void {
    if (this.#size === 0 && this.#inline !== undefined) {
      this.#held.push(message);
      return;
    }
    const id = message.connectionId;
    this.#sink.failed(new MessageFailedError(id, "No worker is running to handle the message"));
    this.#sink.done(id);
    this.#queue.complete(1);
  }

  /** Re-routes held messages, in order; those still blocked are held again. */
  #releaseHeld(): void {
    const held = this.#held;
    this.#held = [];
    if (this.#size === 0 && this.#inline !== undefined) {
      // Inline: held messages run first, once no worker holds messages of their connection.
      for (const message of held) {
        const pin = this.#pins.get(message.connectionId);
        if (pin !== undefined && pin.inFlight > 0) this.#held.push(message);
        else if (this.#runInline(message)) this.#queue.complete(1);
      }
      return;
    }
    for (const message of held) this.#route(message);
  }

  #pick(): PoolWorker | undefined {
    const count = this.#workers.length;
    for (let i = 0; i < count; i++) {
      const worker = this.#workers[(this.#roundRobin + i) % count];
      if (worker.state === "ready" || worker.state === "starting") {
        this.#roundRobin = (this.#roundRobin + i + 1) % count;
        return worker;
      }
    }
    return undefined;
  }

  async #loadInline(): Promise<void> {
    if (this.#inline !== undefined) return;
    const handler = this.#handler;
    if (typeof handler === "object" && !(handler instanceof URL)) {
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
    const worker: PoolWorker = {
      index,
      worker: new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
      batch: new BatchWriter(),
      inFlight: [],
      inFlightHead: 0,
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
      if (data.t === "replies") this.#onReplies(worker, data);
      else if (data.t === "ready") {
        clearTimeout(timer);
        if (worker.state === "starting") worker.state = "ready";
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
      } else if (!this.#closed && this.#liveCount() < this.#size) {
        this.#spawn().catch((error) => this.#sink.error(error));
      }
    };
    worker.worker.postMessage({
      t: "init",
      module: String(this.#handler),
      index,
      sequences: this.#sequences.buffer,
    });
    return promise;
  }

  #onReplies(
    worker: PoolWorker,
    data: { buffer: ArrayBuffer; length: number; done: number },
  ): void {
    const reader = new BatchReader(data.buffer, data.length);
    while (reader.next()) {
      if (reader.tag === ReplyOp.write) this.#sink.write(reader.id, reader.bytes);
      else if (reader.tag === ReplyOp.close) this.#sink.close(reader.id);
      else if (reader.tag === ReplyOp.fail) {
        const text = decoder.decode(reader.bytes);
        this.#sink.failed(new MessageFailedError(reader.id, `Message handler failed: ${text}`));
      }
    }
    if (data.done > 0) this.#finish(worker, data.done);
    if (worker.state === "retiring" && worker.inFlight.length === worker.inFlightHead) {
      this.#kill(worker, "retired");
    }
    if (this.#held.length > 0) this.schedule();
  }

  /** Marks the `count` oldest messages in flight on `worker` as done. */
  #finish(worker: PoolWorker, count: number): void {
    const ids = worker.inFlight;
    const end = worker.inFlightHead + count;
    for (let i = worker.inFlightHead; i < end; i++) {
      const id = ids[i];
      const pin = this.#pins.get(id);
      if (pin !== undefined && --pin.inFlight === 0 && pin.closed) this.#pins.delete(id);
      this.#sink.done(id);
    }
    worker.inFlightHead = end;
    if (end === ids.length) {
      worker.inFlight = [];
      worker.inFlightHead = 0;
    } else if (end > 1024 && end * 2 > ids.length) {
      worker.inFlight = ids.slice(end);
      worker.inFlightHead = 0;
    }
    this.#queue.complete(count);
  }

  #retire(worker: PoolWorker): void {
    if (worker.inFlight.length === worker.inFlightHead) this.#kill(worker, "retired");
    else worker.state = "retiring";
  }

  /** Ends a worker; the messages it held fail. */
  #kill(worker: PoolWorker, reason: string): void {
    if (worker.state === "dead") return;
    worker.state = "dead";
    worker.worker.terminate();
    this.#workers = this.#workers.filter((w) => w !== worker);
    const lost = worker.inFlight.length - worker.inFlightHead;
    if (lost > 0) {
      for (let i = worker.inFlightHead; i < worker.inFlight.length; i++) {
        this.#sink.failed(new MessageFailedError(worker.inFlight[i], reason));
      }
      this.#finish(worker, lost);
    }
    if (this.#held.length > 0) this.schedule();
  }

  #liveCount(): number {
    return this.#workers.filter((w) => w.state === "ready" || w.state === "starting").length;
  }
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
