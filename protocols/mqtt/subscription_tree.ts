/**
 * The subscriptions of an MQTT broker, and which of them a PUBLISH reaches.
 *
 * @module
 */

import { InvalidTopicFilterError, SharedNoLocalError } from "./mqtt_topic_errors.ts";
import { parseSharedFilter, validTopicFilter } from "./mqtt_topics.ts";

/** The options of one subscription, as a SUBSCRIBE gives them for one topic filter. */
export interface SubscriptionOptions {
  /** The maximum QoS the client gets messages at (the granted QoS). */
  readonly qos: 0 | 1 | 2;
  /**
   * MQTT 5: the client does not get the messages it publishes itself on this subscription.
   * Not allowed on a shared subscription.
   *
   * @default {false}
   */
  readonly noLocal?: boolean;
  /**
   * MQTT 5: messages keep the RETAIN flag they were published with, instead of 0.
   *
   * @default {false}
   */
  readonly retainAsPublished?: boolean;
  /**
   * MQTT 5: when the broker sends retained messages for this subscription: 0 at every
   * SUBSCRIBE, 1 only when the subscription is new ({@linkcode SubscriptionTree.subscribe}
   * returns `"added"`), 2 never. The tree keeps it for the broker; it does not act on it.
   *
   * @default {0}
   */
  readonly retainHandling?: 0 | 1 | 2;
  /** MQTT 5: the Subscription Identifier, 1 to 268,435,455, sent with every delivery. */
  readonly subscriptionId?: number;
}

/** A subscription as {@linkcode SubscriptionTree.subscriptionsOf} lists it. */
export interface SubscriptionEntry {
  /** The topic filter as subscribed, `$share/{group}/` included. */
  readonly filter: string;
  /** Its options, with defaults filled in. */
  readonly options: Required<Omit<SubscriptionOptions, "subscriptionId">> & {
    readonly subscriptionId?: number;
  };
}

/** Whether {@linkcode SubscriptionTree.subscribe} made a new subscription or replaced one. */
export type SubscribeResult = "added" | "replaced";

/** One PUBLISH to send, from {@linkcode SubscriptionTree.match}. */
export interface Delivery<C> {
  /** Who gets it. */
  readonly client: C;
  /**
   * The maximum QoS of the matching subscriptions; the message goes at the lower of this and
   * the QoS it was published with.
   */
  readonly qos: 0 | 1 | 2;
  /**
   * Whether the RETAIN flag of the message is kept (else it is sent as 0): `true` when any of
   * the matching subscriptions asked for it.
   */
  readonly retainAsPublished: boolean;
  /** The Subscription Identifiers of all matching subscriptions that have one, each once. */
  readonly subscriptionIds: readonly number[];
  /** The shared subscription's group this delivery is for, or `undefined` for the client's own. */
  readonly group: string | undefined;
}

/** Options of a {@linkcode SubscriptionTree}. */
export interface SubscriptionTreeOptions<C> {
  /**
   * Asked when a shared subscription picks a member: `false` passes the turn to the next one
   * (a client whose connection is gone, while its session lives on). When no member is
   * available the turn's member gets the message anyway, to queue in its session.
   *
   * @default {() => true}
   */
  readonly available?: (client: C) => boolean;
  /**
   * Distinct topic names whose match is cached; the cache is emptied when it is full, and on
   * any change of the subscriptions.
   *
   * @default {4096}
   */
  readonly cachedTopics?: number;
}

const MAX_SUBSCRIPTION_ID = 268_435_455;
const NO_IDS: readonly number[] = Object.freeze([]);
const DOLLAR = 0x24;

class Sub<C> {
  readonly client: C;
  readonly filter: string;
  readonly node: TopicNode<C>;
  /** The shared subscription it is a member of, or undefined. */
  readonly shared: Shared<C> | undefined;
  qos: 0 | 1 | 2 = 0;
  noLocal = false;
  retainAsPublished = false;
  retainHandling: 0 | 1 | 2 = 0;
  subscriptionId: number | undefined;
  /** What it delivers on its own: built once per SUBSCRIBE, shared by every match. */
  delivery!: Delivery<C>;

  constructor(client: C, filter: string, node: TopicNode<C>, shared: Shared<C> | undefined) {
    this.client = client;
    this.filter = filter;
    this.node = node;
    this.shared = shared;
  }

