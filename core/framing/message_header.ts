/**
 * The 8-byte message header of Speedo's binary protocols (after tcpshm's `MsgHeader`), shared
 * by {@linkcode HeaderDecoder} and {@linkcode HeaderEncoder}.
 *
 * ```
 *  0          2          4                     8                    size   align8(size)
 *  ┌ size ────┬ type ────┬ ackSeq ─────────────┬ payload … ───────────┬ padding ┐
 *  │ u16 LE   │ u16 LE   │ u32 LE              │ size - 8 bytes       │ 0 to 7  │
 *  └──────────┴──────────┴─────────────────────┴──────────────────────┴ zeros ──┘
 * ```
 *
 * - `size` counts the header and the payload, not the padding: the payload's length is
 *   `size - 8`, exactly, and the frame takes `align8(size)` bytes on the wire.
 * - `type` 0 is reserved (heartbeats); user types are 1 to 65535.
 * - `ackSeq` is free for the protocol (sessions put the acknowledged sequence number there).
 *
 * @module
 */

/** Bytes of the header. */
export const HEADER_SIZE = 8;
/** Frames start and end at multiples of this many bytes. */
export const FRAME_ALIGNMENT = 8;
/** Largest `size` a header can carry (u16). */
export const MAX_FRAME_SIZE = 0xffff;

/**
 * The fields of a message header.
 *
 * @example
 * ```ts
 * import type { MessageHeader } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * const header: MessageHeader = { size: 13, type: 1, ackSeq: 0 };
 * assertEquals(header.size - 8, 5);
 * ```
 */
export interface MessageHeader {
  /** Bytes of header and payload, without padding: 8 to 65535. */
  size: number;
  /** The message type: 0 for heartbeats, 1 to 65535 for user messages. */
  type: number;
  /** An acknowledged sequence number, or 0. */
  ackSeq: number;
}

/**
 * Bytes a frame of `size` takes on the wire: `size` rounded up to a multiple of 8.
 *
 * @param size Header plus payload, in bytes.
 * @returns The padded length.
 *
 * @example
 * ```ts
 * import { alignedFrameLength } from "@speedo/speedo/framing";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([8, 9, 16].map(alignedFrameLength), [8, 16, 16]);
 * ```
 */
export function alignedFrameLength(size: number): number {
  return (size + FRAME_ALIGNMENT - 1) & ~(FRAME_ALIGNMENT - 1);
}
