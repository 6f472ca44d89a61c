/**
 * The services of `examples/rpc.ts`, as a handler module (its default export is the
 * `Services`): every I/O loop of the server loads it (inline, `workers: 0`), which a `Services`
 * object of the example itself could not do.
 *
 * | type | service     | does                                                                   |
 * | ---- | ----------- | ---------------------------------------------------------------------- |
 * | 1    | `upper`     | answers the body upper-cased                                           |
 * | 2    | `add`       | answers the sum of the body's two u32 (little-endian), as a u32        |
 * | 3    | `wait`      | answers "waited" after the body's u32 milliseconds, unless cancelled   |
 * | 4    | `cancelled` | answers "cancelled" once the connection's last `wait` is cancelled     |
 *
 * `cancelled` answers "not cancelled" if no cancel comes within 5 s, and "no wait" when the
 * connection has no `wait` running or cancelled. It lets the caller see a cancel on the server from another thread: a cancel
 * travels on the call's connection, and so does the question, to the same loop and the same
 * copy of this module.
 *
 * @module
 */

import { Services } from "@speedo/speedo/rpc";

/** The service types. */
export const RpcExample = { upper: 1, add: 2, wait: 3, cancelled: 4 } as const;

/** How long `cancelled` waits for a cancel before it answers "not cancelled". */
const CANCEL_PATIENCE_MS = 5000;

const text = new TextDecoder();
/** Per connection id: its last `wait`, settled when that call is cancelled. */
const waits = new Map<number, PromiseWithResolvers<void>>();

function u32(body: Uint8Array, index: number): number {
  return new DataView(body.buffer, body.byteOffset, body.length).getUint32(index * 4, true);
}

const services: Services = new Services()
  .service(RpcExample.upper, ({ body }) => text.decode(body).toUpperCase())
  .service(RpcExample.add, ({ body }) => {
    const sum = new Uint8Array(4);
    new DataView(sum.buffer).setUint32(0, u32(body, 0) + u32(body, 1), true);
    return sum;
  })
  // Waits the body's milliseconds, or until the caller gives up (its signal aborts).
  .service(RpcExample.wait, ({ body, signal, connection }) => {
    const cancelled = Promise.withResolvers<void>();
    waits.set(connection.id, cancelled);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (waits.get(connection.id) === cancelled) waits.delete(connection.id);
        resolve("waited");
      }, u32(body, 0));
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        cancelled.resolve();
        reject(signal.reason);
      });
    });
  })
  .service(RpcExample.cancelled, async ({ connection, signal }) => {
    const wait = waits.get(connection.id);
    if (wait === undefined) return "no wait";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const patience = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("not cancelled"), CANCEL_PATIENCE_MS);
      signal.addEventListener("abort", () => resolve("not cancelled"));
    });
    try {
      return await Promise.race([wait.promise.then(() => "cancelled"), patience]);
    } finally {
      clearTimeout(timer);
      waits.delete(connection.id);
    }
  });

export default services;
