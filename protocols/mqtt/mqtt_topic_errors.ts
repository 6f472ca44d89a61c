/**
 * Errors of MQTT topic names, topic filters and subscriptions, for the broker to map onto
 * reason codes: an invalid topic name is `0x90` (Topic Name invalid), an invalid filter `0x8F`
 * (Topic Filter invalid), and No Local on a shared subscription `0x82` (Protocol Error).
 *
 * @module
 */

/**
 * A topic name that a PUBLISH may not carry (empty, with a wildcard, with U+0000, or longer
 * than 65,535 UTF-8 bytes).
 *
 * @example
 * ```ts
 * import { InvalidTopicNameError } from "./mqtt_topic_errors.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new InvalidTopicNameError("a/+");
 * assertEquals(error.topic, "a/+");
 * assertEquals(error.message, `Invalid MQTT topic name "a/+"`);
 * ```
 */
export class InvalidTopicNameError extends Error {
  /** The topic name, as given. */
  readonly topic: string;

  /**
   * Makes the error.
   *
   * @param topic The topic name, as given.
   * @param options The cause, if any.
   */
  constructor(topic: string, options?: ErrorOptions) {
    super(`Invalid MQTT topic name ${JSON.stringify(topic)}`, options);
    this.name = "InvalidTopicNameError";
    this.topic = topic;
  }
}

/**
 * A topic filter that a SUBSCRIBE may not carry (empty, a misplaced `#` or `+`, a malformed
 * `$share/`, U+0000, or longer than 65,535 UTF-8 bytes).
 *
 * @example
 * ```ts
 * import { InvalidTopicFilterError } from "./mqtt_topic_errors.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new InvalidTopicFilterError("a/#/b");
 * assertEquals(error.filter, "a/#/b");
 * assertEquals(error.message, `Invalid MQTT topic filter "a/#/b"`);
 * ```
 */
export class InvalidTopicFilterError extends Error {
  /** The topic filter, as given. */
  readonly filter: string;

  /**
   * Makes the error.
   *
   * @param filter The topic filter, as given.
   * @param options The cause, if any.
   */
  constructor(filter: string, options?: ErrorOptions) {
    super(`Invalid MQTT topic filter ${JSON.stringify(filter)}`, options);
    this.name = "InvalidTopicFilterError";
    this.filter = filter;
  }
}

/**
 * A shared subscription (`$share/{group}/{filter}`) asked for No Local, which MQTT 5 makes a
 * Protocol Error (a client could never be sure its own messages reach the group otherwise).
 *
 * @example
 * ```ts
 * import { SharedNoLocalError } from "./mqtt_topic_errors.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new SharedNoLocalError("$share/g/a");
 * assertEquals(error.filter, "$share/g/a");
 * ```
 */
export class SharedNoLocalError extends Error {
  /** The shared topic filter, as given. */
  readonly filter: string;

  /**
   * Makes the error.
   *
   * @param filter The shared topic filter, as given.
   * @param options The cause, if any.
   */
  constructor(filter: string, options?: ErrorOptions) {
    super(`No Local is not allowed on shared subscription ${JSON.stringify(filter)}`, options);
    this.name = "SharedNoLocalError";
    this.filter = filter;
  }
}
