/**
 * The retained messages of an MQTT broker: the last message published with RETAIN to each
 * topic, for new subscriptions.
 *
 * @module
 */

import { utf8Length } from "./_utf8_length.ts";
import { InvalidTopicFilterError, InvalidTopicNameError } from "./mqtt_topic_errors.ts";
import { validTopicFilter, validTopicName } from "./mqtt_topics.ts";

/** Options of {@linkcode RetainedMessages}. */
export interface RetainedMessagesOptions {
  /**
   * Retained messages kept at most; past it, messages to new topics are refused.
   *
   * @default {100_000}
   */
  readonly maxMessages?: number;
  /**
   * Bytes kept at most, counted as each message's size plus its topic's UTF-8 length; past it,
   * messages that would not fit are refused.
   *
   * @default {268_435_456} (256 MiB)
   */
  readonly maxBytes?: number;
}

/** One retained message, as {@linkcode RetainedMessages.match} returns it. */
export interface RetainedMessage<M> {
  /** The topic it was published to, for the PUBLISH that sends it. */
  readonly topic: string;
  /** The message, as stored. */
  readonly message: M;
  /** Its size in bytes, as given to {@linkcode RetainedMessages.set}. */
  readonly size: number;
}

/** The default of {@linkcode RetainedMessagesOptions.maxMessages}. */
const DEFAULT_MAX_MESSAGES = 100_000;
/** The default of {@linkcode RetainedMessagesOptions.maxBytes}: 256 MiB. */
const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const DOLLAR = 0x24;

/** One topic level: its message, if one is retained there, and the levels below. */
class TopicLevel<M> {
  readonly parent: TopicLevel<M> | undefined;
  readonly level: string;
  children: Map<string, TopicLevel<M>> | undefined;
  entry: RetainedMessage<M> | undefined;
  /** What `entry` counts against `maxBytes`: its size and its topic's bytes. */
  bytes = 0;

  constructor(parent: TopicLevel<M> | undefined, level: string) {
    this.parent = parent;
    this.level = level;
  }
}

/**
 * The retained messages of a broker: at most one per topic, the last published with RETAIN
 * (MQTT §3.3.1.3). A message is whatever the broker keeps (a PUBLISH packet, its payload and
 * properties); the store only needs its size in bytes, to stay within `maxBytes`.
 *
 * A PUBLISH with RETAIN and an empty payload removes the topic's message: the broker calls
 * {@linkcode RetainedMessages.delete} for it, not {@linkcode RetainedMessages.set}.
 *
 * When full, the store refuses rather than evicts: a message to a topic without one is refused
 * past `maxMessages` or `maxBytes`, and a message replacing one that no longer fits removes
 * the old one too, since a stale retained message would tell new subscribers a state that is
 * no longer true. Refusals are counted in {@linkcode RetainedMessages.refused}; the PUBLISH
 * itself is still delivered to current subscribers (MQTT 5 lets a server do so; a broker may
 * also answer 0x97 Quota exceeded).
 *
 * Topics live in a trie by level, so a subscription with wildcards visits only the topics it
 * can match.
 *
 * @typeParam M The message.
 *
 * @example A new subscription receives the retained messages its filter matches
 * ```ts
 * import { RetainedMessages } from "./retained_messages.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const retained = new RetainedMessages<string>();
 * retained.set("home/kitchen/temp", "21.5", 4);
 * retained.set("home/garden/temp", "12.0", 4);
 * retained.set("$SYS/uptime", "300", 3);
 * const topics = retained.match("home/+/temp").map((r) => r.topic).sort();
 * assertEquals(topics, ["home/garden/temp", "home/kitchen/temp"]);
 * assertEquals(retained.match("#").length, 2);
 * ```
 */
export class RetainedMessages<M> {
  readonly #root = new TopicLevel<M>(undefined, "");
  readonly #topics = new Map<string, TopicLevel<M>>();
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #bytes = 0;
  #refused = 0;

  /**
   * Makes an empty store.
   *
   * @param options Its bounds.
   * @throws {RangeError} When a bound is not a positive integer.
   */
  constructor(options: RetainedMessagesOptions = {}) {
    this.#maxMessages = positive("maxMessages", options.maxMessages ?? DEFAULT_MAX_MESSAGES);
    this.#maxBytes = positive("maxBytes", options.maxBytes ?? DEFAULT_MAX_BYTES);
  }

  /**
   * Retained messages held now.
   *
   * @example
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>();
   * retained.set("a", "1", 1);
   * retained.set("a", "2", 1);
   * assertEquals(retained.size, 1);
   * ```
   */
  get size(): number {
    return this.#topics.size;
  }

