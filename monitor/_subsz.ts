/**
 * `/subsz`: pub/sub subscriptions and MQTT sessions, counted, and listed a page at a time
 * with `subs=1`.
 *
 * @module
 */

import type { MonitorSources } from "./monitor_sources.ts";
import { mqttSnapshot, pubsubSnapshot } from "./stats_snapshot.ts";
import { flagParameter, integerParameter } from "./_query.ts";

/**
 * The `/subsz` answer: each source's counts; with `subs=1`, its subscriptions too (pub/sub: one
 * row per subscription; MQTT: one row per session, with its filters), paged by `offset` and
 * `limit` (default and most `maxSubsz`).
 *
 * @throws {MonitorQueryError} When a parameter is out of range.
 */
export function subsz(
  sources: MonitorSources,
  query: URLSearchParams,
  maxSubsz: number,
): Record<string, unknown> {
  const list = flagParameter(query, "subs");
  const offset = integerParameter(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
  const limit = integerParameter(query, "limit", 1, maxSubsz, maxSubsz);
  const answer: Record<string, unknown> = { offset, limit };
  const { pubsub, mqtt } = sources;
  if (pubsub !== undefined) {
    answer.pubsub = {
      ...pubsubSnapshot(pubsub),
      ...(list
        ? {
          list: page(pubsub.subscriptions(), offset, limit).map((sub) => ({
            connection: sub.client.handle.id,
            subject: sub.subject,
            queue: sub.queue,
            sid: sub.sid,
            delivered: sub.delivered,
            max: sub.max,
          })),
        }
        : {}),
    };
  }
  if (mqtt !== undefined) {
    answer.mqtt = {
      ...mqttSnapshot(mqtt),
      ...(list
        ? {
          list: page(mqtt.sessions.values(), offset, limit).map((session) => ({
            clientId: session.clientId,
            connected: session.link !== undefined,
            subscriptions: mqtt.tree.subscriptionsOf(session).map((sub) => ({
              filter: sub.filter,
              qos: sub.options.qos,
            })),
          })),
        }
        : {}),
    };
  }
  return answer;
}

/** Items `offset` to `offset + limit` of an iterable, walking no further. */
function page<T>(items: Iterable<T>, offset: number, limit: number): T[] {
  const out: T[] = [];
  let index = 0;
  for (const item of items) {
    if (index++ < offset) continue;
    if (out.length === limit) break;
    out.push(item);
  }
  return out;
}
