/**
 * Query parameters of monitor requests, checked: a bad value is a `MonitorQueryError`, which
 * the monitor answers 400.
 *
 * @module
 */

import { MonitorQueryError } from "./monitor_errors.ts";

/** An integer parameter from `min` to `max`, or `fallback` when absent. */
export function integerParameter(
  query: URLSearchParams,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  const text = query.get(name);
  if (text === null) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new MonitorQueryError(name, text, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** A yes/no parameter (`1`, `true`, `0`, `false`, or empty for yes), or `false` when absent. */
export function flagParameter(query: URLSearchParams, name: string): boolean {
  const text = query.get(name);
  if (text === null) return false;
  if (text === "" || text === "1" || text === "true") return true;
  if (text === "0" || text === "false") return false;
  throw new MonitorQueryError(name, text, "1, true, 0 or false");
}

/** One of `choices`, or `undefined` when absent. */
export function choiceParameter(
  query: URLSearchParams,
  name: string,
  choices: readonly string[],
): string | undefined {
  const text = query.get(name);
  if (text === null || choices.includes(text)) return text ?? undefined;
  throw new MonitorQueryError(name, text, `one of ${choices.map((c) => `"${c}"`).join(", ")}`);
}
