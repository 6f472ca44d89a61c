/**
 * MQTT topics and NATS subjects as one subject space, mapped the way nats-server's own MQTT
 * listener maps them (`server/mqtt.go`, `mqttToNATSSubjectConversion` and
 * `natsSubjectToMQTTTopic`), so that a NATS client subscribed to `a.b` sees what an MQTT client
 * publishes to `a/b`, here as on nats-server.
 *
 * | MQTT                          | NATS                    | why                                 |
 * | ----------------------------- | ----------------------- | ----------------------------------- |
 * | `a/b`                         | `a.b`                   | `/` separates levels, `.` tokens    |
 * | `a.b/c`                       | `a//b.c`                | a `.` inside a level becomes `//`   |
 * | `/a`, `a//b`, `a/`, `/`       | `/.a`, `a./.b`, `a./`, `/./` | an empty level is the token `/` |
 * | `a/+` (filter)                | `a.*`                   | one level                           |
 * | `a/#` (filter)                | `a.>` and `a`           | `#` also matches its parent level   |
 * | `#` (filter)                  | `>`                     |                                     |
 * | `$SYS/x`                      | `$SYS.x`                | nothing special on the NATS side    |
 *
 * A NATS token therefore reads back as: `/` alone is an empty MQTT level, and each `//` in
 * a longer token is a `.`. nats-server's own reverse is more lenient (it drops a lone `/`, so
 * the NATS subject `a/b.c` reaches MQTT subscribers as `ab/c`); here a subject that is not the
 * image of some MQTT topic is refused with {@linkcode UnmappableSubjectError} instead, and so
 * is one whose topic MQTT forbids (`+` or `#` in it). In the other direction, white space (NATS
 * cannot carry it; nats-server refuses it too) and a level that is exactly `*` or `>` are
 * refused with {@linkcode UnmappableTopicError}: nats-server passes the last as a NATS wildcard
 * token, which a NATS publish may not carry and which a subscription would read as a wildcard.
 *
 * `$` topics need nothing here: MQTT's rule that a filter starting with a wildcard does not
 * match them is the MQTT broker's to apply ({@linkcode SubscriptionTree} does), as nats-server
 * applies it to its MQTT subscriptions only. nats-server 2.9 refused any `.` in an MQTT topic;
 * the `//` form is that of 2.10 and later.
 *
 * @module
 */

/**
 * An MQTT topic name or filter that has no NATS subject: it holds white space, or a level that
 * is exactly `*` or `>`.
 *
 * @example
 * ```ts
 * import { mqttTopicToNatsSubject, UnmappableTopicError } from "@speedo/speedo/mqtt";
 * import { assertThrows } from "@std/assert";
 *
 * const error = assertThrows(() => mqttTopicToNatsSubject("a b"), UnmappableTopicError);
 * assertThrows(() => mqttTopicToNatsSubject("a/*"), UnmappableTopicError);
 * ```
 */
export class UnmappableTopicError extends Error {
  /** The topic name or filter, as given. */
  readonly topic: string;

  /**
   * Makes the error.
   *
   * @param topic The topic name or filter, as given.
   * @param reason Why it does not map.
   * @param options The cause, if any.
   */
  constructor(topic: string, reason: string, options?: ErrorOptions) {
    super(`MQTT topic ${JSON.stringify(topic)} has no NATS subject: ${reason}`, options);
    this.name = "UnmappableTopicError";
    this.topic = topic;
  }
}

/**
 * A NATS subject that is not the image of an MQTT topic name: a `/` that is neither a whole
 * token nor one of a pair, an empty or wildcard token, or a topic MQTT forbids (`+`, `#`, or
 * U+0000 in it).
 *
 * @example
 * ```ts
 * import { natsSubjectToMqttTopic, UnmappableSubjectError } from "@speedo/speedo/mqtt";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const error = assertThrows(() => natsSubjectToMqttTopic("a/b.c"), UnmappableSubjectError);
 * assertEquals(error.subject, "a/b.c");
 * ```
 */
export class UnmappableSubjectError extends Error {
  /** The subject, as given. */
  readonly subject: string;

  /**
   * Makes the error.
   *
   * @param subject The subject, as given.
   * @param reason Why it does not map.
   * @param options The cause, if any.
   */
  constructor(subject: string, reason: string, options?: ErrorOptions) {
    super(`NATS subject ${JSON.stringify(subject)} has no MQTT topic: ${reason}`, options);
    this.name = "UnmappableSubjectError";
    this.subject = subject;
  }
}

/**
 * The NATS subject of an MQTT topic name (see the module doc for the table).
 *
 * @param topic A valid MQTT topic name (no wildcards).
 * @returns The subject.
 * @throws {UnmappableTopicError} When it holds white space, a wildcard, or a level that is
 *   exactly `*` or `>`.
 *
 * @example
 * ```ts
 * import { mqttTopicToNatsSubject } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(mqttTopicToNatsSubject("sensors/kitchen/temp"), "sensors.kitchen.temp");
 * assertEquals(mqttTopicToNatsSubject("v1.2/x"), "v1//2.x");
 * assertEquals(mqttTopicToNatsSubject("/a//b/"), "/.a./.b./");
 * ```
 */
export function mqttTopicToNatsSubject(topic: string): string {
  return convert(topic, false);
}

