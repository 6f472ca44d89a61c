/**
 * A client socket of the soak load (`soak.ts`): buffered reads of lines and of exact byte counts,
 * whole writes, and a deadline on every wait, so that a server that stops answering shows up
 * as a counted timeout instead of a load that hangs.
 *
 * @module
 */

/** Options of {@linkcode SoakConnection.open}. */
export interface SoakConnectionOptions {
  /**
   * Longest wait for one read or one write, in milliseconds; past it the socket is closed and
   * the pending call throws a {@linkcode SoakTimeoutError}.
   *
   * @default {5000}
   */
  timeoutMs?: number;
  /**
   * Bytes of the read buffer at the start; it grows for a longer line or frame.
   *
   * @default {65536}
   */
  bufferSize?: number;
}

/** A read or write of a {@linkcode SoakConnection} waited past its deadline. */
export class SoakTimeoutError extends Error {
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * @param timeoutMs The deadline that passed.
   * @param what What was being waited for.
   */
  constructor(timeoutMs: number, what: string) {
    super(`No progress for ${timeoutMs} ms while ${what}`);
    this.name = "SoakTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** The server ended the stream where the client expected more bytes. */
export class SoakEofError extends Error {
  /**
   * @param what What was being waited for.
   */
  constructor(what: string) {
    super(`Server closed the connection while ${what}`);
    this.name = "SoakEofError";
  }
}

const CR = 0x0d;
const LF = 0x0a;
/**
 * How often the deadline is checked. One interval per connection (a few dozen in all) costs
 * less than a timer armed and cleared around each of thousands of reads a second.
 */
const WATCH_INTERVAL_MS = 250;

/** A client connection with buffered, deadline-bound reads. */
export class SoakConnection {
  readonly #conn: Deno.Conn;
  readonly #timeoutMs: number;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  /** When the pending read or write began; 0 when nothing is pending. */
  #waitingSince = 0;
  #waitingFor = "";
  #timedOut: SoakTimeoutError | undefined;
  #closed = false;
  readonly #watch: ReturnType<typeof setInterval>;

  private constructor(conn: Deno.Conn, timeoutMs: number, bufferSize: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#buffer = new Uint8Array(bufferSize);
    this.#watch = setInterval(() => this.#check(), WATCH_INTERVAL_MS);
  }

  /**
   * Connects to a port of 127.0.0.1, with the deadline on the connect as well.
   *
   * @param port The server's port.
   * @param options Deadline and buffer size.
   * @returns The open connection.
   * @throws {SoakTimeoutError} When the connect takes longer than the deadline.
   */
  static async open(port: number, options: SoakConnectionOptions = {}): Promise<SoakConnection> {
    const timeoutMs = options.timeoutMs ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = Deno.connect({ hostname: "127.0.0.1", port });
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), timeoutMs)
    );
    const conn = await Promise.race([connecting, late]).finally(() => clearTimeout(timer));
    if (conn === "late") {
      // A connect that completes after all must not leak its socket.
      connecting.then((c) => c.close(), () => {});
      throw new SoakTimeoutError(timeoutMs, "connecting");
    }
    return new SoakConnection(conn, timeoutMs, options.bufferSize ?? 64 * 1024);
  }

  /** Whether {@linkcode close} was called (by the caller or by a passed deadline). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes all of `bytes`.
   *
   * @param bytes What to send.
   * @param what What the write is for, in the timeout's message.
   */
  async write(bytes: Uint8Array, what = "writing"): Promise<void> {
    this.#wait(what);
    try {
      let written = 0;
      while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
    } catch (error) {
      throw this.#timedOut ?? error;
    } finally {
      this.#waitingSince = 0;
    }
  }

  /**
   * Reads one line, ended by LF (a CR before it is dropped). The returned view is valid until
   * the next read.
   *
   * @param what What the line is, in error messages.
   * @returns The line without its ending.
   * @throws {SoakEofError} When the server closes first.
   */
  async readLine(what: string): Promise<Uint8Array> {
    // Bytes after #start known to hold no LF: counted from #start, which #fill may move.
    let scanned = 0;
    while (true) {
      const from = this.#start + scanned;
      const at = this.#buffer.subarray(from, this.#end).indexOf(LF);
      if (at >= 0) {
        const lf = from + at;
        const end = lf > this.#start && this.#buffer[lf - 1] === CR ? lf - 1 : lf;
        const line = this.#buffer.subarray(this.#start, end);
        this.#start = lf + 1;
        return line;
      }
      scanned = this.#end - this.#start;
      if (!(await this.#fill(what))) throw new SoakEofError(what);
    }
  }

  /**
   * Reads exactly `length` bytes. The returned view is valid until the next read.
   *
   * @param length How many bytes; at most the buffer's size.
   * @param what What the bytes are, in error messages.
   * @returns The bytes.
   * @throws {SoakEofError} When the server closes first.
   */
  async readExact(length: number, what: string): Promise<Uint8Array> {
    if (length > this.#buffer.length) this.#grow(length);
    while (this.#end - this.#start < length) {
      if (!(await this.#fill(what))) throw new SoakEofError(what);
    }
    const bytes = this.#buffer.subarray(this.#start, this.#start + length);
    this.#start += length;
    return bytes;
  }

  /**
   * Waits for the server to end the stream, as after `Connection: close` or a half-close.
   *
   * @param what What the end means, in error messages.
   * @returns The bytes that came before the end (should be 0).
   */
  async readToEnd(what: string): Promise<number> {
    let extra = this.#end - this.#start;
    this.#start = this.#end = 0;
    while (await this.#fill(what)) {
      extra += this.#end;
      this.#start = this.#end = 0;
    }
    return extra;
  }

  /** Sends FIN: the server sees the end of the stream, and may still answer. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /** Closes the socket; a pending read or write then throws. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watch);
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  /** Reads more bytes after the unread ones; false at the end of the stream. */
  async #fill(what: string): Promise<boolean> {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#end === this.#buffer.length) {
      if (this.#start === 0) this.#grow(this.#buffer.length * 2);
      else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
    }
    this.#wait(what);
    let count: number | null;
    try {
      count = await this.#conn.read(this.#buffer.subarray(this.#end));
    } catch (error) {
      throw this.#timedOut ?? error;
    } finally {
      this.#waitingSince = 0;
    }
    if (count === null) return false;
    this.#end += count;
    return true;
  }

  #grow(size: number): void {
    const bigger = new Uint8Array(Math.max(size, this.#buffer.length));
    bigger.set(this.#buffer.subarray(this.#start, this.#end));
    this.#end -= this.#start;
    this.#start = 0;
    this.#buffer = bigger;
  }

  #wait(what: string): void {
    this.#waitingSince = Date.now();
    this.#waitingFor = what;
  }

  #check(): void {
    if (this.#waitingSince === 0 || Date.now() - this.#waitingSince < this.#timeoutMs) return;
    this.#timedOut = new SoakTimeoutError(this.#timeoutMs, this.#waitingFor);
    this.close();
  }
}
