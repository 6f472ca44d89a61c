/**
 * The backplane: a pub/sub server's bridge to a NATS system (nats-server, alone or clustered
 * with routes), so that Speedo servers on one machine or many share subjects, wildcards, queue
 * groups and request/reply. The server is an ordinary NATS client; there is no cluster protocol
 * of Speedo's own.
 *
 * ```
 *  clients ─▶ Speedo A (router) ──PUB──▶ ┌───────────────┐ ──MSG──▶ Speedo B ─▶ clients
 *                 ▲   plain conn, echo:false │ nats-server(s)│  plain conn (plain subs)
 *                 └────── queue conn ◀─MSG── │  (routes)     │  queue conn (queue subs)
 *                                            └───────────────┘
 * ```
 *
 * **Interest.** The router tells the backplane its local subscriptions as counts per pattern
 * and queue group. The first local plain subscription to a pattern makes `SUB pattern sid` on
 * the plain connection; the first member of a queue group on a pattern makes
 * `SUB pattern group sid` on the queue connection; the last one gone makes `UNSUB sid`. A
 * message from the backplane is delivered to the local subscriptions of exactly the pattern
 * (and group) of its sid: a subject matching `a.*` and `a.>` arrives once per backplane
 * subscription, and each local subscription gets it once, through its own pattern's.
 *
 * **No echo, no loops.** The plain connection says `echo: false`, so nats-server never sends
 * this server's own publishes back on it: a local publish is delivered by the router to local
 * plain subscribers and sent once to the backplane, and what comes from the backplane is only
 * delivered locally, never published again.
 *
 * **Queue groups, exactly once across servers.** nats-server picks one member per group among
 * all the connections of the system, so a local publish is *not* given to local queue members by
 * the router: it goes to the backplane, which picks one member anywhere, maybe here. Measured
 * on nats-server 2.9.10: `echo: false` also withholds a connection's own publishes from its own
 * queue subscriptions, so queue subscriptions live on a second connection (the queue
 * connection, which never publishes). Cost: a local queue delivery takes a round trip through
 * nats-server.
 *
 * **No-responders.** With a backplane the router cannot know that nobody anywhere listens, so
 * it never answers 503 itself: nats-server does, on the requester's inbox subscription (it is
 * the publishing connection's). A request that a local plain subscriber took gets a 503 from
 * nats-server too (nobody else heard it): its reply subject is remembered (the last 10,000)
 * and that status message is dropped.
 *
 * **Faults.** Lost connections (either one ends the pair) are made again with the next server
 * of the list, at once, then in rounds with exponential backoff and jitter; all interest is
 * subscribed again in the handshake. Publishes while disconnected are buffered up to
 * `maxBufferedBytes` (8 MiB) and sent after the resubscription; past it they are dropped and
 * counted, as is a publish larger than the server's `max_payload` (nats-server would close the
 * connection for it). What was queued on a connection when it died is lost (at most once, as NATS).
 *
 * **Flush.** A client's `PING` after its `SUB` is answered once the backplane's servers
 * answered a `PING` sent after that `SUB` on both connections, so after `PONG` a publish on any
 * server reaches the subscription. While disconnected, `PONG` is not held.
 *
 * @module
 */

import {
  BackplaneConnection,
  type BackplaneConnectionOptions,
  type BackplaneServer,
  OutBuffer,
  parseServer,
} from "./_backplane_connection.ts";
import type { BackplaneOp } from "./_backplane_parser.ts";
import type { BackplaneOptions, BackplaneStats } from "./backplane_options.ts";

/** What the backplane asks of its router. */
export interface BackplaneTarget {
  /** Deliver a message to the local subscriptions of exactly `pattern` (one member of `queue`). */
  deliver(
    pattern: string,
    queue: string,
    subject: Uint8Array,
    reply: Uint8Array,
    payload: Uint8Array,
    headerSize: number,
  ): void;
}

/** One pattern (and queue group) subscribed on the backplane. */
interface Interest {
  readonly pattern: string;
  readonly queue: string;
  readonly sid: number;
  count: number;
}

/** The two connections of one server of the backplane. */
interface Session {
  readonly plain: BackplaneConnection;
  readonly queue: BackplaneConnection;
  /** Serials acknowledged by each connection's PONGs. */
  plainKnown: number;
  queueKnown: number;
  ended: Promise<void>;
  end(error: Error | undefined): void;
}

