import { FrameTooLongError, ServerClosedError } from "../../core/errors.ts";
import { DEFAULT_MAX_LINE_LENGTH, LineDecoder } from "../../core/framing/line_decoder.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";

/** Message types the echo protocol dispatches. */
export const EchoMessageType = {
  /** A line to echo, with its ending. */
  line: 0,
  /** An error line for the peer, sent in order with the echoed lines. */
  error: 1,
} as const;

/** Options of {@linkcode echoProtocol}. */
export interface EchoProtocolOptions {
  /**
   * Longest line echoed, in bytes without its ending; a longer one is answered with one error
   * line and skipped, and the connection stays usable.
   *
   * @default {65536}
   */
  maxLineLength?: number;
}

const encoder = new TextEncoder();

class EchoProtocolHandler implements ProtocolHandler {
  readonly #context: ProtocolContext;
  readonly #lines: LineDecoder;

  constructor(context: ProtocolContext, maxLineLength: number) {
    this.#context = context;
    this.#lines = new LineDecoder({ maxLineLength, keepEnding: true });
  }

  data(chunk: Uint8Array): void {
    const lines = this.#lines;
    lines.feed(chunk);
    while (true) {
      let line: Uint8Array | null;
      try {
        line = lines.next();
      } catch (error) {
        if (!(error instanceof FrameTooLongError)) throw error;
        // Dispatched, not written, so it arrives after the replies to earlier lines.
        this.#context.dispatch(
          encoder.encode(`ERR line too long (max ${error.maxLength} bytes)\r\n`),
          EchoMessageType.error,
        );
        continue;
      }
      if (line === null) return;
      this.#context.dispatch(line, EchoMessageType.line);
    }
  }

  failed(error: Error): void {
    this.#context.handle.write(`ERR ${error.message}\r\n`);
  }

  goodbye(reason: Error): string | undefined {
    // At shutdown every line read was answered: the stream simply ends, as echo's does.
    if (reason instanceof ServerClosedError) return undefined;
    return `ERR ${reason.message}\r\n`;
  }
}

/**
 * The echo protocol: newline-framed lines (LF, CRLF, or telnet's CR NUL), each echoed back with
 * its own ending by the echo message handler (`@speedo/speedo/echo/handler`).
 *
 * ```
 * client: hello\r\n          server: hello\r\n
 * client: <70,000 bytes>\n   server: ERR line too long (max 65536 bytes)\r\n
 * ```
 *
 * @param options Limits.
 * @returns The protocol handler factory.
 *
 * @example Over an in-memory connection, at every chunk size
 * ```ts
 * import { echoProtocol } from "@speedo/speedo/echo";
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { forEachChunkSize, runProtocol } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const input = "hello\r\nlong line\nbye\r\0";
 * forEachChunkSize(input, (_chunks, size) => {
 *   const protocol = echoProtocol({ maxLineLength: 5 });
 *   const transport = runProtocol(protocol, input, { chunkSize: size, handler: echoHandler });
 *   assertEquals(transport.text(), "hello\r\nERR line too long (max 5 bytes)\r\nbye\r\0");
 * });
 * ```
 */
export function echoProtocol(options: EchoProtocolOptions = {}): ProtocolHandlerFactory {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  // Checked now, so a bad option fails at construction rather than at the first connection.
  new LineDecoder({ maxLineLength });
  const refusal = encoder.encode("ERR server full\r\n");
  return {
    create: (context) => new EchoProtocolHandler(context, maxLineLength),
    refusal: () => refusal,
    recipe: { module: import.meta.url, export: "echoProtocol", options: { maxLineLength } },
  };
}
