/**
 * The loops of a server of several (`ServerOptions.loops`), seen from the thread that made
 * the server: it starts one loop thread (`_loop_thread.ts`) per loop, each with its own
 * listener on the one port (`SO_REUSEPORT`), wires a `MessageChannel` between every pair of
 * loops (their bus, `_loop_bus.ts`), runs the user's hooks with what the loops report,
 * sums their counters from shared memory, and replaces a loop that dies.
 *
 * Shared memory, allocated here so that it outlives any one loop:
 * - per loop, the sequences of its connection table (`_connection_table.ts`): every thread
 *   tells whether an id is open on any loop, and a replacement loop takes over a dead one's,
 *   zeroed, so that old handles stay closed;
 * - a row of counters per loop (`_server_counters.ts`);
 * - one count of the connections open on all loops, against the global `maxConnections`.
 *
 * Loop states: `starting` (its thread loads the protocol and listens) -> `running` ->
 * `closing` (graceful shutdown) -> `closed`; `running` -> `dead` (its thread threw) -> a new
 * `starting` loop in its place, while the server runs.
 *
 * @module
 */

import type { AuthenticationRequest } from "./authentication.ts";
import { type AddressCounts, addressCounts, releaseLoop } from "./_address_limit.ts";
import { isOpenAmong, loopOf } from "./_connection_table.ts";
import { positiveInteger } from "./_option_checks.ts";
import { resolveModule } from "./_resolve_module.ts";
import { Counter, COUNTER_COUNT, readCounters, sumCounters } from "./_server_counters.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import { RemoteConnectionHandle, type RemoteRoute } from "./_remote_handle.ts";
import * as errors from "./errors.ts";
import { LoopDiedError } from "./errors.ts";
import type { ProtocolRecipe } from "./loop_context.ts";
import type { ServerOptions, ServerStats, SocketTransport } from "./server.ts";

/** Most loops a server may ask for. */
export const MAX_LOOPS = 256;

/** Options no loop thread can take (functions and objects of this thread), or gives itself. */
const NOT_FOR_LOOPS = new Set([
  "protocol",
  "handler",
  "onMessage",
  "onStart",
  "onConnect",
  "onClose",
  "onError",
  "onTick",
  "loops",
  "authenticate",
]);

/** Time a loop thread has to load its protocol and listen. */
const LOOP_START_TIMEOUT = 15_000;

/** Time beyond the server's own shutdown bounds a loop has to report itself closed. */
const LOOP_CLOSE_MARGIN = 5_000;

/** Pause before a dead loop's replacement starts, so that a loop dying at start cannot spin. */
const RESTART_DELAY = 100;

let warnedNoReusePort = false;

/**
 * The loops a server runs, checked: 1 for a server of one loop, or where the platform has no
 * `SO_REUSEPORT` (said once).
 *
 * @throws {TypeError} When a server of several loops cannot be built from these options.
 * @throws {RangeError} When `loops` is out of range.
 */
export function resolveLoops(options: ServerOptions<SocketTransport>): number {
  const asked = options.loops ?? 1;
  const count = asked === "auto"
    ? Math.max(1, navigator.hardwareConcurrency || 1)
    : positiveInteger("loops", asked);
  if (count > MAX_LOOPS) throw new RangeError(`loops must be at most ${MAX_LOOPS}, got ${count}`);
  if (count === 1) return 1;
  if (Deno.build.os !== "linux") {
    if (!warnedNoReusePort) {
      warnedNoReusePort = true;
      console.warn(
        `speedo: loops: ${asked} runs one loop here: ${Deno.build.os} does not spread connections over listeners sharing a port (SO_REUSEPORT balances on Linux only)`,
      );
    }
    return 1;
  }
  const need = (what: string) => new TypeError(`loops: ${asked} needs ${what}`);
  if (options.transport === "unix") {
    throw need("TCP: a Unix socket path has one listener (no SO_REUSEPORT)");
  }
  // deno-lint-ignore no-explicit-any
  if (typeof (Deno as any).listenDatagram !== "function") {
    throw need(
      `Deno's --unstable-net flag (or "unstable": ["net"] in deno.json): each loop listens with Deno.listen's reusePort, unstable in Deno ${Deno.version.deno}`,
    );
  }
  const recipe = options.protocol.recipe;
  if (recipe === undefined) {
    throw need(
      "a protocol with a recipe (ProtocolHandlerFactory.recipe: its module, export and options), so that each loop can build it",
    );
  }
  try {
    structuredClone(recipe);
  } catch (error) {
    throw need(
      `a protocol whose recipe clones (functions and class instances cannot cross to a loop's thread): ${
        (error as Error).message
      }`,
    );
  }
  const handler = options.handler;
  if (
    options.onMessage !== undefined || (typeof handler === "object" && !(handler instanceof URL))
  ) {
    throw need(
      "a handler module (a URL): onMessage and handler objects cannot cross to a loop's thread",
    );
  }
  return count;
}

