import { CloseCode, MessageTooBigError, WebSocketError } from "./websocket_errors.ts";

/** Frame opcodes of RFC 6455. */
export const Opcode = {
  /** A continuation of a fragmented message. */
  continuation: 0x0,
  /** A text message (UTF-8). */
  text: 0x1,
  /** A binary message. */
  binary: 0x2,
  /** The close handshake. */
  close: 0x8,
  /** A ping; answered with a pong of the same payload. */
  ping: 0x9,
  /** A pong. */
  pong: 0xa,
} as const;

/** The default {@linkcode WebSocketDecoderOptions.maxMessageSize}: 1 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

/** Options of {@linkcode WebSocketDecoder}. */
export interface WebSocketDecoderOptions {
  /**
   * Largest message (all its fragments), in bytes; past it, {@linkcode MessageTooBigError}
   * (close code 1009).
   *
   * @default {1048576}
   */
  maxMessageSize?: number;
  /**
   * Whether frames must be masked, as a client's must be (a server's must not).
   *
   * @default {true}
   */
  requireMask?: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);

const enum State {
  Header,
  Payload,
  Failed,
}

/** Whether a close code may appear in a close frame (RFC 6455 7.4, IANA registry). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * A pure WebSocket frame decoder (RFC 6455): bytes in, messages and control frames out; no
 * sockets, no timers.
 *
 * ```
 *   0               1               2               3
 *   0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
 *  ┌─┬─┬─┬─┬───────┬─┬─────────────┬───────────────────────────────┐
 *  │F│R│R│R│opcode │M│ length (7)  │ length: 16 bits if 126,       │
 *  │I│S│S│S│  (4)  │A│             │ 64 bits if 127                │
 *  │N│1│2│3│       │S│             │                               │
 *  ├─┴─┴─┴─┴───────┴─┴─────────────┼───────────────────────────────┤
 *  │ masking key (32 bits, when MASK; every client frame)          │
 *  ├───────────────────────────────────────────────────────────────┤
 *  │ payload (length bytes, XORed with the key)                    │
 *  └───────────────────────────────────────────────────────────────┘
 * ```
 *
 * {@linkcode WebSocketDecoder.next} returns whole messages (fragments joined, unmasked, text
 * checked as UTF-8) and control frames (ping, pong, close; they may come between the fragments
 * of a message), with the opcode in {@linkcode WebSocketDecoder.lastOpcode}. A payload is a view
 * of the chunk fed (unmasked in place) when the frame lies in it, or a buffer of its own; the
 * decoder never reuses a buffer it returned.
 *
 * It throws {@linkcode WebSocketError} with the close code to send for: reserved bits set (no
 * extension is negotiated), an unknown opcode, an unmasked client frame, a fragmented or
 * oversized (> 125 bytes) control frame, a continuation with no message begun or a new message
 * before the last one ended, a 64-bit length with its top bit set, a close frame with a 1-byte
 * payload or an invalid code (1002); text or a close reason that is not UTF-8 (1007); a message
 * over `maxMessageSize` (1009). It then stops: `next` returns `null`.
 *
 * @example A fragmented text message with a ping between its fragments
 * ```ts
 * import { encodeFrame, Opcode, WebSocketDecoder } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const mask = new Uint8Array([1, 2, 3, 4]);
 * const text = new TextEncoder();
 * const decoder = new WebSocketDecoder();
 * decoder.feed(new Uint8Array([
 *   ...encodeFrame(Opcode.text, text.encode("hel"), { fin: false, mask }),
 *   ...encodeFrame(Opcode.ping, text.encode("?"), { mask }),
 *   ...encodeFrame(Opcode.continuation, text.encode("lo"), { mask }),
 * ]));
 * assertEquals(new TextDecoder().decode(decoder.next()!), "?");
 * assertEquals(decoder.lastOpcode, Opcode.ping);
 * assertEquals(new TextDecoder().decode(decoder.next()!), "hello");
 * assertEquals(decoder.lastOpcode, Opcode.text);
 * assertEquals(decoder.next(), null);
 * ```
 */
