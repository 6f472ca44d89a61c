/**
 * Closing a socket the careful way. A socket closed while its peer's input sits unread makes
 * the kernel send a reset, and a reset destroys what the kernel has not yet sent of the
 * socket's output: answers the server counted as written never arrive. So a close the server
 * chooses shuts the write side first (the peer reads every byte, then the end of the stream),
 * reads and drops input until the peer closes too or a timeout passes, and only then closes.
 *
 * @module
 */

/** The part of a socket lingering uses. */
export interface LingeringSocket {
  read(buffer: Uint8Array): Promise<number | null>;
  close(): void;
  closeWrite?(): Promise<void>;
}

/** Input a lingering socket reads into and drops: one buffer serves them all. */
const DISCARD = new Uint8Array(16 * 1024);

/** Closes a socket, ignoring that it may be closed already. */
export function closeSocket(socket: { close(): void }): void {
  try {
    socket.close();
  } catch {
    // Closed already (by the peer's reset, or the linger's timer): nothing to release.
  }
}

/**
 * Shuts the socket's write side, reads and drops input until the peer's end of stream or
 * `timeout` ms, then closes it. A socket without `closeWrite` (or a timeout of 0) closes at
 * once. Never rejects.
 *
 * @param socket The socket, its output already handed to the kernel.
 * @param timeout The longest linger, in milliseconds.
 * @returns Resolves once the socket is closed.
 */
export async function linger(socket: LingeringSocket, timeout: number): Promise<void> {
  if (timeout === 0 || socket.closeWrite === undefined) {
    closeSocket(socket);
    return;
  }
  const timer = setTimeout(() => closeSocket(socket), timeout);
  try {
    await socket.closeWrite();
    while ((await socket.read(DISCARD)) !== null) {
      // Dropped: the connection is closed for everyone but the kernel.
    }
  } catch {
    // Reset by the peer, or interrupted by the timer's close: either way, done.
  } finally {
    clearTimeout(timer);
    closeSocket(socket);
  }
}
