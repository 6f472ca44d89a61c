/**
 * What a loop thread gives the `Server` it runs (`_loop_thread.ts`), under a symbol key of
 * its options: which loop it is, the memory the loops share with the coordinating thread, and
 * its bus to the other loops. Internal: a server of one loop has none.
 *
 * @module
 */

import type { AddressCounts } from "./_address_limit.ts";
import type { LoopBus } from "./_loop_bus.ts";

/** The options key of a loop's runtime. */
export const LOOP_RUNTIME: unique symbol = Symbol("speedo.loopRuntime");

/** A loop's place among the loops of a server. */
export interface LoopRuntime {
  /** This loop. */
  index: number;
  /** The server's loops. */
  count: number;
  /**
   * The ports every loop listens on, with `SO_REUSEPORT`: the main one, then one per
   * `listeners` entry (the first loop's, once bound; 0 for the first loop, to bind).
   */
  ports: number[];
  /** Per loop, the shared sequences of its open connections (this loop's at `index`). */
  sequences: Int32Array<SharedArrayBuffer>[];
  /** This loop's row of counters, shared with the coordinating thread. */
  counters: Float64Array<SharedArrayBuffer>;
  /** At 0, the connections open on all loops, against the global `maxConnections`. */
  openConnections: Int32Array<SharedArrayBuffer>;
  /** Connections per remote address over all loops, when `maxConnectionsPerAddress` bounds them. */
  addressCounts?: AddressCounts;
  /** Its channels to the other loops. */
  bus: LoopBus;
  /** A test hook: also listen on a port of its own, so that a test can pick the loop. */
  pinnedListener: boolean;
}
