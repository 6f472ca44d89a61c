/**
 * Integration tests of RPC over real loopback sockets, with the services in a worker and
 * inline. Every wait has a deadline; nothing sleeps to synchronise.
 */

import { assert, assertEquals, assertInstanceOf, assertRejects, assertThrows } from "@std/assert";
import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { Server } from "../../core/server.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import fixtureServices, { RpcFixture } from "../../testing/_fixtures/rpc_services.ts";
import {
  connectRpc,
  type RpcClient,
  RpcConnectionError,
  RpcRemoteError,
  rpcServer,
  RpcTimeoutError,
  RpcUnknownTypeError,
  Services,
} from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const FIXTURE = new URL("../../testing/_fixtures/rpc_services.ts", import.meta.url);
const text = new TextDecoder();

function server(
  workers: number,
  options: { port?: number; concurrency?: number } = {},
): Server {
  const common = { port: options.port ?? 0, concurrency: options.concurrency, onError: () => {} };
  return workers === 0
    ? rpcServer({ handler: fixtureServices, ...common })
    : rpcServer({ handler: FIXTURE, workers, ...common });
}

/** The fixture's `cancelled/started` counts of `untilCancelled` calls in the services' thread. */
async function cancelCounts(rpc: RpcClient): Promise<[number, number]> {
  const [cancelled, started] = text.decode(await rpc.call(RpcFixture.cancelled)).split("/");
  return [Number(cancelled), Number(started)];
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

for (const workers of [1, 0]) {
  Deno.test(
    `RPC matches 50 concurrent callers' calls to their replies (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers);
      const { port } = await srv.listen();
      await using shared = await connectRpc({ port });
      const callers = Array.from({ length: 50 }, async (_, c) => {
        for (let i = 0; i < 20; i++) {
          const body = `caller ${c} call ${i} ${"#".repeat((c * 7 + i) % 50)}`;
          assertEquals(text.decode(await shared.call(RpcFixture.echo, body)), body);
        }
      });
      await within(Promise.all(callers), "1000 calls", 15_000);
      const sum = await shared.call(RpcFixture.add, new Uint8Array([...u32(40), ...u32(2)]));
      assertEquals(new DataView(sum.buffer, sum.byteOffset).getUint32(0, true), 42);
      assertEquals(shared.pending, 0);
      assertEquals(srv.stats().messagesIn, 1001);
    },
  );

  Deno.test(
    `RPC rejects with the remote error, and answers an unknown type (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers);
      const { port } = await srv.listen();
      await using rpc = await connectRpc({ port });
      const remote = await assertRejects(() => rpc.call(RpcFixture.fail, "oops"), RpcRemoteError);
      assertEquals([remote.remoteName, remote.remoteMessage], ["RangeError", "bad input: oops"]);
      const unknown = await assertRejects(() => rpc.call(999, "?"), RpcUnknownTypeError);
      assertEquals(unknown.type, 999);
      assertEquals(text.decode(await rpc.call(RpcFixture.worker)), `worker ${workers - 1}`);
      assert(await rpc.ping() >= 0);
    },
  );

  Deno.test(
    `RPC times out and aborts calls, and the connection goes on (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers);
      const { port } = await srv.listen();
      await using rpc = await connectRpc({ port });
      const timedOut = await assertRejects(
        () => rpc.call(RpcFixture.sleep, u32(300), { timeout: 50 }),
        RpcTimeoutError,
      );
      assertEquals(timedOut.timeout, 50);
      const controller = new AbortController();
      const aborted = rpc.call(RpcFixture.sleep, u32(10), { signal: controller.signal });
      controller.abort(new Error("not needed"));
      await assertRejects(() => aborted, Error, "not needed");
      assertEquals(rpc.pending, 0);
      assertEquals(
        text.decode(await rpc.call(RpcFixture.echo, "after", { timeout: 5000 })),
        "after",
      );
      await waitFor(() => srv.stats().messagesOut === 3, "the late replies to be written");
    },
  );
}

for (const workers of [1, 0]) {
  Deno.test(
    `RPC answers a connection's calls as they finish: a held call does not hold the calls behind it (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers);
      const { port } = await srv.listen();
      await using rpc = await connectRpc({ port });
      const settled: string[] = [];
      const held = ["first", "second"].map((body) =>
        rpc.call(RpcFixture.hold, body).then((reply) => void settled.push(text.decode(reply)))
      );
      // Later reads must not overwrite the held requests' bodies (inline, a view of the read
      // buffer): many calls arrive behind them.
      for (let i = 0; i < 20; i++) {
        assertEquals(text.decode(await rpc.call(RpcFixture.echo, `fast ${i}`)), `fast ${i}`);
      }
      assertEquals(settled, []);
      assertEquals(text.decode(await rpc.call(RpcFixture.release)), "2");
      await within(Promise.all(held), "the held calls", 5000);
      assertEquals(settled.sort(), ["first", "second"]);
      await waitFor(() => srv.stats().queueDepth === 0, "every message done");
    },
  );

  Deno.test(
    `RPC tells the server of a call aborted or timed out: its handler's signal aborts (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers);
      const { port } = await srv.listen();
      await using rpc = await connectRpc({ port, timeout: 50 });
      // Inline, the fixture's counts are this process's: count from what they are now.
      const [cancelled0, started0] = await cancelCounts(rpc);
      const cancelledSoFar = async () => {
        const [cancelled, started] = await cancelCounts(rpc);
        return `${cancelled - cancelled0}/${started - started0}`;
      };
      const controller = new AbortController();
      const aborted = rpc.call(RpcFixture.untilCancelled, "", { signal: controller.signal });
      controller.abort(new Error("changed my mind"));
      await assertRejects(() => aborted, Error, "changed my mind");
      // The cancel left before the next call, on the same connection: it is handled first.
      assertEquals(await cancelledSoFar(), "1/1");
      await assertRejects(
        () => rpc.call(RpcFixture.untilCancelled, "", { timeout: 30 }),
        RpcTimeoutError,
      );
      assertEquals(await cancelledSoFar(), "2/2");
      // The client's default timeout (50 ms here), which one timer serves for many calls.
      await assertRejects(() => rpc.call(RpcFixture.untilCancelled), RpcTimeoutError);
      assertEquals(await cancelledSoFar(), "3/3");
      await waitFor(() => srv.stats().queueDepth === 0, "the cancelled calls done");
    },
  );

  // A worker at concurrency 1 waits for the call it runs: no cancel can reach it there.
  for (const concurrency of workers === 0 ? [1, 2] : [2]) {
    Deno.test(
      `RPC cancels calls that fill the connection's places, and the call waiting behind them never runs (workers: ${workers}, concurrency: ${concurrency})`,
      SANITIZED,
      async () => {
        await using srv = server(workers, { concurrency });
        const { port } = await srv.listen();
        await using rpc = await connectRpc({ port });
        await using other = await connectRpc({ port });
        const [cancelled0, started0] = await cancelCounts(other);
        // `concurrency` calls run; one more waits for a place. The cancels overtake it.
        const calls = Array.from({ length: concurrency + 1 }, () =>
          assertRejects(
            () => rpc.call(RpcFixture.untilCancelled, "", { timeout: 50 }),
            RpcTimeoutError,
          ));
        await within(Promise.all(calls), "the calls to time out", 5000);
        await waitFor(() => srv.stats().queueDepth === 0, "every message done");
        const [cancelled, started] = await cancelCounts(other);
        assertEquals(
          [cancelled - cancelled0, started - started0],
          [concurrency, concurrency],
          "the running calls cancelled; the waiting one never started",
        );
        assertEquals(text.decode(await rpc.call(RpcFixture.echo, "still open")), "still open");
      },
    );
  }

  Deno.test(
    `RPC with concurrency 1 answers a connection's calls in order (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers, { concurrency: 1 });
      const { port } = await srv.listen();
      await using rpc = await connectRpc({ port });
      const order: string[] = [];
      // The sleep ends 100 ms later; the echo behind it is ready at once but waits its turn.
      const slow = rpc.call(RpcFixture.sleep, u32(100)).then(() => void order.push("slept"));
      const behind = rpc.call(RpcFixture.echo, "behind").then(() => void order.push("behind"));
      await within(Promise.all([slow, behind]), "both calls", 5000);
      assertEquals(order, ["slept", "behind"]);
    },
  );
}

Deno.test(
  "RPC fails the calls of a connection whose worker died (workers: 1)",
  SANITIZED,
  async () => {
    // One at a time, so the call behind the crash is surely still held when the worker dies.
    await using srv = server(1, { concurrency: 1 });
    const { port } = await srv.listen();
    const errors: Error[] = [];
    await using rpc = await connectRpc({ port, onError: (error) => void errors.push(error) });
    const lost = rpc.call(RpcFixture.crash, "", { timeout: 10_000 });
    const behind = rpc.call(RpcFixture.echo, "behind", { timeout: 10_000 });
    await assertRejects(() => lost, RpcConnectionError);
    await assertRejects(() => behind, RpcConnectionError);
    assertInstanceOf(errors[0], RpcRemoteError);
    assertEquals((errors[0] as RpcRemoteError).remoteMessage.includes("crashed on purpose"), true);
    await using again = await connectRpc({ port });
    assertEquals(text.decode(await again.call(RpcFixture.worker)), "worker 1");
  },
);

Deno.test("RpcClient reconnects after the server restarts and calls again", SANITIZED, async () => {
  const first = server(0);
  const { port } = await first.listen();
  await using rpc = await connectRpc({ port, reconnect: { initialDelay: 20, maxDelay: 100 } });
  assertEquals(text.decode(await rpc.call(RpcFixture.echo, "one")), "one");
  await first.close();
  await waitFor(() => !rpc.connected, "the client to see the server go");
  await assertRejects(() => rpc.call(RpcFixture.echo, "lost"), RpcConnectionError, "Not connected");
  await using second = server(0, { port });
  await second.listen();
  await waitFor(() => rpc.connected, "the client to reconnect");
  assertEquals(text.decode(await rpc.call(RpcFixture.echo, "two")), "two");
});

Deno.test(
  "rpcServer runs the app's Services table, filled before and after listen, and is a plain Server; a module's server has no table to fill",
  SANITIZED,
  async () => {
    const services = new Services().service(1, ({ body }) => `${body.length} bytes`);
    await using srv = rpcServer({ handler: services });
    assertEquals(Object.getPrototypeOf(srv), Server.prototype);
    const { port } = await srv.listen();
    await using rpc = await connectRpc({ port });
    assertEquals(text.decode(await rpc.call(1, "four")), "4 bytes");
    await assertRejects(() => rpc.call(2, "later"), RpcUnknownTypeError);
    services.service(2, ({ body }) => text.decode(body).toUpperCase());
    assertEquals(text.decode(await rpc.call(2, "later")), "LATER");
    assertThrows(() => services.service(2, () => "again"), TypeError, "already");
    assertThrows(() => services.service(0, () => {}), RangeError);
    const fromModule = rpcServer({ handler: FIXTURE, workers: 1 });
    assertEquals("service" in fromModule, false, "services of a module are declared in it");
    assertThrows(
      () => rpcServer({ handler: fixtureServices, workers: 1 }),
      TypeError,
      "A Services object runs inline only, got workers: 1",
    );
    assertThrows(
      () => rpcServer({ handler: 3 as unknown as URL }),
      TypeError,
      "rpcServer needs handler: a Services object or the URL of a module whose default export is one, got 3",
    );
    assertThrows(
      () => rpcServer({ handler: services, rpc: { maxFrameSize: 8 } }),
      RangeError,
      "maxFrameSize must be an integer from 24 to 65535, got 8",
    );
  },
);

Deno.test(
  "rpcServer tells its inline services of each closed connection, and still calls its onClose",
  SANITIZED,
  async () => {
    const servicesSaw: number[] = [];
    class ClosesSeen extends Services {
      override onClose(connection: ConnectionHandle): void {
        servicesSaw.push(connection.id);
        super.onClose(connection);
      }
    }
    const closed = Promise.withResolvers<number>();
    await using srv = rpcServer({
      handler: new ClosesSeen().service(1, () => "one"),
      onClose: (connection) => closed.resolve(connection.id),
    });
    const { port } = await srv.listen();
    const rpc = await connectRpc({ port });
    assertEquals(text.decode(await rpc.call(1)), "one");
    await rpc.close();
    const id = await within(closed.promise, "the server to see the close", 5000);
    assertEquals(servicesSaw, [id]);
  },
);
