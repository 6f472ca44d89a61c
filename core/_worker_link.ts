/**
 * How packed batches (see `_batch.ts`) cross between the I/O thread and one worker, both
 * ways. Two implementations: {@linkcode BatchLink} (`_batch_link.ts`) posts each batch as a
 * transferred buffer; {@linkcode RingLink} (`_ring_link.ts`) writes it into a shared-memory
 * ring per direction. The worker's side of both is in `worker.ts`.
 *
 * @module
 */

import type { PostedBatch } from "./_ring.ts";

/** The I/O thread's end of the crossing to one worker. */
export interface WorkerLink {
  /** Memory the worker opens its end with (sent in its `init`), or `undefined`. */
  readonly shared: { toWorker: SharedArrayBuffer; toPool: SharedArrayBuffer } | undefined;
  /**
   * Sends a batch of messages to the worker, after the ones sent before.
   *
   * @param buffer The batch's buffer: the link's from now on (it may transfer it).
   * @param length The batch's bytes.
   */
  send(buffer: ArrayBuffer, length: number): void;
  /**
   * A batch of replies the worker posted (`{ t: "replies" }`): the link hands it to its
   * receiver in its place in the order.
   *
   * @param batch The batch.
   */
  posted(batch: PostedBatch): void;
  /** The worker is ready: from now on it answers. */
  open(): void;
  /** The worker is gone: every wait ends, nothing more is received. */
  close(): void;
}

/** Where a link delivers the worker's batches of replies, in order. */
export type ReplyReceiver = (buffer: ArrayBuffer, length: number) => void;
