/** The RPC server and client over a real Unix domain socket. */

import { assertEquals } from "@std/assert";
import { connectRpc } from "./rpc_client.ts";
import { rpcServer } from "./rpc_server.ts";
import { Services } from "./services.ts";

Deno.test({
  name: 'rpcServer and connectRpc with transport "unix" make calls',
  ignore: Deno.build.os === "windows",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "speedo_unix_" });
    const path = `${dir}/rpc.sock`;
    try {
      const services = new Services().service(1, ({ body }) => body.toReversed());
      await using server = rpcServer({ transport: "unix", path, handler: services });
      await server.listen();
      await using rpc = await connectRpc({ transport: "unix", path, timeout: 5000 });
      const calls = await Promise.all(
        Array.from({ length: 20 }, (_, i) => rpc.call(1, new Uint8Array([i, 1, 2]))),
      );
      assertEquals(calls[7], new Uint8Array([2, 1, 7]));
      assertEquals(calls.length, 20);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
