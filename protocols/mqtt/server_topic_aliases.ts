/**
 * Topic aliases the broker sets towards one MQTT 5 client (spec §3.3.2.3.4): a PUBLISH may carry
 * a number instead of its topic once the client has seen that number with the topic. Aliases
 * belong to one network connection: a new connection starts with none, so what is sent again
 * after a reconnect carries its topic.
 *
 * The policy is the cheapest there is: the first `maximum` distinct topics sent on the connection
 * get aliases 1, 2, ... and keep them; later topics go without. Known topic: one `Map` lookup,
 * nothing allocated, no bookkeeping per message. An LRU would follow a client's traffic as it
 * changes, but costs a reorder on every hit and, past its size, a topic name plus a 3-byte
 * alias on every miss, which is worse than no alias at all when the topics cycle. Devices,
 * the usual alias users, subscribe to few topics, all of which fit.
 *
 * @module
 */

/**
 * The aliases one connection's client has been told, topic by topic.
 *
 * @example The first two topics get aliases, the third none
 * ```ts
 * import { ServerTopicAliases } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const aliases = new ServerTopicAliases(2);
 * assertEquals([aliases.get("a"), aliases.assign("a")], [undefined, 1]);
 * assertEquals([aliases.get("a"), aliases.assign("b"), aliases.assign("c")], [1, 2, 0]);
 * ```
 */
export class ServerTopicAliases {
  /** Aliases it sets at most: the lower of the broker's and the client's maximum. */
  readonly maximum: number;
  readonly #byTopic = new Map<string, number>();

  /**
   * Makes an empty table.
   *
   * @param maximum Aliases it may set, 1 to 65,535.
   * @throws {RangeError} When `maximum` is out of range.
   */
  constructor(maximum: number) {
    if (!Number.isInteger(maximum) || maximum < 1 || maximum > 65_535) {
      throw new RangeError(`maximum must be an integer from 1 to 65535, got ${maximum}`);
    }
    this.maximum = maximum;
  }

  /**
   * The alias the client knows for `topic`: send the PUBLISH with an empty topic and this alias.
   *
   * @param topic The topic name.
   * @returns Its alias, or `undefined` when it has none yet.
   */
  get(topic: string): number | undefined {
    return this.#byTopic.get(topic);
  }

  /**
   * Gives `topic` the next free alias, if there is one: send that PUBLISH with the topic and
   * the alias, which tells the client the mapping.
   *
   * @param topic A topic without an alias yet.
   * @returns The new alias, or 0 when all are taken (send the topic alone).
   */
  assign(topic: string): number {
    const size = this.#byTopic.size;
    if (size === this.maximum) return 0;
    this.#byTopic.set(topic, size + 1);
    return size + 1;
  }
}
