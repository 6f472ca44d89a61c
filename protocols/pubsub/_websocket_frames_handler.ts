/**
 * The message handler of NATS over WebSocket: it writes what the WebSocket connections
 * dispatch (the handshake's answers, close frames), in order; pub/sub itself dispatches
 * nothing. The default export is the handler module that each loop of a
 * `pubsubServer({ loops, websocket })` loads, since a handler object cannot cross to a loop's
 * thread.
 *
 * @module
 */

import type { MessageHandler } from "../../core/message_handler.ts";
import { websocketHandler } from "../websocket/websocket_handler.ts";

/** Pub/sub serves every operation on the I/O thread: a message reaching this is a bug. */
export const NO_MESSAGES: MessageHandler = {
  onMessage(message) {
    throw new Error(`The pub/sub protocol dispatches no messages, got type ${message.type}`);
  },
};

/**
 * The handshake's answers and close frames are written as they come; nothing else reaches the
 * inner handler, so the frame type and mode of the endpoint do not matter here.
 */
const handler: MessageHandler = websocketHandler(NO_MESSAGES);
export default handler;
