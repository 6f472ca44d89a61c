import { assert, assertEquals, assertMatch } from "@std/assert";
import type { AuthenticationRequest, Authenticator } from "./authentication.ts";
import { Server, type ServerOptions } from "./server.ts";
import { loopGroups, PINNED_LOOPS } from "./_loop_group.ts";
import { loginProtocol } from "../testing/_fixtures/login_protocol.ts";
import { SocketClient, within } from "../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../testing/_tls.ts";

const users: Record<string, { pass: string; grants?: unknown }> = {
  alice: { pass: "wonder", grants: { publish: ["a.>"] } },
  bob: { pass: "builder" },
};

/** An authenticator of the users above, recording what it was asked. */
function table(asked: AuthenticationRequest[] = []): Authenticator {
  return (request) => {
    asked.push(request);
    const user = users[String(request.credentials.user)];
    if (user === undefined || user.pass !== request.credentials.pass) {
      return { refused: "bad user or password" };
    }
    return { name: String(request.credentials.user), grants: user.grants };
  };
}

function loginServer(options: Partial<ServerOptions> = {}): Server {
  return new Server({ protocol: loginProtocol(), port: 0, ...options });
}

async function login(port: number, line: string): Promise<[string, string, SocketClient]> {
  const client = await SocketClient.connect(port);
  const greeting = (await client.readLine()).trimEnd();
  const answer = (await client.request(`${line}\n`)).trimEnd();
  return [greeting, answer, client];
}

Deno.test("authenticate: without a hook every peer is accepted as an empty name", async () => {
  await using server = loginServer();
  const { port } = await server.listen();
  const [greeting, answer, client] = await login(port, "LOGIN anyone x");
  using _ = client;
  assertEquals(greeting, "AUTH none");
  assertEquals(answer, "OK  null");
});

Deno.test("authenticate: the hook accepts with a name and grants, and sees the peer", async () => {
  const asked: AuthenticationRequest[] = [];
  await using server = loginServer({ authenticate: table(asked) });
  const { port } = await server.listen();
  const [greeting, answer, client] = await login(port, "LOGIN alice wonder");
  using _ = client;
  assertEquals(greeting, "AUTH required");
  assertEquals(answer, 'OK alice {"publish":["a.>"]}');
  assertEquals((await client.request("hello\n")).trimEnd(), "ME alice");
  assertEquals(asked.length, 1);
  assertEquals(asked[0].protocol, "login");
  assertEquals(asked[0].credentials, { user: "alice", pass: "wonder" });
  assertEquals(asked[0].listener, 0);
  assertEquals((asked[0].remoteAddr as Deno.NetAddr).hostname, "127.0.0.1");
  assertEquals(asked[0].tls, undefined);
});

Deno.test("authenticate: a refusal is the protocol's, then a close", async () => {
  await using server = loginServer({ authenticate: table() });
  const { port } = await server.listen();
  const [, answer, client] = await login(port, "LOGIN alice wrong");
  using _ = client;
  assertEquals(answer, "DENIED");
  assertEquals(await client.readToEnd(), "");
});

Deno.test("authenticate: a hook that throws, answers nonsense or hangs refuses, and is reported", async () => {
  const reported: Error[] = [];
  const hooks: Record<string, Authenticator> = {
    throws: () => {
      throw new Error("database down");
    },
    nonsense: () => ({ yes: true }) as never,
    hangs: () => new Promise(() => {}),
  };
  for (const [kind, hook] of Object.entries(hooks)) {
    reported.length = 0;
    await using server = loginServer({
      authenticate: hook,
      authenticationTimeout: 200,
      onError: (error) => void reported.push(error),
    });
    const { port } = await server.listen();
    const [, answer, client] = await login(port, "LOGIN alice wonder");
    using _ = client;
    assertEquals(answer, "DENIED", kind);
    assertEquals(reported.length, 1, kind);
    assertMatch(reported[0].message, /database down|neither an identity|did not answer in 200 ms/);
  }
});

