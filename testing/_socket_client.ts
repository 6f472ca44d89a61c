/**
 * A loopback TCP client for integration tests: connect, write everything, read lines or read to
 * the end. Every read and write runs under a deadline, so a test waiting on the network fails
 * with a message that says what it waited for instead of hanging.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { delay } from "@std/async/delay";

const LF = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Default deadline of one read or write call, in milliseconds. */
export const IO_TIMEOUT = 5000;

/**
 * One client socket to `127.0.0.1` (or a Unix socket), with `setNoDelay(true)` over TCP so
 * each write goes out on its own.
 * Bytes read and not yet returned stay buffered between calls; only one read runs at a time.
 */
export class SocketClient implements Disposable {
  /** The socket. */
  readonly conn: Deno.TcpConn | Deno.UnixConn;
  #buffer = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  #eof = false;
  #closed = false;
  #reading = false;

  /**
   * Wraps a connected socket.
   *
   * @param conn The socket.
   */
  constructor(conn: Deno.TcpConn | Deno.UnixConn) {
    this.conn = conn;
    if ("setNoDelay" in conn) conn.setNoDelay(true);
  }

  /**
   * Connects to `127.0.0.1:port`.
   *
   * @param port The server's port.
   * @returns The client.
   */
  static async connect(port: number): Promise<SocketClient> {
    return new SocketClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * Connects to the Unix socket at `path`.
   *
   * @param path The server's socket file.
   * @returns The client.
   */
  static async connectUnix(path: string): Promise<SocketClient> {
    return new SocketClient(await Deno.connect({ transport: "unix", path }));
  }

  /** Whether a read saw the end of the stream. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Whether {@linkcode SocketClient.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes all of `data` (looping over partial writes).
   *
   * @param data Bytes, or text sent as UTF-8.
   * @param timeout Deadline in milliseconds.
   */
  async write(data: Uint8Array | string, timeout: number = IO_TIMEOUT): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const writing = (async () => {
      for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
    })();
    try {
      await deadline(writing, timeout);
    } catch (error) {
      if (isTimeout(error)) {
        throw new Error(`Timed out after ${timeout} ms writing ${bytes.length} bytes`);
      }
      throw error;
    }
  }

  /**
   * Reads `count` lines, each returned with its ending (`\n`, `\r\n`).
   *
   * @param count Lines to read.
   * @param timeout Deadline in milliseconds for all of them.
   * @returns The lines, in order.
   * @throws {Error} On EOF or the deadline, with the lines read so far.
   */
  readLines(count: number, timeout: number = IO_TIMEOUT): Promise<string[]> {
    const lines: string[] = [];
    const summary = () => `${lines.length} of ${count} lines read, last: ${tail(lines)}`;
    return this.#read(
      async () => {
        while (lines.length < count) {
          const line = this.#takeLine();
          if (line !== null) lines.push(line);
          else if (!await this.#fill()) throw new Error(`EOF with ${summary()}`);
        }
        return lines;
      },
      timeout,
      summary,
    );
  }

  /**
   * Reads one line, with its ending.
   *
   * @param timeout Deadline in milliseconds.
   * @returns The line.
   */
  async readLine(timeout: number = IO_TIMEOUT): Promise<string> {
    return (await this.readLines(1, timeout))[0];
  }

  /**
   * Writes `line`, then reads one line: a round trip.
   *
   * @param line What to send, with its ending.
   * @param timeout Deadline in milliseconds for the write and for the read.
   * @returns The line read.
   */
  async request(line: string, timeout: number = IO_TIMEOUT): Promise<string> {
    await this.write(line, timeout);
    return await this.readLine(timeout);
  }

  /**
   * Reads until the peer closes (a read returns `null`).
   *
   * @param timeout Deadline in milliseconds.
   * @returns Everything read and not yet returned, as text.
   */
  readToEnd(timeout: number = IO_TIMEOUT): Promise<string> {
    return this.#read(
      async () => {
        while (await this.#fill());
        const text = decoder.decode(this.#buffer.subarray(this.#start, this.#end));
        this.#start = this.#end = 0;
        return text;
      },
      timeout,
      () => `waiting for EOF, ${this.#end - this.#start} bytes read: ${this.#preview()}`,
    );
  }

  /** Closes the socket; calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }

  /** Same as {@linkcode SocketClient.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #read<T>(run: () => Promise<T>, timeout: number, progress: () => string): Promise<T> {
    if (this.#reading) throw new Error("A read is already under way on this client");
    this.#reading = true;
    // After a timeout the read stays pending until close() interrupts it; the race in
    // deadline() observes its rejection.
    const reading = run().finally(() => this.#reading = false);
    try {
      return await deadline(reading, timeout);
    } catch (error) {
      if (isTimeout(error)) throw new Error(`Timed out after ${timeout} ms: ${progress()}`);
      throw error;
    }
  }

  /** Reads once into the buffer; `false` at EOF. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#buffer.length - this.#end < 4096) {
      const kept = this.#end - this.#start;
      const target = kept * 2 + 4096 > this.#buffer.length
        ? new Uint8Array(this.#buffer.length * 2)
        : this.#buffer;
      target.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = target;
      this.#start = 0;
      this.#end = kept;
    }
    const count = await this.conn.read(this.#buffer.subarray(this.#end));
    if (count === null) {
      this.#eof = true;
      return false;
    }
    this.#end += count;
    return true;
  }

  #takeLine(): string | null {
    const at = this.#buffer.subarray(this.#start, this.#end).indexOf(LF);
    if (at < 0) return null;
    const line = decoder.decode(this.#buffer.subarray(this.#start, this.#start + at + 1));
    this.#start += at + 1;
    return line;
  }

  #preview(): string {
    const text = decoder.decode(this.#buffer.subarray(this.#start, this.#end));
    return JSON.stringify(text.length > 120 ? `${text.slice(0, 60)}…${text.slice(-60)}` : text);
  }
}

/**
 * Polls `condition` every few milliseconds until it holds.
 *
 * @param condition What to wait for.
 * @param what Said in the error on timeout.
 * @param timeout Deadline in milliseconds.
 * @throws {Error} When the deadline passes first.
 */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeout: number = IO_TIMEOUT,
): Promise<void> {
  const stop = new AbortController();
  const polling = (async () => {
    while (!condition()) await delay(2, { signal: stop.signal });
  })();
  try {
    await deadline(polling, timeout);
  } catch (error) {
    if (isTimeout(error)) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    throw error;
  } finally {
    stop.abort();
  }
}

/**
 * Waits for a promise under a deadline, with an error that says what was awaited.
 *
 * @param promise What to wait for.
 * @param what Said in the error on timeout.
 * @param timeout Deadline in milliseconds.
 * @returns The promise's value.
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  timeout: number = IO_TIMEOUT,
): Promise<T> {
  try {
    return await deadline(promise, timeout);
  } catch (error) {
    if (isTimeout(error)) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    throw error;
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

function tail(lines: string[]): string {
  return JSON.stringify(lines.slice(-3));
}
