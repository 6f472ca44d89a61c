/**
 * The script each worker of a {@linkcode WorkerPool} runs: it loads the user's message handler
 * module, runs its `init` with the startup data, handles batches of messages one message at a time, and sends back one batch of
 * replies per batch received: writes, closes and failures in order, then a `done` record with
 * how many messages are done. With the pool's concurrency above 1, a handler's promise does
 * not hold the next message: each message's end is told by a `doneFor` record of its own,
 * when its promise settles.
 *
 * Batches cross either as transferred buffers in `postMessage` (`batch` transport) or through
 * two shared-memory rings (`ring` transport, see `_ring.ts`):
 *
 * | from  | message                                         | meaning                      |
 * | ----- | ----------------------------------------------- | ---------------------------- |
 * | pool  | `{ t: "init", module, index, sequences, concurrency, data, rings? }` | load the handler, `init(data)` |
 * | here  | `{ t: "ready" }` / `{ t: "fatal", message }`    | loaded / cannot run          |
 * | pool  | `{ t: "batch", buffer, length }`                | messages to handle, in order |
 * | here  | `{ t: "replies", buffer, length }`              | replies                      |
 *
 * With the ring transport a batch longer than a quarter of the ring is posted too, and a
 * one-byte mark holds its place in the ring's order.
 *
 * @module
 */

import { markThread } from "./_thread_role.ts";
import { BatchReader, BatchWriter, ReplyOp } from "./_batch.ts";
import { isOpenAmong } from "./_connection_table.ts";
import { ByteRing, crossesByPost, isPostedMark, POSTED_MARK, PostedBatches } from "./_ring.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import type { MessageHandler, MessageHandlerContext } from "./message_handler.ts";