Deno.test({
  name: "authenticate: on TLS the hook sees the handshake's facts",
  ignore: !hasOpenssl(),
  async fn() {
    const { cert, key, ca } = await testCertificate();
    const asked: AuthenticationRequest[] = [];
    await using server = loginServer({ authenticate: table(asked), tls: { cert, key } });
    const { port } = await server.listen();
    const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
    const client = new SocketClient(conn as unknown as Deno.TcpConn);
    using _ = client;
    assertEquals((await client.readLine()).trimEnd(), "AUTH required");
    assertEquals((await client.request("LOGIN bob builder\n")).trimEnd(), "OK bob null");
    assertEquals(asked[0].tls, { alpnProtocol: null });
  },
});

Deno.test("authenticate: bad options are refused at construction", () => {
  let error: unknown;
  try {
    loginServer({ authenticate: "yes" as never });
  } catch (thrown) {
    error = thrown;
  }
  assert(error instanceof TypeError);
  try {
    loginServer({ authenticationTimeout: 0 });
    error = undefined;
  } catch (thrown) {
    error = thrown;
  }
  assert(error instanceof RangeError);
});

Deno.test("authenticate: on two loops the hook runs here for both, and grants cross", async () => {
  const asked: AuthenticationRequest[] = [];
  const reported = Promise.withResolvers<Error>();
  await using server = new Server({
    protocol: loginProtocol(),
    port: 0,
    loops: 2,
    authenticate: (request) => {
      if (request.credentials.user === "carol") return { name: "carol", grants: () => {} };
      return table(asked)(request);
    },
    onError: (error) => reported.resolve(error),
    [PINNED_LOOPS]: true,
  } as ServerOptions);
  await server.listen();
  const group = loopGroups.get(server)!;
  for (const loop of [0, 1]) {
    const port = group.pinnedAddress(loop)!.port;
    const [greeting, answer, client] = await login(port, "LOGIN alice wonder");
    using _ = client;
    assertEquals(greeting, "AUTH required", `loop ${loop}`);
    assertEquals(answer, 'OK alice {"publish":["a.>"]}', `loop ${loop}`);
    const [, refused, other] = await login(port, "LOGIN bob nope");
    using _other = other;
    assertEquals(refused, "DENIED", `loop ${loop}`);
  }
  assertEquals(asked.length, 4);
  // Grants that cannot cross threads refuse, and say why.
  const [, answer, client] = await login(group.pinnedAddress(1)!.port, "LOGIN carol x");
  using _ = client;
  assertEquals(answer, "DENIED");
  const error = await within(reported.promise, "the report of grants that cannot cross");
  assertMatch(error.message, /cannot cross to I\/O loop 1/);
});

Deno.test("maxConnectionsPerAddress: one address gets that many, then a refusal; a close frees a place", async () => {
  await using server = loginServer({ maxConnectionsPerAddress: 2 });
  const { port } = await server.listen();
  const first = await SocketClient.connect(port);
  const second = await SocketClient.connect(port);
  assertEquals((await first.readLine()).trimEnd(), "AUTH none");
  assertEquals((await second.readLine()).trimEnd(), "AUTH none");
  {
    using third = await SocketClient.connect(port);
    assertEquals(await third.readToEnd(), "FULL\n");
  }
  assertEquals(server.stats().refused, 1);
  first.close();
  // The close is seen by the server after the client's: retry until a place is free.
  await within(
    (async () => {
      while (true) {
        using next = await SocketClient.connect(port);
        const line = (await next.readLine()).trimEnd();
        if (line === "AUTH none") return;
      }
    })(),
    "a place freed by the close",
  );
  second.close();
});

Deno.test("maxConnectionsPerAddress: counted over every loop", async () => {
  await using server = new Server({
    protocol: loginProtocol(),
    port: 0,
    loops: 2,
    maxConnectionsPerAddress: 2,
    [PINNED_LOOPS]: true,
  } as ServerOptions);
  await server.listen();
  const group = loopGroups.get(server)!;
  using zero = await SocketClient.connect(group.pinnedAddress(0)!.port);
  using one = await SocketClient.connect(group.pinnedAddress(1)!.port);
  assertEquals((await zero.readLine()).trimEnd(), "AUTH none");
  assertEquals((await one.readLine()).trimEnd(), "AUTH none");
  for (const loop of [0, 1]) {
    using refused = await SocketClient.connect(group.pinnedAddress(loop)!.port);
    assertEquals(await refused.readToEnd(), "FULL\n", `loop ${loop}`);
  }
});
