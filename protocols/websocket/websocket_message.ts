/**
 * The message types a WebSocket connection dispatches. Every one has bit 15 set, so that an
 * HTTP server's handler tells them from HTTP messages; `websocketHandler` strips it
 * before the inner message handler sees the message.
 *
 * | type                  | from                              | inner handler sees  |
 * | --------------------- | --------------------------------- | ------------------- |
 * | `0x8001`              | a text message (per-message mode) | type 1, the text    |
 * | `0x8002`              | a binary message                  | type 2, the bytes   |
 * | `0x8000 \| t`         | the inner protocol's type `t`     | type `t`            |
 * | `0xffff`              | a close frame to send, then close | (never)             |
 *
 * @module
 */

/** Bit 15: a WebSocket connection's message. */
export const WEBSOCKET_MESSAGE = 0x8000;

/** Message types of WebSocket connections. */
export const WebSocketMessageType = {
  /** A text message, in per-message mode. */
  text: 0x8001,
  /** A binary message, in per-message mode. */
  binary: 0x8002,
  /** A close frame (the payload) to write in order with the replies; the connection then closes. */
  close: 0xffff,
} as const;

/** The largest type an inner protocol may dispatch. */
export const MAX_INNER_TYPE = 0x7ffe;
