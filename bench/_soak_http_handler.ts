/**
 * The soak's HTTP handler: a POST's body comes back; a GET gets a body of its path and `pad`
 * bytes. A function for a server of one loop, and this module's default export for one of
 * several (each loop loads it).
 *
 * @module
 */

import { httpHandler } from "../protocols/http/http_handler.ts";
import { HTTP_MAX_PAD, httpBody } from "./_soak_payloads.ts";

/** Answers one soak request. */
export async function soakResponse(request: Request): Promise<Response> {
  if (request.method === "POST") return new Response(await request.arrayBuffer());
  const url = new URL(request.url);
  const pad = Number(url.searchParams.get("pad") ?? "0");
  if (!Number.isInteger(pad) || pad < 0 || pad > HTTP_MAX_PAD) {
    return new Response(`Bad pad "${url.searchParams.get("pad")}"`, { status: 400 });
  }
  return new Response(httpBody(url.pathname, pad));
}

export default httpHandler(soakResponse);
