/**
 * Per-user permissions of the pub/sub server, as nats-server's configuration writes them:
 * which subjects a user may publish to and subscribe to (allow and deny lists, with
 * wildcards), and whether it may answer the requests it receives (`allow_responses`).
 *
 * The rules, as nats-server applies them:
 *
 * - **Publish**: allowed when the subject matches an `allow` pattern (or there is no allow list)
 *   and no `deny` pattern. An empty allow list (`[]`) allows nothing.
 * - **Subscribe**: the subscription's subject is matched as it is written — its `*` and `>` are
 *   plain tokens there — so `SUB orders.*` is allowed by `orders.*`, `orders.>` or `>`, and not
 *   by `orders.new`. A pattern written `"subject queue"` is about queue subscriptions: when one
 *   matches the subject, the queue must match its queue. A deny pattern that matches refuses;
 *   a wildcard subscription that only overlaps one is accepted, and the messages it would get on
 *   denied subjects are not delivered.
 * - **Responses**: `allow_responses` lets a user publish to the reply subject of a request it
 *   received, `max` times (default 1) within `expires` milliseconds (default 2 minutes), even
 *   where its publish permissions do not reach; set alone, it also turns publishing off
 *   elsewhere (an empty allow list), as nats-server does.
 *
 * Violations are answered with nats-server's words: `-ERR 'Permissions Violation for Publish
 * to "x"'`, `-ERR 'Permissions Violation for Subscription to "x"'` (with ` using queue "q"` for
 * a queue subscription); the connection stays open and the operation is dropped.
 *
 * @module
 */

/** Allow and deny lists of subjects (wildcards allowed), or an allow list alone. */
export type SubjectPermission = string[] | {
  /** Patterns allowed; absent: everything not denied. */
  allow?: string[];
  /** Patterns denied, over the allow list. */
  deny?: string[];
};

/** What a user may publish and subscribe to: an {@linkcode Identity}'s `grants` for NATS. */
export interface PubSubPermissions {
  /** Subjects it may publish to. */
  publish?: SubjectPermission;
  /** Subjects (and queue groups) it may subscribe to. */
  subscribe?: SubjectPermission;
  /**
   * May publish to the reply subjects of requests it received: `true` for the defaults
   * (`max` 1 message, `expires` 2 minutes).
   */
  allow_responses?: boolean | {
    /** Responses per request. @default {1} */
    max?: number;
    /** Milliseconds a reply subject stays allowed. @default {120000} */
    expires?: number;
  };
}

/** A pattern compiled: its tokens, and its queue pattern for queue subscriptions. */
interface Pattern {
  readonly tokens: string[];
  readonly queue: string[] | undefined;
}

interface CompiledList {
  readonly allow: Pattern[] | undefined;
  readonly deny: Pattern[];
}

/** One reply subject a user may answer. */
interface Response {
  count: number;
  readonly since: number;
}

/** Reply subjects remembered per connection, at most this many (the oldest go first). */
const MAX_RESPONSES = 10_000;

/**
 * One connection's permissions, compiled from {@linkcode PubSubPermissions}: answers "may it
 * publish this / subscribe to that / receive this message", and remembers the reply subjects
 * it may answer.
 */
export class PermissionCheck {
  readonly #publish: CompiledList | undefined;
  readonly #subscribe: CompiledList | undefined;
  readonly #responses: { max: number; expires: number } | undefined;
  readonly #replies = new Map<string, Response>();
  /** Publish answers by subject (a publisher repeats its subjects); bounded. */
  readonly #published = new Map<string, boolean>();

