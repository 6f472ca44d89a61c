/**
 * The message handler of `examples/http.ts`, as a module that each I/O loop loads: the folder's
 * files by `serveDir`, with the folder from the server's `handlerData` (`{ dir }`), and the
 * WebSocket messages of `/ws` echoed by the echo protocol's handler.
 *
 * @module
 */

import type { MessageHandler } from "@speedo/speedo";
import echoHandler from "@speedo/speedo/echo/handler";
import { type HttpFetchHandler, httpHandler, serveDir } from "@speedo/speedo/http";
import { websocketHandler } from "@speedo/speedo/websocket";
import { SITE_ECHO } from "./_site_protocol.ts";

/** What the server gives this handler: the folder to serve. */
export interface SiteData {
  /** The folder's path. */
  dir: string;
}

/** Set by `init`, before the first request. */
let serve: HttpFetchHandler | undefined;

// The echo's WebSocket handler also writes the close frames of the NATS connections: that is
// all they dispatch, and it is the same for every endpoint.
const messages = httpHandler(
  (request, info) =>
    serve === undefined ? new Response("Not ready", { status: 503 }) : serve(request, info),
  { websocket: websocketHandler(echoHandler, SITE_ECHO) },
);

const site: MessageHandler<SiteData> = {
  init(data) {
    if (typeof data?.dir !== "string") {
      throw new TypeError(
        `The site handler needs handlerData { dir }, got ${JSON.stringify(data)}`,
      );
    }
    serve = serveDir(data.dir);
  },
  onMessage: messages.onMessage,
  keepsPayload: messages.keepsPayload,
};
export default site;
