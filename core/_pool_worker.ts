/**
 * One worker of the pool, as the I/O thread sees it: the Web Worker running `worker.ts`, its
 * {@linkcode WorkerLink}, the batch of messages it gets at the end of this turn, and the
 * messages it holds, until its replies say they are done.
 *
 * The messages a worker holds are counted one of two ways, as its replies tell them done:
 * at concurrency 1 it handles them in order, and its `done` record counts the oldest ones (a
 * FIFO of their connections); above 1 they finish in any order, and each `doneFor` record
 * names its connection (a map of the connections with messages on it, each route counting
 * its own).
 *
 * | state      | takes messages | leaves when                                              |
 * | ---------- | -------------- | -------------------------------------------------------- |
 * | `starting` | yes (they wait in its event queue or ring) | ready -> `ready`; fails to start, or times out -> `dead` |
 * | `ready`    | yes            | retired -> `retiring` (or `dead` when it holds nothing); error -> `dead` |
 * | `retiring` | no             | its last message is done -> `dead`                        |
 * | `dead`     | no             | -                                                        |
 *
 * @module
 */

import { BatchReader, BatchWriter, ReplyOp } from "./_batch.ts";
import { BatchLink } from "./_batch_link.ts";
import type { MessageSource } from "./_pool_routing.ts";
import { RingLink } from "./_ring_link.ts";
import type { WorkerLink } from "./_worker_link.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { MessageFailedError, WorkerStartError } from "./errors.ts";

const decoder = new TextDecoder();

/** How batches cross between the I/O thread and the workers. */
export type WorkerTransport = "batch" | "ring";

/**
 * Where the pool delivers what workers do, by connection id. The server implements it; tests
 * can record calls.
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

/** What a worker tells the pool. */
export interface PoolWorkerHost {
  /** Where replies go. */
  readonly sink: ReplySink;
  /** `count` messages of `source` on this worker are done (or failed, told already). */
  done(source: MessageSource, count: number): void;
  /** The worker ended (retired, killed, or dead): it takes nothing from now on. */
  ended(worker: PoolWorker): void;
  /** The worker died of an error after it started. */
  died(worker: PoolWorker): void;
}

/** How to start a worker. */
export interface PoolWorkerOptions {
  /** Its index, from 0, never reused: the handler's `context.workerIndex`. */
  index: number;
  /** The slot it fills in the pool (key placement). */
  slot: number;
  /** The handler module's URL. */
  module: string;
  /** The handler's startup data. */
  data: unknown;
  /** Per I/O loop, the shared sequences of its open connections. */
  sequences: readonly Int32Array[];
  /** Messages of a connection handled at once. */
  concurrency: number;
  transport: WorkerTransport;
  ringCapacity: number;
  /** Time it has to start, in milliseconds. */
  startTimeout: number;
}

/** A worker of the pool; see the module doc for its states. */
export class PoolWorker {
  /** Its index: the handler's `context.workerIndex`. */
  readonly index: number;
  /** Its slot in the pool. */
  readonly slot: number;
  readonly #worker: Worker;
  readonly #link: WorkerLink;
  readonly #host: PoolWorkerHost;
  #batch = new BatchWriter();
  #state: "starting" | "ready" | "retiring" | "dead" = "starting";
  /** Concurrency 1: the connections of its messages in flight, oldest first, from `#head`. */
  readonly #ordered: boolean;
  #fifo: (MessageSource | undefined)[] = [];
  #head = 0;
  /** Concurrency above 1: the connections with messages on it, by id. */
  readonly #sources = new Map<number, MessageSource>();
  readonly #started: Promise<void>;

