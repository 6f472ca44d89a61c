/**
 * An HTTP handler module for worker tests: `GET /slow` answers after 50 ms; everything else
 * answers `method path body` at once.
 *
 * @module
 */

import { httpHandler } from "../../protocols/http/http_handler.ts";

export default httpHandler(async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/slow") await new Promise((resolve) => setTimeout(resolve, 50));
  return new Response(`${request.method} ${url.pathname} ${await request.text()}`);
});
