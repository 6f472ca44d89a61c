/**
 * The channels between the I/O loops of one server, as one loop's thread sees them: a
 * `MessagePort` to each other loop, carrying writes and closes to connections that live
 * there and the protocol's own messages ({@linkcode LoopContext.send}).
 *
 * What one loop sends another in a turn crosses in one `postMessage` (a flat array of
 * envelopes after the batch's size, flushed on a microtask), so a publish fanned out to a
 * thousand connections on another loop costs one crossing, not a thousand; one port per pair
 * keeps every envelope in the order it was sent. Bytes are copied (`slice`) when queued: the
 * caller keeps its buffer, and a view never drags its whole backing buffer through the
 * structured clone.
 *
 * Bounded: the receiver acknowledges each batch it handled (an `ACK` envelope with its size,
 * in its next batch back); while more than `backlog` bytes sent to some loop are not
 * acknowledged, `congested` is true and the server stops reading, until below half.
 *
 * @module
 */

import type { LoopContext } from "./loop_context.ts";

/** Envelope kinds, the first element of each envelope in a batch. */
const WRITE = 0;
const CLOSE = 1;
const PROTOCOL = 2;
/** The receiver handled batches of this many bytes: the sender's backlog shrinks. */
const ACK = 3;

/**
 * Bytes sent to one loop and not yet handled there above which this loop stops reading its
 * connections (a publisher, say, cannot flood a slower loop without bound); reads resume
 * below half.
 */
export const DEFAULT_LOOP_BACKLOG = 8 * 1024 * 1024;

/** What a protocol message counts against the backlog: its bytes, or a small fixed size. */
function sizeOf(message: unknown): number {
  if (message instanceof Uint8Array) return message.length;
  const bytes = (message as { bytes?: unknown } | null)?.bytes;
  return bytes instanceof Uint8Array ? bytes.length + 64 : 64;
}

/** Where a loop's bus delivers what other loops send it. */
export interface LoopBusHost {
  /** Bytes for a connection of this loop. */
  write(id: number, bytes: Uint8Array): void;
  /** A close for a connection of this loop. */
  close(id: number): void;
  /** A listener (the protocol's) threw. */
  error(error: unknown): void;
}

/** One loop's side of the channels between loops. */
export class LoopBus {
  readonly index: number;
  readonly count: number;
  readonly #host: LoopBusHost;
  readonly #ports: (MessagePort | undefined)[];
  /** Per peer loop, envelopes not yet posted, flat: kind, then its one or two fields. */
  readonly #outboxes: unknown[][];
  #flushScheduled = false;
  #listener: ((from: number, message: unknown) => void) | undefined;
  /** Protocol messages that came before the protocol's listener (a loop that started first). */
  #early: [number, unknown][] = [];
  #replacedListener: ((loop: number) => void) | undefined;
  #closed = false;
  /** Per peer loop: bytes queued or sent, not yet acknowledged as handled there. */
  readonly #backlog: number[];
  /** Per peer loop: bytes queued this turn (the size of its next batch). */
  readonly #queuedBytes: number[];
  readonly #limit: number;
  #congested = false;
  #drained: (() => void) | undefined;

  /**
   * @param index This loop.
   * @param ports Index-aligned ports to the other loops (`undefined` at `index`).
   * @param host Where envelopes for this loop go.
   */
  constructor(
    index: number,
    ports: (MessagePort | undefined)[],
    host: LoopBusHost,
    backlog: number = DEFAULT_LOOP_BACKLOG,
  ) {
    this.index = index;
    this.count = ports.length;
    this.#host = host;
    this.#ports = [];
    this.#outboxes = ports.map(() => []);
    this.#backlog = ports.map(() => 0);
    this.#queuedBytes = ports.map(() => 0);
    this.#limit = backlog;
    for (const [loop, port] of ports.entries()) {
      if (loop !== index && port !== undefined) this.#attach(loop, port);
    }
  }

  /**
   * Whether more than the backlog bound is sent to some loop and not yet handled there: the
   * server stops reading while it is.
   */
  get congested(): boolean {
    return this.#congested;
  }

  /** Sets what runs when a congested bus is back below half its bound (reads resume). */
  onDrained(callback: () => void): void {
    this.#drained = callback;
  }

  /** Queues bytes for connection `id` of `loop`. */
  write(loop: number, id: number, bytes: Uint8Array): void {
    this.#queue(loop, WRITE, id, bytes.slice());
  }

  /** Queues a close for connection `id` of `loop`. */
  closeConnection(loop: number, id: number): void {
    this.#queue(loop, CLOSE, id);
  }

