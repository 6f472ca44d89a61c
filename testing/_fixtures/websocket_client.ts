/**
 * Deno's own WebSocket client for tests, with promises for its events: opened (with a
 * deadline) when returned, its messages taken in order with `next()`, and its close.
 *
 * @module
 */

import { within } from "../_socket_client.ts";

/** An open WebSocket and its events. */
export interface TestWebSocket {
  readonly socket: WebSocket;
  /** The next message, in order (with a deadline). */
  next(): Promise<string | ArrayBuffer>;
  /** Resolves at the close. */
  readonly closed: Promise<CloseEvent>;
}

/**
 * Opens a WebSocket to `url` (binary messages as ArrayBuffers) and waits until it is open.
 *
 * @param url The `ws:` URL.
 * @returns The open socket and its events.
 */
export async function denoClient(url: string): Promise<TestWebSocket> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const queue: (string | ArrayBuffer)[] = [];
  const waiters: ((value: string | ArrayBuffer) => void)[] = [];
  socket.onmessage = (event) => {
    const waiter = waiters.shift();
    if (waiter) waiter(event.data);
    else queue.push(event.data);
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  await within(
    new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    }),
    "the WebSocket to open",
  );
  const next = () =>
    within(
      queue.length > 0
        ? Promise.resolve(queue.shift()!)
        : new Promise<string | ArrayBuffer>((resolve) => waiters.push(resolve)),
      "a WebSocket message",
    );
  return { socket, next, closed };
}
