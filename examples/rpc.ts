/**
 * RPC in one run: `deno run -A examples/rpc.ts` starts an RPC server with the services of
 * `_rpc_services.ts` on 127.0.0.1 (a free port, or `--port`), calls each with an `RpcClient`,
 * prints what came back, and exits 0 when every answer was the expected one. `--loops` (1; N or
 * `auto`) runs the server on that many I/O loops, each loading the services module. `--help`
 * prints the usage; a bad flag exits 2 with one line on stderr.
 *
 * ```
 * $ deno run -A examples/rpc.ts
 * Speedo RPC listening on 127.0.0.1:40001 (services: 1 upper, 2 add, 3 wait, 4 cancelled)
 * upper("hello speedo") -> "HELLO SPEEDO"
 * add(2, 40) -> 42
 * 100 calls side by side -> 100 answers
 * wait(10000 ms), timeout 100 ms -> RpcTimeoutError; the server's handler was cancelled
 * type 99 -> RpcUnknownTypeError: No service for message type 99
 * ```
 *
 * @module
 */

import { exampleArgs, loopCount, loopsFlag, portFlag, serverOrExit } from "./_args.ts";
import { hostPort } from "./_address.ts";
import { connectRpc, rpcServer, RpcTimeoutError, RpcUnknownTypeError } from "@speedo/speedo/rpc";
import { RpcExample } from "./_rpc_services.ts";

const { port, loops } = exampleArgs({
  name: "examples/rpc.ts",
  summary:
    "RPC in one run: a server with four services, called by a client; exits 0 when every answer was the expected one",
}, {
  port: portFlag({ default: 0, help: "port the server listens on; 0 picks a free one" }),
  loops: loopsFlag(),
});

const { upper: Upper, add: Add, wait: Wait, cancelled: Cancelled } = RpcExample;
const text = new TextDecoder();

// The services are a module (its default export is a `Services`) that each loop loads and
// runs inline: one loop or several, the same code.
await using server = serverOrExit(() =>
  rpcServer({ port, loops, handler: new URL("./_rpc_services.ts", import.meta.url) })
);
const address = await server.listen();
const running = loopCount(server.stats().loops.length);
console.log(
  `Speedo RPC listening on ${hostPort(address)} (${
    running === "" ? "" : `${running}; `
  }services: 1 upper, 2 add, 3 wait, 4 cancelled)`,
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
  // Asked on the same connection, so of the same loop: did the wait's signal abort?
  const seen = text.decode(await rpc.call(Cancelled, "")) === "cancelled";
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
