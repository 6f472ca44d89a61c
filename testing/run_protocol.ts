import type { Message } from "../core/message.ts";
import type { MessageHandler } from "../core/message_handler.ts";
import type { ProtocolHandlerFactory } from "../core/protocol.ts";
import { chunks } from "./chunks.ts";
import { MemoryTransport } from "./memory_transport.ts";

/** Options of {@linkcode runProtocol} and {@linkcode runProtocolAsync}. */
export interface RunProtocolOptions {
  /**
   * Bytes per chunk fed to the handler.
   *
   * @default {the whole input at once}
   */
  chunkSize?: number;
  /**
   * Runs each dispatched message through this handler, inline, after each chunk, in the
   * order of the messages. {@linkcode runProtocol} needs its `onMessage` to be synchronous;
   * {@linkcode runProtocolAsync} awaits each one before the next.
   */
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
 * It is synchronous, as Twisted's `StringTransport` and Netty's `EmbeddedChannel` are: the
 * whole conversation has happened when it returns. A message handler that returns a promise
 * makes it throw a `TypeError`: use {@linkcode runProtocolAsync}, which awaits each message
 * in order as the server does.
 *
 * @param factory The protocol.
 * @param input The bytes the peer sends, or text encoded as UTF-8.
 * @param options Chunking and message handling.
 * @returns The transport, with `writes` and `messages`.
 * @throws {TypeError} When the message handler returns a promise.
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
  const transport = new MemoryTransport();
  const conversation = converse(factory, input, options, transport);
  for (let step = conversation.next(); !step.done; step = conversation.next()) {
    const result = options.handler!.onMessage(step.value, transport.handle, transport.context);
    if (result instanceof Promise) {
      // Nobody awaits it: a rejection must not surface as an uncaught error.
      result.catch(() => {});
      throw new TypeError(
        "The message handler returned a promise: use runProtocolAsync, which awaits each message before the next",
      );
    }
  }
  return transport;
}

/**
 * Runs a protocol over an in-memory connection as {@linkcode runProtocol} does, awaiting each
 * message's handler before the next message starts, as the server does at concurrency 1: a
 * handler's promise holds its connection's next message, so replies keep the order of the
 * messages however long each takes. The next chunk is fed once the messages of the one before
 * are done. A handler that throws or rejects makes the returned promise reject.
 *
 * @param factory The protocol.
 * @param input The bytes the peer sends, or text encoded as UTF-8.
 * @param options Chunking and message handling.
 * @returns The transport, with `writes` and `messages`, once every message is done.
 *
 * @example A slow first answer still comes first
 * ```ts
 * import { echoProtocol } from "@speedo/speedo/echo";
 * import type { MessageHandler } from "@speedo/speedo";
 * import { runProtocolAsync } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 * import { delay } from "@std/async/delay";
 *
 * const handler: MessageHandler = {
 *   async onMessage(message, connection) {
 *     const text = new TextDecoder().decode(message.payload);
 *     if (text === "slow\n") await delay(5);
 *     connection.write(text);
 *   },
 * };
 * const transport = await runProtocolAsync(echoProtocol(), "slow\nfast\n", { handler });
 * assertEquals(transport.text(), "slow\nfast\n");
 * ```
 */
export async function runProtocolAsync(
  factory: ProtocolHandlerFactory,
  input: Uint8Array | string,
  options: RunProtocolOptions = {},
): Promise<MemoryTransport> {
  const transport = new MemoryTransport();
  for (const message of converse(factory, input, options, transport)) {
    await options.handler!.onMessage(message, transport.handle, transport.context);
  }
  return transport;
}

/**
 * The conversation both runners drive: it feeds the protocol handler and yields each
 * dispatched message to handle, in order (none without a message handler). The caller handles
 * a message before asking for the next step.
 */
function* converse(
  factory: ProtocolHandlerFactory,
  input: Uint8Array | string,
  options: RunProtocolOptions,
  transport: MemoryTransport,
): Generator<Message, void, void> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const handler = factory.create(transport);
  handler.open?.();
  const handles = options.handler !== undefined;
  let handled = 0;
  for (const chunk of chunks(bytes, options.chunkSize ?? Math.max(1, bytes.length))) {
    // A copy per chunk, overwritten after the call, catches handlers that keep views of it.
    const buffer = chunk.slice();
    handler.data(buffer);
    buffer.fill(0xee);
    while (handles && handled < transport.messages.length) yield transport.messages[handled++];
  }
  if (options.eof ?? true) handler.eof?.();
  while (handles && handled < transport.messages.length) yield transport.messages[handled++];
  handler.close?.();
}
