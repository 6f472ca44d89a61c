/**
 * What a connection tells the pool about one message it dispatches, as the bits of one small
 * integer: no options object per message on the hot path.
 *
 * @module
 */

/** Bits of the `flags` of a dispatch, from a connection through the server to the pool. */
export const DispatchFlag = {
  /** No flag. */
  none: 0,
  /**
   * The payload is keepable: an inline message handler may keep it as it is past the call
   * (after an `await`), because it lies in the connection's read buffer, which the
   * connection gives up (reading into a new one) when the pool answers that it kept it.
   * Without it the payload lies in a buffer that later chunks overwrite (a decoder's buffer
   * holding a frame assembled from several reads): an inline handler that keeps payloads
   * (`MessageHandler.keepsPayload`) gets a copy.
   */
  keepable: 1,
  /** It goes ahead of the connection's messages waiting their turn (`DispatchOptions.overtake`). */
  overtake: 2,
} as const;
