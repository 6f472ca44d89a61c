import type { MessageFailedError } from "../../core/errors.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import { HttpError, RequestTimeoutError } from "./http_errors.ts";
import { HttpMessageFlag, HttpMessageKind, readRequest, type RequestHead } from "./http_message.ts";
import { RequestParser, type RequestParserOptions } from "./request_parser.ts";
import { type Deadlined, RequestDeadlines } from "./_request_deadlines.ts";
import { errorResponse, plainResponse } from "./_response_writer.ts";

/** The default {@linkcode HttpProtocolOptions.headersTimeout}: 10 s. */
export const DEFAULT_HEADERS_TIMEOUT = 10_000;
/** The default {@linkcode HttpProtocolOptions.requestTimeout}: 5 minutes. */
export const DEFAULT_REQUEST_TIMEOUT = 300_000;

/**
 * What an upgrade hook answers for a request that asks to switch protocols.
 */
export interface HttpUpgradeResult {
  /**
   * The response to write: a `101 Switching Protocols` when `handler` is given, or a refusal
   * (400, 426...), after which the connection closes.
   */
  response: Uint8Array | string;
  /** The protocol handler that takes the connection over after the response. */
  handler?: ProtocolHandler;
}

/**
 * Decides about a request that asks for a protocol upgrade (`Connection: upgrade` and an
 * `Upgrade` header): take the connection over, refuse, or serve it as a plain request.
 *
 * @param request The request.
 * @param context The connection, for the new protocol handler.
 * @returns The switch or the refusal, or `undefined` to serve the request as usual.
 */
export type HttpUpgrade = (
  request: RequestHead,
  context: ProtocolContext,
) => HttpUpgradeResult | undefined;

/** Options of {@linkcode httpProtocol}. */
export interface HttpProtocolOptions extends RequestParserOptions {
  /**
   * Time until the end of a request's head, in milliseconds, counted from the accept for a
   * connection's first request and from the first byte for the next ones; past it the request
   * is answered 408 and the connection closed (a slowloris defence). A connection that sent
   * nothing of a request by then (or only empty lines) is closed without a response. 0 turns
   * it off.
   *
   * @default {10000}
   */
  headersTimeout?: number;
  /**
   * Time until the end of a request's body, in milliseconds, counted as `headersTimeout` is;
   * past it the request is answered 408 and the connection closed. 0 turns it off.
   *
   * @default {300000}
   */
  requestTimeout?: number;
  /** Takes over connections whose request asks for a protocol upgrade (WebSocket, say). */
  upgrade?: HttpUpgrade;
  /**
   * Whether the connections are TLS, so that requests' URLs are `https:`.
   *
   * @default {false}
   */
  secure?: boolean;
}

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const SERVER_ERROR = plainResponse(500, "500 Internal Server Error");
const SERVER_FULL = plainResponse(503, "503 Service Unavailable: too many connections");

interface Settings {
  parser: RequestParserOptions;
  deadlines: RequestDeadlines;
  upgrade: HttpUpgrade | undefined;
  secure: number;
}

/**
 * One connection's HTTP/1.1: requests framed by the parser and dispatched in order, the
 * protocol's own answers dispatched too (so they keep their place among the responses), and an
 * upgrade handing the connection to another protocol handler.
 *
 * ```
 *            ┌──────────── request (keep-alive) ◀──┐
 *  open ──▶ reading ──── request (close) ──▶ done │
 *            │  └──────── parse error ──▶ error response ──▶ done
 *            └── upgrade accepted ──▶ upgraded (bytes go to the new handler)
 * ```
 */
class HttpProtocolHandler implements ProtocolHandler, Deadlined {
  readonly #context: ProtocolContext;
  readonly #parser: RequestParser;
  readonly #settings: Settings;
  #done = false;
  /** No request completed yet: the deadlines count from the accept, not from a first byte. */
  #first = true;
  #upgraded: ProtocolHandler | undefined;

  constructor(context: ProtocolContext, settings: Settings) {
    this.#context = context;
    this.#settings = settings;
    this.#parser = new RequestParser(settings.parser);
  }

  get inHead(): boolean {
    // Waiting for the first request counts as its head: a connection that sends nothing holds
    // a socket just as a slowloris does.
    return this.#parser.inHead || (this.#first && !this.#parser.busy);
  }

  open(): void {
    const deadlines = this.#settings.deadlines;
    if (deadlines.enabled) deadlines.arm(this, true);
  }

