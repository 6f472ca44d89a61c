/**
 * One client connection to a NATS server, as the backplane (`_backplane.ts`) needs it: the
 * handshake, batched writes, the read loop, PINGs and PONGs. It knows nothing of interest or
 * reconnection; the backplane makes and drops these.
 *
 * ```
 * connect ─▶ INFO ─▶ (startTls when INFO says tls_required, or options.tls)
 *         ─▶ CONNECT {verbose:false, pedantic:false, echo, headers:true, no_responders:true, …}
 *            + the subscriptions of the moment + PING
 *         ◀─ PONG: ready (MSG/HMSG may arrive before it, for those subscriptions)
 * ready:  writes gathered in a buffer and written once per microtask turn, in order;
 *         MSG/HMSG/PONG to the owner; PING answered; EOF or a bad byte: closed(error)
 * ```
 *
 * @module
 */

import { type BackplaneOp, BackplaneParser } from "./_backplane_parser.ts";
import { BackplaneConnectError, BackplaneError } from "./backplane_errors.ts";
import type { BackplaneTlsOptions } from "./backplane_options.ts";

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const PUB = encoder.encode("PUB ");
const HPUB = encoder.encode("HPUB ");
const PING = encoder.encode("PING\r\n");
const PONG = encoder.encode("PONG\r\n");
const SP = 0x20;

/** A server of the backplane, parsed from its URL. */
export interface BackplaneServer {
  readonly hostname: string;
  readonly port: number;
  /** TLS from the start of INFO on (`tls://`). */
  readonly tls: boolean;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  /** The URL without credentials, for messages and stats. */
  readonly display: string;
}

/**
 * Parses `nats://[user:pass@]host[:port]` (also `tls://`, or a bare `host:port`).
 *
 * @throws {TypeError} When it is not such a URL.
 */
export function parseServer(text: string): BackplaneServer {
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `nats://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TypeError(`backplane server must be a nats:// URL, got "${text}"`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== "nats" && scheme !== "tls" || url.hostname === "") {
    throw new TypeError(`backplane server must be a nats:// or tls:// URL, got "${text}"`);
  }
  const port = url.port === "" ? 4222 : Number(url.port);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    hostname,
    port,
    tls: scheme === "tls",
    user: url.username === "" ? undefined : decodeURIComponent(url.username),
    pass: url.password === "" ? undefined : decodeURIComponent(url.password),
    display: `${scheme}://${url.host}`,
  };
}

/** A growing buffer of bytes to write; two of them alternate, so writing never copies twice. */
export class OutBuffer {
  #bytes: Uint8Array;
  #spare: Uint8Array;
  #length = 0;

  constructor(size = 64 * 1024) {
    this.#bytes = new Uint8Array(size);
    this.#spare = new Uint8Array(size);
  }

  get length(): number {
    return this.#length;
  }

