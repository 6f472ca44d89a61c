/**
 * A handle to a connection that lives on another thread's loop (`ServerOptions.loops`): on the
 * coordinating thread, or on a loop for a connection of another loop. Whether it is open is
 * read from the loops' shared sequences; a write or a close is handed to a route that carries
 * it to the owning loop (a batch posted to the loop's thread, or its bus).
 *
 * @module
 */

import type { ConnectionHandle } from "./connection_handle.ts";

/** Where a remote handle's calls go. */
export interface RemoteRoute {
  /** Whether connection `id` is open on its loop. */
  isOpen(id: number): boolean;
  /**
   * Carries bytes (copied) to connection `id`, or a close with `undefined`; `false` when it
   * cannot be (closed, or its loop is gone).
   */
  send(id: number, bytes: Uint8Array | undefined): boolean;
}

const encoder = new TextEncoder();

/** A handle to a connection of another loop; see the module doc. */
export class RemoteConnectionHandle implements ConnectionHandle {
  readonly id: number;
  readonly #route: RemoteRoute;

  constructor(id: number, route: RemoteRoute) {
    this.id = id;
    this.#route = route;
  }

  get open(): boolean {
    return this.#route.isOpen(this.id);
  }

  write(data: Uint8Array | string): boolean {
    return this.#route.send(this.id, typeof data === "string" ? encoder.encode(data) : data);
  }

  close(): boolean {
    return this.#route.send(this.id, undefined);
  }
}
