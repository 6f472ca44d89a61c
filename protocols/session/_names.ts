/**
 * Session names name files: they are kept to a safe alphabet.
 *
 * @module
 */

/** Checks a session name: it names a file, so it is kept to a safe alphabet. */
export function checkName(what: string, name: string): void {
  if (typeof name !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(name) || /^\.+$/.test(name)) {
    throw new RangeError(
      `${what} must be 1 to 64 letters, digits, dots, dashes or underscores, got ${
        JSON.stringify(name)
      }`,
    );
  }
}
