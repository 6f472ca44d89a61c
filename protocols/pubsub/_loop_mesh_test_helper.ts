/**
 * An in-memory mesh of I/O loops for pub/sub tests without threads: one
 * {@linkcode pubsubProtocol} per loop, each attached to a fake {@linkcode LoopContext} whose
 * `send` queues the message and delivers it later (structured-cloned at delivery, in the order
 * sent), either a turn later (`setTimeout` 0, a batch per turn as the server's loops do) or
 * one by one when the test drives it (`manual`).
 *
 * @module
 */

import { readForwardBatch } from "./_forward_batch.ts";
import type { LoopContext } from "../../core/loop_context.ts";
import type { ProtocolHandler } from "../../core/protocol.ts";
import { chunks } from "../../testing/chunks.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { type PubSubProtocol, pubsubProtocol } from "./pubsub_protocol.ts";

/** One message on the mesh. */
export interface MeshMessage {
  readonly from: number;
  readonly to: number;
  readonly message: unknown;
}

/** Options of {@linkcode LoopMesh}. */
export interface LoopMeshOptions {
  /** Deliver only when the test calls `deliverNext`/`deliverAll`. @default {false} */
  manual?: boolean;
}

const encoder = new TextEncoder();

/** The loops, their protocols, and what crossed between them. */
export class LoopMesh {
  readonly count: number;
  readonly protocols: PubSubProtocol[] = [];
  /** Every message sent, in order. */
  readonly sent: MeshMessage[] = [];
  readonly #manual: boolean;
  #queue: MeshMessage[] = [];
  readonly #receivers: ((from: number, message: unknown) => void)[] = [];
  readonly #replaced: ((loop: number) => void)[] = [];
  /** Each loop's incarnation; a context of an older one sends nothing. */
  readonly #generation: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(count: number, options: LoopMeshOptions = {}) {
    this.count = count;
    this.#manual = options.manual ?? false;
    for (let index = 0; index < count; index++) this.#start(index);
  }

  /** Messages waiting for delivery. */
  get queued(): readonly MeshMessage[] {
    return this.#queue;
  }

  /**
   * Forwarded publishes sent so far (records of the turns' packed batches).
   *
   * @param to Only those to this loop.
   * @returns How many.
   */
  forwards(to?: number): number {
    let count = 0;
    for (const sent of this.sent) {
      if (kindOf(sent.message) !== "msg" || (to !== undefined && sent.to !== to)) continue;
      readForwardBatch((sent.message as { bytes: Uint8Array }).bytes, () => count++);
    }
    return count;
  }

  /**
   * Opens a connection on a loop.
   *
   * @param loop The loop.
   * @param id The connection id.
   * @returns The peer.
   */
  peer(loop: number, id: number): MeshPeer {
    return new MeshPeer(this.protocols[loop], id);
  }

  /**
   * Delivers the oldest queued message.
   *
   * @returns It, or undefined when none.
   */
  deliverNext(): MeshMessage | undefined {
    const next = this.#queue.shift();
    if (next !== undefined) this.#receivers[next.to](next.from, structuredClone(next.message));
    return next;
  }

  /** Delivers queued messages (and those they cause) until none is left. */
  deliverAll(): void {
    for (let i = 0; this.deliverNext() !== undefined; i++) {
      if (i > 1_000_000) throw new Error("The loops keep talking");
    }
  }

  /**
   * Waits, turn by turn, until every message (and microtask-batched interest) is delivered.
   *
   * @param turns The most event-loop turns to wait.
   */
  async settle(turns = 10_000): Promise<void> {
    for (let turn = 0; turn < turns; turn++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.#manual) this.deliverAll();
      if (this.#queue.length === 0 && this.#timer === undefined) return;
    }
    throw new Error(`The loops did not settle within ${turns} turns`);
  }

  /**
   * Replaces a loop, as the server does when one dies: messages to it are dropped, a new
   * protocol is built and attached, then the other loops are told.
   *
   * @param index The loop.
   * @returns The new loop's protocol.
   */
  replace(index: number): PubSubProtocol {
    const protocol = this.restart(index);
    this.announce(index);
    return protocol;
  }

  /**
   * The first half of {@linkcode LoopMesh.replace}: the new loop starts, and may talk before
   * the others learn that it replaced the old one.
   *
   * @param index The loop.
   * @returns The new loop's protocol.
   */
  restart(index: number): PubSubProtocol {
    this.#queue = this.#queue.filter((queued) => queued.to !== index);
    return this.#start(index);
  }

  /**
   * The second half of {@linkcode LoopMesh.replace}: the other loops are told.
   *
   * @param index The loop replaced.
   */
  announce(index: number): void {
    for (let loop = 0; loop < this.count; loop++) {
      if (loop !== index) this.#replaced[loop]?.(index);
    }
  }

  #start(index: number): PubSubProtocol {
    const generation = this.#generation[index] = (this.#generation[index] ?? 0) + 1;
    const protocol = pubsubProtocol({ pingInterval: 0 });
    this.protocols[index] = protocol;
    const context: LoopContext = {
      index,
      count: this.count,
      send: (to, message) => {
        if (to === index || !Number.isInteger(to) || to < 0 || to >= this.count) {
          throw new RangeError(`Cannot send to loop ${to} from loop ${index}`);
        }
        if (this.#generation[index] !== generation) return;
        const sent = { from: index, to, message };
        this.sent.push(sent);
        this.#queue.push(sent);
        if (!this.#manual) this.#timer ??= setTimeout(() => this.#deliverTurn(), 0);
      },
      receive: (listener) => void (this.#receivers[index] = listener),
      replaced: (listener) => void (this.#replaced[index] = listener),
    };
    protocol.attach(context);
    return protocol;
  }

  /** Delivers what was sent before this turn; what they cause goes in the next. */
  #deliverTurn(): void {
    this.#timer = undefined;
    const batch = this.#queue;
    this.#queue = [];
    for (const { from, to, message } of batch) {
      this.#receivers[to](from, structuredClone(message));
    }
  }
}

/** A connection on one loop's protocol, driven by hand. */
export class MeshPeer {
  readonly transport: MemoryTransport;
  readonly handler: ProtocolHandler;
  #read = 0;

  constructor(protocol: PubSubProtocol, id: number) {
    this.transport = new MemoryTransport(id);
    this.handler = protocol.create(this.transport);
    this.handler.open?.();
    this.take();
  }

  /**
   * Feeds bytes to the connection.
   *
   * @param text What the client sends.
   * @param chunkSize Bytes per `data` call.
   */
  send(text: string, chunkSize?: number): void {
    const bytes = encoder.encode(text);
    for (const chunk of chunks(bytes, chunkSize ?? Math.max(1, bytes.length))) {
      this.handler.data(chunk.slice());
    }
  }

  /**
   * What it was sent since the last call.
   *
   * @returns The text.
   */
  take(): string {
    const text = this.transport.text();
    const fresh = text.slice(this.#read);
    this.#read = text.length;
    return fresh;
  }

  /** Closes the connection. */
  close(): void {
    this.handler.close?.();
  }
}

/**
 * The `kind` of a message on the mesh.
 *
 * @param message The message.
 * @returns Its kind, or undefined.
 */
export function kindOf(message: unknown): string | undefined {
  return typeof message === "object" && message !== null && "kind" in message
    ? String(message.kind)
    : undefined;
}
