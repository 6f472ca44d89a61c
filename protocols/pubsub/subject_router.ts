import type { ConnectionHandle } from "../../core/connection_handle.ts";
import type { LoopContext } from "../../core/loop_context.ts";
import { type ForwardedMessage, LoopInterest } from "./_loop_interest.ts";
import { Backplane } from "./_backplane.ts";
import type { BackplaneOptions, BackplaneStats } from "./backplane_options.ts";
import { InvalidSubjectError } from "./pubsub_errors.ts";
import { isValidSubject } from "./subject.ts";

/**
 * A connection as the router sees it: where to write its messages, and what it asked for in
 * its `CONNECT`. The pub/sub protocol handler is one; tests may pass plain objects.
 */
export interface PubSubClient {
  /** Where its messages are written. */
  readonly handle: ConnectionHandle;
  /**
   * Asked before each delivery to this client, when present: `false` holds the message back
   * (a permission that denies its subject); a queue group then tries another member. Absent
   * for clients without such permissions, who pay nothing for it.
   */
  readonly deliveryCheck?: (subject: Uint8Array, reply: Uint8Array) => boolean;
  /** Whether it reads `HMSG` (headers); without it, headers are stripped from its messages. */
  readonly headers: boolean;
  /** Whether it receives its own messages on its own subscriptions. */
  readonly echo: boolean;
}

/** One subscription of one client, as {@linkcode SubjectRouter.subscribe} returns it. */
export interface Subscription {
  /** Its client. */
  readonly client: PubSubClient;
  /** The subject it matches, with wildcards. */
  readonly subject: string;
  /** Its queue group, or `""`. */
  readonly queue: string;
  /** Its id, unique within its client. */
  readonly sid: string;
  /** Messages delivered to it so far. */
  readonly delivered: number;
  /** Deliveries after which it ends (`UNSUB <sid> <max>`), or 0 for no limit. */
  readonly max: number;
}

/** The subscriptions a published subject reaches, from {@linkcode SubjectRouter.match}. */
export interface SubjectMatch {
  /** Subscriptions without a queue group: each gets every message. */
  readonly plain: readonly Subscription[];
  /** Queue groups, each as its members: one member of each gets each message. */
  readonly groups: readonly (readonly Subscription[])[];
}

class Sub implements Subscription {
  readonly client: PubSubClient;
  readonly subject: string;
  readonly queue: string;
  readonly sid: string;
  readonly sidBytes: Uint8Array;
  /** The loop whose interest this stands for, or -1 for a subscription of this loop. */
  readonly loop: number;
  delivered = 0;
  max = 0;
  live = true;

  constructor(client: PubSubClient, subject: string, queue: string, sid: string, loop = -1) {
    this.client = client;
    this.subject = subject;
    this.queue = queue;
    this.sid = sid;
    this.sidBytes = encoder.encode(sid);
    this.loop = loop;
  }
}

class Group {
  readonly name: string;
  /** This loop's members and the other loops' stand-ins, one per remote member. */
  readonly members: Sub[];
  /** This loop's members only (`members` itself when there are no stand-ins). */
  readonly local: Sub[];
  /**
   * Round-robin cursor. It starts at a random member: a match is rebuilt whenever any
   * subscription changes and is built anew for every distinct subject, and a cursor that
   * always started at the first member gave that member every message of a stream of
   * distinct subjects, or of one subject with churn between publishes (nats-server picks a
   * member at random for each message). Round robin within a match keeps a steady stream
   * exactly even; the random start keeps the rest even on average.
   */
  next: number;
  /** Round-robin cursor over `local`, for messages another loop picked this loop for. */
  localNext: number;

  constructor(name: string, members: Sub[]) {
    this.name = name;
    this.members = members;
    this.next = Math.floor(Math.random() * members.length);
    const local = members.filter((sub) => sub.loop < 0);
    this.local = local.length === members.length ? members : local;
    this.localNext = Math.floor(Math.random() * local.length);
  }
}

/** What other loops' interest a subject reaches. */
class RemoteMatch {
  /** Loops with plain subscriptions. */
  readonly loops: number[] = [];
  /** Queue groups with members on other loops (and maybe on this one). */
  readonly groups: Group[] = [];
}

class Match {
  /** This loop's plain subscriptions. */
  readonly plain: Sub[] = [];
  /** Queue groups whose members are all on this loop. */
  readonly groups: Group[] = [];
  /** Interest of other loops; undefined when none (always on a single loop). */
  remote: RemoteMatch | undefined;
  /** Queue groups by name while the match is being built. */
  readonly byName = new Map<string, Sub[]>();
}

/**
 * The subscriptions of one subject (pattern). Sets, not arrays: a client that leaves takes its
 * subscriptions out one by one, and a search-and-splice per subscription made removing N
 * subscriptions to one subject O(N²) (200,000 took the I/O thread for 20 s).
 */
class TrieNode {
  next: Level | undefined;
  readonly plain = new Set<Sub>();
  readonly queues = new Map<string, Set<Sub>>();

  get empty(): boolean {
    return this.next === undefined && this.plain.size === 0 && this.queues.size === 0;
  }
}

class Level {
  readonly literals = new Map<string, TrieNode>();
  /** The `*` token. */
  star: TrieNode | undefined;
  /** The `>` token. */
  full: TrieNode | undefined;

