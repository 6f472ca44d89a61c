import type { ConnectionHandle } from "../../core/connection_handle.ts";

/** Cancels remembered per connection at most, by default. */
export const EARLY_CANCELS_PER_CONNECTION = 1024;
/** Connections with cancels remembered before the first sweep of closed ones. */
const FIRST_SWEEP = 64;

/** The cancels one connection sent for requests that had not started. */
interface ConnectionCancels {
  /** Tells whether the connection is still open, on any thread. */
  readonly connection: ConnectionHandle;
  /** Request ids, oldest first (a `Set` iterates in insertion order). */
  readonly ids: Set<number>;
}

/**
 * Cancels that came before their request started, kept per connection so that one peer's
 * cancels never push out another's.
 *
 * A cancel overtakes the requests waiting for a place on its connection, so its request may
 * start after it; that request must then not run. Most such cancels are of calls answered
 * already (the cancel crossed the reply), so nothing ever takes them: each connection keeps at
 * most `perConnection`, forgetting its own oldest first.
 *
 * Memory is released with the connection: `forget` when a close hook reaches the table
 * (inline), and otherwise a sweep drops the cancels of closed connections (read from
 * `ConnectionHandle.open`, which workers see too) whenever the connections remembered have
 * doubled since the last sweep. So at most about twice the open connections hold memory, each
 * at most `perConnection` ids, and sweeps cost O(1) per connection added.
 */
export class EarlyCancels {
  readonly #perConnection: number;
  readonly #byConnection = new Map<number, ConnectionCancels>();
  #sweepAt = FIRST_SWEEP;

  /**
   * Makes an empty memory.
   *
   * @param perConnection Cancels kept per connection at most.
   */
  constructor(perConnection: number = EARLY_CANCELS_PER_CONNECTION) {
    if (!Number.isInteger(perConnection) || perConnection < 1) {
      throw new RangeError(`perConnection must be a positive integer, got ${perConnection}`);
    }
    this.#perConnection = perConnection;
  }

  /** Connections with cancels remembered. */
  get connections(): number {
    return this.#byConnection.size;
  }

  /**
   * Cancels remembered for one connection.
   *
   * @param connectionId The connection's id.
   * @returns How many.
   */
  count(connectionId: number): number {
    return this.#byConnection.get(connectionId)?.ids.size ?? 0;
  }

  /**
   * Remembers the cancel of request `id` of a connection, until its request comes.
   *
   * @param connection The connection that sent the cancel.
   * @param id The request id.
   */
  remember(connection: ConnectionHandle, id: number): void {
    let entry = this.#byConnection.get(connection.id);
    if (entry === undefined) {
      if (this.#byConnection.size >= this.#sweepAt) this.#sweep();
      entry = { connection, ids: new Set() };
      this.#byConnection.set(connection.id, entry);
    }
    const ids = entry.ids;
    if (ids.has(id)) return;
    if (ids.size >= this.#perConnection) ids.delete(ids.values().next().value!);
    ids.add(id);
  }

  /**
   * Takes the cancel of request `id` of a connection, if one was remembered.
   *
   * @param connectionId The connection's id.
   * @param id The request id.
   * @returns Whether the request was cancelled before it started.
   */
  take(connectionId: number, id: number): boolean {
    const entry = this.#byConnection.get(connectionId);
    if (entry === undefined || !entry.ids.delete(id)) return false;
    if (entry.ids.size === 0) this.#byConnection.delete(connectionId);
    return true;
  }

  /**
   * Forgets a connection's cancels (it closed).
   *
   * @param connectionId The connection's id.
   */
  forget(connectionId: number): void {
    this.#byConnection.delete(connectionId);
  }

  /** Drops the cancels of closed connections; the next sweep waits for twice the survivors. */
  #sweep(): void {
    for (const [connectionId, entry] of this.#byConnection) {
      if (!entry.connection.open) this.#byConnection.delete(connectionId);
    }
    this.#sweepAt = Math.max(FIRST_SWEEP, 2 * this.#byConnection.size);
  }
}
