/**
 * Subjects: dot-separated, non-empty tokens. In a subscription, the token `*` matches any one
 * token and the token `>`, last, matches one or more trailing tokens. A token that merely
 * contains `*` or `>` (`a*`) is a literal, as in nats-server.
 *
 * ```
 * subject   = token *("." token)          token = 1*(any byte but "." and white space)
 * pattern   = ptoken *("." ptoken) ["." ">"] / ">"        ptoken = token / "*"
 * ```
 *
 * @module
 */

/**
 * Whether `subject` is valid to subscribe to: non-empty tokens, and `>` only as the last token.
 *
 * @param subject The subject or pattern.
 * @returns `true` when valid.
 *
 * @example
 * ```ts
 * import { isValidSubject } from "@speedo/speedo/pubsub";
 * import { assert, assertFalse } from "@std/assert";
 *
 * assert(isValidSubject("orders.*.paid"));
 * assert(isValidSubject("orders.>"));
 * assertFalse(isValidSubject("orders..paid"));
 * assertFalse(isValidSubject("orders.>.paid"));
 * ```
 */
export function isValidSubject(subject: string): boolean {
  if (subject.length === 0) return false;
  let tokenStart = 0;
  let sawFullWildcard = false;
  for (let i = 0; i <= subject.length; i++) {
    const c = i < subject.length ? subject.charCodeAt(i) : DOT;
    if (c === SPACE || c === TAB || c === CR || c === LF) return false;
    if (c !== DOT) continue;
    const length = i - tokenStart;
    if (length === 0 || sawFullWildcard) return false;
    if (length === 1 && subject.charCodeAt(tokenStart) === GT) sawFullWildcard = true;
    tokenStart = i + 1;
  }
  return true;
}

/**
 * Whether `subject` is valid to publish to: a valid subject with no wildcard token.
 *
 * @param subject The subject.
 * @returns `true` when valid.
 *
 * @example
 * ```ts
 * import { isValidPublishSubject } from "@speedo/speedo/pubsub";
 * import { assert, assertFalse } from "@std/assert";
 *
 * assert(isValidPublishSubject("orders.42.paid"));
 * assert(isValidPublishSubject("a*.b>"));
 * assertFalse(isValidPublishSubject("orders.*"));
 * ```
 */
export function isValidPublishSubject(subject: string): boolean {
  if (!isValidSubject(subject)) return false;
  let tokenStart = 0;
  for (let i = 0; i <= subject.length; i++) {
    if (i < subject.length && subject.charCodeAt(i) !== DOT) continue;
    if (i - tokenStart === 1) {
      const c = subject.charCodeAt(tokenStart);
      if (c === STAR || c === GT) return false;
    }
    tokenStart = i + 1;
  }
  return true;
}

/**
 * Whether a subscription `pattern` matches a published `subject`.
 *
 * @param pattern A valid subject, with wildcards.
 * @param subject A published subject.
 * @returns `true` when a message on `subject` goes to a subscription on `pattern`.
 *
 * @example
 * ```ts
 * import { subjectMatches } from "@speedo/speedo/pubsub";
 * import { assert, assertFalse } from "@std/assert";
 *
 * assert(subjectMatches("orders.*", "orders.42"));
 * assert(subjectMatches("orders.>", "orders.42.paid"));
 * assertFalse(subjectMatches("orders.>", "orders"));
 * assertFalse(subjectMatches("orders.*", "orders.42.paid"));
 * ```
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const patterns = pattern.split(".");
  const tokens = subject.split(".");
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if (p === ">") return tokens.length > i;
    if (i >= tokens.length) return false;
    if (p !== "*" && p !== tokens[i]) return false;
  }
  return patterns.length === tokens.length;
}

const DOT = 0x2e;
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const GT = 0x3e;