  set(options: SubscriptionOptions): void {
    this.qos = options.qos;
    this.noLocal = options.noLocal ?? false;
    this.retainAsPublished = options.retainAsPublished ?? false;
    this.retainHandling = options.retainHandling ?? 0;
    this.subscriptionId = options.subscriptionId;
    this.delivery = Object.freeze({
      client: this.client,
      qos: this.qos,
      retainAsPublished: this.retainAsPublished,
      subscriptionIds: this.subscriptionId === undefined
        ? NO_IDS
        : Object.freeze([this.subscriptionId]),
      group: this.shared?.group,
    });
  }
}

/**
 * One shared subscription: a group and a filter (`$share/g/a` and `$share/g/b` are two, as
 * MQTT 5 §4.8.2 says). It lives as long as it has members, so its cursor survives the cache.
 */
class Shared<C> {
  readonly group: string;
  /** In the order they joined; the rotation follows it. */
  readonly members: Sub<C>[] = [];
  /** The member whose turn is next. */
  next = 0;

  constructor(group: string) {
    this.group = group;
  }

  remove(sub: Sub<C>): void {
    const at = this.members.indexOf(sub);
    if (at < 0) return;
    this.members.splice(at, 1);
    // Keep the turn with the member who had it.
    if (at < this.next) this.next--;
    if (this.next >= this.members.length) this.next = 0;
  }
}

/** The subscriptions of one filter, and the filters one level longer. */
class TopicNode<C> {
  readonly parent: TopicNode<C> | undefined;
  /** The level that leads here from `parent`: a literal, `+` or `#`. */
  readonly level: string;
  literals: Map<string, TopicNode<C>> | undefined;
  plus: TopicNode<C> | undefined;
  hash: TopicNode<C> | undefined;
  /** Non-shared subscriptions, one per client. */
  readonly subs = new Map<C, Sub<C>>();
  /** Shared subscriptions, by group. */
  shared: Map<string, Shared<C>> | undefined;
  /** Subscriptions of this filter, shared ones included: its interest for watchers. */
  count = 0;

  constructor(parent: TopicNode<C> | undefined, level: string) {
    this.parent = parent;
    this.level = level;
  }

  get empty(): boolean {
    return this.subs.size === 0 && (this.shared === undefined || this.shared.size === 0) &&
      (this.literals === undefined || this.literals.size === 0) &&
      this.plus === undefined && this.hash === undefined;
  }

  child(level: string): TopicNode<C> {
    if (level === "+") return this.plus ??= new TopicNode(this, level);
    if (level === "#") return this.hash ??= new TopicNode(this, level);
    const literals = this.literals ??= new Map();
    let node = literals.get(level);
    if (node === undefined) literals.set(level, node = new TopicNode(this, level));
    return node;
  }
}

/**
 * Told when a topic filter gains its first subscription (`true`) or loses its last (`false`),
 * from {@linkcode SubscriptionTree.watchFilters}. A shared filter counts as its inner filter.
 */
export type FilterWatcher = (filter: string, subscribed: boolean) => void;

/** What one topic name reaches, publisher aside: cached until the subscriptions change. */
class TopicMatch<C> {
  /** One delivery per client with matching non-shared subscriptions. */
  readonly deliveries: Delivery<C>[] = [];
  /**
   * Clients with a matching No Local subscription, and their delivery without those (or
   * undefined when nothing else matched): used when such a client is the publisher.
   */
  local: Map<C, Delivery<C> | undefined> | undefined;
  /** Matching shared subscriptions, one delivery each. */
  readonly shared: Shared<C>[] = [];
}