  get empty(): boolean {
    return this.literals.size === 0 && this.star === undefined && this.full === undefined;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY_MATCH = new Match();
/** Cached matches kept at most; the cache is emptied when it grows past this. */
const MAX_CACHED_MATCHES = 4096;
const MSG = encoder.encode("MSG ");
const HMSG = encoder.encode("HMSG ");
const NO_RESPONDERS_HEADERS = "NATS/1.0 503\r\n\r\n";
const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
/** Who the stand-ins of other loops' subscriptions belong to; never written to. */
const REMOTE: PubSubClient = {
  handle: { id: -1, open: false, write: () => false, close: () => false },
  headers: true,
  echo: true,
};

/**
 * A message being delivered in one encoding (`MSG` or `HMSG`), for one sid at a time. What the
 * header was built from is kept: a stream of messages with the same subject, sid, reply and
 * size (the common case) then costs one payload copy per message, and no allocation.
 */
class Encoding {
  buffer = new Uint8Array(512);
  /** The bytes to write: a view of `buffer`. */
  bytes: Uint8Array = this.buffer;
  /** The message (publish count) the bytes are for, or -1. */
  message = -1;
  /** What the header in `buffer` was built from. */
  sid: Uint8Array = MSG;
  subject = -1;
  reply: Uint8Array = new Uint8Array(64);
  replyLength = -1;
  size = -1;
  headerSize = -1;
  /** Where the payload starts in `buffer`. */
  headerLength = 0;
}

/**
 * The one owner of a server's subscriptions, and its fan-out: it matches published subjects
 * against every subscription (`*`, `>`, queue groups) and writes each delivery straight into
 * the subscriber's output buffer (`handle.write` copies it there; the connection flushes once
 * per event-loop turn). One router serves all connections of a server, on the I/O thread.
 *
 * Subscriptions live in a token trie; the subscriptions a subject reaches are cached by subject
 * until any subscription changes. A delivery allocates nothing: the `MSG` bytes are built once
 * per message and per distinct sid, then copied to every subscriber with that sid.
 *
 * @example Wildcards, a queue group, and the bytes a subscriber gets
 * ```ts
 * import { SubjectRouter } from "@speedo/speedo/pubsub";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const router = new SubjectRouter();
 * const a = new MemoryTransport(1);
 * const b = new MemoryTransport(2);
 * const alice = { handle: a.handle, headers: false, echo: true };
 * const bob = { handle: b.handle, headers: false, echo: true };
 * router.subscribe(alice, "orders.*", "1");
 * router.subscribe(bob, "orders.>", "9", "workers");
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assertEquals(router.publish(alice, bytes("orders.42"), bytes(""), bytes("paid"), -1), 2);
 * assertEquals(a.text(), "MSG orders.42 1 4\r\npaid\r\n");
 * assertEquals(b.text(), "MSG orders.42 9 4\r\npaid\r\n");
 * ```
 */
export class SubjectRouter {
  readonly #root = new Level();
  readonly #clients = new Map<PubSubClient, Map<string, Sub>>();
  readonly #cache = new Map<string, Match>();
  #subscriptions = 0;
  /** Messages routed: published here, and forwarded from other loops. */
  #published = 0;
  /** Messages forwarded from other loops. */
  #received = 0;
  #delivered = 0;
  /** The link to the other loops' routers; undefined on a single loop. */
  #loops: LoopInterest | undefined;
  /** The bridge to a NATS system (`_backplane.ts`); undefined without one. */
  #backplane: Backplane | undefined;
  /** Round-robin turn among local queue members, for messages the backplane picked us for. */
  #queueTurn = 0;
  /** The trie node of the last pattern the backplane delivered to, while nothing changed. */
  #bridgedPattern = "";
  #bridgedNode: TrieNode | undefined;
  #bridgedVersion = -1;
  /** Stand-ins of other loops' subscriptions, per loop, by pattern and queue group. */
  #remote: Map<string, Sub[]>[] = [];
  /** The message for each loop while a publish is forwarded. */
  #targets: (ForwardedMessage | undefined)[] = [];
  /** The last subject published, its match, and the version of the subscriptions it saw. */
  #lastSubject = new Uint8Array(64);
  #lastSubjectLength = -1;
  #lastMatch: Match = EMPTY_MATCH;
  #version = 0;
  #lastVersion = -1;
  /** Changes whenever the subject published differs from the one before. */
  #subjectSerial = 0;
  // The message being delivered.
  #subject: Uint8Array = MSG;
  #reply: Uint8Array = MSG;
  #payload: Uint8Array = MSG;
  #headerSize = -1;
  readonly #plainEncoding = new Encoding();
  readonly #headerEncoding = new Encoding();

  /**
   * Subscriptions held now.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * router.subscribe(client, "a", "1");
   * assertEquals(router.size, 1);
   * ```
   */
  get size(): number {
    return this.#subscriptions;
  }

  /**
   * Subscriptions one client holds now (the pub/sub protocol bounds it with
   * `maxSubscriptions`).
   *
   * @param client The client.
   * @returns How many of its subscriptions are live.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * router.subscribe(client, "a", "1");
   * router.subscribe(client, "b", "2");
   * assertEquals(router.subscriptionsOf(client), 2);
   * ```
   */
  subscriptionsOf(client: PubSubClient): number {
    return this.#clients.get(client)?.size ?? 0;
  }

  /**
   * Every subscription held now by this router's clients, client by client (other loops'
   * interest is not among them), as a live view: read it before the next operation.
   *
   * @returns The subscriptions.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * router.subscribe(client, "a.*", "1", "workers");
   * assertEquals([...router.subscriptions()].map((sub) => [sub.subject, sub.queue, sub.sid]), [
   *   ["a.*", "workers", "1"],
   * ]);
   * ```
   */
  *subscriptions(): IterableIterator<Subscription> {
    for (const subs of this.#clients.values()) yield* subs.values();
  }

  /**
   * Messages published so far (each `PUB`/`HPUB` counts once, delivered or not).
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * const empty = new Uint8Array(0);
   * router.publish(client, new TextEncoder().encode("nobody.listens"), empty, empty, -1);
   * assertEquals([router.published, router.delivered], [1, 0]);
   * ```
   */
  get published(): number {
    return this.#published - this.#received;
  }

  /**
   * Deliveries so far (a message reaching three subscriptions counts three).
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * router.subscribe(client, "a", "1");
   * router.subscribe(client, "*", "2");
   * const bytes = (text: string) => new TextEncoder().encode(text);
   * router.publish(client, bytes("a"), bytes(""), bytes("hi"), -1);
   * assertEquals(router.delivered, 2);
   * ```
   */
  get delivered(): number {
    return this.#delivered;
  }

  /**
   * Joins the routers of the same protocol on the server's other I/O loops
   * (`ServerOptions.loops`), so that a publish here reaches their subscribers and theirs reach
   * this loop's: the loops exchange interest (which subjects have subscriptions where), and a
   * message crosses to a loop only when that loop has interest in its subject, once per loop.
   * See the pub/sub protocol's module doc for the design. On a single loop (`count` 1) it does
   * nothing. {@linkcode pubsubProtocol}'s factory calls it from its `attach`.
   *
   * @param loop The loop this router runs on.
   * @throws {TypeError} When the router already joined loops.
   *
   * @example A single loop has nothing to join
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * router.attach({ index: 0, count: 1, send() {}, receive() {}, replaced() {} });
   * assertEquals(router.interestSerial, 0);
   * ```
   */
  attach(loop: LoopContext): void {
    if (loop.count <= 1) return;
    if (this.#backplane !== undefined) {
      throw new TypeError(
        "A router that joined a backplane does not join other loops: they meet on the backplane",
      );
    }
    if (this.#loops !== undefined) {
      throw new TypeError(`The router already joined ${loop.count} loops`);
    }
    this.#targets = new Array(loop.count).fill(undefined);
    const link = this.#loops = new LoopInterest(loop, {
      remote: (from, pattern, queue, count) => this.#setRemote(from, pattern, queue, count),
      drop: (from) => this.#drop(from),
      deliver: (message) => this.#deliverForwarded(message),
    });
    for (const subs of this.#clients.values()) {
      for (const sub of subs.values()) link.changed(sub.subject, sub.queue, 1);
    }
    link.start();
  }

  /**
   * Joins a NATS system (nats-server, alone or a cluster): this router's subscriptions are
   * subscribed there by interest (the first local subscription to a pattern or queue group
   * subscribes, the last one gone unsubscribes), local publishes are sent there once, and what
   * comes from there is delivered to local subscribers, never sent back. Queue groups are then
   * picked by nats-server among the members of every server. It connects at once, and again
   * after each loss; {@linkcode SubjectRouter.closeBackplane} ends it. See the pub/sub module
   * doc; `pubsubProtocol`'s `backplane` option calls it when the server starts.
   *
   * @param options The servers of the NATS system, credentials, bounds.
   * @throws {TypeError} When the router joined a backplane or other loops already, or a server
   *   is not a `nats://` URL.
   *
   * @example Joining, and leaving before any server answered
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * router.joinBackplane({ servers: ["nats://127.0.0.1:1"], reconnectDelay: 10 });
   * assertEquals(router.backplane?.connected, false);
   * await router.closeBackplane();
   * ```
   */
  joinBackplane(options: BackplaneOptions): void {
    if (this.#backplane !== undefined) throw new TypeError("The router joined a backplane already");
    if (this.#loops !== undefined) {
      throw new TypeError("A router on several loops cannot join a backplane");
    }
    const backplane = new Backplane(options, {
      deliver: (pattern, queue, subject, reply, payload, headerSize) =>
        this.#deliverBridged(pattern, queue, subject, reply, payload, headerSize),
    });
    this.#backplane = backplane;
    for (const subs of this.#clients.values()) {
      for (const sub of subs.values()) backplane.changed(sub.subject, sub.queue, 1);
    }
    backplane.start();
  }

  /**
   * The backplane's state and counters, or `undefined` without one.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new SubjectRouter().backplane, undefined);
   * ```
   */
  get backplane(): BackplaneStats | undefined {
    return this.#backplane?.stats;
  }

  /**
   * Leaves the backplane: sends what is queued for it (bounded by its `drainTimeout`) and
   * closes its connections. Publishes still unsent count as dropped. Nothing without one.
   *
   * @returns Once the connections are closed.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   *
   * await new SubjectRouter().closeBackplane();
   * ```
   */
  async closeBackplane(): Promise<void> {
    await this.#backplane?.close();
  }

  /**
   * The serial of this loop's last change of interest the other loops must learn (0 on a
   * single loop): a client that subscribed notes it, and its next `PING` is answered once
   * {@linkcode SubjectRouter.whenInterestKnown} says every loop knows.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new SubjectRouter().interestSerial, 0);
   * ```
   */
  get interestSerial(): number {
    return this.#backplane?.serial ?? this.#loops?.serial ?? 0;
  }

  /**
   * Whether every other loop has applied this loop's interest up to `serial`, the flush
   * barrier behind `PONG`: when not yet, `callback` runs once they have, callbacks in the
   * order given.
   *
   * @param serial A value of {@linkcode SubjectRouter.interestSerial}.
   * @param callback Called later, only when this returns `false`.
   * @returns `true` when every loop knows already (always on a single loop).
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { assert } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * assert(router.whenInterestKnown(router.interestSerial, () => {}));
   * ```
   */
  whenInterestKnown(serial: number, callback: () => void): boolean {
    if (this.#backplane !== undefined) return this.#backplane.whenKnown(serial, callback);
    return this.#loops === undefined || this.#loops.whenKnown(serial, callback);
  }

  /**
   * Adds a subscription. A second subscription with a sid the client already uses is ignored,
   * as nats-server does: the first one is returned.
   *
   * @param client Who subscribes.
   * @param subject The subject, with wildcards.
   * @param sid The subscription's id, unique within the client.
   * @param queue The queue group, or `""` for none.
   * @returns The subscription.
   * @throws {InvalidSubjectError} When the subject is not valid (or the queue name holds white space).
   *
   * @example
   * ```ts
   * import { InvalidSubjectError, SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * assertEquals(router.subscribe(client, "a.>", "1").subject, "a.>");
   * assertThrows(() => router.subscribe(client, "a..b", "2"), InvalidSubjectError);
   * ```
   */
  subscribe(client: PubSubClient, subject: string, sid: string, queue = ""): Subscription {
    if (!isValidSubject(subject)) throw new InvalidSubjectError(subject);
    if (/\s/.test(queue)) throw new InvalidSubjectError(queue);
    let subs = this.#clients.get(client);
    if (subs === undefined) this.#clients.set(client, subs = new Map());
    const existing = subs.get(sid);
    if (existing !== undefined) return existing;
    const sub = new Sub(client, subject, queue, sid);
    subs.set(sid, sub);
    this.#insert(sub);
    return sub;
  }

  /**
   * Ends a subscription of `client`, at once or after `max` deliveries in all (`UNSUB sid max`):
   * when it already had `max`, it ends now. An unknown sid is ignored.
   *
   * @param client The subscriber.
   * @param sid The subscription's id.
   * @param max Deliveries after which it ends; 0 or less ends it now.
   * @returns `true` when the subscription existed.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const transport = new MemoryTransport();
   * const client = { handle: transport.handle, headers: false, echo: true };
   * router.subscribe(client, "a", "1");
   * router.unsubscribe(client, "1", 2);
   * const bytes = (text: string) => new TextEncoder().encode(text);
   * for (const text of ["x", "y", "z"]) router.publish(client, bytes("a"), bytes(""), bytes(text), -1);
   * assertEquals(transport.text(), "MSG a 1 1\r\nx\r\nMSG a 1 1\r\ny\r\n");
   * assertEquals(router.size, 0);
   * ```
   */
  unsubscribe(client: PubSubClient, sid: string, max = 0): boolean {
    const sub = this.#clients.get(client)?.get(sid);
    if (sub === undefined) return false;
    if (max > 0 && sub.delivered < max) sub.max = max;
    else this.#remove(sub);
    return true;
  }

  /**
   * Ends every subscription of a client (it disconnected).
   *
   * @param client The client.
   * @returns How many subscriptions ended.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * router.subscribe(client, "a", "1");
   * router.subscribe(client, "b", "2");
   * assertEquals(router.removeClient(client), 2);
   * assertEquals(router.size, 0);
   * ```
   */
  removeClient(client: PubSubClient): number {
    const subs = this.#clients.get(client);
    if (subs === undefined) return 0;
    const count = subs.size;
    for (const sub of [...subs.values()]) this.#remove(sub);
    this.#clients.delete(client);
    return count;
  }

  /**
   * The subscriptions a message on `subject` reaches. The result is cached and shared: do not
   * keep it past the next change of subscriptions.
   *
   * @param subject A published subject (no wildcards are expanded in it).
   * @returns Plain subscriptions and queue groups.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const client = { handle: new MemoryTransport().handle, headers: false, echo: true };
   * router.subscribe(client, "a.*", "1");
   * router.subscribe(client, "a.b", "2", "q");
   * router.subscribe(client, ">", "3", "q");
   * const match = router.match("a.b");
   * assertEquals(match.plain.map((sub) => sub.sid), ["1"]);
   * assertEquals(match.groups.map((group) => group.map((sub) => sub.sid).sort()), [["2", "3"]]);
   * ```
   */
  match(subject: string): SubjectMatch {
    const match = this.#match(subject);
    const groups = [...match.groups, ...match.remote?.groups ?? []];
    return { plain: match.plain, groups: groups.map((group) => group.local) };
  }

  /**
   * Delivers a message to every plain subscription it reaches and to one member of each queue
   * group (round robin), skipping the publisher's own subscriptions when it asked for no echo.
   * Each delivery is written to the subscriber's handle as `MSG` (or `HMSG` for a message with
   * headers to a client that reads them; others get it without its headers).
   *
   * @param publisher Who publishes.
   * @param subject The subject, as bytes.
   * @param reply The reply subject, or empty.
   * @param payload The payload, headers included when `headerSize` > 0.
   * @param headerSize Bytes of headers at the start of the payload, or -1 (or 0) for none.
   * @returns Subscriptions reached (deliveries made), plus the other loops it was forwarded to.
   *
   * @example A message with headers, to a client with and one without headers support
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const modern = new MemoryTransport(1);
   * const legacy = new MemoryTransport(2);
   * router.subscribe({ handle: modern.handle, headers: true, echo: true }, "a", "1");
   * router.subscribe({ handle: legacy.handle, headers: false, echo: true }, "a", "1");
   * const bytes = (text: string) => new TextEncoder().encode(text);
   * const payload = bytes("NATS/1.0\r\n\r\nhi");
   * const publisher = { handle: new MemoryTransport(3).handle, headers: true, echo: true };
   * router.publish(publisher, bytes("a"), bytes("inbox"), payload, 12);
   * assertEquals(modern.text(), "HMSG a 1 inbox 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
   * assertEquals(legacy.text(), "MSG a 1 inbox 2\r\nhi\r\n");
   * ```
   */
  publish(
    publisher: PubSubClient,
    subject: Uint8Array,
    reply: Uint8Array,
    payload: Uint8Array,
    headerSize: number,
  ): number {
    if (this.#backplane !== undefined) {
      return this.#publishBridged(publisher, subject, reply, payload, headerSize);
    }
    this.#published++;
    const match = this.#lookup(subject);
    const plain = match.plain;
    const groups = match.groups;
    if (plain.length === 0 && groups.length === 0 && match.remote === undefined) return 0;
    this.#subject = subject;
    this.#reply = reply;
    this.#payload = payload;
    this.#headerSize = headerSize > 0 ? headerSize : -1;
    const noEcho = !publisher.echo;
    let count = 0;
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i];
      if (!sub.live || (noEcho && sub.client === publisher)) continue;
      if (this.#deliver(sub)) count++;
    }
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g];
      const members = group.members;
      for (let tries = 0; tries < members.length; tries++) {
        const sub = members[group.next++ % members.length];
        if (!sub.live || (noEcho && sub.client === publisher)) continue;
        if (!this.#deliver(sub)) continue;
        count++;
        break;
      }
    }
    this.#delivered += count;
    if (match.remote !== undefined) count += this.#forward(match.remote, publisher);
    // Drop references to the caller's buffers.
    this.#subject = this.#reply = this.#payload = MSG;
    return count;
  }

  /**
   * Tells a requester that nobody listens: writes the 503 status message nats-server sends
   * (`HMSG <reply> <sid> 16 16` with `NATS/1.0 503` headers) on the requester's own
   * subscription that matches the reply subject. Nothing is written when it has none.
   *
   * @param requester The publisher of the request.
   * @param reply The request's reply subject.
   * @returns Whether the status message was written.
   *
   * @example
   * ```ts
   * import { SubjectRouter } from "@speedo/speedo/pubsub";
   * import { MemoryTransport } from "@speedo/speedo/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const router = new SubjectRouter();
   * const transport = new MemoryTransport();
   * const requester = { handle: transport.handle, headers: true, echo: true };
   * router.subscribe(requester, "_INBOX.abc.*", "1");
   * router.noResponders(requester, "_INBOX.abc.7");
   * assertEquals(transport.text(), "HMSG _INBOX.abc.7 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
   * ```
   */
  noResponders(requester: PubSubClient, reply: string): boolean {
    const match = this.#match(reply);
    let sub: Sub | undefined = match.plain.find((sub) => sub.client === requester);
    for (const group of [...match.groups, ...match.remote?.groups ?? []]) {
      sub ??= group.local.find((member) => member.client === requester);
    }
    if (sub === undefined) return false;
    const size = NO_RESPONDERS_HEADERS.length;
    return requester.handle.write(
      `HMSG ${reply} ${sub.sid} ${size} ${size}\r\n${NO_RESPONDERS_HEADERS}\r\n`,
    );
  }

  /**
   * A publish with a backplane: to local plain subscribers here, and once to the backplane,
   * which gives it to the other servers' subscribers and to one member of each queue group
   * anywhere (this server's members too: they are not served here, or a group would get it
   * twice). Counts the backplane as reached, so that no local 503 is answered: nats-server
   * answers when nobody listens.
   */
  #publishBridged(
    publisher: PubSubClient,
    subject: Uint8Array,
    reply: Uint8Array,
    payload: Uint8Array,
    headerSize: number,
  ): number {
    this.#published++;
    const match = this.#lookup(subject);
    const plain = match.plain;
    let count = 0;
    if (plain.length > 0) {
      this.#subject = subject;
      this.#reply = reply;
      this.#payload = payload;
      this.#headerSize = headerSize > 0 ? headerSize : -1;
      const noEcho = !publisher.echo;
      for (let i = 0; i < plain.length; i++) {
        const sub = plain[i];
        if (!sub.live || (noEcho && sub.client === publisher)) continue;
        if (this.#deliver(sub)) count++;
      }
      this.#delivered += count;
      this.#subject = this.#reply = this.#payload = MSG;
    }
    this.#backplane!.publish(subject, reply, payload, headerSize, count > 0);
    return count + 1;
  }

  /**
   * Delivers a message from the backplane to the local subscriptions of exactly `pattern`: all
   * its plain ones, or one member of `queue` on it. Each backplane subscription stands for one
   * pattern, so a subject matching several local patterns arrives once per pattern and each
   * subscription gets it once.
   */
  #deliverBridged(
    pattern: string,
    queue: string,
    subject: Uint8Array,
    reply: Uint8Array,
    payload: Uint8Array,
    headerSize: number,
  ): void {
    let node = this.#bridgedNode;
    if (pattern !== this.#bridgedPattern || this.#bridgedVersion !== this.#version) {
      node = this.#bridgedNode = this.#node(pattern);
      this.#bridgedPattern = pattern;
      this.#bridgedVersion = this.#version;
    }
    if (node === undefined) return;
    this.#published++;
    this.#received++;
    // Keeps the subject serial right for the MSG header cache.
    this.#lookup(subject);
    this.#subject = subject;
    this.#reply = reply;
    this.#payload = payload;
    this.#headerSize = headerSize > 0 ? headerSize : -1;
    let count = 0;
    if (queue === "") {
      for (const sub of node.plain) {
        if (!sub.live || sub.loop >= 0) continue;
        if (this.#deliver(sub)) count++;
      }
    } else {
      const members = node.queues.get(queue);
      if (members !== undefined && members.size > 0) {
        let skip = this.#queueTurn++ % members.size;
        for (const sub of members) {
          if (skip-- > 0) continue;
          if (!this.#deliver(sub)) continue;
          count++;
          break;
        }
      }
    }
    this.#delivered += count;
    this.#subject = this.#reply = this.#payload = MSG;
  }

  /** The trie node of exactly `pattern`, or undefined. */
  #node(pattern: string): TrieNode | undefined {
    let level: Level | undefined = this.#root;
    let node: TrieNode | undefined;
    for (const token of pattern.split(".")) {
      if (level === undefined) return undefined;
      node = token === "*" ? level.star : token === ">" ? level.full : level.literals.get(token);
      if (node === undefined) return undefined;
      level = node.next;
    }
    return node;
  }

  /**
   * Forwards the message being published to the loops with interest in it: one message per
   * loop, marked for its plain subscriptions and for the queue groups whose pick fell on one
   * of its members. Queue groups with members here too are picked among all members.
   *
   * @returns Local deliveries plus loops forwarded to.
   */
  #forward(remote: RemoteMatch, publisher: PubSubClient): number {
    const loops = remote.loops;
    for (let i = 0; i < loops.length; i++) this.#target(loops[i]).plain = true;
    const noEcho = !publisher.echo;
    let delivered = 0;
    const groups = remote.groups;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g];
      const members = group.members;
      for (let tries = 0; tries < members.length; tries++) {
        const sub = members[group.next++ % members.length];
        if (!sub.live || (noEcho && sub.client === publisher)) continue;
        if (sub.loop < 0) {
          if (!this.#deliver(sub)) continue;
          delivered++;
        } else {
          const target = this.#target(sub.loop);
          (target.queues ??= []).push(group.name);
        }
        break;
      }
    }
    this.#delivered += delivered;
    const link = this.#loops!;
    // Interest changes made before this message reach every loop before it.
    link.flush();
    const targets = this.#targets;
    let sent = 0;
    for (let loop = 0; loop < targets.length; loop++) {
      const message = targets[loop];
      if (message === undefined) continue;
      targets[loop] = undefined;
      link.forward(loop, message);
      sent++;
    }
    return delivered + sent;
  }

  /**
   * The message for `loop` of the publish being forwarded, made at its first use: views of the
   * caller's buffers, copied into the loop's batch when forwarded (`_forward_batch.ts`).
   */
  #target(loop: number): ForwardedMessage {
    let message = this.#targets[loop];
    if (message !== undefined) return message;
    message = {
      subject: this.#subject,
      reply: this.#reply,
      payload: this.#payload,
      headerSize: this.#headerSize,
      plain: false,
      queues: undefined,
    };
    this.#targets[loop] = message;
    return message;
  }

  /**
   * Delivers a message another loop forwarded, as a local publish does but without forwarding
   * it: to every plain subscription when it came for them, and to one member of each queue
   * group it came for. A member gone meanwhile gives its turn to another member of its group
   * here; with none left here, the message is dropped (at most once, as NATS).
   */
  #deliverForwarded(message: ForwardedMessage): void {
    this.#published++;
    this.#received++;
    const subject = message.subject;
    const match = this.#lookup(subject);
    this.#subject = subject;
    this.#reply = message.reply;
    this.#payload = message.payload;
    this.#headerSize = message.headerSize;
    let count = 0;
    if (message.plain) {
      const plain = match.plain;
      for (let i = 0; i < plain.length; i++) {
        const sub = plain[i];
        if (!sub.live) continue;
        if (this.#deliver(sub)) count++;
      }
    }
    const queues = message.queues;
    if (queues !== undefined) {
      for (const name of queues) {
        const group = match.groups.find((group) => group.name === name) ??
          match.remote?.groups.find((group) => group.name === name);
        if (group === undefined) continue;
        const local = group.local;
        for (let tries = 0; tries < local.length; tries++) {
          const sub = local[group.localNext++ % local.length];
          if (!sub.live) continue;
          if (!this.#deliver(sub)) continue;
          count++;
          break;
        }
      }
    }
    this.#delivered += count;
    this.#subject = this.#reply = this.#payload = MSG;
  }

  /** Loop `loop` has `count` subscriptions to `pattern` in `queue`: as many stand-ins here. */
  #setRemote(loop: number, pattern: string, queue: string, count: number): void {
    if (!isValidSubject(pattern) || /\s/.test(queue)) return;
    const table = this.#remote[loop] ??= new Map();
    const key = queue === "" ? pattern : pattern + " " + queue;
    let subs = table.get(key);
    if (subs === undefined) {
      if (count <= 0) return;
      table.set(key, subs = []);
    }
    while (subs.length < count) {
      const sub = new Sub(REMOTE, pattern, queue, `${loop}.${subs.length}`, loop);
      subs.push(sub);
      this.#insert(sub);
    }
    while (subs.length > count) this.#remove(subs.pop()!);
    if (subs.length === 0) table.delete(key);
  }

  /** Forgets every interest of loop `loop`. */
  #drop(loop: number): void {
    const table = this.#remote[loop];
    if (table === undefined) return;
    this.#remote[loop] = new Map();
    for (const subs of table.values()) for (const sub of subs) this.#remove(sub);
  }

  /** Writes the message being routed to `sub`; false when its client's check refused it. */
  #deliver(sub: Sub): boolean {
    const client = sub.client;
    const check = client.deliveryCheck;
    if (check !== undefined && !check(this.#subject, this.#reply)) return false;
    const encoding = this.#headerSize > 0 && client.headers
      ? this.#headerEncoding
      : this.#plainEncoding;
    const sid = sub.sidBytes;
    if (
      encoding.message !== this.#published ||
      (encoding.sid !== sid && !sameBytes(encoding.sid, sid))
    ) {
      this.#encode(encoding, sid, encoding === this.#headerEncoding);
    }
    client.handle.write(encoding.bytes);
    sub.delivered++;
    if (sub.max > 0 && sub.delivered >= sub.max) this.#remove(sub);
    return true;
  }

  /**
   * Builds `MSG <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n`, or with headers
   * `HMSG <subject> <sid> [reply] <#header bytes> <#bytes>\r\n<payload>\r\n`.
   */
  #encode(encoding: Encoding, sid: Uint8Array, withHeaders: boolean): void {
    const subject = this.#subject;
    const reply = this.#reply;
    const headerSize = this.#headerSize;
    const payload = headerSize > 0 && !withHeaders
      ? this.#payload.subarray(headerSize)
      : this.#payload;
    encoding.message = this.#published;
    if (
      encoding.subject === this.#subjectSerial &&
      encoding.size === payload.length &&
      encoding.headerSize === headerSize &&
      (encoding.sid === sid || sameBytes(encoding.sid, sid)) &&
      encoding.replyLength === reply.length &&
      samePrefix(encoding.reply, reply, reply.length)
    ) {
      // Same header as the message before: only the payload changes (and its CRLF stays).
      encoding.buffer.set(payload, encoding.headerLength);
      return;
    }
    // 5 ("HMSG ") + 3 spaces + 2 numbers of at most 16 digits and a space + 2 CRLF.
    const needed = subject.length + sid.length + reply.length + payload.length + 48;
    let buffer = encoding.buffer;
    if (buffer.length < needed) {
      buffer = encoding.buffer = new Uint8Array(Math.max(needed, buffer.length * 2));
    }
    const op = withHeaders ? HMSG : MSG;
    buffer.set(op, 0);
    let at = op.length;
    buffer.set(subject, at);
    at += subject.length;
    buffer[at++] = SP;
    buffer.set(sid, at);
    at += sid.length;
    buffer[at++] = SP;
    if (reply.length > 0) {
      buffer.set(reply, at);
      at += reply.length;
      buffer[at++] = SP;
    }
    if (withHeaders) {
      at = writeDecimal(buffer, at, headerSize);
      buffer[at++] = SP;
    }
    at = writeDecimal(buffer, at, payload.length);
    buffer[at++] = CR;
    buffer[at++] = LF;
    encoding.headerLength = at;
    buffer.set(payload, at);
    at += payload.length;
    buffer[at++] = CR;
    buffer[at++] = LF;
    encoding.bytes = buffer.subarray(0, at);
    encoding.sid = sid;
    encoding.subject = this.#subjectSerial;
    encoding.size = payload.length;
    encoding.headerSize = headerSize;
    if (encoding.reply.length < reply.length) encoding.reply = new Uint8Array(reply.length * 2);
    encoding.reply.set(reply);
    encoding.replyLength = reply.length;
  }

  /** The match of a subject given as bytes; the last subject is recognised without decoding. */
  #lookup(subject: Uint8Array): Match {
    const length = subject.length;
    let same = false;
    if (length === this.#lastSubjectLength) {
      const last = this.#lastSubject;
      let i = 0;
      while (i < length && last[i] === subject[i]) i++;
      same = i === length;
      if (same && this.#lastVersion === this.#version) return this.#lastMatch;
    }
    const match = this.#match(decoder.decode(subject));
    if (!same) {
      if (this.#lastSubject.length < length) this.#lastSubject = new Uint8Array(length * 2);
      this.#lastSubject.set(subject);
      this.#lastSubjectLength = length;
      this.#subjectSerial++;
    }
    this.#lastMatch = match;
    this.#lastVersion = this.#version;
    return match;
  }

  #match(subject: string): Match {
    let match = this.#cache.get(subject);
    if (match !== undefined) return match;
    const tokens = subject.split(".");
    if (tokens.includes("")) return EMPTY_MATCH;
    match = new Match();
    collect(this.#root, tokens, 0, match);
    for (const [name, members] of match.byName) {
      const group = new Group(name, members);
      if (group.local === members) match.groups.push(group);
      else (match.remote ??= new RemoteMatch()).groups.push(group);
    }
    match.byName.clear();
    if (this.#cache.size >= MAX_CACHED_MATCHES) this.#cache.clear();
    this.#cache.set(subject, match);
    return match;
  }

  #insert(sub: Sub): void {
    const tokens = sub.subject.split(".");
    let level = this.#root;
    let node: TrieNode | undefined;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token === "*") node = level.star ??= new TrieNode();
      else if (token === ">") node = level.full ??= new TrieNode();
      else {
        node = level.literals.get(token);
        if (node === undefined) level.literals.set(token, node = new TrieNode());
      }
      if (i < tokens.length - 1) level = node.next ??= new Level();
    }
    if (sub.queue === "") node!.plain.add(sub);
    else {
      const members = node!.queues.get(sub.queue);
      if (members === undefined) node!.queues.set(sub.queue, new Set([sub]));
      else members.add(sub);
    }
    if (sub.loop < 0) {
      this.#subscriptions++;
      this.#loops?.changed(sub.subject, sub.queue, 1);
      this.#backplane?.changed(sub.subject, sub.queue, 1);
    }
    this.#changed();
  }

  #remove(sub: Sub): void {
    if (!sub.live) return;
    sub.live = false;
    this.#clients.get(sub.client)?.delete(sub.sid);
    const tokens = sub.subject.split(".");
    const path: { level: Level; token: string; node: TrieNode }[] = [];
    let level: Level | undefined = this.#root;
    for (const token of tokens) {
      const node: TrieNode | undefined = token === "*"
        ? level!.star
        : token === ">"
        ? level!.full
        : level!.literals.get(token);
      if (node === undefined) return;
      path.push({ level: level!, token, node });
      level = node.next;
    }
    const leaf = path[path.length - 1].node;
    if (sub.queue === "") leaf.plain.delete(sub);
    else {
      const members = leaf.queues.get(sub.queue);
      if (members !== undefined) {
        members.delete(sub);
        if (members.size === 0) leaf.queues.delete(sub.queue);
      }
    }
    // Prune nodes left empty, so that short-lived subjects (inboxes) do not accumulate.
    for (let i = path.length - 1; i >= 0; i--) {
      const { level, token, node } = path[i];
      if (node.next !== undefined && node.next.empty) node.next = undefined;
      if (!node.empty) break;
      if (token === "*") level.star = undefined;
      else if (token === ">") level.full = undefined;
      else level.literals.delete(token);
    }
    if (sub.loop < 0) {
      this.#subscriptions--;
      this.#loops?.changed(sub.subject, sub.queue, -1);
      this.#backplane?.changed(sub.subject, sub.queue, -1);
    }
    this.#changed();
  }

  #changed(): void {
    this.#version++;
    this.#cache.clear();
    this.#lastMatch = EMPTY_MATCH;
  }
}