interface InitRequest {
  t: "init";
  module: string;
  index: number;
  /** Per I/O loop of the server, the shared sequences of its open connections. */
  sequences: SharedArrayBuffer[];
  /** Messages of a connection handled at once: 1 keeps them in order. */
  concurrency: number;
  /** The handler's startup data, for its `init`. */
  data: unknown;
  /** Present for the ring transport: the memory of both rings. */
  rings?: { toWorker: SharedArrayBuffer; toPool: SharedArrayBuffer };
}
interface BatchRequest {
  t: "batch";
  buffer: ArrayBuffer;
  length: number;
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
// Before any of the application's modules is imported here: see _thread_role.ts.
markThread("worker");
const replies = new BatchWriter();
let done = 0;
let flushScheduled = false;
let handling = false;
let sequences: Int32Array<ArrayBufferLike>[] = [new Int32Array(0)];
let handler: MessageHandler;
let context: MessageHandlerContext;
let chain: Promise<void> = Promise.resolve();
/** Whether a handler's promise leaves the next messages to run (the pool's concurrency > 1). */
let concurrent = false;
/** Concurrency above 1: a run of messages of one connection done, not yet recorded. */
let doneRunId = -1;
let doneRunCount = 0;
const doneRunBytes = new Uint8Array(4);
const doneRunView = new DataView(doneRunBytes.buffer);
/** The ring transport's rings, or undefined with the batch transport. */
let input: ByteRing | undefined;
let output: ByteRing | undefined;
/** Reply blobs waiting for room in the output ring, in order. */
const outgoing: Uint8Array[] = [];
let sending = false;
/** Ring transport: batches that crossed by `postMessage`, until their mark is read. */
const posted = new PostedBatches();

class WorkerConnectionHandle implements ConnectionHandle {
  readonly id: number;
  constructor(id: number) {
    this.id = id;
  }
  get open(): boolean {
    return isOpenAmong(sequences, this.id);
  }
  write(data: Uint8Array | string): boolean {
    if (!isOpenAmong(sequences, this.id)) return false;
    if (typeof data === "string") replies.addText(ReplyOp.write, this.id, data);
    else replies.append(ReplyOp.write, this.id, data);
    scheduleFlush();
    return true;
  }
  close(): boolean {
    if (!isOpenAmong(sequences, this.id)) return false;
    replies.add(ReplyOp.close, this.id);
    scheduleFlush();
    return true;
  }
}

/** Writes made outside a batch (after an await, from a timer) go out on the next microtask. */
function scheduleFlush(): void {
  if (handling || flushScheduled) return;
  flushScheduled = true;
  queueMicrotask(flush);
}

function flush(): void {
  flushScheduled = false;
  recordDoneRun();
  if (replies.count === 0 && done === 0) return;
  if (done > 0) replies.add(ReplyOp.done, done);
  done = 0;
  const { buffer, length } = replies.take();
  if (output === undefined || crossesByPost(length, output.capacity)) {
    scope.postMessage({ t: "replies", buffer, length }, [buffer]);
    if (output === undefined) return;
    outgoing.push(POSTED_MARK);
  } else {
    outgoing.push(new Uint8Array(buffer, 0, length));
  }
  if (!sending) send(output);
}

/** Writes reply blobs into the output ring, waiting for room when it is full. */
async function send(ring: ByteRing): Promise<void> {
  sending = true;
  try {
    let offset = 0;
    while (outgoing.length > 0 && !ring.closed) {
      offset = ring.write(outgoing[0], offset);
      if (offset === outgoing[0].length) {
        outgoing.shift();
        offset = 0;
      } else {
        await ring.waitForSpace();
      }
    }
  } finally {
    sending = false;
  }
}

/** The ring transport: handles each blob the pool writes, in order, until the ring closes. */
async function receive(ring: ByteRing): Promise<void> {
  while (!ring.closed) {
    const blob = ring.read();
    if (blob === null) await ring.waitForData();
    else if (!isPostedMark(blob)) {
      await handleBatch({ t: "batch", buffer: blob.buffer as ArrayBuffer, length: blob.length });
    } else {
      const batch = await posted.take();
      if (batch !== undefined) await handleBatch({ t: "batch", ...batch });
    }
  }
}

async function init(request: InitRequest): Promise<void> {
  sequences = request.sequences.map((buffer) => new Int32Array(buffer));
  concurrent = request.concurrency > 1;
  context = {
    workerIndex: request.index,
    handle: (id: number) => new WorkerConnectionHandle(id),
  };
  if (request.rings !== undefined) {
    input = new ByteRing(request.rings.toWorker);
    output = new ByteRing(request.rings.toPool);
  }
  try {
    const module = await import(request.module);
    handler = module.default;
    if (typeof handler?.onMessage !== "function") {
      throw new TypeError(`Module ${request.module} has no default export with onMessage`);
    }
    await handler.init?.(request.data, context);
  } catch (error) {
    scope.postMessage({ t: "fatal", message: String(error) });
    return;
  }
  scope.postMessage({ t: "ready" });
  if (input !== undefined) receive(input);
}

async function handleBatch(request: BatchRequest): Promise<void> {
  const reader = new BatchReader(request.buffer, request.length);
  handling = true;
  try {
    while (reader.next()) {
      const id = reader.id;
      const message = { connectionId: id, type: reader.tag, payload: reader.bytes };
      try {
        const result = handler.onMessage(message, new WorkerConnectionHandle(id), context);
        if (result instanceof Promise) {
          if (concurrent) {
            // The pool bounds how many of a connection's messages run at once.
            result.then(() => settled(id, false, undefined), (error) => settled(id, true, error));
            continue;
          }
          // Replies written while waiting must not sit until the batch ends.
          handling = false;
          await result;
          handling = true;
        }
      } catch (error) {
        handling = true;
        replies.addText(ReplyOp.fail, id, errorText(error));
      }
      if (concurrent) doneFor(id);
      else done++;
    }
  } finally {
    handling = false;
  }
  flush();
}

/** A message whose handler returned a promise is done (concurrency above 1). */
function settled(id: number, failed: boolean, error: unknown): void {
  if (failed) replies.addText(ReplyOp.fail, id, errorText(error));
  doneFor(id);
  scheduleFlush();
}

/**
 * A message of connection `id` is done (concurrency above 1): a run of them for one
 * connection, as a batch of a busy connection brings, costs one `doneFor` record.
 */
function doneFor(id: number): void {
  if (id === doneRunId) {
    doneRunCount++;
    return;
  }
  recordDoneRun();
  doneRunId = id;
  doneRunCount = 1;
}

function recordDoneRun(): void {
  if (doneRunCount === 0) return;
  doneRunView.setUint32(0, doneRunCount, true);
  replies.add(ReplyOp.doneFor, doneRunId, doneRunBytes);
  doneRunId = -1;
  doneRunCount = 0;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

scope.onmessage = (event: MessageEvent<InitRequest | BatchRequest>) => {
  const request = event.data;
  if (request.t === "init") chain = init(request);
  else if (input !== undefined) {
    // Handled when the ring reaches its mark, in order.
    posted.push(request);
  } else chain = chain.then(() => handleBatch(request));
};