const MAX_REMEMBERED_REPLIES = 10_000;
const STATUS_503 = new TextEncoder().encode("NATS/1.0 503");
const decoder = new TextDecoder();

/** Checks backplane options, as `pubsubProtocol` does at construction. */
export function checkBackplaneOptions(options: BackplaneOptions): BackplaneServer[] {
  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new TypeError(`backplane.servers must list at least one server, got ${options.servers}`);
  }
  const servers = options.servers.map(parseServer);
  for (
    const name of [
      "maxBufferedBytes",
      "reconnectDelay",
      "reconnectDelayMax",
      "connectTimeout",
      "pingInterval",
      "drainTimeout",
    ] as const
  ) {
    const value = options[name];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
      throw new RangeError(`backplane.${name} must be a non-negative number, got ${value}`);
    }
  }
  return servers;
}

/** A router's bridge to the NATS system; see the module doc. */
export class Backplane {
  readonly #servers: BackplaneServer[];
  readonly #connection: Omit<BackplaneConnectionOptions, "echo">;
  readonly #maxBuffered: number;
  readonly #delay: number;
  readonly #delayMax: number;
  readonly #pingInterval: number;
  readonly #drainTimeout: number;
  readonly #target: BackplaneTarget;
  readonly #interest = new Map<string, Interest>();
  readonly #bySid = new Map<number, Interest>();
  #nextSid = 0;
  #session: Session | undefined;
  /** Publishes made while no session is up. */
  readonly #pending = new OutBuffer(0);
  #pendingCount = 0;
  /** Serial of the last interest change; `#known`: the last the servers acknowledged. */
  #serial = 0;
  #known = 0;
  #barrier = 0;
  #waiters: { serial: number; callback: () => void }[] = [];
  /** Reply subjects of requests a local subscriber took: their 503 from nats-server is dropped. */
  readonly #answered = new Set<string>();
  #closing = false;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  // Counters.
  #connects = 0;
  #published = 0;
  #received = 0;
  #dropped = 0;
  #lastError: Error | undefined;
  /**
   * The largest payload the backplane's server takes (INFO `max_payload`): nats-server closes a
   * connection that publishes more, so such a publish is dropped and counted instead.
   */
  #maxPayload = Infinity;