function collect(level: Level, tokens: string[], index: number, match: Match): void {
  const last = index === tokens.length - 1;
  if (level.full !== undefined) addNode(level.full, match);
  if (level.star !== undefined) visit(level.star, tokens, index, last, match);
  const node = level.literals.get(tokens[index]);
  if (node !== undefined) visit(node, tokens, index, last, match);
}

function visit(node: TrieNode, tokens: string[], index: number, last: boolean, match: Match): void {
  if (last) addNode(node, match);
  else if (node.next !== undefined) collect(node.next, tokens, index + 1, match);
}

function addNode(node: TrieNode, match: Match): void {
  for (const sub of node.plain) {
    if (sub.loop < 0) match.plain.push(sub);
    else {
      const remote = match.remote ??= new RemoteMatch();
      if (!remote.loops.includes(sub.loop)) remote.loops.push(sub.loop);
    }
  }
  for (const [name, members] of node.queues) {
    const group = match.byName.get(name);
    if (group === undefined) match.byName.set(name, [...members]);
    else group.push(...members);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && samePrefix(a, b, a.length);
}

function samePrefix(a: Uint8Array, b: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Writes a non-negative integer (below 2^31) in decimal; returns the index after it. */
function writeDecimal(buffer: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
  let end = at + digits;
  let rest = value;
  do {
    buffer[--end] = 0x30 + rest % 10;
    rest = (rest / 10) | 0;
  } while (rest > 0);
  return at + digits;
}