  data(chunk: Uint8Array): void {
    if (this.#upgraded !== undefined) {
      this.#upgraded.data(chunk);
      return;
    }
    if (this.#done) return;
    const parser = this.#parser;
    const context = this.#context;
    parser.feed(chunk);
    let completed = false;
    while (true) {
      let payload: Uint8Array | null;
      try {
        payload = parser.next();
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        this.#refuse(error);
        return;
      }
      if (payload === null) break;
      completed = true;
      const type = parser.lastType | this.#settings.secure;
      if ((type & HttpMessageFlag.upgrade) !== 0) {
        if (this.#settings.upgrade !== undefined && this.#tryUpgrade(payload, type)) return;
        // Not taken (an h2c upgrade, say): a plain request, and the connection goes on.
        parser.resume();
      }
      context.dispatch(payload, type);
    }
    if (parser.stopped) {
      this.#done = true;
      this.#settings.deadlines.disarm(this);
      return;
    }
    if (parser.takeContinue()) context.dispatch(CONTINUE, HttpMessageKind.write);
    if (completed) this.#first = false;
    const deadlines = this.#settings.deadlines;
    if (!deadlines.enabled) return;
    if (parser.busy) deadlines.arm(this, completed);
    // Before the first request, the clock armed at open goes on (empty lines do not stop it).
    else if (!this.#first) deadlines.disarm(this);
  }

  /** Hands the connection to the upgrade hook; `true` when it took it (or refused it). */
  #tryUpgrade(payload: Uint8Array, type: number): boolean {
    const result = this.#settings.upgrade!(readRequest(payload, type), this.#context);
    if (result === undefined) return false;
    this.#done = true;
    this.#settings.deadlines.disarm(this);
    const response = typeof result.response === "string"
      ? new TextEncoder().encode(result.response)
      : result.response;
    if (result.handler === undefined) {
      this.#context.dispatch(response, HttpMessageKind.writeAndClose);
      return true;
    }
    // Dispatched, so that it follows the responses to the requests before it.
    this.#context.dispatch(response, HttpMessageKind.write);
    const handler = result.handler;
    this.#upgraded = handler;
    handler.open?.();
    const rest = this.#parser.rest();
    if (rest.length > 0) handler.data(rest);
    return true;
  }

  #refuse(error: HttpError): void {
    this.#done = true;
    this.#settings.deadlines.disarm(this);
    this.#context.dispatch(errorResponse(error), HttpMessageKind.writeAndClose);
  }

  expire(timeout: number, what: string): void {
    if (this.#done || this.#upgraded !== undefined) return;
    if (!this.#parser.busy) {
      // Nothing of a request arrived (only before the first one: the deadline is disarmed
      // between requests). No response, as nginx does: a 408 nobody asked for could be read
      // as the answer to a request sent meanwhile.
      this.#done = true;
      this.#context.handle.close();
      return;
    }
    this.#refuse(new RequestTimeoutError(timeout, what));
  }

  eof(): void {
    this.#upgraded?.eof?.();
  }

  failed(error: MessageFailedError): void {
    if (this.#upgraded?.failed !== undefined) {
      this.#upgraded.failed(error);
      return;
    }
    // The handler failed before or while answering: a 500, and the connection closes, since
    // part of a response may have gone out already.
    this.#done = true;
    this.#context.handle.write(SERVER_ERROR);
    this.#context.handle.close();
  }

  goodbye(reason: Error): Uint8Array | string | undefined {
    if (this.#upgraded !== undefined) return this.#upgraded.goodbye?.(reason);
    // Idle with part of a request: it timed out. Idle between requests: close without a word.
    return this.#parser.busy ? errorResponse(new RequestTimeoutError(0, "Request")) : undefined;
  }

  close(reason?: Error): void {
    this.#settings.deadlines.disarm(this);
    this.#upgraded?.close?.(reason);
  }
}

/**
 * The HTTP/1.1 protocol: a bounded, incremental request parser per connection, pipelined
 * requests dispatched in order (their responses keep that order), keep-alive by default in 1.1,
 * `Connection: close` and HTTP/1.0 honoured, `100 Continue` sent when asked, refused requests
 * answered with their status (400, 408, 413, 414, 431, 501, 505) and the connection closed, and
 * upgrades handed to another protocol (see `websocketUpgrade` in `@speedo/speedo/websocket`).
 *
 * Pair it with {@linkcode httpHandler} as the server's message handler, or use
 * {@linkcode httpServer}, which does both.
 *
 * The factory has a `recipe` (it runs on every loop of a server with `loops` above 1) unless
 * `upgrade` is given: a hook is a function, which cannot cross to a loop's thread.
 *
 * @param options Limits, timeouts, the upgrade hook.
 * @returns The protocol handler factory.
 *
 * @example Pipelined requests at every chunk size
 * ```ts
 * import { httpProtocol } from "@speedo/speedo/http";
 * import { forEachChunkSize, runProtocol } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const input = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
 * forEachChunkSize(input, (_chunks, size) => {
 *   const transport = runProtocol(httpProtocol(), input, { chunkSize: size });
 *   assertEquals(transport.messages.length, 2);
 * });
 * ```
 */
export function httpProtocol(options: HttpProtocolOptions = {}): ProtocolHandlerFactory {
  const {
    headersTimeout = DEFAULT_HEADERS_TIMEOUT,
    requestTimeout = DEFAULT_REQUEST_TIMEOUT,
    upgrade,
    secure = false,
    ...parser
  } = options;
  for (
    const [name, value] of [["headersTimeout", headersTimeout], [
      "requestTimeout",
      requestTimeout,
    ]] as const
  ) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (upgrade !== undefined && typeof upgrade !== "function") {
    throw new TypeError(`upgrade must be a function, got ${typeof upgrade}`);
  }
  // Checked now, so a bad option fails at construction rather than at the first connection.
  new RequestParser(parser);
  const settings: Settings = {
    parser,
    deadlines: new RequestDeadlines(headersTimeout, requestTimeout),
    upgrade,
    secure: secure ? HttpMessageFlag.secure : 0,
  };
  return {
    create: (context) => new HttpProtocolHandler(context, settings),
    refusal: () => SERVER_FULL,
    // An upgrade hook is a function, which cannot cross to a loop's thread: with one, the
    // factory runs on one loop only (`websocketProtocol` gives its own recipe instead).
    recipe: upgrade === undefined
      ? {
        module: import.meta.url,
        export: "httpProtocol",
        options: { ...parser, headersTimeout, requestTimeout, secure },
      }
      : undefined,
  };
}
