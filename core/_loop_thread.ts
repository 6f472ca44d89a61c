/**
 * One I/O loop of a server of several (`ServerOptions.loops`), in its own thread: it builds
 * the protocol factory from its recipe, runs a `Server` of its own on the shared port
 * (`SO_REUSEPORT`) with its own workers, and talks to the coordinating thread
 * (`_loop_group.ts`) and, through its bus (`_loop_bus.ts`), to the other loops.
 *
 * | from        | message                                  | what happens                       |
 * | ----------- | ---------------------------------------- | ---------------------------------- |
 * | coordinator | `{ t: "init", index, count, recipe, … }` | build, listen; `listening`/`failed` |
 * | coordinator | `{ t: "ops", list }`                     | writes and closes from its handles |
 * | coordinator | `{ t: "resize", workers, request }`      | resize this loop's pool; `resized` |
 * | coordinator | `{ t: "peer", loop, port }`              | a replaced loop's new channel      |
 * | coordinator | `{ t: "shutdown" }`                      | graceful close; `closed`           |
 * | coordinator | `{ t: "crash" }`                         | test hook: throw, as a bug would   |
 * | loop        | `{ t: "events", list }`                  | connects and closes, for the hooks |
 * | loop        | `{ t: "error", error, id? }`             | the server's error, for `onError`  |
 * | loop        | `{ t: "auth", n, request }`              | ask `authenticate`; `authed`       |
 * | coordinator | `{ t: "authed", n, result }`             | its answer, to the waiting request |
 *
 * @module
 */

import { markThread } from "./_thread_role.ts";
import type { AddressCounts } from "./_address_limit.ts";
import type { AuthenticationResult } from "./authentication.ts";
import { LoopBus } from "./_loop_bus.ts";
import { errorShape } from "./_loop_group.ts";
import { LOOP_RUNTIME, type LoopRuntime } from "./_loop_runtime.ts";
import { COUNTER_COUNT } from "./_server_counters.ts";
import type { ConnectionHandle } from "./connection_handle.ts";
import type { ProtocolRecipe } from "./loop_context.ts";
import type { ProtocolHandlerFactory } from "./protocol.ts";
import { Server, type ServerOptions } from "./server.ts";

interface InitRequest {
  t: "init";
  index: number;
  count: number;
  recipe: ProtocolRecipe;
  options: Record<string, unknown>;
  /** The TCP ports to share: the main one, then each listener's (as asked, for the first loop). */
  listenPorts: number[];
  sequences: Int32Array<SharedArrayBuffer>[];
  counters: Float64Array<SharedArrayBuffer>;
  row: number;
  openConnections: Int32Array<SharedArrayBuffer>;
  addressCounts: AddressCounts | undefined;
  /** Whether the coordinator has an authenticator to ask (`{ t: "auth" }`). */
  authenticate: boolean;
  ports: (MessagePort | undefined)[];
  /** Whether the coordinator wants connects and closes (it has onConnect or onClose). */
  events: boolean;
  pinned: boolean;
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
// Before any of the application's modules is imported here: see _thread_role.ts.
markThread("loop");
let server: Server | undefined;
let bus: LoopBus | undefined;
/** Authentication requests asked of the coordinator, by number. */
const authWaiters = new Map<number, (result: AuthenticationResult) => void>();
let authRequests = 0;
/** Connects and closes not yet posted: `0, id` or `1, id, reason`. */
let events: unknown[] = [];
let eventsScheduled = false;

function post(message: unknown): void {
  scope.postMessage(message);
}

function queueEvent(...event: unknown[]): void {
  events.push(...event);
  if (eventsScheduled) return;
  eventsScheduled = true;
  queueMicrotask(() => {
    eventsScheduled = false;
    const list = events;
    events = [];
    post({ t: "events", list });
  });
}

async function init(request: InitRequest): Promise<void> {
  const module = await import(request.recipe.module);
  const make = module[request.recipe.export];
  if (typeof make !== "function") {
    throw new TypeError(
      `Module ${request.recipe.module} has no function ${request.recipe.export} to build the protocol`,
    );
  }
  const protocol = make(request.recipe.options) as ProtocolHandlerFactory;
  if (typeof protocol?.create !== "function") {
    throw new TypeError(
      `${request.recipe.export}(options) of ${request.recipe.module} returned no protocol factory`,
    );
  }
  bus = new LoopBus(request.index, request.ports, {
    write: (id, bytes) => void server?.handle(id).write(bytes),
    close: (id) => void server?.handle(id).close(),
    error: (error) => post({ t: "error", error: errorShape(error) }),
  });
  const runtime: LoopRuntime = {
    index: request.index,
    count: request.count,
    ports: request.listenPorts,
    sequences: request.sequences,
    counters: request.counters.subarray(
      request.row * COUNTER_COUNT,
      (request.row + 1) * COUNTER_COUNT,
    ),
    openConnections: request.openConnections,
    addressCounts: request.addressCounts,
    bus,
    pinnedListener: request.pinned,
  };
  const options = {
    ...request.options,
    protocol,
    [LOOP_RUNTIME]: runtime,
    onError(error: Error, connection?: ConnectionHandle) {
      post({ t: "error", error: errorShape(error), id: connection?.id });
    },
  } as ServerOptions & { [LOOP_RUNTIME]: LoopRuntime };
  if (request.authenticate) {
    // The hook lives on the coordinating thread: ask it there (the server bounds the wait).
    options.authenticate = (auth) =>
      new Promise<AuthenticationResult>((resolve) => {
        const n = ++authRequests;
        authWaiters.set(n, resolve);
        post({ t: "auth", n, request: auth });
      });
  }
  if (request.events) {
    options.onConnect = (connection) => queueEvent(0, connection.id);
    options.onClose = (connection, reason) =>
      queueEvent(1, connection.id, reason === undefined ? null : errorShape(reason));
  }
  server = new Server(options);
  const address = await server.listen();
  post({
    t: "listening",
    address,
    addresses: server.addresses,
    pinned: server.pinnedAddresses,
  });
}

scope.onmessage = (event: MessageEvent) => {
  const message = event.data;
  switch (message.t) {
    case "init":
      init(message).catch((error) => post({ t: "failed", error: errorShape(error) }));
      break;
    case "ops": {
      const list = message.list as unknown[];
      for (let i = 0; i < list.length;) {
        const handle = server?.handle(list[i + 1] as number);
        if (list[i] === 0) {
          handle?.write(list[i + 2] as Uint8Array);
          i += 3;
        } else {
          handle?.close();
          i += 2;
        }
      }
      break;
    }
    case "resize":
      server!.resize(message.workers).then(
        () => post({ t: "resized", request: message.request }),
        (error) => post({ t: "resized", request: message.request, error: errorShape(error) }),
      );
      break;
    case "authed": {
      const resolve = authWaiters.get(message.n);
      authWaiters.delete(message.n);
      resolve?.(message.result);
      break;
    }
    case "peer":
      bus?.replacePort(message.loop, message.port);
      break;
    case "shutdown":
      (server?.close() ?? Promise.resolve()).finally(() => {
        // Connects and closes of the shutdown reach the hooks before the loop says it is done.
        if (events.length > 0) {
          post({ t: "events", list: events });
          events = [];
        }
        post({ t: "closed" });
      });
      break;
    case "crash":
      setTimeout(() => {
        throw new Error("crashed on purpose (a test hook)");
      });
      break;
  }
};
