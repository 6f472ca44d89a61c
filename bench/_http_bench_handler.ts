/**
 * The HTTP bench's handler as a module (its default export), for a Speedo server of several
 * I/O loops: each loop loads it, since a function cannot cross to a loop's thread.
 *
 * @module
 */

import { httpHandler } from "../protocols/http/http_handler.ts";
import { HTTP_BENCH_BODY } from "./_http_body.ts";

export default httpHandler(() => new Response(HTTP_BENCH_BODY));