/**
 * The subscriptions of an MQTT broker, by client, and the deliveries a PUBLISH makes. A client
 * is any key the broker chooses (its client identifier, its session object); a client has at
 * most one subscription per topic filter.
 *
 * Filters live in a trie by level with `+` and `#` children, so matching a topic name visits
 * only the filters that can match it. The broker publishes far more than it subscribes, so
 * what a topic name reaches is cached by name until any subscription changes.
 *
 * Overlapping subscriptions of one client make one delivery (MQTT 5 §3.3.4 allows one copy or
 * one per subscription): at the highest QoS among them, with the Subscription Identifiers of
 * all of them, and keeping the RETAIN flag when any of them asked for Retain As Published (the
 * one copy stands for every subscription, and one that wants the flag would miss it otherwise).
 * A shared subscription (`$share/{group}/{filter}`) makes one delivery per message to one of
 * its members, in turn (round robin in the order they joined), on top of the members' own.
 *
 * @typeParam C The client key.
 *
 * @example Overlapping subscriptions, No Local, and a shared subscription
 * ```ts
 * import { SubscriptionTree } from "./subscription_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const tree = new SubscriptionTree<string>();
 * tree.subscribe("alice", "sport/#", { qos: 0, subscriptionId: 1 });
 * tree.subscribe("alice", "sport/tennis/+", { qos: 2, subscriptionId: 2 });
 * tree.subscribe("bob", "sport/tennis/+", { qos: 1, noLocal: true });
 * tree.subscribe("w1", "$share/workers/sport/#", { qos: 1 });
 * tree.subscribe("w2", "$share/workers/sport/#", { qos: 1 });
 *
 * const first = tree.match("sport/tennis/player1", "bob");
 * assertEquals(first.map((d) => [d.client, d.qos, d.subscriptionIds, d.group]), [
 *   ["alice", 2, [1, 2], undefined],
 *   ["w1", 1, [], "workers"],
 * ]);
 * const second = tree.match("sport/tennis/player1");
 * assertEquals(second.map((d) => d.client), ["alice", "bob", "w2"]);
 * ```
 */
export class SubscriptionTree<C> {
  readonly #root = new TopicNode<C>(undefined, "");
  readonly #clients = new Map<C, Map<string, Sub<C>>>();
  readonly #cache = new Map<string, TopicMatch<C>>();
  readonly #cachedTopics: number;
  readonly #available: ((client: C) => boolean) | undefined;
  readonly #watchers = new Set<FilterWatcher>();
  #size = 0;

  /**
   * Makes an empty tree.
   *
   * @param options The shared-subscription availability check and the cache size.
   * @throws {RangeError} When `cachedTopics` is not a non-negative integer.
   */
  constructor(options: SubscriptionTreeOptions<C> = {}) {
    const cachedTopics = options.cachedTopics ?? 4096;
    if (!Number.isInteger(cachedTopics) || cachedTopics < 0) {
      throw new RangeError(`Invalid cachedTopics "${cachedTopics}": expected an integer >= 0`);
    }
    this.#cachedTopics = cachedTopics;
    this.#available = options.available;
  }