export class WebSocketDecoder {
  /** Largest message accepted, in bytes. */
  readonly maxMessageSize: number;
  readonly #requireMask: boolean;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  #state: State = State.Header;
  #header = new Uint8Array(14);
  #headerLength = 0;
  #lastOpcode = 0;
  // The frame being read:
  #fin = false;
  #opcode = 0;
  #mask = new Uint8Array(4);
  #masked = false;
  #remaining = 0;
  #frameOffset = 0;
  // The message being assembled (data frames), or the control frame:
  #messageOpcode = -1;
  #message: Uint8Array = EMPTY;
  #messageLength = 0;
  #control = new Uint8Array(125);
  #controlLength = 0;

  /**
   * Makes a decoder.
   *
   * @param options Limits, and whether frames must be masked.
   * @throws {RangeError} When `maxMessageSize` is not a positive integer.
   */
  constructor(options: WebSocketDecoderOptions = {}) {
    const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`maxMessageSize must be a positive integer, got ${max}`);
    }
    this.maxMessageSize = max;
    this.#requireMask = options.requireMask ?? true;
  }

  /**
   * The opcode of the payload last returned: {@linkcode Opcode.text} or
   * {@linkcode Opcode.binary} for a message, or a control opcode.
   *
   * @example
   * ```ts
   * import { encodeFrame, Opcode, WebSocketDecoder } from "@speedo/speedo/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new WebSocketDecoder({ requireMask: false });
   * decoder.feed(encodeFrame(Opcode.binary, new Uint8Array([7])));
   * decoder.next();
   * assertEquals(decoder.lastOpcode, Opcode.binary);
   * ```
   */
  get lastOpcode(): number {
    return this.#lastOpcode;
  }

  /**
   * Gives the decoder the next chunk; call {@linkcode WebSocketDecoder.next} until it returns
   * `null` before feeding again.
   *
   * @param chunk Bytes read. Masked payloads are unmasked in place in it.
   *
   * @example
   * ```ts
   * import { encodeFrame, Opcode, WebSocketDecoder } from "@speedo/speedo/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new WebSocketDecoder({ requireMask: false });
   * decoder.feed(encodeFrame(Opcode.text, new TextEncoder().encode("hi")));
   * assertEquals(new TextDecoder().decode(decoder.next()!), "hi");
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /**
   * Returns the next message or control frame's payload, or `null` when the chunk is used up.
   *
   * @returns The payload, or `null`.
   * @throws {WebSocketError} When the peer broke the protocol; the decoder then stops.
   *
   * @example An unmasked client frame
   * ```ts
   * import { encodeFrame, Opcode, WebSocketDecoder, WebSocketError } from "@speedo/speedo/websocket";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * const decoder = new WebSocketDecoder();
   * decoder.feed(encodeFrame(Opcode.text, new TextEncoder().encode("hi")));
   * assertEquals(assertThrows(() => decoder.next(), WebSocketError).code, 1002);
   * ```
   */
  next(): Uint8Array | null {
    try {
      return this.#next();
    } catch (error) {
      this.#state = State.Failed;
      this.#message = EMPTY;
      throw error;
    }
  }

  #next(): Uint8Array | null {
    const chunk = this.#chunk;
    while (this.#state !== State.Failed) {
      if (this.#state === State.Header) {
        if (!this.#readHeader()) return null;
        if (this.#remaining === 0) {
          this.#state = State.Header;
          const payload = this.#complete(EMPTY);
          if (payload !== null) return payload;
          continue;
        }
      }
      // Payload
      const available = chunk.length - this.#pos;
      if (available === 0) return null;
      const take = Math.min(available, this.#remaining);
      const bytes = chunk.subarray(this.#pos, this.#pos + take);
      this.#pos += take;
      if (this.#masked) this.#unmask(bytes);
      this.#frameOffset += take;
      this.#remaining -= take;
      const whole = this.#remaining === 0 && take === this.#frameOffset;
      const control = this.#opcode >= 0x8;
      if (whole && (control || (this.#fin && this.#messageLength === 0))) {
        // The whole frame is in this chunk: a view, no copy.
        this.#state = State.Header;
        const payload = this.#complete(bytes);
        if (payload !== null) return payload;
        continue;
      }
      if (control) {
        this.#control.set(bytes, this.#controlLength);
        this.#controlLength += take;
      } else {
        this.#append(bytes);
      }
      if (this.#remaining > 0) return null;
      this.#state = State.Header;
      const payload = this.#complete(
        control ? this.#control.slice(0, this.#controlLength) : undefined,
      );
      if (payload !== null) return payload;
    }
    return null;
  }

  /** Reads a frame header; `false` when more bytes are needed. */
  #readHeader(): boolean {
    const chunk = this.#chunk;
    const header = this.#header;
    while (true) {
      const needed = this.#headerNeeded();
      if (this.#headerLength >= needed) break;
      if (this.#pos >= chunk.length) return false;
      const take = Math.min(needed - this.#headerLength, chunk.length - this.#pos);
      header.set(chunk.subarray(this.#pos, this.#pos + take), this.#headerLength);
      this.#headerLength += take;
      this.#pos += take;
      if (this.#headerLength === 2) this.#checkFirstBytes();
    }
    const b1 = header[1];
    let length = b1 & 0x7f;
    let at = 2;
    if (length === 126) {
      length = (header[2] << 8) | header[3];
      at = 4;
    } else if (length === 127) {
      if (header[2] & 0x80) {
        throw new WebSocketError(CloseCode.protocolError, "64-bit length has its top bit set");
      }
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + header[i];
      at = 10;
    }
    if (this.#masked) {
      this.#mask.set(header.subarray(at, at + 4));
    }
    if (this.#opcode < 0x8) {
      const total = this.#messageLength + length;
      if (total > this.maxMessageSize) throw new MessageTooBigError(total, this.maxMessageSize);
      if (this.#messageOpcode < 0 && (!this.#fin || this.#pos + length > chunk.length)) {
        // A message that will be assembled: a buffer of its own, sized for this frame.
        this.#message = new Uint8Array(this.#fin ? length : Math.max(length * 2, 256));
      }
      if (this.#messageOpcode < 0) this.#messageOpcode = this.#opcode;
    } else {
      this.#controlLength = 0;
    }
    this.#remaining = length;
    this.#frameOffset = 0;
    this.#headerLength = 0;
    this.#state = State.Payload;
    return true;
  }

  #headerNeeded(): number {
    if (this.#headerLength < 2) return 2;
    const b1 = this.#header[1];
    const length = b1 & 0x7f;
    return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  }

  #checkFirstBytes(): void {
    const b0 = this.#header[0];
    const b1 = this.#header[1];
    if (b0 & 0x70) {
      throw new WebSocketError(
        CloseCode.protocolError,
        "Reserved bits set: no extension was negotiated",
      );
    }
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    this.#masked = (b1 & 0x80) !== 0;
    if (this.#requireMask && !this.#masked) {
      throw new WebSocketError(CloseCode.protocolError, "Client frames must be masked");
    }
    if (opcode >= 0x8) {
      if (opcode > Opcode.pong) {
        throw new WebSocketError(CloseCode.protocolError, `Unknown opcode ${opcode}`);
      }
      if (!fin) {
        throw new WebSocketError(CloseCode.protocolError, "Control frames cannot be fragmented");
      }
      if ((b1 & 0x7f) > 125) {
        throw new WebSocketError(CloseCode.protocolError, "Control frame payload over 125 bytes");
      }
    } else if (opcode === Opcode.continuation) {
      if (this.#messageOpcode < 0) {
        throw new WebSocketError(
          CloseCode.protocolError,
          "Continuation frame with no message begun",
        );
      }
    } else if (opcode <= Opcode.binary) {
      if (this.#messageOpcode >= 0) {
        throw new WebSocketError(CloseCode.protocolError, "New message before the last one ended");
      }
    } else {
      throw new WebSocketError(CloseCode.protocolError, `Unknown opcode ${opcode}`);
    }
    this.#opcode = opcode;
    this.#fin = fin;
  }

  #unmask(bytes: Uint8Array): void {
    const mask = this.#mask;
    let k = this.#frameOffset & 3;
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] ^= mask[k];
      k = (k + 1) & 3;
    }
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#messageLength + bytes.length;
    if (needed > this.#message.length) {
      let size = Math.max(256, this.#message.length * 2);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, Math.max(needed, this.maxMessageSize)));
      grown.set(this.#message.subarray(0, this.#messageLength));
      this.#message = grown;
    }
    this.#message.set(bytes, this.#messageLength);
    this.#messageLength = needed;
  }

  /**
   * A frame ended. Control frames and final data frames give a payload; `payload` is the
   * frame's own bytes when they need no assembly.
   */
  #complete(payload: Uint8Array | undefined): Uint8Array | null {
    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      const bytes = payload ?? EMPTY;
      if (opcode === Opcode.close) checkClose(bytes);
      this.#lastOpcode = opcode;
      return bytes;
    }
    if (!this.#fin) {
      if (payload !== undefined && payload.length > 0) this.#append(payload);
      return null;
    }
    let message: Uint8Array;
    if (payload !== undefined && this.#messageLength === 0) {
      message = payload;
    } else {
      if (payload !== undefined) this.#append(payload);
      message = this.#message.subarray(0, this.#messageLength);
    }
    const messageOpcode = this.#messageOpcode;
    this.#message = EMPTY;
    this.#messageLength = 0;
    this.#messageOpcode = -1;
    if (messageOpcode === Opcode.text) {
      try {
        utf8.decode(message);
      } catch {
        throw new WebSocketError(CloseCode.invalidPayload, "Text message is not valid UTF-8");
      }
    }
    this.#lastOpcode = messageOpcode;
    return message;
  }
}

function checkClose(payload: Uint8Array): void {
  if (payload.length === 0) return;
  if (payload.length === 1) {
    throw new WebSocketError(CloseCode.protocolError, "Close frame with a 1-byte payload");
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    throw new WebSocketError(CloseCode.protocolError, `Invalid close code ${code}`);
  }
  try {
    utf8.decode(payload.subarray(2));
  } catch {
    throw new WebSocketError(CloseCode.invalidPayload, "Close reason is not valid UTF-8");
  }
}

/** Options of {@linkcode encodeFrame}. */
export interface EncodeFrameOptions {
  /**
   * Whether this is the final frame of its message.
   *
   * @default {true}
   */
  fin?: boolean;
  /** A 4-byte masking key, for frames a client sends; a server's frames are not masked. */
  mask?: Uint8Array;
}

/**
 * Encodes one frame: header, then the payload (masked with `options.mask` if given).
 *
 * @param opcode The frame's opcode (see {@linkcode Opcode}).
 * @param payload The payload.
 * @param options `fin` and `mask`.
 * @returns The frame's bytes, in a new buffer.
 *
 * @example
 * ```ts
 * import { encodeFrame, Opcode } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(encodeFrame(Opcode.text, new TextEncoder().encode("hi")), new Uint8Array([0x81, 2, 0x68, 0x69]));
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array {
  const length = payload.length;
  const mask = options.mask;
  const headerLength = (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (mask ? 4 : 0);
  const frame = new Uint8Array(headerLength + length);
  frame[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  let at = 2;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 0x10000) {
    frame[1] = 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
    at = 4;
  } else {
    frame[1] = 127;
    let rest = length;
    for (let i = 9; i >= 2; i--) {
      frame[i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    at = 10;
  }
  if (mask) {
    frame[1] |= 0x80;
    frame.set(mask.subarray(0, 4), at);
    at += 4;
    for (let i = 0; i < length; i++) frame[at + i] = payload[i] ^ mask[i & 3];
  } else {
    frame.set(payload, at);
  }
  return frame;
}

/**
 * The payload of a close frame: the code, then the reason (cut to fit 125 bytes).
 *
 * @param code The close code.
 * @param reason Why, in UTF-8.
 * @returns The payload.
 *
 * @example
 * ```ts
 * import { closePayload } from "@speedo/speedo/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(closePayload(1000, ""), new Uint8Array([0x03, 0xe8]));
 * ```
 */
export function closePayload(code: number, reason = ""): Uint8Array {
  let text = new TextEncoder().encode(reason);
  if (text.length > 123) {
    // Cut on a character boundary.
    let end = 123;
    while (end > 0 && (text[end] & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}
