/**
 * `rpcServer` with `loops: 2`: each loop builds the RPC protocol from its recipe and loads the
 * services module, inline (`workers: 0`) or in its own workers. A test reaches each loop
 * through the `PINNED_LOOPS` hook (every loop also listens on a port of its own). Every wait
 * has a deadline; nothing sleeps to synchronise.
 */

import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import type { Server } from "../../core/server.ts";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { waitFor } from "../../testing/_socket_client.ts";
import fixtureServices, { RpcFixture } from "../../testing/_fixtures/rpc_services.ts";
import {
  connectRpc,
  type RpcClient,
  rpcProtocol,
  rpcServer,
  type RpcServerOptions,
} from "./mod.ts";
import { RpcAuthenticationError, RpcTimeoutError } from "./rpc_errors.ts";

const FIXTURE = new URL("../../testing/_fixtures/rpc_services.ts", import.meta.url);
const text = new TextDecoder();

/** The port of loop `loop`'s own listener. */
function loopPort(server: Server, loop: number): number {
  return loopGroups.get(server)!.pinnedAddress(loop)!.port;
}

/** The fixture's `cancelled/started` counts of `untilCancelled` calls in the services' thread. */
async function cancelCounts(rpc: RpcClient): Promise<[number, number]> {
  const [cancelled, started] = text.decode(await rpc.call(RpcFixture.cancelled)).split("/");
  return [Number(cancelled), Number(started)];
}

for (const workers of [0, 1]) {
  Deno.test(`rpcServer with loops: 2 answers and cancels calls on both loops (workers: ${workers})`, async () => {
    await using server = rpcServer({
      port: 0,
      loops: 2,
      workers,
      handler: FIXTURE,
      onError: () => {},
      [PINNED_LOOPS]: true,
    } as RpcServerOptions);
    await server.listen();
    const clients = await Promise.all(
      [0, 1].map((loop) => connectRpc({ port: loopPort(server, loop), timeout: 5000 })),
    );
    try {
      for (const [loop, rpc] of clients.entries()) {
        assertEquals(text.decode(await rpc.call(RpcFixture.echo, `loop ${loop}`)), `loop ${loop}`);
        // The services run on the loop's thread (-1) with workers: 0, else in its worker 0.
        assertEquals(
          text.decode(await rpc.call(RpcFixture.worker)),
          `worker ${workers === 0 ? -1 : 0}`,
        );
        const answers = await Promise.all(
          Array.from({ length: 50 }, (_, i) => rpc.call(RpcFixture.echo, `${loop}.${i}`)),
        );
        assertEquals(
          answers.map((body) => text.decode(body)),
          answers.map((_, i) => `${loop}.${i}`),
        );
      }
      for (const rpc of clients) {
        // Counted in the thread that runs this loop's services: from what they are now.
        const [cancelled0, started0] = await cancelCounts(rpc);
        const controller = new AbortController();
        const aborted = rpc.call(RpcFixture.untilCancelled, "", { signal: controller.signal });
        controller.abort(new Error("changed my mind"));
        await assertRejects(() => aborted, Error, "changed my mind");
        await assertRejects(
          () => rpc.call(RpcFixture.untilCancelled, "", { timeout: 30 }),
          RpcTimeoutError,
        );
        const [cancelled, started] = await cancelCounts(rpc);
        assertEquals([cancelled - cancelled0, started - started0], [2, 2]);
      }
      await waitFor(() => server.stats().queueDepth === 0, "every call done");
      const stats = server.stats();
      assertEquals(stats.loops.map((row) => row.accepted), [1, 1]);
      assertEquals(stats.loops.map((row) => row.workers), [workers, workers]);
    } finally {
      await Promise.all(clients.map((rpc) => rpc.close()));
    }
  });
}

Deno.test("rpcServer with loops above 1 refuses a Services object", () => {
  for (const loops of [2, "auto"] as const) {
    assertThrows(
      () => rpcServer({ port: 0, loops, handler: fixtureServices }),
      TypeError,
      "needs handler to be the URL of a module",
    );
  }
});

Deno.test("rpcProtocol has a recipe with its frame size", () => {
  const recipe = rpcProtocol({ maxFrameSize: 1024 }).recipe!;
  assertEquals(recipe.export, "rpcProtocol");
  assertEquals(structuredClone(recipe.options), { maxFrameSize: 1024 });
});

Deno.test("rpcServer with loops: 2 asks the authenticator here for both loops, and the identity reaches each loop's services", async () => {
  const asked: string[] = [];
  await using server = rpcServer({
    port: 0,
    loops: 2,
    workers: 0,
    handler: FIXTURE,
    onError: () => {},
    authenticate: ({ credentials }) => {
      asked.push(String(credentials.token));
      return credentials.token === "good"
        ? { name: "carol", grants: { level: 2 } }
        : { refused: "bad token" };
    },
    [PINNED_LOOPS]: true,
  } as RpcServerOptions);
  await server.listen();
  for (const loop of [0, 1]) {
    const port = loopPort(server, loop);
    await assertRejects(
      () => connectRpc({ port, timeout: 5000, credentials: { token: "bad" }, onError: () => {} }),
      RpcAuthenticationError,
    );
    await using rpc = await connectRpc({ port, timeout: 5000, credentials: { token: "good" } });
    assertEquals(JSON.parse(text.decode(await rpc.call(RpcFixture.identity))), {
      name: "carol",
      grants: { level: 2 },
    });
  }
  assertEquals(asked, ["bad", "good", "bad", "good"]);
});
