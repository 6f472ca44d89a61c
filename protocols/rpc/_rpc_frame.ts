/**
 * The RPC layer's own 8-byte header, inside the payload of a message-header frame, and a
 * writer that builds whole frames in one reused buffer.
 *
 * ```
 *  frame: ┌ message header (8) ┬ kind u8 ┬ 0 0 0 ┬ id u32 LE ┬ body … ┬ padding ┐
 *         0                    8         9       12          16
 *  error body: ┌ name length u8 ┬ name UTF-8 ┬ message UTF-8 … ┐
 * ```
 *
 * @module
 */

import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { HEADER_SIZE } from "../../core/framing/message_header.ts";

/** What an RPC frame carries, in its first payload byte. */
export const RpcKind = {
  /** A call that wants a reply with the same id. */
  request: 1,
  /** A successful reply; the body is the handler's result. */
  reply: 2,
  /** A failed reply; the body is the error's name and message. */
  error: 3,
  /** A one-way message: no reply unless it fails. */
  notify: 4,
  /** The caller gave up on the request of this id: its handler's signal aborts; no reply. */
  cancel: 5,
  /**
   * Type 0 only: the caller's credentials (a JSON object), for the server's authenticator;
   * answered with a reply (the identity's name) or an `RpcAuthenticationError` and a close.
   */
  hello: 6,
} as const;

/** Bytes of the RPC header in a frame's payload. */
export const RPC_HEADER_SIZE = 8;
/** The message type of the RPC layer's own requests (ping), answered on the I/O thread. */
export const CONTROL_TYPE = 0;

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** The id of the RPC payload at `start` in `bytes`. */
export function rpcId(bytes: Uint8Array, start = 0): number {
  return (bytes[start + 4] | (bytes[start + 5] << 8) | (bytes[start + 6] << 16) |
    (bytes[start + 7] << 24)) >>> 0;
}

/** Reads an error body. */
export function decodeRpcError(body: Uint8Array): { name: string; message: string } {
  const nameLength = body.length > 0 ? Math.min(body[0], body.length - 1) : 0;
  return {
    name: text.decode(body.subarray(1, 1 + nameLength)),
    message: text.decode(body.subarray(1 + nameLength)),
  };
}

/**
 * Builds frames into one buffer, reused: a frame returned is valid until the next call (a
 * connection's `write` copies it at once).
 */
export class RpcFrameWriter {
  readonly #encoder: HeaderEncoder;
  readonly #maxBodyLength: number;
  #buffer: Uint8Array;
  /** The view last returned, reused while frames keep its length (a view per frame costs). */
  #view: Uint8Array;

  constructor(maxFrameSize?: number) {
    this.#encoder = new HeaderEncoder({ maxFrameSize });
    this.#maxBodyLength = this.#encoder.maxPayloadLength - RPC_HEADER_SIZE;
    this.#buffer = new Uint8Array(256);
    this.#view = this.#buffer.subarray(0, 0);
  }

  /** Largest body a frame can carry. */
  get maxBodyLength(): number {
    return this.#maxBodyLength;
  }

  /**
   * A frame with this RPC header and body.
   *
   * @throws {RangeError} When the body is too long for a frame.
   */
  frame(type: number, kind: number, id: number, body: Uint8Array | string): Uint8Array {
    const start = HEADER_SIZE + RPC_HEADER_SIZE;
    // A string's UTF-8 form is at least as long as its UTF-16 length.
    let length = body.length;
    if (length > this.#maxBodyLength) {
      throw new RangeError(
        `Body of at least ${length} bytes exceeds the limit of ${this.#maxBodyLength} bytes`,
      );
    }
    if (typeof body === "string") {
      this.#reserve(start + length * 3 + 8);
      length = utf8.encodeInto(body, this.#buffer.subarray(start)).written;
    } else {
      this.#reserve(start + length + 8);
      this.#buffer.set(body, start);
    }
    const buffer = this.#buffer;
    const frameLength = this.#encoder.writeHeader(buffer, 0, type, RPC_HEADER_SIZE + length);
    buffer[8] = kind;
    buffer[9] = buffer[10] = buffer[11] = 0;
    buffer[12] = id & 0xff;
    buffer[13] = (id >>> 8) & 0xff;
    buffer[14] = (id >>> 16) & 0xff;
    buffer[15] = id >>> 24;
    if (this.#view.length !== frameLength) this.#view = buffer.subarray(0, frameLength);
    return this.#view;
  }

  /** An error frame: the error's name (at most 255 bytes) and message, cut to fit a frame. */
  errorFrame(type: number, id: number, name: string, message: string): Uint8Array {
    const nameBytes = utf8.encode(name).subarray(0, Math.min(255, this.maxBodyLength - 1));
    let messageBytes = utf8.encode(message);
    const room = this.maxBodyLength - 1 - nameBytes.length;
    if (messageBytes.length > room) messageBytes = messageBytes.subarray(0, Math.max(0, room));
    const body = new Uint8Array(1 + nameBytes.length + messageBytes.length);
    body[0] = nameBytes.length;
    body.set(nameBytes, 1);
    body.set(messageBytes, 1 + nameBytes.length);
    return this.frame(type, RpcKind.error, id, body);
  }

  #reserve(length: number): void {
    if (length <= this.#buffer.length) return;
    let size = this.#buffer.length;
    while (size < length) size *= 2;
    this.#buffer = new Uint8Array(size);
    this.#view = this.#buffer.subarray(0, 0);
  }
}
