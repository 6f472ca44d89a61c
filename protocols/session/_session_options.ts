/**
 * Timing and bounds of a session, with their defaults.
 *
 * @module
 */

/** Timing and bounds of a session, the same on both sides. */
export interface SessionOptions {
  /**
   * Send a heartbeat after this much silence, in milliseconds.
   *
   * @default {3000}
   */
  heartbeatInterval?: number;
  /**
   * Close the connection when nothing was read for this long, in milliseconds (heartbeats
   * keep a live connection above it).
   *
   * @default {10000}
   */
  connectionTimeout?: number;
  /**
   * Longest wait before acknowledging messages received when nothing else is sent, in ms.
   *
   * @default {10}
   */
  ackDelay?: number;
  /**
   * Messages sent and not yet acknowledged at most; `send` then throws
   * `SessionFullError` until `whenWritable()` resolves.
   *
   * @default {16384}
   */
  maxUnacked?: number;
  /**
   * Payload bytes sent and not yet acknowledged at most (they are kept in memory for resends).
   *
   * @default {8388608}
   */
  maxUnackedBytes?: number;
}

/** Settings with their defaults, checked. */
export interface ResolvedSessionOptions {
  heartbeatInterval: number;
  connectionTimeout: number;
  ackDelay: number;
  maxUnacked: number;
  maxUnackedBytes: number;
}

/** Fills in and checks session options. */
export function resolveSessionOptions(options: SessionOptions): ResolvedSessionOptions {
  const resolved = {
    heartbeatInterval: options.heartbeatInterval ?? 3000,
    connectionTimeout: options.connectionTimeout ?? 10_000,
    ackDelay: options.ackDelay ?? 10,
    maxUnacked: options.maxUnacked ?? 16_384,
    maxUnackedBytes: options.maxUnackedBytes ?? 8 * 1024 * 1024,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < (name === "ackDelay" ? 0 : 1)) {
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }
  return resolved;
}

/** A session file's `fsync` policy and compaction threshold, checked, with their defaults. */
export interface ResolvedStoreOptions {
  fsync: "never" | "always" | number;
  compactThreshold: number;
}

/** Fills in and checks the options of a session file (`fsync`, `compactThreshold`). */
export function resolveStoreOptions(
  options: { fsync?: "never" | "always" | number; compactThreshold?: number },
): ResolvedStoreOptions {
  const fsync = options.fsync ?? "never";
  if (
    fsync !== "never" && fsync !== "always" &&
    !(typeof fsync === "number" && Number.isInteger(fsync) && fsync >= 1)
  ) {
    throw new RangeError(
      `fsync must be "never", "always" or a positive number of milliseconds, got ${
        JSON.stringify(fsync)
      }`,
    );
  }
  const compactThreshold = options.compactThreshold ?? 1 << 20;
  if (!Number.isInteger(compactThreshold) || compactThreshold < 1) {
    throw new RangeError(`compactThreshold must be a positive integer, got ${compactThreshold}`);
  }
  return { fsync, compactThreshold };
}
