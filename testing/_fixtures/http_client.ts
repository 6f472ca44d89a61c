/**
 * A raw HTTP/1.1 client for tests: it writes exactly the bytes given (pipelined, malformed,
 * dribbled) and reads responses one by one (Content-Length, chunked, or up to the close), every
 * read under a deadline.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A response as read off the wire. */
export interface RawResponse {
  /** The status line, such as `HTTP/1.1 200 OK`. */
  statusLine: string;
  /** The status code. */
  status: number;
  /** Header fields, names in lower case, repeated ones joined with `, `. */
  headers: Record<string, string>;
  /** The body, decoded as UTF-8 (chunked coding undone). */
  body: string;
}

/** One connection to `127.0.0.1` (or a Unix socket). */
export class HttpTestClient implements Disposable {
  readonly conn: Deno.TcpConn | Deno.UnixConn;
  #buffer: Uint8Array = new Uint8Array(0);
  #eof = false;
  #closed = false;

  constructor(conn: Deno.TcpConn | Deno.UnixConn) {
    this.conn = conn;
    if ("setNoDelay" in conn) conn.setNoDelay(true);
  }

  static async connect(port: number): Promise<HttpTestClient> {
    return new HttpTestClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  static async connectUnix(path: string): Promise<HttpTestClient> {
    return new HttpTestClient(await Deno.connect({ transport: "unix", path }));
  }

  /** Whether the server closed the connection. */
  get eof(): boolean {
    return this.#eof;
  }

  async write(data: string | Uint8Array, timeout = 5000): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    await deadline(
      (async () => {
        for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
      })(),
      timeout,
    );
  }

  /** Reads one response; `head: true` for the answer to a HEAD request (no body). */
  async readResponse(options: { head?: boolean; timeout?: number } = {}): Promise<RawResponse> {
    const run = async (): Promise<RawResponse> => {
      let end: number;
      while ((end = indexOfBlankLine(this.#buffer)) < 0) {
        if (!await this.#fill()) throw new Error(`EOF before a response head: ${this.#preview()}`);
      }
      const head = decoder.decode(this.#buffer.subarray(0, end));
      this.#buffer = this.#buffer.subarray(end + 4);
      const [statusLine, ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      const status = Number(statusLine.split(" ")[1]);
      let body: Uint8Array = new Uint8Array(0);
      const noBody = options.head || status === 204 || status === 304 || status < 200;
      if (noBody) {
        // nothing
      } else if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
        const parts: Uint8Array[] = [];
        while (true) {
          const line = await this.#line();
          const size = parseInt(line, 16);
          if (size === 0) {
            while ((await this.#line()) !== "");
            break;
          }
          parts.push(await this.#take(size));
          await this.#take(2);
        }
        body = concat(parts);
      } else if (headers["content-length"] !== undefined) {
        body = await this.#take(Number(headers["content-length"]));
      } else {
        while (await this.#fill());
        body = this.#buffer;
        this.#buffer = new Uint8Array(0);
      }
      return { statusLine, status, headers, body: decoder.decode(body) };
    };
    return await deadline(run(), options.timeout ?? 5000);
  }

  /** Reads until the server closes; returns what was not read yet. */
  async readToEnd(timeout = 5000): Promise<string> {
    return decoder.decode(await this.readBytesToEnd(timeout));
  }

  /** Reads until the server closes; returns the bytes not read yet. */
  async readBytesToEnd(timeout = 5000): Promise<Uint8Array> {
    await deadline(
      (async () => {
        while (await this.#fill());
      })(),
      timeout,
    );
    const bytes = this.#buffer;
    this.#buffer = new Uint8Array(0);
    return bytes;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #line(): Promise<string> {
    let at: number;
    while ((at = this.#buffer.indexOf(0x0a)) < 0) {
      if (!await this.#fill()) throw new Error("EOF inside a chunked body");
    }
    const line = decoder.decode(this.#buffer.subarray(0, at)).replace(/\r$/, "");
    this.#buffer = this.#buffer.subarray(at + 1);
    return line;
  }

  async #take(count: number): Promise<Uint8Array> {
    while (this.#buffer.length < count) {
      if (!await this.#fill()) throw new Error(`EOF with ${this.#buffer.length} of ${count} bytes`);
    }
    const bytes = this.#buffer.slice(0, count);
    this.#buffer = this.#buffer.subarray(count);
    return bytes;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    let count: number | null;
    try {
      count = await this.conn.read(chunk);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) count = null;
      else throw error;
    }
    if (count === null) {
      this.#eof = true;
      return false;
    }
    this.#buffer = concat([this.#buffer, chunk.subarray(0, count)]);
    return true;
  }

  #preview(): string {
    return JSON.stringify(decoder.decode(this.#buffer.subarray(0, 200)));
  }
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
