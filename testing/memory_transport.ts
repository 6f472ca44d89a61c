import type { ConnectionHandle } from "../core/connection_handle.ts";
import type { Message } from "../core/message.ts";
import type { MessageHandlerContext } from "../core/message_handler.ts";
import type { DispatchOptions, ProtocolContext } from "../core/protocol.ts";

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
export class MemoryTransport implements ProtocolContext {
  /** The connection's id. */
  readonly id: number;
  /** Messages dispatched, in order, with copied payloads. */
  readonly messages: Message[] = [];
  /** Each write, copied. */
  readonly writes: Uint8Array[] = [];
  /** The handle: writes land in {@linkcode MemoryTransport.writes}. */
  readonly handle: ConnectionHandle;
  /** A message-handler context whose `handle(id)` gives this transport's handle. */
  readonly context: MessageHandlerContext;
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
    let length = 0;
    for (const write of this.writes) length += write.length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const write of this.writes) {
      bytes.set(write, offset);
      offset += write.length;
    }
    return bytes;
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