/** How the group reaches the server that owns it. */
export interface LoopGroupHost {
  /** Reports an error as the server does (onError, or the log). */
  report(error: unknown, connection?: ConnectionHandle): void;
  /** Runs a user hook; a throw is reported. */
  hook(run: () => void): void;
}

interface Loop {
  readonly index: number;
  readonly worker: Worker;
  state: "starting" | "running" | "closing" | "closed" | "dead";
  /** Connections open on it, for the hooks (tracked only when there is `onClose`). */
  readonly open: Set<number>;
  /** Its own listeners' addresses (the test hook), by listener index. */
  pinnedAddresses: Deno.NetAddr[];
  /** Writes and closes from this thread, posted once per turn. */
  outbox: unknown[];
  /** Settles when its thread reports itself closed, or dies. */
  readonly ended: PromiseWithResolvers<void>;
  readonly resizes: Map<number, PromiseWithResolvers<void>>;
}

/** A serialised error, from a loop thread. */
interface ErrorShape {
  name: string;
  message: string;
  stack?: string;
  props?: Record<string, unknown>;
}

/** The loops of one server; see the module doc. */
export class LoopGroup implements RemoteRoute {
  readonly #options: ServerOptions<SocketTransport>;
  readonly #count: number;
  readonly #host: LoopGroupHost;
  readonly #recipe: ProtocolRecipe;
  readonly #loopOptions: Record<string, unknown>;
  readonly #sequences: Int32Array<SharedArrayBuffer>[];
  readonly #counters: Float64Array<SharedArrayBuffer>;
  readonly #openConnections = new Int32Array(new SharedArrayBuffer(4));
  /** Connections per remote address (`maxConnectionsPerAddress`), when bounded. */
  readonly #addressCounts: AddressCounts | undefined;
  readonly #loops: Loop[] = [];
  readonly #tracks: boolean;
  #workers: number;
  /** The ports the loops share once the first bound them: the main one, then the listeners'. */
  #ports: number[] = [];
  #address: Deno.NetAddr | undefined;
  #addresses: Deno.NetAddr[] = [];
  #state: "new" | "running" | "closing" | "closed" = "new";
  #resizeRequest = 0;
  /** Test hook: who waits for a loop's replacement to listen. */
  readonly #replacedWaiters = new Map<number, PromiseWithResolvers<void>>();
  #flushScheduled = false;

