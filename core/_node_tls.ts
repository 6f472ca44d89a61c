/**
 * TLS on a socket already open, server side, through Deno's `node:tls`: what `Deno.listenTls`
 * cannot do. Deno's own TLS starts on the first byte (`Deno.listenTls`) and has no server-side
 * `startTls`, nor a way to ask for and verify client certificates. `node:tls`'s `TLSSocket`
 * over any duplex stream can (measured in Deno 2.9: a server-side upgrade after a plaintext
 * greeting, and `requestCert` with a CA refusing a client without a certificate), so a
 * connection whose protocol greets in plaintext before TLS (NATS `INFO` with `tls_required`)
 * or a server that verifies client certificates (mutual TLS) runs its TLS here.
 *
 * The cost is a copy per chunk each way between the Deno socket and the stream, and node's
 * stream machinery: use `Deno.listenTls` (the default TLS path) where neither is needed.
 *
 * @module
 */

import { Duplex } from "node:stream";
import tls from "node:tls";
import type { TlsHandshakeFacts } from "./authentication.ts";
import type { Socket } from "./connection.ts";

/** What the server's side of a TLS session needs. */
export interface NodeTlsOptions {
  cert: string;
  key: string;
  /** CA certificates (PEM) that client certificates must chain to. */
  ca?: string;
  /** Ask for a client certificate, and refuse the handshake without a valid one. */
  requireClientCert?: boolean;
}

/** The plain socket a TLS session runs over: a `Deno.Conn`, or what the server read ahead. */
interface RawSocket {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite?(): Promise<void>;
  close(): void;
}

/** A server-side TLS session over a plain socket, as a {@linkcode Socket}. */
export class NodeTlsSocket implements Socket {
  readonly #tls: tls.TLSSocket;
  /** Decrypted chunks not yet read, and the offset into the first. */
  readonly #chunks: Uint8Array[] = [];
  #offset = 0;
  #ended = false;
  #error: Error | undefined;
  #waiter: (() => void) | undefined;

  private constructor(secure: tls.TLSSocket) {
    this.#tls = secure;
    secure.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      // Bounded: node stops reading the socket until this side reads what it holds.
      if (this.#chunks.length > 16) secure.pause();
      this.#wake();
    });
    secure.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    secure.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    secure.on("error", (error: Error) => {
      this.#error ??= error;
      this.#wake();
    });
  }

  /**
   * Runs the server's handshake over `raw` and resolves once it is done.
   *
   * @param raw The plain socket (the peer's first TLS bytes may be in it, not read yet).
   * @param options Certificate, key, and the client-certificate policy.
   * @param timeout Time the handshake may take, in milliseconds.
   * @param signal Aborts the handshake (the connection was closed meanwhile).
   * @returns The secure socket.
   * @throws {Error} When the handshake fails or times out (the socket is closed).
   */
  static async accept(
    raw: RawSocket,
    options: NodeTlsOptions,
    timeout: number,
    signal?: AbortSignal,
  ): Promise<NodeTlsSocket> {
    // A tls.Server that never listens, fed this one socket: measured in Deno 2.9, a bare
    // `new TLSSocket(stream, { isServer, requestCert, ca })` takes a client certificate from
    // any CA (and says `authorized: false` even for a good one), while the server's path
    // verifies the chain and refuses a stranger's.
    const server = tls.createServer({
      cert: options.cert,
      key: options.key,
      ca: options.ca,
      requestCert: options.requireClientCert === true,
      rejectUnauthorized: options.requireClientCert === true,
      // Bounded here instead (a timer of node's own outlived a peer that left mid-handshake).
      handshakeTimeout: 0,
    });
    const stream = duplexOver(raw);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
        server.once("secureConnection", resolve);
        server.once("tlsClientError", reject);
        const left = () => reject(new Error("the peer left during the TLS handshake"));
        stream.once("close", left);
        stream.once("end", left);
        if (signal?.aborted) left();
        signal?.addEventListener("abort", left, { once: true });
        timer = setTimeout(
          () => reject(new Error(`the TLS handshake took more than ${timeout} ms`)),
          timeout,
        );
        server.emit("connection", stream);
      });
      return new NodeTlsSocket(secure);
    } catch (error) {
      stream.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** What the handshake established: ALPN, and the client's certificate when it sent one. */
  facts(): TlsHandshakeFacts {
    const alpn = this.#tls.alpnProtocol;
    const certificate = this.#tls.getPeerCertificate();
    const facts: TlsHandshakeFacts = { alpnProtocol: typeof alpn === "string" ? alpn : null };
    if (certificate === null || typeof certificate !== "object" || !certificate.subject) {
      return facts;
    }
    return {
      ...facts,
      peerCertificate: {
        subject: { ...certificate.subject } as Record<string, string>,
        issuer: { ...(certificate.issuer ?? {}) } as Record<string, string>,
        fingerprint256: certificate.fingerprint256 ?? "",
        serialNumber: certificate.serialNumber ?? "",
        validTo: certificate.valid_to ?? "",
      },
    };
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    const chunk = this.#chunks[0];
    const count = Math.min(buffer.length, chunk.length - this.#offset);
    buffer.set(chunk.subarray(this.#offset, this.#offset + count));
    this.#offset += count;
    if (this.#offset === chunk.length) {
      this.#chunks.shift();
      this.#offset = 0;
      if (this.#chunks.length <= 4 && this.#tls.isPaused()) this.#tls.resume();
    }
    return count;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    // The stream keeps a reference: the caller's buffer is reused after the write resolves.
    const copy = bytes.slice();
    return new Promise((resolve, reject) => {
      this.#tls.write(copy, (error?: Error | null) => {
        if (error) reject(error);
        else resolve(copy.length);
      });
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#tls.end(() => resolve()));
  }

  close(): void {
    this.#tls.destroy();
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** A node duplex stream over a Deno socket: what `TLSSocket` runs on. */
function duplexOver(raw: RawSocket): Duplex {
  const buffer = new Uint8Array(16 * 1024);
  return new Duplex({
    read() {
      raw.read(buffer).then(
        (count) => this.push(count === null ? null : buffer.slice(0, count)),
        (error) => this.destroy(error),
      );
    },
    write(chunk: Uint8Array, _encoding, callback) {
      (async () => {
        let rest = chunk;
        while (rest.length > 0) rest = rest.subarray(await raw.write(rest));
      })().then(() => callback(), callback);
    },
    final(callback) {
      (raw.closeWrite?.() ?? Promise.resolve()).then(() => callback(), () => callback());
    },
    destroy(error, callback) {
      try {
        raw.close();
      } catch {
        // Closed already.
      }
      callback(error);
    },
  });
}
