/**
 * What one protocol's soak load counts (`soak.ts`): operations done, connections opened, and
 * errors by kind, with the first few described, so that a report can say what went wrong and
 * not only how often.
 *
 * @module
 */

import { SoakEofError, SoakTimeoutError } from "./_soak_connection.ts";

/** The kinds of error the load tells apart. */
export type SoakErrorKind = "reset" | "eof" | "timeout" | "wrong" | "connect" | "other";

/** How many errors are described in full; the rest are only counted. */
const EXAMPLES_KEPT = 20;

/** Counters of one protocol's load, read by the sampler once a second. */
export class SoakTally {
  /** The protocol, in reports. */
  readonly name: string;
  /** Operations completed and checked: echo lines, deliveries, HTTP responses. */
  ops = 0;
  /** Connections opened. */
  connections = 0;
  /** Errors of every kind. */
  errors = 0;
  /** Errors by kind. */
  readonly byKind: Map<SoakErrorKind, number> = new Map();
  /** The first errors, described. */
  readonly examples: string[] = [];

  /**
   * @param name The protocol, in reports.
   */
  constructor(name: string) {
    this.name = name;
  }

  /**
   * Counts an error.
   *
   * @param kind Its kind.
   * @param detail What happened, with enough context to reproduce it.
   */
  error(kind: SoakErrorKind, detail: string): void {
    this.errors++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    if (this.examples.length < EXAMPLES_KEPT) {
      this.examples.push(`${new Date().toISOString()} ${this.name} ${kind}: ${detail}`);
    }
  }

  /**
   * Counts an exception thrown by a client's socket or check, sorted into its kind.
   *
   * @param error What was thrown.
   * @param context Which client, doing what.
   */
  fail(error: unknown, context: string): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.error(kindOf(error), `${context}: ${message}`);
  }
}

/** A check of the server's answer failed. */
export class SoakWrongAnswerError extends Error {
  /**
   * @param message What was expected and what came.
   */
  constructor(message: string) {
    super(message);
    this.name = "SoakWrongAnswerError";
  }
}

function kindOf(error: unknown): SoakErrorKind {
  if (error instanceof SoakTimeoutError) return "timeout";
  if (error instanceof SoakEofError) return "eof";
  if (error instanceof SoakWrongAnswerError) return "wrong";
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted
  ) {
    return "reset";
  }
  if (error instanceof Deno.errors.ConnectionRefused) return "connect";
  return "other";
}
