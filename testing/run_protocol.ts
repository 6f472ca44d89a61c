import type { MessageHandler } from "../core/message_handler.ts";
import type { ProtocolHandlerFactory } from "../core/protocol.ts";
import { chunks } from "./chunks.ts";
import { MemoryTransport } from "./memory_transport.ts";

/** Options of {@linkcode runProtocol}. */
export interface RunProtocolOptions {
  /**
   * Bytes per chunk fed to the handler.
   *
   * @default {the whole input at once}
   */
  chunkSize?: number;
  /** Runs each dispatched message through this handler, inline, after each chunk. */
  handler?: MessageHandler;
  /**
   * Whether to end with `eof` (the peer finished sending) before `close`.
   *
   * @default {true}
   */
  eof?: boolean;
}

/**
 * Runs a protocol over an in-memory connection: makes the handler, opens it, feeds the input
 * in chunks, optionally handles the dispatched messages inline, then ends and closes it. The
 * transport returned holds what was written and dispatched.
 *
 * @param factory The protocol.
 * @param input The bytes the peer sends, or text encoded as UTF-8.
 * @param options Chunking and message handling.
 * @returns The transport, with `writes` and `messages`.
 *
 * @example An echo conversation
 * ```ts
 * import { echoProtocol } from "@speedo/speedo/echo";
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { runProtocol } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const transport = runProtocol(echoProtocol(), "hi\r\nyou\n", { chunkSize: 1, handler: echoHandler });
 * assertEquals(transport.text(), "hi\r\nyou\n");
 * ```
 */
export function runProtocol(
  factory: ProtocolHandlerFactory,
  input: Uint8Array | string,
  options: RunProtocolOptions = {},
): MemoryTransport {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const transport = new MemoryTransport();
  const handler = factory.create(transport);
  handler.open?.();
  let handled = 0;
  const handleMessages = () => {
    if (options.handler === undefined) return;
    for (; handled < transport.messages.length; handled++) {
      options.handler.onMessage(transport.messages[handled], transport.handle, transport.context);
    }
  };
  for (const chunk of chunks(bytes, options.chunkSize ?? Math.max(1, bytes.length))) {
    // A copy per chunk, overwritten after the call, catches handlers that keep views of it.
    const buffer = chunk.slice();
    handler.data(buffer);
    buffer.fill(0xee);
    handleMessages();
  }
  if (options.eof ?? true) handler.eof?.();
  handleMessages();
  handler.close?.();
  return transport;
}
