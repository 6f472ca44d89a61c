/**
 * Errors of the monitor.
 *
 * @module
 */

/**
 * A query parameter of a monitor request that cannot be used (`/connz?limit=abc`): the
 * monitor answers 400 with the message.
 *
 * @example
 * ```ts
 * import { MonitorQueryError } from "@speedo/speedo/monitor";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new MonitorQueryError("limit", "abc", "an integer from 1 to 1024");
 * assertEquals(error.message, 'limit must be an integer from 1 to 1024, got "abc"');
 * assertEquals(error.name, "MonitorQueryError");
 * ```
 */
export class MonitorQueryError extends Error {
  /** The parameter's name. */
  readonly parameter: string;
  /** The value given. */
  readonly value: string;

  /**
   * Makes the error.
   *
   * @param parameter The parameter's name.
   * @param value The value given.
   * @param expected What it must be, after "must be".
   */
  constructor(parameter: string, value: string, expected: string) {
    super(`${parameter} must be ${expected}, got "${value}"`);
    this.name = "MonitorQueryError";
    this.parameter = parameter;
    this.value = value;
  }
}