  /**
   * Subscriptions held now, shared ones included.
   *
   * @example
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * tree.subscribe("a", "x/#", { qos: 0 });
   * tree.subscribe("a", "$share/g/x/#", { qos: 0 });
   * tree.subscribe("b", "x/#", { qos: 0 });
   * assertEquals([tree.size, tree.clients], [3, 2]);
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Clients with at least one subscription.
   *
   * @example
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<number>();
   * tree.subscribe(1, "a", { qos: 1 });
   * tree.subscribe(1, "b", { qos: 1 });
   * assertEquals(tree.clients, 1);
   * ```
   */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * Subscribes `client` to `filter`, or replaces the options of its subscription to that very
   * filter (MQTT §3.8.4: a repeated SUBSCRIBE replaces the subscription; messages keep flowing).
   *
   * The broker then sends the retained messages matching the filter when the subscription is
   * not shared (MQTT 5 §4.8.2 sends none to a shared one) and `retainHandling` is 0, or 1 and
   * the result is `"added"`.
   *
   * @param client The client.
   * @param filter A topic filter, maybe `$share/{group}/{filter}`.
   * @param options The subscription's QoS and MQTT 5 options.
   * @returns `"added"` for a new subscription, `"replaced"` when the client had one to `filter`.
   * @throws {InvalidTopicFilterError} When `filter` is not a valid topic filter.
   * @throws {SharedNoLocalError} When a shared subscription asks for `noLocal`.
   * @throws {RangeError} When `qos`, `retainHandling` or `subscriptionId` is out of range.
   *
   * @example Retain Handling 1 sends retained messages only for a new subscription
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * assertEquals(tree.subscribe("a", "x/+", { qos: 0, retainHandling: 1 }), "added");
   * assertEquals(tree.subscribe("a", "x/+", { qos: 1, retainHandling: 1 }), "replaced");
   * assertEquals(tree.match("x/y")[0].qos, 1);
   * ```
   */
  subscribe(client: C, filter: string, options: SubscriptionOptions): SubscribeResult {
    checkOptions(options);
    let subs = this.#clients.get(client);
    const existing = subs?.get(filter);
    if (existing !== undefined) {
      if (existing.shared !== undefined && options.noLocal) throw new SharedNoLocalError(filter);
      existing.set(options);
      this.#changed();
      return "replaced";
    }
    if (!validTopicFilter(filter)) throw new InvalidTopicFilterError(filter);
    const share = parseSharedFilter(filter);
    if (share !== undefined && options.noLocal) throw new SharedNoLocalError(filter);
    let node = this.#root;
    for (const level of (share?.filter ?? filter).split("/")) node = node.child(level);
    let sub: Sub<C>;
    if (share === undefined) {
      sub = new Sub(client, filter, node, undefined);
      node.subs.set(client, sub);
    } else {
      const groups = node.shared ??= new Map();
      let shared = groups.get(share.group);
      if (shared === undefined) groups.set(share.group, shared = new Shared(share.group));
      sub = new Sub(client, filter, node, shared);
      shared.members.push(sub);
    }
    sub.set(options);
    if (subs === undefined) this.#clients.set(client, subs = new Map());
    subs.set(filter, sub);
    this.#size++;
    if (node.count++ === 0) this.#tell(node, true);
    this.#changed();
    return "added";
  }

  /**
   * Calls `watcher` with every filter that has subscriptions now, then whenever a filter
   * gains its first subscription or loses its last (a bridge to another system subscribes
   * there by this interest). Shared filters count as their inner filter.
   *
   * @param watcher Told each filter and whether it is subscribed.
   * @returns Stops the watching.
   *
   * @example
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * tree.subscribe("a", "x/+", { qos: 0 });
   * const seen: string[] = [];
   * const stop = tree.watchFilters((filter, on) => seen.push(`${on ? "+" : "-"}${filter}`));
   * tree.subscribe("b", "$share/g/x/+", { qos: 0 });
   * tree.removeClient("a");
   * tree.removeClient("b");
   * stop();
   * assertEquals(seen, ["+x/+", "-x/+"]);
   * ```
   */
  watchFilters(watcher: FilterWatcher): () => void {
    const nodes = [this.#root];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      if (node.count > 0) watcher(filterOf(node), true);
      if (node.literals !== undefined) nodes.push(...node.literals.values());
      if (node.plus !== undefined) nodes.push(node.plus);
      if (node.hash !== undefined) nodes.push(node.hash);
    }
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  #tell(node: TopicNode<C>, subscribed: boolean): void {
    if (this.#watchers.size === 0) return;
    const filter = filterOf(node);
    for (const watcher of this.#watchers) watcher(filter, subscribed);
  }

  /**
   * Ends the subscription of `client` to `filter` (exactly as subscribed, `$share/...` too).
   *
   * @param client The client.
   * @param filter The topic filter.
   * @returns `true` when there was such a subscription (UNSUBACK 0x00), `false` when not
   * (0x11, No subscription existed).
   *
   * @example
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assert, assertEquals, assertFalse } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * tree.subscribe("a", "x/#", { qos: 0 });
   * assert(tree.unsubscribe("a", "x/#"));
   * assertFalse(tree.unsubscribe("a", "x/#"));
   * assertEquals(tree.match("x/y"), []);
   * ```
   */
  unsubscribe(client: C, filter: string): boolean {
    const subs = this.#clients.get(client);
    const sub = subs?.get(filter);
    if (sub === undefined) return false;
    subs!.delete(filter);
    if (subs!.size === 0) this.#clients.delete(client);
    this.#detach(sub);
    this.#changed();
    return true;
  }

  /**
   * Ends every subscription of `client` (its session ended), in time proportional to its
   * subscriptions.
   *
   * @param client The client.
   * @returns How many subscriptions it had.
   *
   * @example
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * tree.subscribe("a", "x", { qos: 0 });
   * tree.subscribe("a", "$share/g/x", { qos: 0 });
   * assertEquals(tree.removeClient("a"), 2);
   * assertEquals([tree.size, tree.clients], [0, 0]);
   * ```
   */
  removeClient(client: C): number {
    const subs = this.#clients.get(client);
    if (subs === undefined) return 0;
    this.#clients.delete(client);
    for (const sub of subs.values()) this.#detach(sub);
    this.#changed();
    return subs.size;
  }

  /**
   * The subscriptions of `client`, as subscribed (to store a session, or to list it).
   *
   * @param client The client.
   * @returns Its subscriptions, in the order they were made.
   *
   * @example
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * tree.subscribe("a", "x/+", { qos: 1, subscriptionId: 7 });
   * assertEquals(tree.subscriptionsOf("a"), [{
   *   filter: "x/+",
   *   options: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 7 },
   * }]);
   * ```
   */
  subscriptionsOf(client: C): SubscriptionEntry[] {
    const subs = this.#clients.get(client);
    if (subs === undefined) return [];
    return [...subs.values()].map((sub) => ({
      filter: sub.filter,
      options: {
        qos: sub.qos,
        noLocal: sub.noLocal,
        retainAsPublished: sub.retainAsPublished,
        retainHandling: sub.retainHandling,
        ...(sub.subscriptionId === undefined ? {} : { subscriptionId: sub.subscriptionId }),
      },
    }));
  }

  /**
   * The deliveries of a PUBLISH to `topic`: one per client with matching subscriptions of its
   * own (see the class doc for how they combine), leaving out the `publisher`'s No Local
   * subscriptions, then one per matching shared subscription, to the member whose turn it is.
   *
   * @param topic A valid topic name (see {@linkcode validTopicName}); not checked again here.
   * @param publisher The client that published, for No Local; omit for messages of the broker
   * itself (a will, `$SYS`).
   * @returns The deliveries, clients' own in no particular order, then the shared ones; the
   * array may be shared with later calls, and must not be changed.
   *
   * @example `#` matches its parent level; wildcards skip `$` topics
   * ```ts
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const tree = new SubscriptionTree<string>();
   * tree.subscribe("a", "sport/tennis/player1/#", { qos: 1 });
   * tree.subscribe("b", "#", { qos: 1 });
   * assertEquals(tree.match("sport/tennis/player1").map((d) => d.client).sort(), ["a", "b"]);
   * assertEquals(tree.match("$SYS/uptime"), []);
   * ```
   */
  match(topic: string, publisher?: C): readonly Delivery<C>[] {
    let match = this.#cache.get(topic);
    if (match === undefined) {
      match = this.#collect(topic);
      if (this.#cachedTopics > 0) {
        if (this.#cache.size >= this.#cachedTopics) this.#cache.clear();
        this.#cache.set(topic, match);
      }
    }
    let deliveries = match.deliveries;
    if (publisher !== undefined && match.local !== undefined && match.local.has(publisher)) {
      const own = match.local.get(publisher);
      deliveries = [];
      for (const delivery of match.deliveries) {
        if (delivery.client !== publisher) deliveries.push(delivery);
        else if (own !== undefined) deliveries.push(own);
      }
    }
    if (match.shared.length === 0) return deliveries;
    if (deliveries === match.deliveries) deliveries = deliveries.slice();
    for (const shared of match.shared) deliveries.push(this.#turn(shared).delivery);
    return deliveries;
  }

  /** The member whose turn it is, passing over unavailable ones, and the turn moves on. */
  #turn(shared: Shared<C>): Sub<C> {
    const members = shared.members;
    const start = shared.next;
    let at = start;
    const available = this.#available;
    if (available !== undefined) {
      while (!available(members[at].client)) {
        at = at + 1 === members.length ? 0 : at + 1;
        if (at === start) break;
      }
    }
    shared.next = at + 1 === members.length ? 0 : at + 1;
    return members[at];
  }

  #collect(topic: string): TopicMatch<C> {
    const levels = topic.split("/");
    const found = new TopicMatch<C>();
    const byClient = new Map<C, Sub<C>[]>();
    collect(this.#root, levels, topic.charCodeAt(0) === DOLLAR, byClient, found.shared);
    for (const subs of byClient.values()) {
      found.deliveries.push(combine(subs));
      if (!subs.some((sub) => sub.noLocal)) continue;
      const others = subs.filter((sub) => !sub.noLocal);
      (found.local ??= new Map()).set(
        subs[0].client,
        others.length === 0 ? undefined : combine(others),
      );
    }
    return found;
  }

  #detach(sub: Sub<C>): void {
    const node = sub.node;
    if (sub.shared === undefined) node.subs.delete(sub.client);
    else {
      sub.shared.remove(sub);
      if (sub.shared.members.length === 0) node.shared!.delete(sub.shared.group);
    }
    this.#size--;
    if (--node.count === 0) this.#tell(node, false);
    prune(node);
  }

  #changed(): void {
    this.#cache.clear();
  }
}

/**
 * Gathers the subscriptions of the filters that match `levels`. `dollar`: the topic starts
 * with `$`, so the root's `+` and `#` do not match it. A loop with its own stack, not
 * recursion: a topic may have 65,536 levels, deeper than the call stack goes.
 */
function collect<C>(
  root: TopicNode<C>,
  levels: string[],
  dollar: boolean,
  byClient: Map<C, Sub<C>[]>,
  shared: Shared<C>[],
): void {
  const nodes = [root];
  const indexes = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const index = indexes.pop()!;
    if (index === levels.length) {
      add(node, byClient, shared);
      // `a/#` matches `a`: the `#` level stands for the parent too.
      if (node.hash !== undefined) add(node.hash, byClient, shared);
      continue;
    }
    const wildcards = index > 0 || !dollar;
    if (wildcards && node.hash !== undefined) add(node.hash, byClient, shared);
    const next = node.literals?.get(levels[index]);
    if (next !== undefined) {
      nodes.push(next);
      indexes.push(index + 1);
    }
    if (wildcards && node.plus !== undefined) {
      nodes.push(node.plus);
      indexes.push(index + 1);
    }
  }
}

