/**
 * What `Server.connections` tells about open connections: one row per connection,
 * read from counters the connection keeps anyway (a few additions per read, write and
 * dispatch), and the page the rows came in.
 *
 * @module
 */

/** One open connection, as `Server.connections` lists it. */
export interface ConnectionInfo {
  /** Its id (as `ConnectionHandle.id`). */
  readonly id: number;
  /** The loop it lives on (0 on a server of one loop). */
  readonly loop: number;
  /** The listener it came on (`ServerOptions.listeners`): 0 the main one. */
  readonly listener: number;
  /** The peer's address: `host:port` over TCP (IPv6 in brackets), the path over Unix, or `""`. */
  readonly remoteAddress: string;
  /** When it was accepted, in ms since the epoch (on the server's coarse clock: ±1 s). */
  readonly openedAt: number;
  /** When a byte was last read or written, in ms since the epoch (same clock). */
  readonly lastActivity: number;
  /** Bytes read from it. */
  readonly bytesIn: number;
  /** Bytes written to it. */
  readonly bytesOut: number;
  /** Messages its protocol dispatched to the message handlers. */
  readonly messagesIn: number;
  /** Its messages dispatched and not yet done. */
  readonly pendingMessages: number;
  /** Its output not yet written to the socket, in bytes. */
  readonly pendingOutput: number;
}

/** Which connections `Server.connections` lists. */
export interface ConnectionListOptions {
  /**
   * Connections to skip, in the table's order (by slot: a closed connection's slot is taken
   * by a later one, so pages are not stable while connections come and go).
   *
   * @default {0}
   */
  offset?: number;
  /**
   * Most rows to return, 1 to {@linkcode MAX_CONNECTION_LIST}.
   *
   * @default {256}
   */
  limit?: number;
}

/** A page of open connections, from `Server.connections`. */
export interface ConnectionPage {
  /** Connections open now, over every loop. */
  readonly total: number;
  /** The offset asked for. */
  readonly offset: number;
  /** The limit asked for. */
  readonly limit: number;
  /**
   * The rows; always empty on a server of several loops, whose connections live on the loops'
   * threads (`stats().loops` has the per-loop counts).
   */
  readonly connections: readonly ConnectionInfo[];
}

/** The largest `limit` of `Server.connections`. */
export const MAX_CONNECTION_LIST = 1024;

/** Text for an address: `host:port` (IPv6 in brackets), a Unix path, or `""`. */
export function addressText(address: Deno.Addr | undefined): string {
  if (address === undefined) return "";
  if (address.transport === "tcp" || address.transport === "udp") {
    const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
    return `${host}:${address.port}`;
  }
  return "path" in address ? address.path : "";
}
