/**
 * A unit of work framed by a protocol handler and handled by a message handler, on the I/O
 * thread or in a worker. Plain, structured-clonable data: it crosses to workers packed into one
 * batch per worker per turn, copied through a shared-memory ring (or posted, when large).
 *
 * @example
 * ```ts
 * import type { Message } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * const message: Message = { connectionId: 1, type: 0, payload: new Uint8Array([104, 105]) };
 * assertEquals(structuredClone(message), message);
 * ```
 */
export interface Message {
  /** Id of the connection the message came from; answer through its handle. */
  readonly connectionId: number;
  /** A protocol-defined kind, 0 to 65535 (0 when the protocol has one kind only). */
  readonly type: number;
  /** The framed bytes, owned by the message. */
  readonly payload: Uint8Array;
}
