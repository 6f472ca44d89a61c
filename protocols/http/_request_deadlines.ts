/**
 * One timer for the request deadlines of every connection of an HTTP protocol: the head must
 * arrive within `headersTimeout` (slowloris), the whole request within `requestTimeout`, both
 * counted from the accept for a connection's first request (a connection that sends nothing
 * holds a socket too) and from the first byte for the next ones. The timer runs only while
 * some connection waits for its first request or holds part of one, so a server with no
 * connections, or only idle keep-alive ones, has no timer at all.
 *
 * @module
 */

/** A connection with a request under way. */
export interface Deadlined {
  /** Whether the request's head is still incomplete (or, for the first, not begun). */
  readonly inHead: boolean;
  /** The deadline passed: answer 408 and close. */
  expire(timeout: number, what: string): void;
}

/** Deadlines of the requests under way, checked every few milliseconds. */
export class RequestDeadlines {
  readonly #headersTimeout: number;
  readonly #requestTimeout: number;
  readonly #period: number;
  readonly #started = new Map<Deadlined, number>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(headersTimeout: number, requestTimeout: number) {
    this.#headersTimeout = headersTimeout;
    this.#requestTimeout = requestTimeout;
    const shortest = Math.min(headersTimeout || Infinity, requestTimeout || Infinity);
    this.#period = Math.max(10, Math.min(1000, Math.floor(shortest / 10)));
  }

  /** Whether any deadline is enforced. */
  get enabled(): boolean {
    return this.#headersTimeout > 0 || this.#requestTimeout > 0;
  }

  /**
   * A request's clock starts now: at the accept, or at a request's first byte (or it goes on,
   * when `restart` is false and it was armed already).
   */
  arm(connection: Deadlined, restart: boolean): void {
    if (!restart && this.#started.has(connection)) return;
    this.#started.set(connection, Date.now());
    if (this.#timer === undefined) {
      const timer = setInterval(this.#check, this.#period);
      // A server with a half-sent request must not keep the process alive by this timer alone.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** The connection has no request under way. */
  disarm(connection: Deadlined): void {
    if (this.#started.delete(connection) && this.#started.size === 0) this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  readonly #check = (): void => {
    const now = Date.now();
    for (const [connection, started] of this.#started) {
      const age = now - started;
      if (connection.inHead && this.#headersTimeout > 0 && age > this.#headersTimeout) {
        this.disarm(connection);
        connection.expire(this.#headersTimeout, "Request headers");
      } else if (this.#requestTimeout > 0 && age > this.#requestTimeout) {
        this.disarm(connection);
        connection.expire(this.#requestTimeout, "Request");
      }
    }
  };
}
