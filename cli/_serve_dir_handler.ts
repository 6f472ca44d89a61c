/**
 * The message handler of `speedo serve http`, as a module that each I/O loop (or worker)
 * loads: the files of a folder by `serveDir`, the folder from the server's `handlerData`
 * (`{ dir }`).
 *
 * @module
 */

import type { MessageHandler } from "../core/message_handler.ts";
import { type HttpFetchHandler, httpHandler } from "../protocols/http/http_handler.ts";
import { serveDir } from "../protocols/http/serve_dir.ts";

/** What the server gives this handler: the folder to serve. */
export interface ServeDirData {
  /** The folder's path. */
  dir: string;
}

/** Set by `init`, before the first request. */
let serve: HttpFetchHandler | undefined;

const messages = httpHandler((request, info) =>
  serve === undefined ? new Response("Not ready", { status: 503 }) : serve(request, info)
);

const files: MessageHandler<ServeDirData> = {
  init(data) {
    if (typeof data?.dir !== "string") {
      throw new TypeError(
        `The folder handler needs handlerData { dir }, got ${JSON.stringify(data)}`,
      );
    }
    serve = serveDir(data.dir);
  },
  onMessage: messages.onMessage,
  keepsPayload: messages.keepsPayload,
};
export default files;
