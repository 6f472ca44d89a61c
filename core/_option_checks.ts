/**
 * Checks of numeric options, shared by the server, the client and the protocols: a bad value
 * is a `RangeError` at construction that quotes the option and the value.
 *
 * @module
 */

/** Returns `value` when it is an integer of at least 1; throws a `RangeError` naming `name`. */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Returns `value` when it is an integer of at least 0; throws a `RangeError` naming `name`. */
export function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}