  /**
   * Starts the worker; {@linkcode PoolWorker.started} tells when it is ready.
   *
   * @param options What to run, and how.
   * @param host Where what it does goes.
   */
  constructor(options: PoolWorkerOptions, host: PoolWorkerHost) {
    this.index = options.index;
    this.slot = options.slot;
    this.#host = host;
    this.#ordered = options.concurrency === 1;
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const receive = (buffer: ArrayBuffer, length: number) => this.#onReplies(buffer, length);
    this.#link = options.transport === "ring"
      ? new RingLink(this.#worker, options.ringCapacity, receive)
      : new BatchLink(this.#worker, receive);
    this.#started = this.#start(options);
  }

  /** Resolves once the worker is ready; rejects with a {@linkcode WorkerStartError}. */
  get started(): Promise<void> {
    return this.#started;
  }

  /** Whether it takes messages: starting or ready. */
  get live(): boolean {
    return this.#state === "ready" || this.#state === "starting";
  }

  /** Messages it holds (posted, not yet done). */
  get inFlight(): number {
    let count = this.#fifo.length - this.#head;
    for (const source of this.#sources.values()) count += source.route!.inFlight;
    return count;
  }

  /**
   * Adds a message to this turn's batch; its route already counts it in flight.
   *
   * @param source Its connection.
   * @param type Its type.
   * @param payload Its bytes (copied into the batch).
   */
  send(source: MessageSource, type: number, payload: Uint8Array): void {
    if (this.#ordered) this.#fifo.push(source);
    else if (source.route!.inFlight === 1) this.#sources.set(source.id, source); // its first
    this.#batch.add(type, source.id, payload);
  }

  /** Sends this turn's batch, if it has messages. */
  flush(): void {
    if (this.#batch.count === 0) return;
    const { buffer, length } = this.#batch.take();
    this.#link.send(buffer, length);
  }

  /** Ends once the messages it holds are done; it takes no more. */
  retire(): void {
    if (this.#idle) this.kill("retired");
    else if (this.live) this.#state = "retiring";
  }

  /**
   * Ends at once; the messages it holds fail with `reason`.
   *
   * @param reason Why, for each message failed.
   */
  kill(reason: string): void {
    if (this.#state === "dead") return;
    this.#state = "dead";
    this.#worker.terminate();
    this.#link.close();
    this.#host.ended(this);
    for (const source of [...this.#sources.values()]) {
      const count = source.route!.inFlight;
      this.#sources.delete(source.id);
      for (let i = 0; i < count; i++) {
        source.messageFailed(new MessageFailedError(source.id, reason));
      }
      this.#host.done(source, count);
    }
    const fifo = this.#fifo;
    const head = this.#head;
    this.#fifo = [];
    this.#head = 0;
    for (let i = head; i < fifo.length; i++) {
      fifo[i]!.messageFailed(new MessageFailedError(fifo[i]!.id, reason));
    }
    this.#doneInOrder(fifo, head, fifo.length);
  }

  get #idle(): boolean {
    return this.#fifo.length === this.#head && this.#sources.size === 0;
  }

  #start(options: PoolWorkerOptions): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const index = this.index;
    const timer = setTimeout(() => {
      this.kill("The worker did not start in time");
      reject(
        new WorkerStartError(`Worker ${index} did not start within ${options.startTimeout} ms`),
      );
    }, options.startTimeout);
    this.#worker.onmessage = (event) => {
      const data = event.data;
      if (data.t === "replies") this.#link.posted(data);
      else if (data.t === "ready") {
        clearTimeout(timer);
        if (this.#state === "starting") this.#state = "ready";
        this.#link.open();
        resolve();
      } else if (data.t === "fatal") {
        clearTimeout(timer);
        this.kill(`Worker ${index} could not start`);
        reject(new WorkerStartError(`Worker ${index} could not start: ${data.message}`));
      }
    };
    this.#worker.onerror = (event) => {
      // Without this the error would end the whole process.
      event.preventDefault();
      const wasStarting = this.#state === "starting";
      const message = `Worker ${index} died: ${event.message}`;
      this.kill(message);
      this.#host.sink.error(new Error(message));
      if (wasStarting) {
        clearTimeout(timer);
        reject(new WorkerStartError(message));
      } else this.#host.died(this);
    };
    this.#worker.postMessage({
      t: "init",
      module: options.module,
      index,
      sequences: options.sequences.map((loop) => loop.buffer),
      concurrency: options.concurrency,
      data: options.data,
      rings: this.#link.shared,
    });
    return promise;
  }

  #onReplies(buffer: ArrayBuffer, length: number): void {
    if (this.#state === "dead") return;
    const sink = this.#host.sink;
    const reader = new BatchReader(buffer, length);
    while (reader.next()) {
      const tag = reader.tag;
      if (tag === ReplyOp.write) sink.write(reader.id, reader.bytes);
      else if (tag === ReplyOp.done) this.#doneOldest(reader.id);
      else if (tag === ReplyOp.doneFor) this.#doneFor(reader.id, readCount(reader.bytes));
      else if (tag === ReplyOp.close) sink.close(reader.id);
      else if (tag === ReplyOp.fail) {
        const text = decoder.decode(reader.bytes);
        sink.failed(new MessageFailedError(reader.id, `Message handler failed: ${text}`));
      }
    }
    if (this.#state === "retiring" && this.#idle) this.kill("retired");
  }

  /** The `count` oldest messages are done (concurrency 1). */
  #doneOldest(count: number): void {
    const fifo = this.#fifo;
    const start = this.#head;
    const end = start + count;
    this.#head = end;
    // Messages the releases below send here land past `end`: the loop does not see them.
    this.#doneInOrder(fifo, start, end);
    if (this.#fifo !== fifo) return; // killed meanwhile
    if (this.#head === fifo.length) {
      this.#fifo = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Tells the host the messages `fifo[start..end)` are done, a run per connection. */
  #doneInOrder(fifo: (MessageSource | undefined)[], start: number, end: number): void {
    let i = start;
    while (i < end) {
      const source = fifo[i]!;
      let run = 1;
      while (i + run < end && fifo[i + run] === source) run++;
      for (let j = i; j < i + run; j++) fifo[j] = undefined;
      i += run;
      this.#host.done(source, run);
    }
  }

  /** `count` messages of connection `id` are done (concurrency above 1). */
  #doneFor(id: number, count: number): void {
    const source = this.#sources.get(id);
    if (source === undefined) return;
    count = Math.min(count, source.route!.inFlight);
    if (source.route!.inFlight === count) this.#sources.delete(id);
    this.#host.done(source, count);
  }
}

/** The count of a `doneFor` record: a u32, little-endian. */
function readCount(bytes: Uint8Array): number {
  return (bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24) >>> 0;
}
