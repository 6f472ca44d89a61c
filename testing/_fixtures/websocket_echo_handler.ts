/**
 * The echo handler over WebSocket, per message: a handler module for worker tests.
 *
 * @module
 */

import echoHandler from "../../protocols/echo/echo_handler.ts";
import { websocketHandler } from "../../protocols/websocket/websocket_handler.ts";

export default websocketHandler(echoHandler);