  append(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  appendText(text: string): void {
    this.append(encoder.encode(text));
  }

  /** `PUB subject [reply] size` or `HPUB subject [reply] hsize size`, the payload, CRLF. */
  appendPublish(
    subject: Uint8Array,
    reply: Uint8Array,
    payload: Uint8Array,
    headerSize: number,
  ): void {
    this.#reserve(subject.length + reply.length + payload.length + 48);
    const bytes = this.#bytes;
    let at = this.#length;
    const op = headerSize > 0 ? HPUB : PUB;
    bytes.set(op, at);
    at += op.length;
    bytes.set(subject, at);
    at += subject.length;
    bytes[at++] = SP;
    if (reply.length > 0) {
      bytes.set(reply, at);
      at += reply.length;
      bytes[at++] = SP;
    }
    if (headerSize > 0) {
      at = writeDecimal(bytes, at, headerSize);
      bytes[at++] = SP;
    }
    at = writeDecimal(bytes, at, payload.length);
    bytes.set(CRLF, at);
    at += 2;
    bytes.set(payload, at);
    at += payload.length;
    bytes.set(CRLF, at);
    this.#length = at + 2;
  }

  /** Everything appended, as a view valid until the next `take`; the buffer is then empty. */
  take(): Uint8Array {
    // The caller writes the view before it takes again (one writer at a time): the spare is free.
    const current = this.#bytes;
    this.#bytes = this.#spare;
    this.#spare = current;
    const length = this.#length;
    this.#length = 0;
    return current.subarray(0, length);
  }

  /** Empties the buffer. */
  clear(): void {
    this.#length = 0;
  }

  #reserve(more: number): void {
    const needed = this.#length + more;
    if (needed <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

/** What a connection tells its owner. */
export interface BackplaneConnectionEvents {
  /** A MSG or HMSG (views valid for the call). */
  message(op: BackplaneOp): void;
  /** A PONG answered the PING sent with `serial`. */
  pong(serial: number): void;
  /** The connection ended; `error` when not by `close()`. */
  closed(error: Error | undefined): void;
}

/** What a connection sends in its CONNECT, and how it reaches its server. */
export interface BackplaneConnectionOptions {
  readonly echo: boolean;
  readonly name: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly tls?: BackplaneTlsOptions;
  readonly connectTimeout: number;
}

/** One connection to one NATS server. */
export class BackplaneConnection {
  readonly server: BackplaneServer;
  /** Bytes to write at the next flush. */
  readonly out: OutBuffer = new OutBuffer();
  /** The INFO the server sent. */
  info: Record<string, unknown> = {};
  readonly #events: BackplaneConnectionEvents;
  #conn: Deno.Conn | Deno.TlsConn | undefined;
  #flushScheduled = false;
  #flushing: Promise<void> | undefined;
  /** Serials of the PINGs sent, in order; PONGs answer them in order. */
  readonly #pings: number[] = [];
  #closed = false;
  #done: Promise<void> = Promise.resolve();

  private constructor(server: BackplaneServer, events: BackplaneConnectionEvents) {
    this.server = server;
    this.#events = events;
  }

  /**
   * Connects and completes the handshake: resolves once the server answered the PING after
   * CONNECT and `setup`'s writes (subscriptions), so those are in place.
   *
   * @throws {BackplaneError} When the server cannot be reached, refuses, or is too slow.
   */
  static async open(
    server: BackplaneServer,
    options: BackplaneConnectionOptions,
    setup: (out: OutBuffer) => void,
    events: BackplaneConnectionEvents,
  ): Promise<BackplaneConnection> {
    const connection = new BackplaneConnection(server, events);
    const timeout = new Promise<never>((_, reject) => {
      connection.#timer = setTimeout(
        () => reject(new BackplaneConnectError(server.display, "handshake timed out")),
        options.connectTimeout,
      );
    });
    const handshake = connection.#handshake(options, setup);
    try {
      await Promise.race([handshake, timeout]);
      return connection;
    } catch (error) {
      connection.#closed = true;
      connection.#conn?.close();
      // A connect still under way closes its socket when it lands.
      handshake.catch(() => {});
      throw error instanceof BackplaneError
        ? error
        : new BackplaneConnectError(server.display, String(error), { cause: error });
    } finally {
      clearTimeout(connection.#timer);
    }
  }

  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Whether it is still open. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Resolves once the read loop ended (after `close()` or a failure). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** PINGs not answered yet. */
  get pingsOut(): number {
    return this.#pings.length;
  }

  /** Writes what `out` holds, at the end of this turn. */
  flush(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flushing ??= this.#writeOut().finally(() => this.#flushing = undefined);
    });
  }

  /** Resolves once `out` is empty and written (or the connection closed). */
  async drained(): Promise<void> {
    while (!this.#closed && (this.out.length > 0 || this.#flushing !== undefined)) {
      this.flush();
      await (this.#flushing ?? Promise.resolve());
      await Promise.resolve();
    }
  }

  /** Sends a PING; its PONG is reported with `serial`. */
  ping(serial: number): void {
    this.#pings.push(serial);
    this.out.append(PING);
    this.flush();
  }

  /** Closes the socket; the read loop ends, `closed` is not reported. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn?.close();
    } catch {
      // Closed already.
    }
  }

  async #handshake(
    options: BackplaneConnectionOptions,
    setup: (out: OutBuffer) => void,
  ): Promise<void> {
    const server = this.server;
    let conn: Deno.Conn | Deno.TlsConn = server.tls
      ? await Deno.connectTls({
        hostname: server.hostname,
        port: server.port,
        caCerts: options.tls?.caCerts,
      })
      : await Deno.connect({ hostname: server.hostname, port: server.port });
    if (this.#closed) {
      conn.close();
      throw new BackplaneConnectError(server.display, "handshake timed out");
    }
    // Writes are batched per turn already; Nagle's algorithm would hold a lone message back
    // until the previous one is acknowledged (up to the peer's delayed ACK, 40 ms on Linux).
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#conn = conn;
    const parser = new BackplaneParser();
    const buffer = new Uint8Array(64 * 1024);
    const nextOp = async (): Promise<BackplaneOp> => {
      while (true) {
        const op = parser.next();
        if (op !== null) return op;
        const n = await conn.read(buffer);
        if (n === null) throw new BackplaneConnectError(server.display, "closed in handshake");
        parser.feed(buffer.subarray(0, n));
      }
    };
    const info = await nextOp();
    if (info.kind !== "info") {
      throw new BackplaneConnectError(server.display, `sent ${info.kind} before INFO`);
    }
    this.info = JSON.parse(info.text);
    if (!server.tls && (this.info.tls_required === true || options.tls !== undefined)) {
      conn = await Deno.startTls(conn as Deno.TcpConn, {
        hostname: options.tls?.hostname ?? server.hostname,
        caCerts: options.tls?.caCerts,
      });
      this.#conn = conn;
    }
    const user = server.user ?? options.user;
    const pass = server.pass ?? options.pass;
    const connect = {
      verbose: false,
      pedantic: false,
      echo: options.echo,
      headers: true,
      no_responders: true,
      protocol: 1,
      lang: "speedo",
      version: "0.1.0",
      name: options.name,
      ...(user === undefined ? {} : { user, pass }),
      ...(options.token === undefined ? {} : { auth_token: options.token }),
    };
    const out = this.out;
    out.appendText(`CONNECT ${JSON.stringify(connect)}\r\n`);
    setup(out);
    out.append(PING);
    await writeAll(conn, out.take());
    // Until the PONG: messages for the subscriptions just made may come first.
    while (true) {
      const op = await nextOp();
      if (op.kind === "pong") break;
      if (op.kind === "err") throw new BackplaneConnectError(server.display, op.text);
      this.#handle(op, conn);
    }
    this.#done = this.#read(conn, parser, buffer);
  }

  async #read(
    conn: Deno.Conn | Deno.TlsConn,
    parser: BackplaneParser,
    buffer: Uint8Array,
  ): Promise<void> {
    let error: Error | undefined;
    try {
      while (true) {
        for (let op = parser.next(); op !== null; op = parser.next()) this.#handle(op, conn);
        const n = await conn.read(buffer);
        if (n === null) {
          error = new BackplaneError(`Backplane server ${this.server.display} closed`);
          break;
        }
        parser.feed(buffer.subarray(0, n));
      }
    } catch (thrown) {
      error = thrown instanceof Error ? thrown : new Error(String(thrown));
    }
    const byUs = this.#closed;
    this.close();
    await this.#flushing?.catch(() => {});
    this.#events.closed(byUs ? undefined : error);
  }

  #handle(op: BackplaneOp, conn: Deno.Conn | Deno.TlsConn): void {
    switch (op.kind) {
      case "msg":
        this.#events.message(op);
        break;
      case "ping":
        this.out.append(PONG);
        if (this.#conn === conn) this.flush();
        break;
      case "pong": {
        const serial = this.#pings.shift();
        if (serial !== undefined) this.#events.pong(serial);
        break;
      }
      case "info":
        try {
          this.info = JSON.parse(op.text);
        } catch {
          // A later INFO (cluster changes) that does not parse changes nothing we use.
        }
        break;
      case "err":
        // nats-server closes the connection after the fatal ones; the read loop sees it.
        break;
      case "ok":
        break;
    }
  }

  async #writeOut(): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined) return;
    try {
      while (this.out.length > 0 && !this.#closed) await writeAll(conn, this.out.take());
    } catch {
      // The read loop sees the failure too, and reports it.
      this.close();
    }
  }
}

async function writeAll(conn: Deno.Conn | Deno.TlsConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** Writes a non-negative integer in decimal; returns the index after it. */
function writeDecimal(buffer: Uint8Array, at: number, value: number): number {
  let text = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) text++;
  let end = at + text;
  let rest = value;
  do {
    buffer[--end] = 0x30 + rest % 10;
    rest = Math.floor(rest / 10);
  } while (rest > 0);
  return at + text;
}
