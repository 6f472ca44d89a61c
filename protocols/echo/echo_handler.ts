/**
 * The echo message handler: writes each message's payload back to its connection. Pass this
 * module's URL as a server's `handler`; it runs in every worker, or inline with `workers: 0`.
 *
 * @example
 * ```ts
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const transport = new MemoryTransport();
 * const payload = new TextEncoder().encode("hi\n");
 * echoHandler.onMessage({ connectionId: 1, type: 0, payload }, transport.handle, transport.context);
 * assertEquals(transport.text(), "hi\n");
 * ```
 *
 * @module
 */

import type { MessageHandler } from "../../core/message_handler.ts";

/** Writes the payload back: the echoed line, or the protocol's error line. */
const echoHandler: MessageHandler = {
  onMessage(message, connection) {
    connection.write(message.payload);
  },
  // The write copies the payload: nothing reads it after the call (WebSocket echo relies on it).
  keepsPayload: false,
};

export default echoHandler;
