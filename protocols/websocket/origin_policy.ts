/**
 * Which web pages may open a WebSocket to a server, decided from the handshake's `Origin` and
 * `Host` headers. Every WebSocket endpoint of Speedo checks it before it answers `101`.
 *
 * Why `Origin`, and why a missing one passes (RFC 6455 §4.1, §10.2): a browser sends `Origin`
 * on every WebSocket handshake, set by itself from the page that runs the script, and a page
 * cannot forge or drop it. Browsers do not apply the same-origin policy to WebSocket: a page
 * from anywhere may open `ws://127.0.0.1:4222/`, and its handshake carries its cookies, so the
 * server is the one that must check who is asking. Clients that are not browsers (curl,
 * `nats.ws` in Node or Deno, the `ws` npm package) usually send no `Origin`, and could send any
 * they like: the header protects users' browsers from other sites, not servers from programs.
 * So a handshake without `Origin` is allowed, and one whose `Origin` is not allowed is refused.
 *
 * @module
 */

/**
 * The entry of {@linkcode OriginPolicyOptions.allowedOrigins} that allows a page of the same
 * origin as the WebSocket: its `Origin`'s host and port are the handshake's `Host`.
 */
export const SAME_ORIGIN = "same-origin";

/** An origin as written in a list or a header: `scheme://host[:port]`, nothing more. */
const ORIGIN_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\\\s]+$/i;
/** What a `Host` header must not contain: anything but a host and a port. */
const NOT_HOST = /[/?#@\\\s]/;

/**
 * An origin in the one form both sides are compared in: scheme and host in lower case, the
 * default port of `http`/`https` left out (`HTTP://A:80` is `http://a`).
 *
 * @returns The origin, or `undefined` when `text` is not one.
 */
function normalizeOrigin(text: string): URL | undefined {
  if (!ORIGIN_FORM.test(text)) return undefined;
  try {
    const url = new URL(text.toLowerCase());
    return url.host === "" ? undefined : url;
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode OriginPolicy}. */
export interface OriginPolicyOptions {
  /**
   * The pages allowed to open a WebSocket, by their origin. Each entry is one of:
   *
   * - an origin, `scheme://host[:port]` as a browser sends it (`"https://app.example.com"`,
   *   `"http://localhost:8080"`): compared case-insensitively, with `http`'s port 80 and
   *   `https`'s port 443 the same as none;
   * - `"same-origin"` ({@linkcode SAME_ORIGIN}): a page whose origin's host and port are the
   *   handshake's `Host` (a port missing from either side is the default of the origin's
   *   scheme). The scheme is not compared: a TLS-terminating proxy that forwards `Host` as it
   *   came still counts as same origin;
   * - `"null"`: pages whose origin is opaque (sandboxed frames, `file:` pages), which browsers
   *   send as `Origin: null`; refused unless listed;
   * - `"*"`: any page at all. This turns the check off: any site a user visits can then use the
   *   server with that user's network position (a local NATS server: `SUB >`).
   *
   * A handshake without `Origin` does not come from a browser and is always allowed. A list
   * replaces the default, so give `"same-origin"` in it to keep same-origin pages. A list of
   * exact origins without it also stands against DNS rebinding, which the same-origin check
   * alone does not (a rebound name is in both `Origin` and `Host`).
   *
   * @default {["same-origin"]}
   */
  allowedOrigins?: readonly string[];
}

/**
 * Decides whether a WebSocket handshake comes from a page allowed to open it, from its
 * `Origin` and `Host` headers (see {@linkcode OriginPolicyOptions.allowedOrigins}). The list is
 * checked once, at construction; a handshake costs a lookup, and a URL parse or two when it
 * carries an `Origin`.
 *
 * @example Same origin by default, listed origins, no `Origin` at all
 * ```ts
 * import { OriginPolicy } from "@speedo/speedo/websocket";
 * import { assert, assertFalse, assertThrows } from "@std/assert";
 *
 * const same = new OriginPolicy();
 * assert(same.allows("http://localhost:8080", "localhost:8080"));
 * assertFalse(same.allows("http://evil.example", "localhost:8080"));
 * assert(same.allows(undefined, "localhost:8080")); // not a browser
 * assertFalse(same.allows("null", "localhost:8080"));
 *
 * const listed = new OriginPolicy({ allowedOrigins: ["https://App.Example.com:443"] });
 * assert(listed.allows("https://app.example.com", "ws.example.com"));
 * assertFalse(listed.allows("http://app.example.com", "ws.example.com"));
 *
 * assertThrows(() => new OriginPolicy({ allowedOrigins: ["app.example.com"] }), TypeError);
 * ```
 */
export class OriginPolicy {
  /** Whether every origin is allowed (`"*"`). */
  readonly #any: boolean;
  /** Whether same-origin pages are allowed. */
  readonly #sameOrigin: boolean;
  /** Whether `Origin: null` is allowed. */
  readonly #opaque: boolean;
  /** The listed origins, normalised (`scheme://host[:port]`). */
  readonly #listed: ReadonlySet<string>;

  /**
   * Checks the list and makes the policy.
   *
   * @param options The allowed origins.
   * @throws {TypeError} When `allowedOrigins` is not an array of strings, or an entry is
   *   neither an origin (`scheme://host[:port]`) nor `"same-origin"`, `"null"` or `"*"`.
   */
  constructor(options: OriginPolicyOptions = {}) {
    const allowed = options.allowedOrigins ?? [SAME_ORIGIN];
    if (!Array.isArray(allowed)) {
      throw new TypeError(`allowedOrigins must be an array of origins, got ${String(allowed)}`);
    }
    let any = false;
    let sameOrigin = false;
    let opaque = false;
    const listed = new Set<string>();
    for (const entry of allowed as unknown[]) {
      if (entry === "*") any = true;
      else if (entry === SAME_ORIGIN) sameOrigin = true;
      else if (entry === "null") opaque = true;
      else {
        const url = typeof entry === "string" ? normalizeOrigin(entry) : undefined;
        if (url === undefined) {
          throw new TypeError(
            `allowedOrigins has "${
              String(entry)
            }", which is not an origin: scheme://host[:port] such as "https://app.example.com", or "same-origin", "null" or "*"`,
          );
        }
        listed.add(`${url.protocol}//${url.host}`);
      }
    }
    this.#any = any;
    this.#sameOrigin = sameOrigin;
    this.#opaque = opaque;
    this.#listed = listed;
  }

  /**
   * Whether a handshake with these headers may open a WebSocket.
   *
   * @param origin The `Origin` header, if any.
   * @param host The `Host` header, if any.
   * @returns `true` without `Origin` (not a browser), or when the origin is allowed.
   */
  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined || this.#any) return true;
    if (origin === "null") return this.#opaque;
    const url = normalizeOrigin(origin);
    if (url === undefined) return false;
    if (this.#listed.has(`${url.protocol}//${url.host}`)) return true;
    return this.#sameOrigin && sameHost(url, host);
  }
}

/**
 * Whether an origin's host and port are those of a `Host` header. A port missing from `Host`
 * means the default of the origin's scheme: a browser leaves the port out when it is the
 * default of the WebSocket's scheme, and a same-origin page uses `ws:` from `http:` and `wss:`
 * from `https:` (a `ws:` socket from an `https:` page is blocked as mixed content).
 */
function sameHost(origin: URL, host: string | undefined): boolean {
  if (origin.protocol !== "http:" && origin.protocol !== "https:") return false;
  if (host === undefined || host === "" || NOT_HOST.test(host)) return false;
  try {
    return new URL(`${origin.protocol}//${host.toLowerCase()}`).host === origin.host;
  } catch {
    return false;
  }
}