function add<C>(node: TopicNode<C>, byClient: Map<C, Sub<C>[]>, shared: Shared<C>[]): void {
  for (const sub of node.subs.values()) {
    const subs = byClient.get(sub.client);
    if (subs === undefined) byClient.set(sub.client, [sub]);
    else subs.push(sub);
  }
  if (node.shared !== undefined) { for (const group of node.shared.values()) shared.push(group); }
}

/** The filter of `node`: its levels from the root. */
function filterOf<C>(node: TopicNode<C>): string {
  const levels: string[] = [];
  for (let at = node; at.parent !== undefined; at = at.parent) levels.push(at.level);
  return levels.reverse().join("/");
}

/** Drops `node` from its parent when empty, and the parents it leaves empty. */
function prune<C>(node: TopicNode<C>): void {
  while (node.parent !== undefined && node.empty) {
    const parent: TopicNode<C> = node.parent;
    if (node.level === "+") parent.plus = undefined;
    else if (node.level === "#") parent.hash = undefined;
    else parent.literals!.delete(node.level);
    node = parent;
  }
}

/** One delivery for all of one client's matching subscriptions (see the class doc). */
function combine<C>(subs: Sub<C>[]): Delivery<C> {
  if (subs.length === 1) return subs[0].delivery;
  let qos: 0 | 1 | 2 = 0;
  let retainAsPublished = false;
  const ids: number[] = [];
  for (const sub of subs) {
    if (sub.qos > qos) qos = sub.qos;
    if (sub.retainAsPublished) retainAsPublished = true;
    // One SUBSCRIBE gives its identifier to all its filters; listing it twice says nothing more.
    if (sub.subscriptionId !== undefined && !ids.includes(sub.subscriptionId)) {
      ids.push(sub.subscriptionId);
    }
  }
  return Object.freeze({
    client: subs[0].client,
    qos,
    retainAsPublished,
    subscriptionIds: ids.length === 0 ? NO_IDS : Object.freeze(ids),
    group: undefined,
  });
}

function checkOptions(options: SubscriptionOptions): void {
  const { qos, retainHandling, subscriptionId } = options;
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`Invalid QoS "${qos}": expected 0, 1 or 2`);
  }
  if (
    retainHandling !== undefined && retainHandling !== 0 && retainHandling !== 1 &&
    retainHandling !== 2
  ) {
    throw new RangeError(`Invalid retainHandling "${retainHandling}": expected 0, 1 or 2`);
  }
  if (
    subscriptionId !== undefined &&
    (!Number.isInteger(subscriptionId) || subscriptionId < 1 ||
      subscriptionId > MAX_SUBSCRIPTION_ID)
  ) {
    throw new RangeError(
      `Invalid subscriptionId "${subscriptionId}": expected an integer from 1 to ${MAX_SUBSCRIPTION_ID}`,
    );
  }
}
