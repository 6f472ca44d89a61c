/**
 * The script each worker of a {@linkcode WorkerPool} runs: it loads the user's message handler
 * module, handles batches of messages one message at a time, and posts back one batch of
 * replies per batch received (writes, closes and failures in order, and how many messages are
 * done).
 *
 * Protocol between the pool and this script:
 *
 * | from  | message                                      | meaning                          |
 * | ----- | -------------------------------------------- | -------------------------------- |
 * | pool  | `{ t: "init", module, index, sequences }`    | load the handler module          |
 * | here  | `{ t: "ready" }` / `{ t: "fatal", message }` | loaded / cannot run              |
 * | pool  | `{ t: "batch", buffer, length }`             | messages to handle, in order     |
 * | here  | `{ t: "replies", buffer, length, done }` | writes, closes and failures in order; done count |
 *
 * @module
 */

import { BatchReader, BatchWriter, ReplyOp } from "./_batch.ts";
import { isOpenIn } from "./_connection_table.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import type { MessageHandler, MessageHandlerContext } from "./message_handler.ts";

interface InitRequest {
  t: "init";
  module: string;
  index: number;
  sequences: SharedArrayBuffer;
}
interface BatchRequest {
  t: "batch";
  buffer: ArrayBuffer;
  length: number;
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
const replies = new BatchWriter();
let done = 0;
let flushScheduled = false;
let handling = false;
let sequences: Int32Array<ArrayBufferLike> = new Int32Array(0);
let handler: MessageHandler;
let context: MessageHandlerContext;
let chain: Promise<void> = Promise.resolve();

class WorkerConnectionHandle implements ConnectionHandle {
  readonly id: number;
  constructor(id: number) {
    this.id = id;
  }
  get open(): boolean {
    return isOpenIn(sequences, this.id);
  }
  write(data: Uint8Array | string): boolean {
    if (!isOpenIn(sequences, this.id)) return false;
    if (typeof data === "string") replies.addText(ReplyOp.write, this.id, data);
    else replies.add(ReplyOp.write, this.id, data);
    scheduleFlush();
    return true;
  }
  close(): boolean {
    if (!isOpenIn(sequences, this.id)) return false;
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
  if (replies.count === 0 && done === 0) return;
  const { buffer, length } = replies.take();
  scope.postMessage({ t: "replies", buffer, length, done }, [buffer]);
  done = 0;
}

async function init(request: InitRequest): Promise<void> {
  sequences = new Int32Array(request.sequences);
  context = {
    workerIndex: request.index,
    handle: (id: number) => new WorkerConnectionHandle(id),
  };
  try {
    const module = await import(request.module);
    handler = module.default;
    if (typeof handler?.onMessage !== "function") {
      throw new TypeError(`Module ${request.module} has no default export with onMessage`);
    }
  } catch (error) {
    scope.postMessage({ t: "fatal", message: String(error) });
    return;
  }
  scope.postMessage({ t: "ready" });
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
          // Replies written while waiting must not sit until the batch ends.
          handling = false;
          await result;
          handling = true;
        }
      } catch (error) {
        handling = true;
        replies.addText(ReplyOp.fail, id, error instanceof Error ? error.message : String(error));
      }
      done++;
    }
  } finally {
    handling = false;
  }
  flush();
}

scope.onmessage = (event: MessageEvent<InitRequest | BatchRequest>) => {
  const request = event.data;
  if (request.t === "init") chain = init(request);
  else chain = chain.then(() => handleBatch(request));
};
