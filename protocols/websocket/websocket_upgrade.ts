import type { ProtocolContext } from "../../core/protocol.ts";
import type { RequestHead } from "../http/http_message.ts";
import type { HttpUpgrade, HttpUpgradeResult } from "../http/http_protocol.ts";
import { plainResponse } from "../http/_response_writer.ts";
import { sha1 } from "./_sha1.ts";
import { OriginPolicy, type OriginPolicyOptions } from "./origin_policy.ts";
import {
  type WebSocketOptions,
  WebSocketSession,
  type WebSocketSettings,
  websocketSettings,
} from "./websocket_session.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Says no more than that: which origins are allowed is not the asker's business.
const FORBIDDEN_ORIGIN = "403 Forbidden: origin not allowed";
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/**
 * The `Sec-WebSocket-Accept` value for a handshake's `Sec-WebSocket-Key` (RFC 6455 4.2.2):
 * base64 of SHA-1 of the key and the protocol's GUID. Synchronous, so the handshake is answered
 * inside `data`.
 *
 * @param key The client's key.
 * @returns The accept value.
 *
 * @example The example of RFC 6455
 * ```ts
 * import { websocketAccept } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(websocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function websocketAccept(key: string): string {
  const digest = sha1(new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...digest));
}

/** Options of {@linkcode websocketUpgrade}. */
export interface WebSocketUpgradeOptions extends WebSocketOptions, OriginPolicyOptions {
  /**
   * The path (without query) to serve WebSocket at, such as `"/ws"`; other upgrade requests
   * are served as plain requests. Without it, every path.
   */
  path?: string;
  /**
   * Subprotocols offered; the first the client lists (in `Sec-WebSocket-Protocol`) that is
   * here is chosen. Without a match, none is.
   *
   * @default {[]}
   */
  protocols?: readonly string[];
}

function pathOf(target: string): string {
  if (target.charCodeAt(0) === 0x2f) {
    const query = target.indexOf("?");
    return query < 0 ? target : target.slice(0, query);
  }
  try {
    return new URL(target).pathname;
  } catch {
    return "";
  }
}

/**
 * Checks a WebSocket handshake request (RFC 6455 4.2.1) and answers it.
 *
 * @param request The request.
 * @param context The connection.
 * @param settings The session's settings.
 * @param protocols Subprotocols offered.
 * @param origins Which pages may open a WebSocket.
 * @returns The 101 and the session, or a refusal (403 for an origin not allowed, 400; 426 for
 *   a version other than 13).
 */
function handshake(
  request: RequestHead,
  context: ProtocolContext,
  settings: WebSocketSettings,
  protocols: readonly string[],
  origins: OriginPolicy,
): HttpUpgradeResult {
  // First, so that a page of another site learns nothing else about the endpoint.
  if (!origins.allows(request.headers.origin, request.headers.host)) {
    return { response: plainResponse(403, FORBIDDEN_ORIGIN) };
  }
  if (request.method !== "GET" || request.version !== "HTTP/1.1") {
    return {
      response: plainResponse(400, "400 Bad Request: a WebSocket handshake is a GET in HTTP/1.1"),
    };
  }
  if (request.headers["sec-websocket-version"] !== "13") {
    return {
      response: plainResponse(
        426,
        "426 Upgrade Required: Sec-WebSocket-Version must be 13",
        "sec-websocket-version: 13\r\n",
      ),
    };
  }
  const key = request.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) {
    return {
      response: plainResponse(400, "400 Bad Request: Sec-WebSocket-Key must be 16 bytes in base64"),
    };
  }
  let chosen = "";
  const offered = request.headers["sec-websocket-protocol"];
  if (offered !== undefined && protocols.length > 0) {
    chosen = offered.split(",").map((p) => p.trim()).find((p) => protocols.includes(p)) ?? "";
  }
  const response =
    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
    `sec-websocket-accept: ${websocketAccept(key)}\r\n` +
    (chosen === "" ? "" : `sec-websocket-protocol: ${chosen}\r\n`) + "\r\n";
  return { response, handler: new WebSocketSession(context, settings) };
}

/**
 * The upgrade hook that turns HTTP connections into WebSocket ones: give it as `upgrade` to
 * `httpProtocol` (or `websocket` to `httpServer`, which also sets the message handler). A
 * request whose `Upgrade` lists `websocket` (at `path`, if given) is checked and answered `101`
 * (then frames follow), or refused and closed: 403 when it comes from a page whose origin is
 * not allowed (`allowedOrigins`: by default only same-origin pages, and clients that send no
 * `Origin`, which browsers always do), 400 for a bad handshake, 426 for a version other than
 * 13. Other requests are served as usual.
 *
 * @param options The path, subprotocols, allowed origins and the WebSocket options.
 * @returns The hook.
 * @throws {TypeError} When `path` or an entry of `allowedOrigins` is malformed.
 * @throws {RangeError} When `maxMessageSize` is out of range.
 *
 * @example Switching a connection
 * ```ts
 * import { httpProtocol } from "@speedo/speedo/http";
 * import { websocketUpgrade } from "@speedo/speedo/websocket";
 * import { runProtocol } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const protocol = httpProtocol({ upgrade: websocketUpgrade({ path: "/ws" }) });
 * const transport = runProtocol(
 *   protocol,
 *   "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
 *     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
 * );
 * const reply = new TextDecoder().decode(transport.messages[0].payload);
 * assertEquals(reply.split("\r\n")[0], "HTTP/1.1 101 Switching Protocols");
 * ```
 */
export function websocketUpgrade(options: WebSocketUpgradeOptions = {}): HttpUpgrade {
  const { path, protocols = [], allowedOrigins, ...rest } = options;
  if (path !== undefined && (typeof path !== "string" || !path.startsWith("/"))) {
    throw new TypeError(`path must start with "/", got "${path}"`);
  }
  const settings = websocketSettings(rest);
  const origins = new OriginPolicy({ allowedOrigins });
  return (request, context) => {
    const upgrade = request.headers.upgrade;
    if (
      upgrade === undefined ||
      !upgrade.toLowerCase().split(",").some((t) => t.trim() === "websocket")
    ) {
      return undefined;
    }
    if (path !== undefined && pathOf(request.target) !== path) return undefined;
    return handshake(request, context, settings, protocols, origins);
  };
}