/**
 * The NATS subjects that together cover an MQTT topic filter: one, and a second for a filter
 * ending in `/#`, whose parent level `#` matches too (`a/#` matches `a`), as nats-server
 * subscribes it. A shared filter (`$share/{group}/...`) maps its inner filter.
 *
 * @param filter A valid MQTT topic filter.
 * @returns The subjects, with `*` and `>` for `+` and `#`.
 * @throws {UnmappableTopicError} When it holds white space or a level that is exactly `*` or `>`.
 *
 * @example
 * ```ts
 * import { mqttFilterToNatsSubjects } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(mqttFilterToNatsSubjects("home/+/temp"), ["home.*.temp"]);
 * assertEquals(mqttFilterToNatsSubjects("home/#"), ["home.>", "home"]);
 * assertEquals(mqttFilterToNatsSubjects("#"), [">"]);
 * assertEquals(mqttFilterToNatsSubjects("$share/g/home/#"), ["home.>", "home"]);
 * ```
 */
export function mqttFilterToNatsSubjects(filter: string): string[] {
  let inner = filter;
  if (filter.startsWith("$share/")) {
    const end = filter.indexOf("/", 7);
    if (end > 7) inner = filter.slice(end + 1);
  }
  const subject = convert(inner, true);
  // nats-server's rule: a subject of more than one token ending in `.>` adds its parent.
  if (subject.length >= 3 && subject.endsWith(".>")) return [subject, subject.slice(0, -2)];
  return [subject];
}

/**
 * The MQTT topic name of a NATS subject: the inverse of {@linkcode mqttTopicToNatsSubject}.
 *
 * @param subject A NATS subject without wildcards.
 * @returns The topic name.
 * @throws {UnmappableSubjectError} When no MQTT topic name maps to it.
 *
 * @example
 * ```ts
 * import { natsSubjectToMqttTopic } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(natsSubjectToMqttTopic("sensors.kitchen.temp"), "sensors/kitchen/temp");
 * assertEquals(natsSubjectToMqttTopic("v1//2.x"), "v1.2/x");
 * assertEquals(natsSubjectToMqttTopic("/.a./.b./"), "/a//b/");
 * ```
 */
export function natsSubjectToMqttTopic(subject: string): string {
  if (subject.length === 0) throw new UnmappableSubjectError(subject, "it is empty");
  const tokens = subject.split(".");
  let topic = "";
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    if (t > 0) topic += "/";
    if (token === "/") continue;
    if (token.length === 0) throw new UnmappableSubjectError(subject, "it has an empty token");
    if (token === "*" || token === ">") {
      throw new UnmappableSubjectError(subject, "it has a wildcard");
    }
    let level = "";
    for (let i = 0; i < token.length; i++) {
      const c = token.charCodeAt(i);
      if (c === SLASH) {
        if (token.charCodeAt(i + 1) !== SLASH) {
          throw new UnmappableSubjectError(subject, "a '/' is neither a whole token nor paired");
        }
        level += ".";
        i++;
      } else if (c === PLUS || c === HASH || c === NUL) {
        throw new UnmappableSubjectError(
          subject,
          "MQTT topic names may not hold '+', '#' or U+0000",
        );
      } else level += token[i];
    }
    topic += level;
  }
  if (topic.length === 0) throw new UnmappableSubjectError(subject, "its topic would be empty");
  return topic;
}

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const NUL = 0;
const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

function convert(topic: string, wildcards: boolean): string {
  if (plain(topic)) return topic.replaceAll("/", ".");
  if (topic.length === 0) throw new UnmappableTopicError(topic, "it is empty");
  const levels = topic.split("/");
  let subject = "";
  for (let l = 0; l < levels.length; l++) {
    const level = levels[l];
    if (l > 0) subject += ".";
    if (level.length === 0) {
      subject += "/";
      continue;
    }
    if (level === "*" || level === ">") {
      throw new UnmappableTopicError(topic, `the level "${level}" would be a NATS wildcard`);
    }
    if (wildcards && (level === "+" || level === "#")) {
      subject += level === "+" ? "*" : ">";
      continue;
    }
    for (let i = 0; i < level.length; i++) {
      const c = level.charCodeAt(i);
      // nats-server refuses the same white space: a NATS control line cannot carry it.
      if (isSpace(c)) {
        throw new UnmappableTopicError(topic, "NATS subjects cannot hold white space");
      }
      if (!wildcards && (c === PLUS || c === HASH)) {
        throw new UnmappableTopicError(topic, "a topic name cannot hold a wildcard");
      }
      subject += c === DOT ? "//" : level[i];
    }
  }
  return subject;
}

/** nats-server's white space: space, tab, LF, FF and CR. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

/**
 * Whether `topic` maps by swapping `/` for `.` alone (the common case, tried first): no empty
 * level, no `.`, white space or wildcard character, no level that is exactly `*` or `>`.
 */
function plain(topic: string): boolean {
  const length = topic.length;
  let levelStart = 0;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? topic.charCodeAt(i) : SLASH;
    if (c === SLASH) {
      if (i === levelStart) return false;
      if (i - levelStart === 1) {
        const only = topic.charCodeAt(levelStart);
        if (only === STAR || only === GT) return false;
      }
      levelStart = i + 1;
    } else if (c === DOT || c === PLUS || c === HASH || isSpace(c)) return false;
  }
  return true;
}
