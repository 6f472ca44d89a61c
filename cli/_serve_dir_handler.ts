/**
 * The message handler of `speedo serve http`, as a module that each I/O loop (or worker)
 * loads: the files of a folder by `serveDir`, the folder from the server's `handlerData`
 * (`{ dir }`). `examples/_site_handler.ts` is the same with a WebSocket endpoint.
 *
 * @module
 */

import type { MessageHandler } from "../core/message_handler.ts";
import {
  type HttpFetchHandler,
  httpHandler,
  type HttpHandlerOptions,
} from "../protocols/http/http_handler.ts";
import { serveDir } from "../protocols/http/serve_dir.ts";

/** What the server gives a folder's handler: the folder to serve. */
export interface ServeDirData {
  /** The folder's path. */
  dir: string;
}

/**
 * A handler for the files of the folder that `init` is given.
 *
 * @param options What `httpHandler` takes beside the fetch function (a WebSocket endpoint).
 * @returns The handler, for a module's default export.
 */
export function folderHandler(options: HttpHandlerOptions = {}): MessageHandler<ServeDirData> {
  /** Set by `init`, before the first request. */
  let serve: HttpFetchHandler | undefined;
  const messages = httpHandler(
    (request, info) =>
      serve === undefined ? new Response("Not ready", { status: 503 }) : serve(request, info),
    options,
  );
  return {
    init(data) {
      if (typeof data?.dir !== "string") {
        throw new TypeError(
          `A folder's handler needs handlerData { dir }, got ${JSON.stringify(data)}`,
        );
      }
      serve = serveDir(data.dir);
    },
    onMessage: messages.onMessage,
    keepsPayload: messages.keepsPayload,
  };
}

export default folderHandler();