  /**
   * Bytes held now: the messages' sizes plus their topics' UTF-8 lengths.
   *
   * @example
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>();
   * retained.set("ab", "hello", 5);
   * assertEquals(retained.bytes, 7);
   * ```
   */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Messages refused so far because the store was full (see the class doc).
   *
   * @example
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>({ maxMessages: 1 });
   * retained.set("a", "1", 1);
   * retained.set("b", "2", 1);
   * assertEquals([retained.size, retained.refused], [1, 1]);
   * ```
   */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Retains `message` for `topic`, replacing the one before, unless the store is full.
   *
   * @param topic A valid topic name.
   * @param message The message to keep.
   * @param size Its size in bytes (payload and properties), counted against `maxBytes`.
   * @returns `true` when kept; `false` when refused for lack of room (counted in `refused`;
   * any message the topic had is removed).
   * @throws {InvalidTopicNameError} When `topic` is not a valid topic name.
   * @throws {RangeError} When `size` is not a non-negative integer.
   *
   * @example
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assert, assertEquals, assertFalse } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>({ maxBytes: 10 });
   * assert(retained.set("t", "small", 5));
   * assertFalse(retained.set("t", "far too large", 13));
   * assertEquals(retained.get("t"), undefined);
   * ```
   */
  set(topic: string, message: M, size: number): boolean {
    if (!validTopicName(topic)) throw new InvalidTopicNameError(topic);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`Invalid size "${size}": expected an integer >= 0`);
    }
    const bytes = size + utf8Length(topic);
    let node = this.#topics.get(topic);
    const oldBytes = node?.bytes ?? 0;
    const count = node === undefined ? this.#topics.size + 1 : this.#topics.size;
    if (count > this.#maxMessages || this.#bytes - oldBytes + bytes > this.#maxBytes) {
      this.#refused++;
      if (node !== undefined) this.delete(topic);
      return false;
    }
    if (node === undefined) {
      let level = this.#root;
      for (const name of topic.split("/")) {
        const children = level.children ??= new Map();
        let child = children.get(name);
        if (child === undefined) children.set(name, child = new TopicLevel(level, name));
        level = child;
      }
      this.#topics.set(topic, node = level);
    }
    node.entry = Object.freeze({ topic, message, size });
    node.bytes = bytes;
    this.#bytes += bytes - oldBytes;
    return true;
  }

  /**
   * The message retained for `topic`.
   *
   * @param topic A topic name.
   * @returns The message, or `undefined` when none.
   *
   * @example
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>();
   * retained.set("a/b", "on", 2);
   * assertEquals(retained.get("a/b"), "on");
   * assertEquals(retained.get("a"), undefined);
   * ```
   */
  get(topic: string): M | undefined {
    return this.#topics.get(topic)?.entry?.message;
  }

  /**
   * Removes the message retained for `topic` (a PUBLISH with RETAIN and an empty payload).
   *
   * @param topic A topic name.
   * @returns `true` when there was one.
   *
   * @example
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assert, assertEquals, assertFalse } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>();
   * retained.set("a", "on", 2);
   * assert(retained.delete("a"));
   * assertFalse(retained.delete("a"));
   * assertEquals([retained.size, retained.bytes], [0, 0]);
   * ```
   */
  delete(topic: string): boolean {
    const node = this.#topics.get(topic);
    if (node === undefined) return false;
    this.#topics.delete(topic);
    this.#bytes -= node.bytes;
    node.entry = undefined;
    node.bytes = 0;
    // Drop the levels left empty, so that topics that come and go do not accumulate.
    let level: TopicLevel<M> = node;
    while (
      level.parent !== undefined && level.entry === undefined &&
      (level.children === undefined || level.children.size === 0)
    ) {
      level.parent.children!.delete(level.level);
      level = level.parent;
    }
    return true;
  }

  /**
   * The retained messages a new subscription to `filter` receives: those whose topic it
   * matches, where a filter starting with `+` or `#` matches no topic starting with `$`. A
   * shared subscription (`$share/...`) receives none (MQTT 5 §4.8.2).
   *
   * @param filter A valid topic filter.
   * @returns The matching messages, in no particular order.
   * @throws {InvalidTopicFilterError} When `filter` is not a valid topic filter.
   *
   * @example `#` matches its parent level
   * ```ts
   * import { RetainedMessages } from "./retained_messages.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const retained = new RetainedMessages<string>();
   * retained.set("sport/tennis/player1", "a", 1);
   * retained.set("sport/tennis/player1/ranking", "b", 1);
   * retained.set("sport/golf", "c", 1);
   * const messages = retained.match("sport/tennis/player1/#").map((r) => r.message).sort();
   * assertEquals(messages, ["a", "b"]);
   * assertEquals(retained.match("$share/g/sport/#"), []);
   * ```
   */
  match(filter: string): RetainedMessage<M>[] {
    if (!validTopicFilter(filter)) throw new InvalidTopicFilterError(filter);
    const found: RetainedMessage<M>[] = [];
    if (filter.startsWith("$share/")) return found;
    const levels = filter.split("/");
    // A loop with its own stack: a filter may have 65,536 levels, deeper than the call stack.
    const nodes = [this.#root];
    const indexes = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const index = indexes.pop()!;
      if (index === levels.length) {
        if (node.entry !== undefined) found.push(node.entry);
        continue;
      }
      const level = levels[index];
      if (level === "#") {
        // The parent level too (`a/#` matches `a`); the root has no message.
        if (node.entry !== undefined) found.push(node.entry);
        if (node.children !== undefined) addAll(node.children, index === 0, found);
      } else if (level === "+") {
        if (node.children === undefined) continue;
        for (const [name, child] of node.children) {
          if (index === 0 && name.charCodeAt(0) === DOLLAR) continue;
          nodes.push(child);
          indexes.push(index + 1);
        }
      } else {
        const child = node.children?.get(level);
        if (child !== undefined) {
          nodes.push(child);
          indexes.push(index + 1);
        }
      }
    }
    return found;
  }
}

/** Every message at or below `children`; `root`: skip first levels starting with `$`. */
function addAll<M>(
  children: Map<string, TopicLevel<M>>,
  root: boolean,
  found: RetainedMessage<M>[],
): void {
  const stack: TopicLevel<M>[] = [];
  for (const [name, child] of children) {
    if (!(root && name.charCodeAt(0) === DOLLAR)) stack.push(child);
  }
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.entry !== undefined) found.push(node.entry);
    if (node.children !== undefined) {
      for (const child of node.children.values()) stack.push(child);
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Invalid ${name} "${value}": expected an integer >= 1`);
  }
  return value;
}
