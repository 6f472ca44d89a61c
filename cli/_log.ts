/**
 * The log of `speedo serve`: a line per event (listening, closed, an error, the stats of an
 * interval), as text for people or as JSON for machines, filtered by level. On a terminal it
 * also keeps one status line at the bottom, redrawn in place; an event's line is written above
 * it.
 *
 * ```
 * text: 2026-12-04T19:40:12.345Z info  speedo echo listening on 127.0.0.1:9292 (3 workers)
 * json: {"time":"2026-12-04T19:40:12.345Z","level":"info","event":"listening","message":"…","port":9292}
 * ```
 *
 * @module
 */

/** How log lines are written: `text` for people, `json` for a log collector. */
export type LogFormat = "text" | "json";

/** How much is logged, least severe first: each level logs itself and those after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A level of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Values a line carries beside its message: numbers, strings, flags. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Options of {@linkcode Log}. */
export interface LogOptions {
  /**
   * How lines are written.
   *
   * @default {"text"}
   */
  format?: LogFormat;
  /**
   * The least severe level written.
   *
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * Writes text as it is (a line ends with its own newline; a status line has none).
   *
   * @default {writes to stdout}
   */
  write?: (text: string) => void;
  /**
   * The clock of each line's `time`.
   *
   * @default {() => new Date()}
   */
  now?: () => Date;
}

const encoder = new TextEncoder();
/** Back to the line's start, then erase it: where a status line is redrawn. */
const ERASE_LINE = "\r\x1b[2K";

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Writes events as lines, and keeps a status line below them on a terminal.
 *
 * @example
 * ```ts
 * import { Log } from "./_log.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const lines: string[] = [];
 * const log = new Log({ format: "json", level: "info", write: (text) => lines.push(text), now: () => new Date(0) });
 * log.debug("connected", "connection 1 opened");
 * log.info("listening", "listening on 127.0.0.1:9292", { port: 9292 });
 * assertEquals(lines.map((line) => JSON.parse(line)), [
 *   { time: "1970-01-01T00:00:00.000Z", level: "info", event: "listening", message: "listening on 127.0.0.1:9292", port: 9292 },
 * ]);
 * ```
 */
export class Log {
  readonly #json: boolean;
  readonly #least: number;
  readonly #write: (text: string) => void;
  readonly #now: () => Date;
  /** The status line shown, or "" when none. */
  #status = "";

  /**
   * Makes a log.
   *
   * @param options Format, level and where lines go.
   */
  constructor(options: LogOptions = {}) {
    this.#json = options.format === "json";
    this.#least = LOG_LEVELS.indexOf(options.level ?? "info");
    this.#write = options.write ?? writeStdout;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Whether lines of `level` are written.
   *
   * @param level A level.
   * @returns `true` when it is at least the log's level.
   */
  logs(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#least;
  }

  /**
   * Writes a line of `level`, if the log's level lets it through.
   *
   * @param level How severe.
   * @param event What happened, one word: `listening`, `closed`, `error`, `stats`.
   * @param message The line people read.
   * @param fields Values a machine reads (JSON only; the message says them in words).
   */
  line(level: LogLevel, event: string, message: string, fields: LogFields = {}): void {
    if (!this.logs(level)) return;
    const text = this.#json
      ? JSON.stringify({ time: this.#now().toISOString(), level, event, message, ...fields })
      : `${this.#now().toISOString()} ${level.padEnd(5)} ${message}`;
    const status = this.#status;
    this.#write(status === "" ? `${text}\n` : `${ERASE_LINE}${text}\n${status}`);
  }

  /**
   * Writes a `debug` line; see {@linkcode Log.line}.
   *
   * @param event What happened.
   * @param message The line people read.
   * @param fields Values a machine reads.
   */
  debug(event: string, message: string, fields?: LogFields): void {
    this.line("debug", event, message, fields);
  }

  /**
   * Writes an `info` line; see {@linkcode Log.line}.
   *
   * @param event What happened.
   * @param message The line people read.
   * @param fields Values a machine reads.
   */
  info(event: string, message: string, fields?: LogFields): void {
    this.line("info", event, message, fields);
  }

  /**
   * Writes a `warn` line; see {@linkcode Log.line}.
   *
   * @param event What happened.
   * @param message The line people read.
   * @param fields Values a machine reads.
   */
  warn(event: string, message: string, fields?: LogFields): void {
    this.line("warn", event, message, fields);
  }

  /**
   * Writes an `error` line; see {@linkcode Log.line}.
   *
   * @param event What happened.
   * @param message The line people read.
   * @param fields Values a machine reads.
   */
  error(event: string, message: string, fields?: LogFields): void {
    this.line("error", event, message, fields);
  }

  /**
   * Shows `text` as the status line, in place of the one shown (for a terminal: it is redrawn
   * with a carriage return, and lines logged meanwhile go above it); `""` removes it.
   *
   * @param text One line, without a newline, as wide as the terminal at most.
   */
  status(text: string): void {
    if (text === this.#status) return;
    this.#status = text;
    this.#write(`${ERASE_LINE}${text}`);
  }
}
