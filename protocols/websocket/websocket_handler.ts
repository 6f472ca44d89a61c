import type { MessageHandler } from "../../core/message_handler.ts";
import { HttpMessageKind } from "../http/http_message.ts";
import { plainResponse } from "../http/_response_writer.ts";
import { framedContext, FramedHandle } from "./_framed_handle.ts";
import { Opcode } from "./frame_codec.ts";
import { WEBSOCKET_MESSAGE, WebSocketMessageType } from "./websocket_message.ts";
import { type WebSocketOptions, websocketSettings } from "./websocket_session.ts";

const UPGRADE_REQUIRED = plainResponse(
  426,
  "426 Upgrade Required: this server speaks WebSocket only",
  "upgrade: websocket\r\n",
);

/**
 * Wraps any Speedo message handler so that it runs over WebSocket: it gets each message with
 * its own type (1 text or 2 binary in per-message mode, the inner protocol's types in stream
 * mode), and a connection handle whose writes leave as WebSocket frames. It also writes what the
 * WebSocket and HTTP protocols dispatch themselves (the handshake's answers, close frames), in
 * order with the replies.
 *
 * Use the same options as the protocol (`websocketProtocol`, or `httpServer`'s `websocket`),
 * as `onMessage` with `workers: 0`, or as the default export of a handler module for workers.
 *
 * @param inner The message handler, such as the echo handler.
 * @param options The WebSocket options (`protocol` tells stream mode, `writeType`).
 * @returns The message handler to give the server.
 *
 * @example The echo handler, per message
 * ```ts
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { websocketHandler } from "@speedo/speedo/websocket";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const handler = websocketHandler(echoHandler);
 * const transport = new MemoryTransport();
 * const payload = new TextEncoder().encode("hi");
 * handler.onMessage({ connectionId: 1, type: 0x8001, payload }, transport.handle, transport.context);
 * assertEquals(transport.bytes(), new Uint8Array([0x81, 2, 0x68, 0x69]));
 * ```
 */
export function websocketHandler(
  inner: MessageHandler,
  options: WebSocketOptions = {},
): MessageHandler {
  if (typeof inner?.onMessage !== "function") {
    throw new TypeError("websocketHandler needs a message handler with onMessage");
  }
  const settings = websocketSettings(options);
  const stream = settings.protocol !== undefined;
  const writeOpcode = settings.writeOpcode;
  return {
    onMessage(message, connection, context) {
      const type = message.type;
      if ((type & WEBSOCKET_MESSAGE) === 0) {
        // The HTTP side of the connection: the handshake's answers, or a plain request.
        const kind = type & 0b11;
        connection.write(kind === HttpMessageKind.request ? UPGRADE_REQUIRED : message.payload);
        if (kind !== HttpMessageKind.write) connection.close();
        return;
      }
      if (type === WebSocketMessageType.close) {
        connection.write(message.payload);
        connection.close();
        return;
      }
      const innerType = type & ~WEBSOCKET_MESSAGE;
      const opcode = stream
        ? writeOpcode
        : innerType === Opcode.binary
        ? Opcode.binary
        : Opcode.text;
      return inner.onMessage(
        { connectionId: message.connectionId, type: innerType, payload: message.payload },
        new FramedHandle(connection, opcode),
        framedContext(context, writeOpcode),
      );
    },
    // Its own reads of the payload are done when it returns: the inner handler's are what count.
    keepsPayload: inner.keepsPayload,
    // The startup data is the inner handler's (a wrapper that dropped init lost handlerData).
    init: inner.init === undefined
      ? undefined
      : (data, context) => inner.init!(data, framedContext(context, writeOpcode)),
  };
}
