/**
 * MQTT topic names and topic filters (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7 and §4.8.2).
 *
 * A topic is a list of levels separated by `/`; a level may be empty (`/finance` has the levels
 * `""` and `"finance"`). A PUBLISH names a topic; a SUBSCRIBE gives a filter, where the level
 * `+` matches any one level and the level `#`, last, matches its parent level and any number
 * of levels below it. Topics starting with `$` (`$SYS/...`) belong to the server: a filter whose
 * first level is a wildcard does not match them.
 *
 * ```
 * topic name   = level *("/" level)            level  = *(any character but "/", "+", "#", U+0000)
 * topic filter = flevel *("/" flevel) ["/" "#"] / "#"              flevel = level / "+"
 * shared       = "$share/" share-name "/" topic filter   share-name = 1*(any but "/", "+", "#")
 * ```
 *
 * Names and filters are at least one character and at most 65,535 UTF-8 bytes.
 *
 * @module
 */

import { utf8Length } from "./_utf8_length.ts";

/** The most UTF-8 bytes in an MQTT string (a two-byte length prefix). */
const MAX_TOPIC_BYTES = 65535;
const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;
const SHARE_PREFIX = "$share/";

/**
 * Whether `name` is valid as the topic of a PUBLISH: non-empty, no `+` or `#` anywhere, no
 * U+0000, well-formed, at most 65,535 UTF-8 bytes.
 *
 * @param name The topic name.
 * @returns `true` when valid.
 *
 * @example
 * ```ts
 * import { validTopicName } from "./mqtt_topics.ts";
 * import { assert, assertFalse } from "@std/assert";
 *
 * assert(validTopicName("sport/tennis/player1"));
 * assert(validTopicName("/finance"));
 * assertFalse(validTopicName("sport/+"));
 * assertFalse(validTopicName(""));
 * ```
 */
export function validTopicName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === PLUS || c === HASH) return false;
  }
  const bytes = utf8Length(name);
  return bytes > 0 && bytes <= MAX_TOPIC_BYTES;
}

/**
 * Whether `filter` is valid in a SUBSCRIBE or UNSUBSCRIBE: non-empty, `+` only as a whole
 * level, `#` only as the whole last level, no U+0000, well-formed, at most 65,535 UTF-8 bytes.
 * A filter starting with `$share/` must be a well-formed shared subscription
 * (see {@linkcode parseSharedFilter}).
 *
 * @param filter The topic filter.
 * @returns `true` when valid.
 *
 * @example
 * ```ts
 * import { validTopicFilter } from "./mqtt_topics.ts";
 * import { assert, assertFalse } from "@std/assert";
 *
 * assert(validTopicFilter("sport/tennis/+/#"));
 * assert(validTopicFilter("#"));
 * assert(validTopicFilter("$share/group/sport/#"));
 * assertFalse(validTopicFilter("sport/tennis#"));
 * assertFalse(validTopicFilter("sport/#/ranking"));
 * assertFalse(validTopicFilter("sport+"));
 * assertFalse(validTopicFilter("$share/group"));
 * ```
 */
export function validTopicFilter(filter: string): boolean {
  if (filter.startsWith(SHARE_PREFIX)) return parseSharedFilter(filter) !== undefined;
  return validPlainFilter(filter);
}

/** A shared subscription's parts, from {@linkcode parseSharedFilter}. */
export interface SharedFilter {
  /** The ShareName: non-empty, without `/`, `+` or `#`. */
  readonly group: string;
  /** The topic filter the group shares, itself valid. */
  readonly filter: string;
}

/**
 * Splits a shared subscription `$share/{group}/{filter}` into its group and filter.
 *
 * @param filter A topic filter as a SUBSCRIBE gives it.
 * @returns The parts, or `undefined` when `filter` is not a shared subscription or a malformed
 * one (empty or wildcard group, missing or invalid filter: check {@linkcode validTopicFilter}
 * to tell the two apart).
 *
 * @example
 * ```ts
 * import { parseSharedFilter } from "./mqtt_topics.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(parseSharedFilter("$share/workers/jobs/+"), { group: "workers", filter: "jobs/+" });
 * assertEquals(parseSharedFilter("jobs/+"), undefined);
 * assertEquals(parseSharedFilter("$share//jobs"), undefined);
 * assertEquals(parseSharedFilter("$share/workers"), undefined);
 * ```
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const end = filter.indexOf("/", SHARE_PREFIX.length);
  if (end <= SHARE_PREFIX.length) return undefined;
  const group = filter.slice(SHARE_PREFIX.length, end);
  if (group.includes("+") || group.includes("#")) return undefined;
  // The length limit is on the whole string the client sent, not on the inner filter.
  const bytes = utf8Length(filter);
  if (bytes < 0 || bytes > MAX_TOPIC_BYTES) return undefined;
  const inner = filter.slice(end + 1);
  if (!validPlainFilter(inner)) return undefined;
  return { group, filter: inner };
}

/**
 * Whether a message published to topic `name` goes to a subscription on `filter`. `+` matches
 * exactly one level, empty ones too; `#` matches its parent level and any levels below; a
 * filter whose first level is `+` or `#` does not match a name starting with `$`.
 *
 * @param filter A valid topic filter, not a shared one (pass the `filter` part of
 * {@linkcode parseSharedFilter}).
 * @param name A valid topic name.
 * @returns `true` when it matches.
 *
 * @example The examples of the MQTT specification
 * ```ts
 * import { topicMatches } from "./mqtt_topics.ts";
 * import { assert, assertFalse } from "@std/assert";
 *
 * assert(topicMatches("sport/tennis/player1/#", "sport/tennis/player1"));
 * assert(topicMatches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
 * assert(topicMatches("sport/+", "sport/"));
 * assertFalse(topicMatches("sport/+", "sport"));
 * assert(topicMatches("+/+", "/finance"));
 * assertFalse(topicMatches("+", "/finance"));
 * assertFalse(topicMatches("#", "$SYS/uptime"));
 * assert(topicMatches("$SYS/#", "$SYS/uptime"));
 * ```
 */
export function topicMatches(filter: string, name: string): boolean {
  const first = filter.charCodeAt(0);
  if ((first === PLUS || first === HASH) && name.charCodeAt(0) === DOLLAR) return false;
  const filters = filter.split("/");
  const levels = name.split("/");
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i];
    if (f === "#") return true;
    if (i >= levels.length) return false;
    if (f !== "+" && f !== levels[i]) return false;
  }
  return filters.length === levels.length;
}

/** A filter without the `$share/` reading (also the inner filter of a shared one). */
function validPlainFilter(filter: string): boolean {
  const length = filter.length;
  if (length === 0) return false;
  for (let i = 0; i < length; i++) {
    const c = filter.charCodeAt(i);
    if (c !== PLUS && c !== HASH) continue;
    // A wildcard is a whole level: after a separator (or first), before one (or last).
    if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return false;
    if (c === HASH ? i !== length - 1 : i + 1 < length && filter.charCodeAt(i + 1) !== SLASH) {
      return false;
    }
  }
  const bytes = utf8Length(filter);
  return bytes > 0 && bytes <= MAX_TOPIC_BYTES;
}
