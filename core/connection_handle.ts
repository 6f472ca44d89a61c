/**
 * A reference to a connection that is safe to keep and use from any thread, before or after
 * the connection closed. It holds only the connection's id; the server resolves the id at each
 * call, so a handle never keeps a socket alive and never reaches a later connection that
 * reuses the same slot.
 *
 * On the I/O thread a write goes straight into the connection's write queue. In a worker it
 * joins the worker's outgoing batch, sent once per turn, and is applied in order on the I/O
 * thread; `true` there means "accepted for delivery" (a close racing with it still drops it).
 *
 * @example Writing after close is a no-op
 * ```ts
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const transport = new MemoryTransport();
 * const handle = transport.handle;
 * assertEquals(handle.write("hello\n"), true);
 * handle.close();
 * assertEquals(handle.write("late\n"), false);
 * assertEquals(transport.text(), "hello\n");
 * ```
 */
export interface ConnectionHandle {
  /** The connection's id, unique for the server's lifetime. */
  readonly id: number;
  /** Whether the connection is still open, as far as this thread can tell. */
  readonly open: boolean;
  /**
   * Queues bytes (or UTF-8 text) to the connection. Bytes are copied; the caller keeps them.
   *
   * @param data What to send.
   * @returns `false`, and nothing is sent, when the connection is closed.
   */
  write(data: Uint8Array | string): boolean;
  /**
   * Closes the connection once what was written before is flushed.
   *
   * @returns `false` when it was closed already.
   */
  close(): boolean;
}
