/**
 * What a protocol sees of the server's I/O loops (`ServerOptions.loops`): which loop it runs
 * on, how many there are, and an ordered channel to the same protocol on the other loops.
 *
 * With `loops: N` every loop is its own thread with its own listener on the port, and builds
 * its own protocol factory from the factory's {@linkcode ProtocolRecipe}: state a factory
 * shares between its connections (a pub/sub router, a session table) exists once per loop.
 * A protocol whose connections must meet across loops exchanges what it needs through
 * {@linkcode LoopContext.send}, given to its factory's `attach` before the first connection.
 *
 * @module
 */

/**
 * How a loop thread builds a protocol factory again: a module, the name of the function it
 * exports, and the options to call it with (structured-clonable: no functions, no class
 * instances beyond what `structuredClone` keeps). Every protocol module of the package gives
 * its factories one; a factory without one runs on one loop only.
 *
 * @example A protocol factory that can run on several loops
 * ```ts
 * import type { ProtocolContext, ProtocolHandlerFactory } from "@speedo/speedo";
 *
 * export function shoutProtocol(options: { suffix: string }): ProtocolHandlerFactory {
 *   return {
 *     create: (context: ProtocolContext) => ({
 *       data: (chunk: Uint8Array) => void context.handle.write(chunk),
 *     }),
 *     recipe: { module: import.meta.url, export: "shoutProtocol", options },
 *   };
 * }
 * ```
 */
export interface ProtocolRecipe {
  /** The module's URL, usually the factory module's own `import.meta.url`. */
  module: string;
  /** The name of the exported function that makes the factory. */
  export: string;
  /** Its one argument. @default {undefined} */
  options?: unknown;
}

/**
 * The loop a protocol factory runs on, given to its `attach` once, before the loop accepts
 * its first connection. A server of one loop gives one too (`count` 1, nothing to send to).
 */
export interface LoopContext {
  /** This loop, 0 to `count - 1`. A loop that died and was replaced keeps its index. */
  readonly index: number;
  /** The server's loops. */
  readonly count: number;
  /**
   * Sends a message to this protocol on loop `to`. Messages from one loop to another arrive
   * in the order sent (and in order with the writes this loop makes to that loop's
   * connections); those of one turn cross in one batch. The message is structured-cloned:
   * the sender keeps its bytes, and a `Uint8Array` view carries its whole backing buffer (send
   * a copy of what it views). A message to a loop being replaced is dropped, as are its
   * connections.
   *
   * @param to The loop, not this one.
   * @param message Structured-clonable.
   * @throws {RangeError} When `to` is this loop or out of range.
   */
  send(to: number, message: unknown): void;
  /**
   * Sets the listener of the messages other loops send to this protocol (one listener; a
   * second call replaces it). It runs on this loop's thread; a throw is reported as the
   * server's error and the next message is delivered. Messages that came before the listener
   * (from a loop that started first) are kept and delivered to it, in order, once `attach`
   * has returned.
   *
   * @param listener Called with the sending loop and the message.
   */
  receive(listener: (from: number, message: unknown) => void): void;
  /**
   * Called with the index of a loop that died and was replaced (its connections closed):
   * drop what that loop told you (its interest, say) and tell the new one what it needs.
   *
   * @param listener Called with the loop's index once the new loop can receive.
   */
  replaced(listener: (loop: number) => void): void;
}
