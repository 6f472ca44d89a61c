/**
 * Text from the network made safe for a log line. Error messages quote what peers sent (a
 * URL, a subject, a header); written raw, a `%0a` or an escape byte in them forges log lines
 * or drives the operator's terminal.
 *
 * @module
 */

/** C0 controls but tab, DEL, C1 controls, and the Unicode line and paragraph separators. */
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * Escapes control characters as `\xNN` (`\uNNNN` past 0xff), so that the text stays on one
 * line and changes nothing on a terminal.
 *
 * @param text Any text.
 * @returns The text, with every control character escaped.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const code = char.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

/**
 * An error for a log: its name and message made printable, and its stack's frames when asked
 * (they come from code, not from peers).
 *
 * @param error What was thrown.
 * @param stack Whether to add the stack's frames.
 * @returns The text to log.
 */
export function describeError(error: unknown, stack = false): string {
  if (!(error instanceof Error)) return printable(String(error));
  const head = `${error.name}: ${error.message}`;
  const safe = printable(head);
  if (!stack || error.stack === undefined) return safe;
  const frames = error.stack.startsWith(head)
    ? error.stack.slice(head.length)
    : error.stack.slice(error.stack.indexOf("\n    at "));
  return safe + frames.split("\n").map(printable).join("\n");
}
