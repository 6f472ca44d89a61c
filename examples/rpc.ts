/**
 * RPC in one run: `deno run -A examples/rpc.ts` starts an RPC server with three services on
 * 127.0.0.1 (a free port, or `--port`), calls each with an `RpcClient`, prints what came back,
 * and exits 0 when every answer was the expected one. `--help` prints the usage; a bad flag
 * exits 2 with one line on stderr. `--loops` (1; N or `auto`) is refused for now (exit 2): the
 * services are a `Services` object of this module, which cannot cross to a loop's thread.
 *
 * ```
 * $ deno run -A examples/rpc.ts
 * Speedo RPC listening on 127.0.0.1:40001 (services: 1 upper, 2 add, 3 wait)
 * upper("hello speedo") -> "HELLO SPEEDO"
 * add(2, 40) -> 42
 * 100 calls side by side -> 100 answers
 * wait(10000 ms), timeout 100 ms -> RpcTimeoutError; the server's handler was cancelled
 * type 99 -> RpcUnknownTypeError: No service for message type 99
 * ```
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { exampleArgs, loopsFlag, portFlag, serverOrExit } from "./_args.ts";
import { hostPort } from "./_address.ts";
import {
  connectRpc,
  rpcServer,
  RpcTimeoutError,
  RpcUnknownTypeError,
  Services,
} from "@speedo/speedo/rpc";

const { port, loops } = exampleArgs({
  name: "examples/rpc.ts",
  summary:
    "RPC in one run: a server with three services, called by a client; exits 0 when every answer was the expected one",
}, {
  port: portFlag({ default: 0, help: "port the server listens on; 0 picks a free one" }),
  loops: loopsFlag(),
});

const Upper = 1;
const Add = 2;
const Wait = 3;
const text = new TextDecoder();
const cancelled = Promise.withResolvers<void>();

const services = new Services()
  .service(Upper, ({ body }) => text.decode(body).toUpperCase())
  .service(Add, ({ body }) => {
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    const sum = new Uint8Array(4);
    new DataView(sum.buffer).setUint32(0, view.getUint32(0, true) + view.getUint32(4, true), true);
    return sum;
  })
  // Waits the body's milliseconds, or until the caller gives up (its signal aborts).
  .service(Wait, ({ body, signal }) =>
    new Promise<string>((resolve, reject) => {
      const ms = new DataView(body.buffer, body.byteOffset, body.length).getUint32(0, true);
      const timer = setTimeout(() => resolve("waited"), ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        cancelled.resolve();
        reject(signal.reason);
      });
    }));
await using server = serverOrExit(() => rpcServer({ port, loops, handler: services }));
const address = await server.listen();
console.log(
  `Speedo RPC listening on ${hostPort(address)} (services: 1 upper, 2 add, 3 wait)`,
);

const u32s = (...values: number[]) => {
  const bytes = new Uint8Array(values.length * 4);
  values.forEach((value, i) => new DataView(bytes.buffer).setUint32(i * 4, value, true));
  return bytes;
};
let failures = 0;
const expect = (label: string, got: string, wanted: string) => {
  console.log(`${label} -> ${got}`);
  if (got !== wanted) {
    failures++;
    console.error(`  expected ${wanted}`);
  }
};

await using rpc = await connectRpc({ port: address.port, timeout: 5000 });
expect(
  'upper("hello speedo")',
  JSON.stringify(text.decode(await rpc.call(Upper, "hello speedo"))),
  '"HELLO SPEEDO"',
);
const sum = await rpc.call(Add, u32s(2, 40));
expect("add(2, 40)", String(new DataView(sum.buffer, sum.byteOffset).getUint32(0, true)), "42");
const answers = await Promise.all(
  Array.from({ length: 100 }, (_, i) => rpc.call(Upper, `call ${i}`)),
);
const right = answers.filter((body, i) => text.decode(body) === `CALL ${i}`).length;
expect("100 calls side by side", `${right} answers`, "100 answers");
try {
  await rpc.call(Wait, u32s(10_000), { timeout: 100 });
  expect("wait(10000 ms), timeout 100 ms", "an answer", "RpcTimeoutError");
} catch (error) {
  const seen = await deadline(cancelled.promise, 5000).then(() => true, () => false);
  expect(
    "wait(10000 ms), timeout 100 ms",
    `${error instanceof RpcTimeoutError ? "RpcTimeoutError" : error}; ${
      seen ? "the server's handler was cancelled" : "the server never heard"
    }`,
    "RpcTimeoutError; the server's handler was cancelled",
  );
}
try {
  await rpc.call(99, "?");
  expect("type 99", "an answer", "RpcUnknownTypeError");
} catch (error) {
  expect(
    "type 99",
    error instanceof RpcUnknownTypeError ? `${error.name}: ${error.remoteMessage}` : String(error),
    "RpcUnknownTypeError: No service for message type 99",
  );
}
if (failures > 0) Deno.exitCode = 1;
