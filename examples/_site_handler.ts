/**
 * The message handler of `examples/http.ts`, as a module that each I/O loop loads: the folder's
 * files by `serveDir`, with the folder from the server's `handlerData` (`{ dir }`), as
 * `speedo serve http` serves them, and the WebSocket messages of `/ws` echoed by the echo
 * protocol's handler.
 *
 * @module
 */

import echoHandler from "@speedo/speedo/echo/handler";
import { websocketHandler } from "@speedo/speedo/websocket";
import { folderHandler, type ServeDirData } from "../cli/_serve_dir_handler.ts";
import { SITE_ECHO } from "./_site_protocol.ts";

/** What the server gives this handler: the folder to serve. */
export type SiteData = ServeDirData;

// The echo's WebSocket handler also writes the close frames of the NATS connections: that is
// all they dispatch, and it is the same for every endpoint.
export default folderHandler({ websocket: websocketHandler(echoHandler, SITE_ECHO) });
