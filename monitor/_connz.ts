/**
 * `/connz`: open connections, a page per server, from `Server.connections`.
 *
 * @module
 */

import type { MonitoredServer } from "./stats_snapshot.ts";
import { choiceParameter, integerParameter } from "./_query.ts";

/** One connection as `/connz` shows it. */
interface ConnzRow {
  readonly id: number;
  readonly loop: number;
  readonly listener: number;
  readonly address: string;
  readonly openedAt: string;
  /** Milliseconds since a byte was last read or written (to about a second). */
  readonly idleMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  readonly pendingMessages: number;
  readonly pendingOutput: number;
}

/** One server's page in `/connz`. */
interface ConnzServer {
  readonly protocol: string;
  readonly total: number;
  /** Open connections per loop: with several loops the rows live there and are not listed. */
  readonly loops: readonly number[];
  readonly connections: readonly ConnzRow[];
}

/**
 * The `/connz` answer: `offset` (default 0) and `limit` (default and most `maxConnz`) page
 * each server's connections; `protocol` picks one server.
 *
 * @throws {MonitorQueryError} When a parameter is out of range.
 */
export function connz(
  servers: readonly [string, MonitoredServer][],
  query: URLSearchParams,
  maxConnz: number,
): { now: string; offset: number; limit: number; servers: ConnzServer[] } {
  const offset = integerParameter(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
  const limit = integerParameter(query, "limit", 1, maxConnz, Math.min(256, maxConnz));
  const only = choiceParameter(query, "protocol", servers.map(([name]) => name));
  const now = Date.now();
  const pages: ConnzServer[] = [];
  for (const [protocol, server] of servers) {
    if (only !== undefined && protocol !== only) continue;
    const page = server.connections({ offset, limit });
    pages.push({
      protocol,
      total: page.total,
      loops: server.stats().loops.map((row) => row.connections),
      connections: page.connections.map((row) => ({
        id: row.id,
        loop: row.loop,
        listener: row.listener,
        address: row.remoteAddress,
        openedAt: new Date(row.openedAt).toISOString(),
        idleMs: Math.max(0, now - row.lastActivity),
        bytesIn: row.bytesIn,
        bytesOut: row.bytesOut,
        messagesIn: row.messagesIn,
        pendingMessages: row.pendingMessages,
        pendingOutput: row.pendingOutput,
      })),
    });
  }
  return { now: new Date(now).toISOString(), offset, limit, servers: pages };
}
