/**
 * What the NATS-over-WebSocket tests share: Deno's WebSocket as a hand-written NATS client.
 *
 * @module
 */

import { assert } from "@std/assert";
import { within } from "../../testing/_socket_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Deno's WebSocket as a hand-written NATS client: what it receives is one text stream (as the
 * protocol says: operations may span messages), read with `expect`.
 */
export class NatsOverWebSocket implements AsyncDisposable {
  readonly socket: WebSocket;
  /** The kind of each message received: `"binary"` or `"text"`. */
  readonly kinds: string[] = [];
  readonly closed: Promise<CloseEvent>;
  #text = "";
  #waiter: (() => void) | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      const binary = event.data instanceof ArrayBuffer;
      this.kinds.push(binary ? "binary" : "text");
      this.#text += binary ? decoder.decode(event.data) : event.data;
      this.#waiter?.();
    };
    this.closed = new Promise((resolve) => {
      socket.onclose = (event) => {
        resolve(event);
        this.#waiter?.();
      };
    });
  }

  static async open(url: string, protocols?: string[]): Promise<NatsOverWebSocket> {
    const client = new NatsOverWebSocket(new WebSocket(url, protocols));
    await within(
      new Promise((resolve, reject) => {
        client.socket.onopen = resolve;
        client.socket.onerror = () => reject(new Error(`The WebSocket to ${url} failed`));
      }),
      `the WebSocket to ${url} to open`,
    );
    return client;
  }

  /** Opens, reads INFO and says CONNECT, then `operations`, and waits for the PONG. */
  static async connect(url: string, operations = ""): Promise<NatsOverWebSocket> {
    const client = await NatsOverWebSocket.open(url);
    assert((await client.expect("\r\n")).startsWith("INFO {"));
    client.send(`CONNECT {"verbose":false}\r\n${operations}PING\r\n`);
    await client.expect("PONG\r\n");
    return client;
  }

  send(text: string): void {
    this.socket.send(encoder.encode(text));
  }

  /** Waits until `text` arrived; returns everything up to its end, and drops it. */
  expect(text: string): Promise<string> {
    const take = () => {
      const at = this.#text.indexOf(text);
      if (at < 0) return undefined;
      const taken = this.#text.slice(0, at + text.length);
      this.#text = this.#text.slice(at + text.length);
      return taken;
    };
    return within(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const taken = take();
          if (taken !== undefined) resolve(taken);
          else if (this.socket.readyState === WebSocket.CLOSED) {
            reject(new Error(`Closed before ${JSON.stringify(text)}, got ${this.#text}`));
          } else return;
          this.#waiter = undefined;
        };
        this.#waiter = check;
        check();
      }),
      `${JSON.stringify(text)} (got ${JSON.stringify(this.#text)})`,
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await within(this.closed, "the WebSocket to close");
  }
}

/**
 * Opens a raw socket to `url` and sends the WebSocket handshake a page of `origin` would send
 * (no `Origin` header when `undefined`). Reads until the server closes or its `INFO` arrives
 * (in the first frame after a `101`), and says what came.
 *
 * @param url The endpoint's `ws:` URL; its host and port go in `Host`.
 * @param origin The page's origin.
 * @returns The status, and whether `INFO` came before the close.
 */
export async function pageHandshake(
  url: string,
  origin: string | undefined,
): Promise<{ status: number; info: boolean; text: string }> {
  const { hostname, port, host, pathname } = new URL(url);
  using conn = await Deno.connect({ hostname, port: Number(port) });
  const request = `GET ${pathname} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\n` +
    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    (origin === undefined ? "" : `Origin: ${origin}\r\n`) + "\r\n";
  await conn.write(encoder.encode(request));
  const buffer = new Uint8Array(4096);
  let text = "";
  await within(
    (async () => {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) return;
        // The frame's header bytes are binary; the INFO inside is text.
        text += decoder.decode(buffer.subarray(0, count));
        if (text.includes("INFO {")) return;
      }
    })(),
    `the answer of ${url} to a page of ${origin}`,
  );
  return { status: Number(text.split(" ")[1]), info: text.includes("INFO {"), text };
}
