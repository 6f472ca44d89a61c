import { concat } from "@std/bytes";
import type { ConnectionHandle } from "../core/connection_handle.ts";
import type { MessageFailedError } from "../core/errors.ts";
import type { Message } from "../core/message.ts";
import type { MessageHandlerContext } from "../core/message_handler.ts";
import type { DispatchOptions, ProtocolContext } from "../core/protocol.ts";
import type { MessageSource, ReplySink } from "../core/worker_pool.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An in-memory connection for tests without sockets: give it to a protocol handler as its
 * context, or to a message handler as its connection, then read what was written and
 * dispatched.
 *
 * @example Recording writes and messages
 * ```ts
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const transport = new MemoryTransport();
 * transport.handle.write("ok\n");
 * transport.dispatch(new TextEncoder().encode("ping"), 3);
 * assertEquals(transport.text(), "ok\n");
 * assertEquals(transport.messages[0].type, 3);
 * ```
 */
export class MemoryTransport implements ProtocolContext, MessageSource {
  /** The connection's id. */
  readonly id: number;
  /** Messages dispatched, in order, with copied payloads. */
  readonly messages: Message[] = [];
  /** Each write, copied. */
  readonly writes: Uint8Array[] = [];
  /** Failures reported, as a message source or through {@linkcode MemoryTransport.sink}. */
  readonly failures: MessageFailedError[] = [];
  /** Messages a worker pool finished, as a message source. */
  messagesDone = 0;
  /** A worker pool's routing state, as a message source. */
  poolState: unknown = undefined;
  /** The handle: writes land in {@linkcode MemoryTransport.writes}. */
  readonly handle: ConnectionHandle;
  /** A message-handler context whose `handle(id)` gives this transport's handle. */
  readonly context: MessageHandlerContext;
  /** A reply sink (for a `WorkerPool`) that applies everything to this transport. */
  readonly sink: ReplySink;
  #closed = false;

  /**
   * Makes a transport.
   *
   * @param id The connection id it reports.
   */
  constructor(id = 1) {
    this.id = id;
    // deno-lint-ignore no-this-alias
    const transport = this;
    this.handle = {
      id,
      get open() {
        return !transport.#closed;
      },
      write(data: Uint8Array | string): boolean {
        if (transport.#closed) return false;
        transport.writes.push(typeof data === "string" ? encoder.encode(data) : data.slice());
        return true;
      },
      close(): boolean {
        if (transport.#closed) return false;
        transport.#closed = true;
        return true;
      },
    };
    this.context = { workerIndex: -1, handle: () => this.handle };
    this.sink = {
      handle: () => this.handle,
      write: (_id, bytes) => void this.handle.write(bytes),
      close: () => void this.handle.close(),
      failed: (error) => void this.failures.push(error),
      error: (error) => {
        throw error;
      },
    };
  }

  /** Counts a finished message (as a pool's message source). */
  messageDone(): void {
    this.messagesDone++;
  }

  /**
   * Records a failed message (as a pool's message source).
   *
   * @param error What failed.
   */
  messageFailed(error: MessageFailedError): void {
    this.failures.push(error);
  }

  /** Whether the handle was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Records a message, copying its payload.
   *
   * @param payload The framed bytes.
   * @param type The message type.
   * @param _options Whether it overtakes waiting messages (no queue here: recorded in order).
   */
  dispatch(payload: Uint8Array, type = 0, _options?: DispatchOptions): void {
    this.messages.push({ connectionId: this.id, type, payload: payload.slice() });
  }

  /**
   * Everything written, as one array.
   *
   * @returns The bytes.
   */
  bytes(): Uint8Array {
    return concat(this.writes);
  }

  /**
   * Everything written, decoded as UTF-8.
   *
   * @returns The text.
   */
  text(): string {
    return decoder.decode(this.bytes());
  }
}