  /**
   * Compiles the permissions of one connection.
   *
   * @param permissions What the user may do.
   * @throws {TypeError} When a list is not an array of valid subjects.
   *
   * @example
   * ```ts
   * import { PermissionCheck } from "@speedo/speedo/pubsub";
   * import { assert } from "@std/assert";
   *
   * const check = new PermissionCheck({ publish: ["orders.>"], subscribe: { deny: ["secret.>"] } });
   * assert(check.mayPublish("orders.new") && !check.mayPublish("other"));
   * assert(check.maySubscribe(">") && !check.maySubscribe("secret.a"));
   * ```
   */
  constructor(permissions: PubSubPermissions) {
    const responses = permissions.allow_responses;
    if (responses !== undefined && responses !== false) {
      const options = responses === true ? {} : responses;
      this.#responses = {
        max: options.max ?? 1,
        expires: options.expires ?? 120_000,
      };
    }
    let publish = permissions.publish;
    // As nats-server: responses alone turn the blanket publish permission off.
    if (this.#responses !== undefined) {
      if (publish === undefined) publish = { allow: [] };
      else if (!Array.isArray(publish) && publish.allow === undefined) {
        publish = { ...publish, allow: [] };
      }
    }
    this.#publish = compile("publish", publish);
    this.#subscribe = compile("subscribe", permissions.subscribe);
  }

  /** Whether messages on some subjects may be held back from this connection. */
  get filtersDeliveries(): boolean {
    return (this.#subscribe?.deny.length ?? 0) > 0;
  }

  /** Whether it tracks reply subjects it may answer (`allow_responses`). */
  get tracksReplies(): boolean {
    return this.#responses !== undefined;
  }

  /**
   * Whether it may publish to `subject` (a reply subject it may answer counts one use).
   *
   * @param subject The subject published to.
   * @param now The time, in milliseconds.
   * @returns Whether it may.
   */
  mayPublish(subject: string, now: number = Date.now()): boolean {
    let allowed = this.#published.get(subject);
    if (allowed === undefined) {
      allowed = this.#publish === undefined || permits(this.#publish, subject.split("."));
      if (this.#published.size >= MAX_RESPONSES) this.#published.clear();
      this.#published.set(subject, allowed);
    }
    if (allowed) return true;
    const response = this.#replies.get(subject);
    if (response === undefined || this.#responses === undefined) return false;
    response.count++;
    const { max, expires } = this.#responses;
    const stale = (max > 0 && response.count > max) ||
      (expires > 0 && now - response.since > expires);
    if (stale || response.count >= max) this.#replies.delete(subject);
    return !stale;
  }

  /**
   * Whether it may subscribe to `subject` (as written, wildcards included), in `queue`.
   *
   * @param subject The subscription's subject.
   * @param queue Its queue group, or "".
   * @returns Whether it may.
   */
  maySubscribe(subject: string, queue = ""): boolean {
    const list = this.#subscribe;
    if (list === undefined) return true;
    const tokens = subject.split(".");
    const queueTokens = queue === "" ? undefined : queue.split(".");
    let allowed = true;
    if (list.allow !== undefined) allowed = decide(list.allow, tokens, queueTokens);
    if (allowed && list.deny.length > 0) {
      allowed = !denies(list.deny, tokens, queueTokens);
    }
    return allowed;
  }

  /**
   * Whether a message on `subject` may be delivered to it: a wildcard subscription that
   * overlaps a deny pattern does not get that pattern's messages.
   *
   * @param subject The message's subject.
   * @returns Whether it may receive it.
   */
  mayReceive(subject: string): boolean {
    const deny = this.#subscribe?.deny;
    if (deny === undefined || deny.length === 0) return true;
    const tokens = subject.split(".");
    return !deny.some((pattern) => pattern.queue === undefined && matches(pattern.tokens, tokens));
  }

  /**
   * A request with reply subject `reply` was delivered to it: it may answer there.
   *
   * @param reply The reply subject.
   * @param now The time, in milliseconds.
   */
  received(reply: string, now: number = Date.now()): void {
    if (this.#responses === undefined || reply === "") return;
    if (this.#publish === undefined || permits(this.#publish, reply.split("."))) return;
    if (this.#replies.size >= MAX_RESPONSES) {
      this.#replies.delete(this.#replies.keys().next().value!);
    }
    this.#replies.set(reply, { count: 0, since: now });
  }
}

/**
 * The `-ERR` text of a publish refused.
 *
 * @param subject The subject.
 * @returns The text inside the quotes of `-ERR '...'`.
 */
export function publishViolation(subject: string): string {
  return `Permissions Violation for Publish to ${JSON.stringify(subject)}`;
}

/**
 * The `-ERR` text of a subscription refused.
 *
 * @param subject The subject.
 * @param queue The queue group, or "".
 * @returns The text inside the quotes of `-ERR '...'`.
 */
export function subscribeViolation(subject: string, queue = ""): string {
  const text = `Permissions Violation for Subscription to ${JSON.stringify(subject)}`;
  return queue === "" ? text : `${text} using queue ${JSON.stringify(queue)}`;
}

function compile(
  kind: string,
  permission: SubjectPermission | undefined,
): CompiledList | undefined {
  if (permission === undefined) return undefined;
  const list = Array.isArray(permission) ? { allow: permission } : permission;
  if (typeof list !== "object" || list === null) {
    throw new TypeError(`${kind} permissions must be a list or { allow, deny }`);
  }
  const patterns = (entries: unknown, name: string) => {
    if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== "string")) {
      throw new TypeError(`${kind}.${name} must be an array of subjects`);
    }
    return (entries as string[]).map((entry) => {
      const [subject, queue, extra] = entry.trim().split(/\s+/);
      if (
        extra !== undefined || !validPattern(subject) ||
        (queue !== undefined && kind !== "subscribe")
      ) {
        throw new TypeError(`${kind}.${name}: "${entry}" is not a valid subject`);
      }
      return { tokens: subject.split("."), queue: queue?.split(".") };
    });
  };
  return {
    allow: list.allow === undefined ? undefined : patterns(list.allow, "allow"),
    deny: list.deny === undefined ? [] : patterns(list.deny, "deny"),
  };
}

function validPattern(subject: string | undefined): boolean {
  if (subject === undefined || subject === "") return false;
  const tokens = subject.split(".");
  return tokens.every((token, i) =>
    token !== "" && (token !== ">" || i === tokens.length - 1) &&
    (token.length === 1 || !/[*>]/.test(token))
  );
}

/** Publish: an allow pattern matches (or none is set) and no deny pattern does. */
function permits(list: CompiledList, tokens: string[]): boolean {
  const allowed = list.allow === undefined ||
    list.allow.some((pattern) => matches(pattern.tokens, tokens));
  return allowed && !list.deny.some((pattern) => matches(pattern.tokens, tokens));
}

/**
 * Subscribe allow: a plain pattern that matches allows; for a queue subscription, queue
 * patterns that match the subject decide instead, by its queue.
 */
function decide(allow: Pattern[], tokens: string[], queue: string[] | undefined): boolean {
  let allowed = false;
  const queuePatterns: Pattern[] = [];
  for (const pattern of allow) {
    if (!matches(pattern.tokens, tokens)) continue;
    if (pattern.queue === undefined) allowed = true;
    else queuePatterns.push(pattern);
  }
  if (queue !== undefined && queuePatterns.length > 0) {
    allowed = queuePatterns.some((pattern) => matches(pattern.queue!, queue));
  }
  return allowed;
}

/** Subscribe deny: a plain pattern that matches denies; a queue pattern denies its queues. */
function denies(deny: Pattern[], tokens: string[], queue: string[] | undefined): boolean {
  for (const pattern of deny) {
    if (!matches(pattern.tokens, tokens)) continue;
    if (pattern.queue === undefined) return true;
    if (queue !== undefined && matches(pattern.queue, queue)) return true;
  }
  return false;
}

/** Whether `pattern` (with `*` and `>`) matches `subject`'s tokens, taken literally. */
function matches(pattern: string[], subject: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i];
    if (token === ">") return subject.length > i;
    if (i >= subject.length) return false;
    if (token !== "*" && token !== subject[i]) return false;
  }
  return pattern.length === subject.length;
}
