/**
 * RPC services for tests and benches, as a handler module (its default export is the
 * `Services`), so that workers can load it.
 *
 * | type | service   | does                                                              |
 * | ---- | --------- | ----------------------------------------------------------------- |
 * | 1    | `echo`    | answers the body                                                  |
 * | 2    | `add`     | answers the sum of the body's u32 little-endian numbers, as u32   |
 * | 3    | `fail`    | throws `RangeError("bad input: <body>")`                          |
 * | 4    | `sleep`   | waits the body's u32 milliseconds, then answers "slept"           |
 * | 5    | `worker`  | answers `worker <index>` (-1 inline)                              |
 * | 6    | `crash`   | never settles and throws from a timer: its worker dies            |
 * | 7    | `hold`    | answers the body once a `release` comes (to this thread)          |
 * | 8    | `release` | lets every `hold` waiting in this thread answer; answers how many |
 * | 9    | `untilCancelled` | waits until the caller cancels the call (its signal aborts)  |
 * | 10   | `cancelled` | answers `<cancelled>/<started>`: `untilCancelled` calls of this thread |
 * | 11   | `identity` | answers the caller's `request.identity` as JSON (`null` without one)    |
 *
 * @module
 */

import { Services } from "../../protocols/rpc/services.ts";

/** The service types of this fixture. */
export const RpcFixture = {
  echo: 1,
  add: 2,
  fail: 3,
  sleep: 4,
  worker: 5,
  crash: 6,
  hold: 7,
  release: 8,
  untilCancelled: 9,
  cancelled: 10,
  identity: 11,
} as const;

const text = new TextDecoder();
/** The `hold` calls waiting for a `release`. */
let held: (() => void)[] = [];
let cancelled = 0;
let started = 0;

function u32s(body: Uint8Array): number[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return Array.from({ length: body.length >> 2 }, (_, i) => view.getUint32(i * 4, true));
}

const services: Services = new Services()
  .service(RpcFixture.echo, ({ body }) => body)
  .service(RpcFixture.add, ({ body }) => {
    const sum = new Uint8Array(4);
    new DataView(sum.buffer).setUint32(0, u32s(body).reduce((a, b) => a + b, 0), true);
    return sum;
  })
  .service(RpcFixture.fail, ({ body }) => {
    throw new RangeError(`bad input: ${text.decode(body)}`);
  })
  .service(RpcFixture.sleep, async ({ body }) => {
    await new Promise((resolve) => setTimeout(resolve, u32s(body)[0] ?? 0));
    return "slept";
  })
  .service(RpcFixture.worker, ({ context }) => `worker ${context.workerIndex}`)
  .service(RpcFixture.crash, () =>
    new Promise(() => {
      setTimeout(() => {
        // Deno prints a worker's uncaught error even when the pool handles it: say that it is
        // expected, so that a passing run's red trace does not read as a failure.
        console.error(
          "rpc_services: a test crashes this worker on purpose: its 'Uncaught (in worker) Error: crashed on purpose' trace is expected",
        );
        throw new Error("crashed on purpose");
      });
    }))
  .service(RpcFixture.hold, ({ body }) => new Promise((resolve) => held.push(() => resolve(body))))
  .service(RpcFixture.release, () => {
    const waiting = held;
    held = [];
    for (const release of waiting) release();
    return String(waiting.length);
  })
  .service(RpcFixture.untilCancelled, ({ signal }) =>
    new Promise((_, reject) => {
      started++;
      signal.addEventListener("abort", () => {
        cancelled++;
        reject(signal.reason);
      });
    }))
  .service(RpcFixture.cancelled, () => `${cancelled}/${started}`)
  .service(RpcFixture.identity, ({ identity }) => JSON.stringify(identity ?? null));

export default services;