  constructor(options: BackplaneOptions, target: BackplaneTarget) {
    this.#servers = checkBackplaneOptions(options);
    this.#connection = {
      name: options.name ?? "speedo",
      user: options.user,
      pass: options.pass,
      token: options.token,
      tls: options.tls,
      connectTimeout: options.connectTimeout ?? 5000,
    };
    this.#maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
    this.#delay = options.reconnectDelay ?? 100;
    this.#delayMax = options.reconnectDelayMax ?? 5000;
    this.#pingInterval = options.pingInterval ?? 30_000;
    this.#drainTimeout = options.drainTimeout ?? 2000;
    this.#target = target;
  }

  /** Starts connecting (and keeps connected until `close`). */
  start(): void {
    this.#running ??= this.#run();
  }

  get stats(): BackplaneStats {
    const session = this.#session;
    return {
      connected: session !== undefined,
      server: session?.plain.server.display,
      connects: this.#connects,
      subscriptions: this.#interest.size,
      published: this.#published,
      received: this.#received,
      buffered: this.#pending.length + (session?.plain.out.length ?? 0),
      dropped: this.#dropped,
      lastError: this.#lastError,
    };
  }

  /** The serial of the last interest change (0 before any). */
  get serial(): number {
    return this.#serial;
  }

  /**
   * Whether the backplane's servers have every interest change up to `serial`; when not,
   * `callback` runs once they do (or the session is lost), callbacks in order.
   */
  whenKnown(serial: number, callback: () => void): boolean {
    const session = this.#session;
    if (session === undefined || serial <= this.#known) return true;
    this.#waiters.push({ serial, callback });
    if (this.#barrier < this.#serial) {
      this.#barrier = this.#serial;
      session.plain.ping(this.#serial);
      session.queue.ping(this.#serial);
    }
    return false;
  }

  /** Local subscriptions to `pattern` in `queue` changed by `delta`. */
  changed(pattern: string, queue: string, delta: number): void {
    const key = queue === "" ? pattern : `${pattern} ${queue}`;
    let interest = this.#interest.get(key);
    if (interest === undefined) {
      if (delta <= 0) return;
      interest = { pattern, queue, sid: ++this.#nextSid, count: 0 };
      this.#interest.set(key, interest);
      this.#bySid.set(interest.sid, interest);
      this.#serial++;
      const session = this.#session;
      if (session !== undefined) {
        const connection = queue === "" ? session.plain : session.queue;
        connection.out.appendText(subLine(interest));
        connection.flush();
      }
    }
    interest.count += delta;
    if (interest.count > 0) return;
    this.#interest.delete(key);
    this.#bySid.delete(interest.sid);
    this.#serial++;
    const session = this.#session;
    if (session !== undefined) {
      const connection = queue === "" ? session.plain : session.queue;
      connection.out.appendText(`UNSUB ${interest.sid}\r\n`);
      connection.flush();
    }
  }

  /**
   * A local publish: sent once to the backplane (queued while disconnected, or dropped past
   * `maxBufferedBytes`). `answered`: a local plain subscriber took it.
   */
  publish(
    subject: Uint8Array,
    reply: Uint8Array,
    payload: Uint8Array,
    headerSize: number,
    answered: boolean,
  ): void {
    const session = this.#session;
    const out = session === undefined ? this.#pending : session.plain.out;
    if (
      out.length + subject.length + reply.length + payload.length + 48 > this.#maxBuffered ||
      payload.length > this.#maxPayload
    ) {
      this.#dropped++;
      return;
    }
    if (answered && reply.length > 0) this.#remember(decoder.decode(reply));
    out.appendPublish(subject, reply, payload, headerSize);
    this.#published++;
    if (session === undefined) this.#pendingCount++;
    else session.plain.flush();
  }

  /** Sends what is queued (for up to `drainTimeout`), then closes the connections. */
  async close(): Promise<void> {
    if (this.#closing) return await this.#running;
    this.#closing = true;
    this.#wake?.();
    const session = this.#session;
    if (session !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        session.plain.drained(),
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#drainTimeout)),
      ]);
      clearTimeout(timer);
      session.end(undefined);
    }
    await this.#running;
    this.#dropped += this.#pendingCount;
    this.#pendingCount = 0;
    this.#pending.clear();
  }

  /** Connects, and connects again after each loss, until closed. */
  async #run(): Promise<void> {
    const servers = this.#servers;
    let index = 0;
    let failures = 0;
    while (!this.#closing) {
      const server = servers[index % servers.length];
      try {
        const session = await this.#open(server);
        failures = 0;
        await session.ended;
        // Lost: the next listed server first (failover), at once.
        index++;
        continue;
      } catch (error) {
        this.#lastError = error instanceof Error ? error : new Error(String(error));
        failures++;
        index++;
      }
      if (failures % servers.length === 0) {
        const round = failures / servers.length - 1;
        const wait = Math.min(this.#delayMax, this.#delay * 2 ** Math.min(round, 30));
        await this.#sleep(wait / 2 + Math.random() * wait / 2);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Opens both connections to `server`, subscribes all interest, sends what was buffered. */
  async #open(server: BackplaneServer): Promise<Session> {
    const { promise: ended, resolve: endedResolve } = Promise.withResolvers<void>();
    let session: Session | undefined = undefined;
    let lost: Error | undefined;
    let ending = false;
    const end = (error: Error | undefined) => {
      if (ending) return;
      ending = true;
      if (error !== undefined) this.#lastError = error;
      if (session === undefined) {
        lost = error ?? new Error("closed");
        return;
      }
      if (this.#session === session) this.#down();
      session.plain.close();
      session.queue.close();
      Promise.all([session.plain.done, session.queue.done]).then(() => endedResolve());
    };
    const subscribed = { plain: new Set<number>(), queue: new Set<number>() };
    const events = (kind: "plain" | "queue") => ({
      message: (op: BackplaneOp) => this.#message(op),
      pong: (serial: number) => {
        if (session === undefined || serial < 0) return;
        if (kind === "plain") session.plainKnown = serial;
        else session.queueKnown = serial;
        this.#acknowledge(session);
      },
      closed: (error: Error | undefined) => end(error ?? new Error("closed")),
    });
    const setup = (kind: "plain" | "queue") => (out: OutBuffer) => {
      for (const interest of this.#interest.values()) {
        if ((interest.queue === "") !== (kind === "plain")) continue;
        out.appendText(subLine(interest));
        subscribed[kind].add(interest.sid);
      }
    };
    const options = { ...this.#connection, echo: false };
    const plain = await BackplaneConnection.open(server, options, setup("plain"), events("plain"));
    let queue: BackplaneConnection;
    try {
      queue = await BackplaneConnection.open(server, options, setup("queue"), events("queue"));
    } catch (error) {
      plain.close();
      await plain.done;
      throw error;
    }
    session = { plain, queue, plainKnown: 0, queueKnown: 0, ended, end };
    if (lost !== undefined || this.#closing) {
      plain.close();
      queue.close();
      await Promise.all([plain.done, queue.done]);
      endedResolve();
      if (this.#closing) return session;
      throw lost;
    }
    // Interest that changed during the handshakes.
    for (const kind of ["plain", "queue"] as const) {
      const connection = session[kind];
      for (const sid of subscribed[kind]) {
        if (!this.#bySid.has(sid)) connection.out.appendText(`UNSUB ${sid}\r\n`);
      }
      for (const interest of this.#interest.values()) {
        if ((interest.queue === "") !== (kind === "plain")) continue;
        if (!subscribed[kind].has(interest.sid)) connection.out.appendText(subLine(interest));
      }
    }
    if (this.#pending.length > 0) plain.out.append(this.#pending.take());
    this.#pendingCount = 0;
    this.#session = session;
    const maxPayload = plain.info.max_payload;
    this.#maxPayload = typeof maxPayload === "number" && maxPayload > 0 ? maxPayload : Infinity;
    this.#connects++;
    this.#known = 0;
    this.#barrier = 0;
    plain.flush();
    queue.flush();
    if (this.#pingInterval > 0) {
      this.#keepalive = setInterval(() => {
        if (plain.pingsOut > 2 || queue.pingsOut > 2) {
          end(new Error(`Backplane server ${server.display} stopped answering PINGs`));
          return;
        }
        plain.ping(-1);
        queue.ping(-1);
      }, this.#pingInterval);
    }
    return session;
  }

  /** The session is gone: flush barriers are released, publishes are buffered from now. */
  #down(): void {
    this.#session = undefined;
    clearInterval(this.#keepalive);
    this.#keepalive = undefined;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.callback();
  }

  #acknowledge(session: Session): void {
    this.#known = Math.min(session.plainKnown, session.queueKnown);
    const waiters = this.#waiters;
    let i = 0;
    while (i < waiters.length && waiters[i].serial <= this.#known) waiters[i++].callback();
    if (i > 0) this.#waiters = waiters.slice(i);
  }

  #message(op: BackplaneOp): void {
    const interest = this.#bySid.get(op.sid);
    // Unsubscribed meanwhile: the message was for nobody here any more.
    if (interest === undefined) return;
    if (
      op.headerSize > 0 && op.headerSize === op.payload.length && isStatus503(op.payload) &&
      this.#answered.delete(decoder.decode(op.subject))
    ) {
      return;
    }
    this.#received++;
    this.#target.deliver(
      interest.pattern,
      interest.queue,
      op.subject,
      op.reply,
      op.payload,
      op.headerSize,
    );
  }

  #remember(reply: string): void {
    const answered = this.#answered;
    if (answered.size >= MAX_REMEMBERED_REPLIES) {
      answered.delete(answered.values().next().value!);
    }
    answered.add(reply);
  }
}

function subLine(interest: Interest): string {
  return interest.queue === ""
    ? `SUB ${interest.pattern} ${interest.sid}\r\n`
    : `SUB ${interest.pattern} ${interest.queue} ${interest.sid}\r\n`;
}

function isStatus503(headers: Uint8Array): boolean {
  if (headers.length < STATUS_503.length) return false;
  for (let i = 0; i < STATUS_503.length; i++) if (headers[i] !== STATUS_503[i]) return false;
  return true;
}
