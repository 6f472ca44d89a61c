/**
 * RPC with the server's authenticator, over real loopback sockets, with the services inline
 * and in a worker: calls without credentials and with wrong ones are refused, and the
 * services see the identity of a caller that authenticated. Every wait has a deadline.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import type { AuthenticationRequest, Authenticator } from "../../core/authentication.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { waitFor, within } from "../../testing/_socket_client.ts";
import fixtureServices, { RpcFixture } from "../../testing/_fixtures/rpc_services.ts";
import { connectRpc, RpcAuthenticationError, RpcConnectionError, rpcServer } from "./mod.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const FIXTURE = new URL("../../testing/_fixtures/rpc_services.ts", import.meta.url);
const text = new TextDecoder();

/** Alice with a password, and a token worth Bob; records what it was asked. */
function users(asked: AuthenticationRequest[] = []): Authenticator {
  return (request) => {
    asked.push(request);
    const { user, pass, token } = request.credentials;
    if (user === "alice" && pass === "wonder") {
      return { name: "alice", grants: { services: [RpcFixture.identity] } };
    }
    if (token === "bob-token") return { name: "bob" };
    return { refused: "bad credentials" };
  };
}

function server(workers: number, authenticate?: Authenticator) {
  return rpcServer({
    port: 0,
    onError: () => {},
    authenticate,
    ...(workers === 0 ? { handler: fixtureServices } : { handler: FIXTURE, workers }),
  });
}

for (const workers of [0, 1]) {
  Deno.test(
    `RPC with an authenticator refuses calls without credentials, and closes (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers, users());
      const { port } = await srv.listen();
      await using rpc = await connectRpc({ port, timeout: 5000, onError: () => {} });
      const error = await assertRejects(
        () => rpc.call(RpcFixture.echo, "hi"),
        RpcAuthenticationError,
      );
      assertEquals(error.message, "Authentication required: send credentials first");
      await waitFor(() => !rpc.connected, "the server's close");
      await assertRejects(() => rpc.call(RpcFixture.echo, "hi"), RpcConnectionError);
    },
  );

  Deno.test(
    `RPC with an authenticator refuses wrong credentials at connectRpc (workers: ${workers})`,
    SANITIZED,
    async () => {
      const asked: AuthenticationRequest[] = [];
      await using srv = server(workers, users(asked));
      const { port } = await srv.listen();
      for (
        const credentials of [{ user: "alice", pass: "guess" }, { token: "nope" }, {}] as Record<
          string,
          string
        >[]
      ) {
        const error = await assertRejects(
          () => connectRpc({ port, timeout: 5000, credentials, onError: () => {} }),
          RpcAuthenticationError,
        );
        assertEquals(error.message, "Authentication failed");
      }
      assertEquals(asked.map((request) => request.protocol), ["rpc", "rpc", "rpc"]);
      assertEquals(asked[0].credentials, { user: "alice", pass: "guess" });
    },
  );

  Deno.test(
    `RPC services see the identity of a caller the authenticator accepted (workers: ${workers})`,
    SANITIZED,
    async () => {
      await using srv = server(workers, users());
      const { port } = await srv.listen();
      await using alice = await connectRpc({
        port,
        timeout: 5000,
        credentials: { user: "alice", pass: "wonder" },
      });
      assertEquals(await alice.authenticated, "alice");
      for (let i = 0; i < 3; i++) {
        assertEquals(JSON.parse(text.decode(await alice.call(RpcFixture.identity))), {
          name: "alice",
          grants: { services: [RpcFixture.identity] },
        });
      }
      assertEquals(text.decode(await alice.call(RpcFixture.echo, "body intact")), "body intact");
      await using bob = await connectRpc({
        port,
        timeout: 5000,
        credentials: { token: "bob-token" },
      });
      assertEquals(JSON.parse(text.decode(await bob.call(RpcFixture.identity))), { name: "bob" });
      assert((await bob.ping()) >= 0);
    },
  );
}

Deno.test(
  "RPC without an authenticator: services see no identity, credentials are answered, a forged identity is refused",
  SANITIZED,
  async () => {
    await using srv = server(0);
    const { port } = await srv.listen();
    await using rpc = await connectRpc({ port, timeout: 5000, credentials: { token: "x" } });
    assertEquals(await rpc.authenticated, "");
    assertEquals(text.decode(await rpc.call(RpcFixture.identity)), "null");

    // A peer that sets the identity flag itself: refused before any service runs.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const identity = new TextEncoder().encode('{"name":"admin"}');
      const payload = new Uint8Array(8 + identity.length);
      payload.set([1, 1, identity.length, 0, 7, 0, 0, 0]);
      payload.set(identity, 8);
      await conn.write(new HeaderEncoder().encode(RpcFixture.identity, payload));
      const reply = new Uint8Array(256);
      const read = await within(conn.read(reply), "the refusal");
      assert(read !== null);
      assertEquals(reply[8], 3, "an error frame");
      assert(text.decode(reply.subarray(16, read ?? 0)).includes("must be 0"));
    } finally {
      conn.close();
    }
  },
);