  constructor(
    options: ServerOptions<SocketTransport>,
    count: number,
    maxConnections: number,
    host: LoopGroupHost,
  ) {
    this.#options = options;
    this.#count = count;
    this.#host = host;
    this.#recipe = options.protocol.recipe!;
    this.#sequences = Array.from(
      { length: count },
      () => new Int32Array(new SharedArrayBuffer(maxConnections * 4)),
    );
    this.#counters = new Float64Array(new SharedArrayBuffer(count * COUNTER_COUNT * 8));
    this.#tracks = options.onClose !== undefined;
    this.#workers = options.workers ?? 0;
    this.#addressCounts = (options.maxConnectionsPerAddress ?? 0) > 0
      ? addressCounts(count)
      : undefined;
    const loopOptions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) {
      if (!NOT_FOR_LOOPS.has(key)) loopOptions[key] = value;
    }
    if (options.handler !== undefined) {
      loopOptions.handler = resolveModule(options.handler as string | URL);
    }
    this.#loopOptions = loopOptions;
  }

  /** The address every loop listens on. */
  get address(): Deno.NetAddr | undefined {
    return this.#address;
  }

  /** Every address every loop listens on: the main one, then the listeners'. */
  get addresses(): Deno.NetAddr[] {
    return this.#addresses;
  }

  /** Starts the loops: the first binds the port, the others join it. */
  async listen(): Promise<Deno.NetAddr> {
    const channels = new Map<string, MessageChannel>();
    const portsOf = (index: number) =>
      Array.from({ length: this.#count }, (_, other) => {
        if (other === index) return undefined;
        const key = `${Math.min(index, other)}:${Math.max(index, other)}`;
        let channel = channels.get(key);
        if (channel === undefined) channels.set(key, channel = new MessageChannel());
        return index < other ? channel.port1 : channel.port2;
      });
    try {
      this.#ports = [
        this.#options.port ?? 0,
        ...(this.#options.listeners ?? []).map((listener) => listener.port ?? 0),
      ];
      this.#address = await this.#start(0, portsOf(0));
      this.#ports = this.#addresses.map((address) => address.port);
      await Promise.all(
        Array.from({ length: this.#count - 1 }, (_, i) => this.#start(i + 1, portsOf(i + 1))),
      );
    } catch (error) {
      for (const loop of this.#loops) loop?.worker.terminate();
      for (const channel of channels.values()) {
        channel.port1.close();
        channel.port2.close();
      }
      throw error;
    }
    this.#state = "running";
    return this.#address;
  }

  /** Sums the loops' counters, with a row per loop. */
  stats(): ServerStats {
    const rows = Array.from(
      { length: this.#count },
      (_, i) => readCounters(this.#counters.subarray(i * COUNTER_COUNT, (i + 1) * COUNTER_COUNT)),
    );
    return { ...sumCounters(rows), loops: rows };
  }

  /** A handle to connection `id`, on whichever loop it lives. */
  handle(id: number): ConnectionHandle {
    return new RemoteConnectionHandle(id, this);
  }

  /** Whether `id` is open on its loop. */
  isOpen(id: number): boolean {
    return isOpenAmong(this.#sequences, id);
  }

  /** Queues a write (bytes copied) or a close of `id` for its loop. */
  send(id: number, bytes: Uint8Array | undefined): boolean {
    if (!this.isOpen(id)) return false;
    const loop = this.#loops[loopOf(id, this.#count)];
    if (loop === undefined || loop.state !== "running") return false;
    if (bytes === undefined) loop.outbox.push(1, id);
    else loop.outbox.push(0, id, bytes.slice());
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  /** Resizes every loop's workers. */
  async resize(workers: number): Promise<void> {
    if (this.#state !== "running") throw new Error(`Server cannot resize: it is ${this.#state}`);
    const results = await Promise.allSettled(
      this.#loops.filter((loop) => loop.state === "running").map((loop) => {
        const request = ++this.#resizeRequest;
        const waiter = Promise.withResolvers<void>();
        loop.resizes.set(request, waiter);
        loop.worker.postMessage({ t: "resize", workers, request });
        return waiter.promise;
      }),
    );
    const failed = results.find((result) => result.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    this.#workers = workers;
  }

  /** Closes every loop gracefully, then ends their threads. */
  async close(): Promise<void> {
    if (this.#state === "closing" || this.#state === "closed") return;
    this.#state = "closing";
    this.#flush();
    const bound = (this.#options.shutdownTimeout ?? 10_000) + 1000 +
      (this.#options.lingerTimeout ?? 2000) + LOOP_CLOSE_MARGIN;
    const live = this.#loops.filter((loop) =>
      loop.state === "running" || loop.state === "starting"
    );
    for (const loop of live) {
      loop.state = "closing";
      loop.worker.postMessage({ t: "shutdown" });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(live.map((loop) => loop.ended.promise)),
      new Promise((resolve) => timer = setTimeout(resolve, bound)),
    ]);
    clearTimeout(timer);
    for (const loop of this.#loops) {
      loop.worker.terminate();
      loop.state = "closed";
    }
    this.#state = "closed";
  }

  /**
   * Test hook: the address of loop `index`'s own listener (with `PINNED_LOOPS`), for the main
   * address or listener `listener` of `ServerOptions.listeners` (1 for the first).
   */
  pinnedAddress(index: number, listener = 0): Deno.NetAddr | undefined {
    return this.#loops[index]?.pinnedAddresses[listener];
  }

  /** Test hook: makes loop `index` throw, as a bug would; resolves once it is replaced. */
  async crash(index: number): Promise<void> {
    const replaced = Promise.withResolvers<void>();
    this.#replacedWaiters.set(index, replaced);
    this.#loops[index].worker.postMessage({ t: "crash" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        replaced.promise,
        new Promise((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`I/O loop ${index} was not replaced in 10 s`)),
            10_000,
          )
        ),
      ]);
    } finally {
      clearTimeout(timer);
      this.#replacedWaiters.delete(index);
    }
  }

  /** Starts loop `index`, resolving with its address once it listens. */
  #start(index: number, ports: (MessagePort | undefined)[]): Promise<Deno.NetAddr> {
    const worker = new Worker(new URL("./_loop_thread.ts", import.meta.url), { type: "module" });
    const loop: Loop = {
      index,
      worker,
      state: "starting",
      open: new Set(),
      pinnedAddresses: [],
      outbox: [],
      ended: Promise.withResolvers<void>(),
      resizes: new Map(),
    };
    this.#loops[index] = loop;
    const { promise, resolve, reject } = Promise.withResolvers<Deno.NetAddr>();
    const timer = setTimeout(() => {
      worker.terminate();
      reject(
        new errors.WorkerStartError(`I/O loop ${index} did not start in ${LOOP_START_TIMEOUT} ms`),
      );
    }, LOOP_START_TIMEOUT);
    worker.onmessage = (event: MessageEvent) => {
      const message = event.data;
      switch (message.t) {
        case "listening":
          clearTimeout(timer);
          loop.state = "running";
          loop.pinnedAddresses = message.pinned;
          if (index === 0) this.#addresses = message.addresses;
          resolve(message.address);
          break;
        case "failed":
          clearTimeout(timer);
          worker.terminate();
          loop.state = "dead";
          reject(revive(message.error));
          break;
        case "events":
          this.#onEvents(loop, message.list);
          break;
        case "auth":
          this.#authenticate(loop, message.request, message.n);
          break;
        case "error":
          this.#host.report(
            revive(message.error),
            message.id === undefined ? undefined : this.handle(message.id),
          );
          break;
        case "resized": {
          const waiter = loop.resizes.get(message.request);
          loop.resizes.delete(message.request);
          if (message.error === undefined) waiter?.resolve();
          else waiter?.reject(revive(message.error));
          break;
        }
        case "closed":
          loop.state = "closed";
          loop.ended.resolve();
          break;
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const cause = event.message ?? "an uncaught error";
      if (loop.state === "starting") {
        clearTimeout(timer);
        worker.terminate();
        loop.state = "dead";
        reject(new errors.WorkerStartError(`I/O loop ${index} failed to start: ${cause}`));
        return;
      }
      this.#died(loop, cause);
    };
    worker.postMessage({
      t: "init",
      index,
      count: this.#count,
      recipe: this.#recipe,
      options: { ...this.#loopOptions, workers: this.#workers },
      listenPorts: this.#ports,
      sequences: this.#sequences,
      counters: this.#counters,
      row: index,
      openConnections: this.#openConnections,
      addressCounts: this.#addressCounts,
      authenticate: this.#options.authenticate !== undefined,
      ports,
      events: this.#tracks || this.#options.onConnect !== undefined,
      pinned: (this.#options as unknown as Record<symbol, unknown>)[PINNED_LOOPS] === true,
    }, ports.filter((port) => port !== undefined));
    return promise;
  }

  /**
   * A loop asks `authenticate` (a function stays on this thread): its answer goes back as
   * plain data; a hook that throws, or whose identity cannot cross, refuses. The loop's
   * server bounds the wait and checks the answer's shape.
   */
  async #authenticate(loop: Loop, request: AuthenticationRequest, n: number): Promise<void> {
    let result: unknown;
    try {
      result = await this.#options.authenticate!(request);
    } catch (error) {
      this.#host.report(error instanceof Error ? error : new Error(String(error)));
      result = { refused: "the authenticator failed" };
    }
    try {
      loop.worker.postMessage({ t: "authed", n, result });
    } catch (error) {
      this.#host.report(
        new TypeError(`authenticate's answer cannot cross to I/O loop ${loop.index}`, {
          cause: error,
        }),
      );
      loop.worker.postMessage({ t: "authed", n, result: { refused: "the authenticator failed" } });
    }
  }

  #onEvents(loop: Loop, list: unknown[]): void {
    for (let i = 0; i < list.length;) {
      const id = list[i + 1] as number;
      if (list[i] === 0) {
        i += 2;
        if (this.#tracks) loop.open.add(id);
        const onConnect = this.#options.onConnect;
        if (onConnect !== undefined) this.#host.hook(() => onConnect(this.handle(id), loop.index));
      } else {
        const shape = list[i + 2] as ErrorShape | null;
        i += 3;
        loop.open.delete(id);
        const onClose = this.#options.onClose;
        if (onClose !== undefined) {
          const reason = shape === null ? undefined : revive(shape);
          this.#host.hook(() => onClose(this.handle(id), reason, loop.index));
        }
      }
    }
  }

  /** A loop's thread threw: its connections are gone; report them, and start another. */
  #died(loop: Loop, cause: string): void {
    if (loop.state === "dead" || loop.state === "closed") return;
    const wasClosing = loop.state === "closing";
    loop.state = "dead";
    loop.worker.terminate();
    loop.ended.resolve();
    for (const waiter of loop.resizes.values()) waiter.reject(new LoopDiedError(loop.index, cause));
    const error = new LoopDiedError(loop.index, cause);
    this.#host.report(error);
    // Its sockets closed with its thread: free their places and their ids.
    const row = this.#counters.subarray(
      loop.index * COUNTER_COUNT,
      (loop.index + 1) * COUNTER_COUNT,
    );
    Atomics.sub(this.#openConnections, 0, row[Counter.connections]);
    if (this.#addressCounts !== undefined) releaseLoop(this.#addressCounts, loop.index);
    row[Counter.connections] = 0;
    row[Counter.queueDepth] = 0;
    row[Counter.workers] = 0;
    const sequences = this.#sequences[loop.index];
    for (let slot = 0; slot < sequences.length; slot++) Atomics.store(sequences, slot, 0);
    const onClose = this.#options.onClose;
    for (const id of loop.open) {
      if (onClose !== undefined) this.#host.hook(() => onClose(this.handle(id), error, loop.index));
    }
    loop.open.clear();
    if (wasClosing || this.#state !== "running") return;
    setTimeout(() => this.#replace(loop.index), RESTART_DELAY);
  }

  /** Starts a loop in the place of a dead one, with new channels to the others. */
  async #replace(index: number): Promise<void> {
    if (this.#state !== "running") return;
    const ports: (MessagePort | undefined)[] = [];
    for (let other = 0; other < this.#count; other++) {
      if (other === index) {
        ports.push(undefined);
        continue;
      }
      const channel = new MessageChannel();
      ports.push(channel.port1);
      const peer = this.#loops[other];
      if (peer.state === "running" || peer.state === "starting") {
        peer.worker.postMessage({ t: "peer", loop: index, port: channel.port2 }, [channel.port2]);
      } else channel.port2.close();
    }
    try {
      await this.#start(index, ports);
      if (this.#state !== "running") this.#loops[index].worker.postMessage({ t: "shutdown" });
      this.#replacedWaiters.get(index)?.resolve();
    } catch (error) {
      this.#host.report(error);
      // Try again while the server runs: the port is the server's to keep.
      if (this.#state === "running") setTimeout(() => this.#replace(index), 1000);
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const loop of this.#loops) {
      if (loop === undefined || loop.outbox.length === 0) continue;
      const list = loop.outbox;
      loop.outbox = [];
      if (loop.state === "running" || loop.state === "closing") {
        loop.worker.postMessage({ t: "ops", list });
      }
    }
  }
}

/** Test hook: the loops of a server, by server. */
export const loopGroups: WeakMap<object, LoopGroup> = new WeakMap();

/** The options key of the test hook that gives each loop a listener of its own. */
export const PINNED_LOOPS: unique symbol = Symbol("speedo.pinnedLoops");

/** Serialises an error for the trip to another thread. */
export function errorShape(error: unknown): ErrorShape {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const props: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    try {
      props[key] = structuredClone(value);
    } catch {
      // Not clonable: left behind.
    }
  }
  return { name: error.name, message: error.message, stack: error.stack, props };
}

/** An error again, of its class where this thread knows it by name (for `instanceof`). */
function revive(shape: ErrorShape): Error {
  const classes = [errors, Deno.errors, globalThis] as unknown as Record<string, unknown>[];
  const known = classes.map((scope) => scope[shape.name]).find((candidate) =>
    typeof candidate === "function" &&
    (candidate === Error || candidate.prototype instanceof Error)
  ) as { prototype: Error } | undefined;
  const error = Object.create(known?.prototype ?? Error.prototype) as Error;
  const define = (key: string, value: unknown) =>
    Object.defineProperty(error, key, { value, writable: true, configurable: true });
  define("message", shape.message);
  define("name", shape.name);
  if (shape.stack !== undefined) define("stack", shape.stack);
  Object.assign(error, shape.props ?? {});
  return error;
}
