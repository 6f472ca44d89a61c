/**
 * The publishes one loop forwards to another in a turn, packed into one buffer: one structured
 * clone of one `Uint8Array` per turn and loop, instead of an object and a buffer per message
 * (which cost more to clone and to allocate on the other side than the routing itself).
 *
 * A record: `subjectLength` u32, `replyLength` u32, `payloadLength` u32, `headerSize` i32 (-1:
 * none), `plain` u8, queue count u8, then per queue its UTF-8 length u16 and bytes, then the
 * subject, reply and payload bytes. Little-endian.
 *
 * @module
 */

/** A forwarded publish: views valid for the call they are given to. */
export interface ForwardedMessage {
  subject: Uint8Array;
  reply: Uint8Array;
  /** Headers (if any) and body. */
  payload: Uint8Array;
  /** Bytes of headers at the start of the payload, or -1. */
  headerSize: number;
  /** Whether the receiving loop delivers it to its plain subscriptions. */
  plain: boolean;
  /** Queue groups for which the receiving loop picks one of its members. */
  queues: string[] | undefined;
}

const FIXED = 18;
const INITIAL_SIZE = 16 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A growing buffer of forwarded publishes for one loop, emptied once a turn. */
export class ForwardBatch {
  #bytes = new Uint8Array(INITIAL_SIZE);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;
  #count = 0;

  /** Records packed since the last `take`. */
  get count(): number {
    return this.#count;
  }

  /** Bytes packed since the last `take`. */
  get length(): number {
    return this.#length;
  }

  /** Copies a publish in. */
  add(message: ForwardedMessage): void {
    const queues = message.queues?.map((name) => encoder.encode(name));
    let size = FIXED + message.subject.length + message.reply.length + message.payload.length;
    if (queues !== undefined) { for (const queue of queues) size += 2 + queue.length; }
    this.#reserve(size);
    const view = this.#view;
    let at = this.#length;
    view.setUint32(at, message.subject.length, true);
    view.setUint32(at + 4, message.reply.length, true);
    view.setUint32(at + 8, message.payload.length, true);
    view.setInt32(at + 12, message.headerSize, true);
    view.setUint8(at + 16, message.plain ? 1 : 0);
    view.setUint8(at + 17, queues?.length ?? 0);
    at += FIXED;
    if (queues !== undefined) {
      for (const queue of queues) {
        view.setUint16(at, queue.length, true);
        this.#bytes.set(queue, at + 2);
        at += 2 + queue.length;
      }
    }
    this.#bytes.set(message.subject, at);
    at += message.subject.length;
    this.#bytes.set(message.reply, at);
    at += message.reply.length;
    this.#bytes.set(message.payload, at);
    this.#length = at + message.payload.length;
    this.#count++;
  }

  /** What was packed, as a buffer of its own; the batch starts empty again. */
  take(): Uint8Array {
    const bytes = this.#bytes.slice(0, this.#length);
    this.#length = 0;
    this.#count = 0;
    return bytes;
  }

  #reserve(size: number): void {
    if (this.#length + size <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#length + size) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/**
 * Calls `deliver` with each publish of a packed batch, in order. The message object and its
 * views are reused: valid for the call only.
 *
 * @throws {RangeError} When the batch is cut short (a bug: batches cross whole).
 */
export function readForwardBatch(
  bytes: Uint8Array,
  deliver: (message: ForwardedMessage) => void,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const message: ForwardedMessage = {
    subject: bytes,
    reply: bytes,
    payload: bytes,
    headerSize: -1,
    plain: false,
    queues: undefined,
  };
  let at = 0;
  while (at < bytes.length) {
    if (at + FIXED > bytes.length) throw new RangeError("A forward batch was cut short");
    const subjectLength = view.getUint32(at, true);
    const replyLength = view.getUint32(at + 4, true);
    const payloadLength = view.getUint32(at + 8, true);
    message.headerSize = view.getInt32(at + 12, true);
    message.plain = view.getUint8(at + 16) === 1;
    const queueCount = view.getUint8(at + 17);
    at += FIXED;
    let queues: string[] | undefined;
    for (let q = 0; q < queueCount; q++) {
      const length = view.getUint16(at, true);
      (queues ??= []).push(decoder.decode(bytes.subarray(at + 2, at + 2 + length)));
      at += 2 + length;
    }
    message.queues = queues;
    const end = at + subjectLength + replyLength + payloadLength;
    if (end > bytes.length) throw new RangeError("A forward batch was cut short");
    message.subject = bytes.subarray(at, at + subjectLength);
    message.reply = bytes.subarray(at + subjectLength, at + subjectLength + replyLength);
    message.payload = bytes.subarray(at + subjectLength + replyLength, end);
    at = end;
    deliver(message);
  }
}
