import type { MessageFailedError } from "../../core/errors.ts";
import { SlowConsumerError } from "../../core/errors.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import { FramedHandle } from "./_framed_handle.ts";
import {
  closePayload,
  DEFAULT_MAX_MESSAGE_SIZE,
  encodeFrame,
  Opcode,
  WebSocketDecoder,
} from "./frame_codec.ts";
import { CloseCode, WebSocketError } from "./websocket_errors.ts";
import { MAX_INNER_TYPE, WEBSOCKET_MESSAGE, WebSocketMessageType } from "./websocket_message.ts";

/** Options of a WebSocket connection, shared by the protocol and the message handler. */
export interface WebSocketOptions {
  /**
   * Largest message (all its fragments), in bytes; past it the connection is closed with code
   * 1009.
   *
   * @default {1048576}
   */
  maxMessageSize?: number;
  /**
   * An inner protocol fed with the messages' payloads as one byte stream (stream mode), as
   * NATS over WebSocket does: `echoProtocol()` frames lines out of it, say. Without it, each
   * WebSocket message is dispatched as one Speedo message (per-message mode).
   */
  protocol?: ProtocolHandlerFactory;
  /**
   * Frame type of the writes that answer no message in kind: every write in stream mode, and
   * writes to other connections' handles. In per-message mode a reply through the message's own
   * handle has the message's type (text answers text).
   *
   * @default {"text"}
   */
  writeType?: "text" | "binary";
}

/** The options a session runs with, resolved once per protocol. */
export interface WebSocketSettings {
  maxMessageSize: number;
  protocol: ProtocolHandlerFactory | undefined;
  writeOpcode: number;
}

/**
 * Resolves and checks WebSocket options.
 *
 * @param options The options.
 * @returns The settings.
 * @throws {RangeError} When `maxMessageSize` is not a positive integer.
 * @throws {TypeError} When `writeType` or `protocol` is wrong.
 */
export function websocketSettings(options: WebSocketOptions): WebSocketSettings {
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  new WebSocketDecoder({ maxMessageSize });
  const writeType = options.writeType ?? "text";
  if (writeType !== "text" && writeType !== "binary") {
    throw new TypeError(`writeType must be "text" or "binary", got "${writeType}"`);
  }
  if (options.protocol !== undefined && typeof options.protocol.create !== "function") {
    throw new TypeError("protocol needs a create(context) method");
  }
  return {
    maxMessageSize,
    protocol: options.protocol,
    writeOpcode: writeType === "text" ? Opcode.text : Opcode.binary,
  };
}

/**
 * One WebSocket connection after its handshake: frames decoded, pings answered, the close
 * handshake carried out, and messages either dispatched (per-message mode) or fed to an inner
 * protocol (stream mode).
 *
 * ```
 *  open ──▶ open ── data frames ──▶ dispatch / inner.data
 *            │ ├── ping ──▶ pong (at once)
 *            │ ├── close(code) ──▶ close(code) sent after the replies ──▶ closed
 *            │ └── protocol error ──▶ close(1002/1007/1009) at once ──▶ closed
 *            └── eof (no close frame) ──▶ closed
 * ```
 */
export class WebSocketSession implements ProtocolHandler {
  readonly #context: ProtocolContext;
  readonly #decoder: WebSocketDecoder;
  readonly #settings: WebSocketSettings;
  #inner: ProtocolHandler | undefined;
  #closing = false;

  /**
   * Makes the session of a connection whose handshake succeeded.
   *
   * @param context The connection.
   * @param settings The resolved options.
   */
  constructor(context: ProtocolContext, settings: WebSocketSettings) {
    this.#context = context;
    this.#settings = settings;
    this.#decoder = new WebSocketDecoder({ maxMessageSize: settings.maxMessageSize });
  }

  open(): void {
    const protocol = this.#settings.protocol;
    if (protocol === undefined) return;
    const context = this.#context;
    this.#inner = protocol.create({
      id: context.id,
      handle: new FramedHandle(context.handle, this.#settings.writeOpcode),
      listener: context.listener,
      localAddr: context.localAddr,
      // The inner protocol's logins go to the server's authenticator, as over TCP: without
      // these, a protocol behind WebSocket would take every peer as authenticated.
      authenticationRequired: context.authenticationRequired,
      authenticate: context.authenticate === undefined
        ? undefined
        : (protocol, credentials) => context.authenticate!(protocol, credentials),
      dispatch(payload: Uint8Array, type = 0): void {
        if (!Number.isInteger(type) || type < 0 || type > MAX_INNER_TYPE) {
          throw new RangeError(
            `An inner protocol's message type must be 0 to ${MAX_INNER_TYPE}, got ${type}`,
          );
        }
        context.dispatch(payload, WEBSOCKET_MESSAGE | type);
      },
    });
    this.#inner.open?.();
  }

  data(chunk: Uint8Array): void {
    if (this.#closing) return;
    const decoder = this.#decoder;
    decoder.feed(chunk);
    while (true) {
      let payload: Uint8Array | null;
      try {
        payload = decoder.next();
      } catch (error) {
        if (!(error instanceof WebSocketError)) throw error;
        this.#fail(error.code, error.message);
        return;
      }
      if (payload === null) return;
      switch (decoder.lastOpcode) {
        case Opcode.text:
        case Opcode.binary:
          if (this.#inner !== undefined) this.#inner.data(payload);
          else this.#context.dispatch(payload, WEBSOCKET_MESSAGE | decoder.lastOpcode);
          break;
        case Opcode.ping:
          this.#context.handle.write(encodeFrame(Opcode.pong, payload));
          break;
        case Opcode.close: {
          // Echo the peer's code after the replies to its messages, then close.
          this.#closing = true;
          const reply = encodeFrame(Opcode.close, payload.subarray(0, Math.min(2, payload.length)));
          this.#context.dispatch(reply, WebSocketMessageType.close);
          this.#inner?.eof?.();
          return;
        }
          // pong: nothing to do
      }
    }
  }

  /** Closes with a code at once: the peer broke the protocol. */
  #fail(code: number, reason: string): void {
    this.#closing = true;
    this.#context.handle.write(encodeFrame(Opcode.close, closePayload(code, reason)));
    this.#context.handle.close();
  }

  eof(): void {
    this.#inner?.eof?.();
  }

  failed(error: MessageFailedError): void {
    if (this.#inner?.failed !== undefined) {
      this.#inner.failed(error);
      return;
    }
    this.#fail(CloseCode.internalError, "Message handler failed");
  }

  /**
   * The close frame for `reason` (1008 for a slow consumer, 1001 otherwise), after the inner
   * protocol's own last word as a data frame in stream mode (pub/sub's `-ERR 'Slow Consumer'`,
   * as nats-server sends it over WebSocket).
   */
  goodbye(reason: Error): Uint8Array {
    const code = reason instanceof SlowConsumerError
      ? CloseCode.policyViolation
      : CloseCode.goingAway;
    const close = encodeFrame(Opcode.close, closePayload(code, reason.message));
    const last = this.#inner?.goodbye?.(reason);
    if (last === undefined) return close;
    const bytes = typeof last === "string" ? new TextEncoder().encode(last) : last;
    if (bytes.length === 0) return close;
    const data = encodeFrame(this.#settings.writeOpcode, bytes);
    const both = new Uint8Array(data.length + close.length);
    both.set(data);
    both.set(close, data.length);
    return both;
  }

  close(reason?: Error): void {
    this.#inner?.close?.(reason);
  }
}
