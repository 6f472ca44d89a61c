/**
 * The echo handler over WebSocket in stream mode (the echo protocol frames lines out of the
 * messages' payloads): a handler module for tests of servers of several loops.
 *
 * @module
 */

import echoHandler from "../../protocols/echo/echo_handler.ts";
import { echoProtocol } from "../../protocols/echo/echo_protocol.ts";
import type { MessageHandler } from "../../core/message_handler.ts";
import { websocketHandler } from "../../protocols/websocket/websocket_handler.ts";

const handler: MessageHandler = websocketHandler(echoHandler, { protocol: echoProtocol() });
export default handler;
