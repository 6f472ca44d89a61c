/**
 * The `ring` transport: two shared-memory rings per worker (see `_ring.ts`), woken with
 * `Atomics.waitAsync`. A batch over a quarter of the ring crosses by `postMessage` instead
 * (transferred: copying it through would cost more than the post), and a one-byte mark keeps
 * its place in the ring's order.
 *
 * @module
 */

import {
  ByteRing,
  crossesByPost,
  isPostedMark,
  POSTED_MARK,
  type PostedBatch,
  PostedBatches,
} from "./_ring.ts";
import type { ReplyReceiver, WorkerLink } from "./_worker_link.ts";

/** A {@linkcode WorkerLink} over a ring to the worker and a ring back. */
export class RingLink implements WorkerLink {
  readonly shared: { toWorker: SharedArrayBuffer; toPool: SharedArrayBuffer };
  readonly #worker: Worker;
  readonly #receive: ReplyReceiver;
  readonly #toWorker: ByteRing;
  readonly #toPool: ByteRing;
  /** Batches waiting for room in the ring to the worker, in order (a mark for a posted one). */
  #overflow: Uint8Array[] = [];
  /** Bytes of the first waiting batch already in the ring. */
  #overflowOffset = 0;
  /** Reply batches that crossed by `postMessage`, until the drain reads their mark. */
  readonly #postedReplies = new PostedBatches();

  /**
   * @param worker The worker.
   * @param capacity Bytes of each ring: a power of two, at least 4096.
   * @param receive Where its replies go.
   */
  constructor(worker: Worker, capacity: number, receive: ReplyReceiver) {
    this.#worker = worker;
    this.#receive = receive;
    this.#toWorker = ByteRing.create(capacity);
    this.#toPool = ByteRing.create(capacity);
    this.shared = { toWorker: this.#toWorker.buffer, toPool: this.#toPool.buffer };
  }

  send(buffer: ArrayBuffer, length: number): void {
    if (crossesByPost(length, this.#toWorker.capacity)) {
      this.#worker.postMessage({ t: "batch", buffer, length }, [buffer]);
      this.#overflow.push(POSTED_MARK);
    } else {
      this.#overflow.push(new Uint8Array(buffer, 0, length));
    }
    if (this.#overflow.length === 1) this.#fill();
  }

  posted(batch: PostedBatch): void {
    // Handled when the drain reaches its mark in the ring, in order.
    this.#postedReplies.push(batch);
  }

  open(): void {
    this.#drain();
  }

  close(): void {
    this.#toWorker.close();
    this.#toPool.close();
    this.#postedReplies.close();
  }

  /** Writes waiting batches into the ring to the worker, in order, waiting for room when full. */
  async #fill(): Promise<void> {
    const ring = this.#toWorker;
    while (this.#overflow.length > 0 && !ring.closed) {
      const batch = this.#overflow[0];
      this.#overflowOffset = ring.write(batch, this.#overflowOffset);
      if (this.#overflowOffset < batch.length) {
        await ring.waitForSpace();
        continue;
      }
      this.#overflow.shift();
      this.#overflowOffset = 0;
    }
  }

  /** Reads the worker's replies from its ring until the ring closes. */
  async #drain(): Promise<void> {
    const ring = this.#toPool;
    while (!ring.closed) {
      const blob = ring.read();
      if (blob === null) await ring.waitForData();
      else if (!isPostedMark(blob)) {
        this.#receive(blob.buffer as ArrayBuffer, blob.length);
      } else {
        const posted = await this.#postedReplies.take();
        if (posted === undefined) return;
        this.#receive(posted.buffer, posted.length);
      }
    }
  }
}
