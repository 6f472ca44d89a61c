/**
 * The `batch` transport: one transferred buffer per `postMessage`, each way.
 *
 * @module
 */

import type { PostedBatch } from "./_ring.ts";
import type { ReplyReceiver, WorkerLink } from "./_worker_link.ts";

/** A {@linkcode WorkerLink} that posts every batch, transferred (no copy). */
export class BatchLink implements WorkerLink {
  readonly shared: undefined = undefined;
  readonly #worker: Worker;
  readonly #receive: ReplyReceiver;

  /**
   * @param worker The worker.
   * @param receive Where its replies go.
   */
  constructor(worker: Worker, receive: ReplyReceiver) {
    this.#worker = worker;
    this.#receive = receive;
  }

  send(buffer: ArrayBuffer, length: number): void {
    this.#worker.postMessage({ t: "batch", buffer, length }, [buffer]);
  }

  posted(batch: PostedBatch): void {
    this.#receive(batch.buffer, batch.length);
  }

  open(): void {}

  close(): void {}
}