  /** The protocol's view: its loop, and its channel to the other loops. */
  context(): LoopContext {
    // deno-lint-ignore no-this-alias
    const bus = this;
    return {
      index: this.index,
      count: this.count,
      send(to: number, message: unknown): void {
        if (!Number.isInteger(to) || to < 0 || to >= bus.count || to === bus.index) {
          throw new RangeError(
            `A loop can send to another loop, 0 to ${
              bus.count - 1
            } but not ${bus.index}; got ${to}`,
          );
        }
        bus.#queue(to, PROTOCOL, message);
      },
      receive(listener) {
        bus.#listener = listener;
        if (bus.#early.length === 0) return;
        const early = bus.#early;
        bus.#early = [];
        // After attach returns: the protocol is whole when its first message comes.
        queueMicrotask(() => {
          for (const [from, message] of early) bus.#hear(from, message);
        });
      },
      replaced(listener) {
        bus.#replacedListener = listener;
      },
    };
  }

  /** Loop `loop` was replaced: talk to the new one through `port`; what was queued is lost. */
  replacePort(loop: number, port: MessagePort): void {
    this.#ports[loop]?.close();
    this.#outboxes[loop] = [];
    // What the dead loop held is gone with it, acknowledged or not.
    this.#backlog[loop] = 0;
    this.#queuedBytes[loop] = 0;
    this.#checkDrained();
    this.#attach(loop, port);
    try {
      this.#replacedListener?.(loop);
    } catch (error) {
      this.#host.error(error);
    }
  }

  /** Posts what is queued now and closes the ports. */
  shut(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    for (const port of this.#ports) port?.close();
  }

  #attach(loop: number, port: MessagePort): void {
    this.#ports[loop] = port;
    port.onmessage = (event: MessageEvent<unknown[]>) => this.#deliver(loop, event.data);
  }

  #queue(loop: number, kind: number, first: unknown, second?: unknown): void {
    if (this.#closed) return;
    const outbox = this.#outboxes[loop];
    let size = 0;
    if (kind === PROTOCOL) {
      outbox.push(kind, first);
      size = sizeOf(first);
    } else if (kind === WRITE) {
      outbox.push(kind, first, second);
      size = (second as Uint8Array).length + 16;
    } else {
      outbox.push(kind, first);
      if (kind === CLOSE) size = 16;
    }
    if (size > 0) {
      this.#queuedBytes[loop] += size;
      this.#backlog[loop] += size;
      if (!this.#congested && this.#backlog[loop] > this.#limit) this.#congested = true;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const [loop, outbox] of this.#outboxes.entries()) {
      if (outbox.length === 0) continue;
      this.#outboxes[loop] = [];
      // The batch starts with its size: the receiver acknowledges it once handled.
      outbox.unshift(this.#queuedBytes[loop]);
      this.#queuedBytes[loop] = 0;
      try {
        this.#ports[loop]?.postMessage(outbox);
      } catch (error) {
        // A message the structured clone refuses (a function in a protocol's message).
        this.#host.error(error);
      }
    }
  }

  #deliver(from: number, batch: unknown[]): void {
    for (let i = 1; i < batch.length;) {
      const kind = batch[i];
      if (kind === WRITE) {
        this.#host.write(batch[i + 1] as number, batch[i + 2] as Uint8Array);
        i += 3;
      } else if (kind === CLOSE) {
        this.#host.close(batch[i + 1] as number);
        i += 2;
      } else if (kind === ACK) {
        this.#backlog[from] = Math.max(0, this.#backlog[from] - (batch[i + 1] as number));
        this.#checkDrained();
        i += 2;
      } else {
        if (this.#listener === undefined) this.#early.push([from, batch[i + 1]]);
        else this.#hear(from, batch[i + 1]);
        i += 2;
      }
    }
    const size = batch[0] as number;
    if (size > 0) this.#queue(from, ACK, size);
  }

  #checkDrained(): void {
    if (!this.#congested) return;
    for (const bytes of this.#backlog) if (bytes > this.#limit / 2) return;
    this.#congested = false;
    this.#drained?.();
  }

  #hear(from: number, message: unknown): void {
    try {
      this.#listener!(from, message);
    } catch (error) {
      this.#host.error(error);
    }
  }
}

/** The loop context of a server of one loop: nothing to send to. */
export function singleLoopContext(): LoopContext {
  return {
    index: 0,
    count: 1,
    send(to: number): void {
      throw new RangeError(`This server has one loop: there is no loop ${to} to send to`);
    },
    receive() {},
    replaced() {},
  };
}
