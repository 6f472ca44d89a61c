/**
 * Authentication, permissions and TLS of NATS clients: the same scenarios against Speedo
 * (`natsAuthenticator`, one loop and two) and against a real nats-server started with the same
 * `authorization` block, so that every answer checked is nats-server's too. Raw sockets check
 * the exact words; the official `nats` client checks what applications see.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import * as nats from "nats";
import { createUser } from "nkeys.js";
import type { Server } from "../../core/server.ts";
import { loopGroups, PINNED_LOOPS } from "../../core/_loop_group.ts";
import { NATS_SERVER_PATH, startNatsServer } from "../../testing/_fixtures/nats_server.ts";
import { IO_TIMEOUT, within } from "../../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../../testing/_tls.ts";
import { natsAuthenticator, type NatsAuthorization } from "./nats_authenticator.ts";
import { pubsubServer } from "./pubsub_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

const nkeyUser = createUser();
const NKEY = nkeyUser.getPublicKey();

const AUTHORIZATION: NatsAuthorization = {
  users: [
    { user: "admin", password: "adm1n" },
    {
      user: "shop",
      password: "sh0p",
      permissions: {
        publish: { allow: ["orders.>", "svc"], deny: ["orders.secret"] },
        subscribe: { allow: ["orders.>", "_INBOX.>"], deny: ["orders.secret"] },
      },
    },
    {
      user: "worker",
      password: "w0rker",
      permissions: { subscribe: ["svc"], allow_responses: true },
    },
    { nkey: NKEY },
  ],
};

interface Running {
  port: number;
  /** A port for each loop, when the server has several. */
  loopPorts?: number[];
  stop(): Promise<void>;
}

interface Target {
  name: string;
  missing: string | undefined;
  start(tls?: { cert: string; key: string; certFile: string; keyFile: string }): Promise<Running>;
}

const speedo = (loops: number): Target => ({
  name: loops === 1 ? "Speedo" : `Speedo on ${loops} loops`,
  missing: undefined,
  async start(tls) {
    const server = pubsubServer(
      {
        port: 0,
        loops,
        authenticate: natsAuthenticator(AUTHORIZATION),
        tls: tls === undefined ? undefined : { cert: tls.cert, key: tls.key },
        [PINNED_LOOPS]: loops > 1,
      } as Parameters<typeof pubsubServer>[0],
    ) as Server;
    const { port } = await server.listen();
    const group = loopGroups.get(server);
    return {
      port,
      loopPorts: group === undefined ? undefined : [0, 1].map((i) => group.pinnedAddress(i)!.port),
      stop: () => server.close(),
    };
  },
});

const natsServer: Target = {
  name: "nats-server",
  missing: NATS_SERVER_PATH === undefined ? "nats-server not installed" : undefined,
  async start(tls) {
    // nats-server's configuration reads JSON: the very same authorization block.
    const config = [
      `authorization: ${JSON.stringify(AUTHORIZATION)}`,
      tls === undefined
        ? ""
        : `tls: ${JSON.stringify({ cert_file: tls.certFile, key_file: tls.keyFile })}`,
    ].join("\n");
    const server = await startNatsServer(undefined, 10_000, config);
    return { port: server.port, stop: () => server.stop() };
  },
};

const TARGETS = [speedo(1), speedo(2), natsServer];

/** A raw NATS connection: writes text, reads lines until a pattern, sees the close. */
class Raw {
  readonly #conn: Deno.Conn;
  #text = "";
  #closed = false;
  readonly #buffer = new Uint8Array(16 * 1024);

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<Raw> {
    const raw = new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
    await raw.until(/^INFO .*\r\n/);
    raw.#text = "";
    return raw;
  }

  async send(text: string): Promise<void> {
    await this.#conn.write(encoder.encode(text));
  }

  /** Reads until the text read matches, and returns it (then forgets it). */
  async until(pattern: RegExp): Promise<string> {
    await within(
      (async () => {
        while (!pattern.test(this.#text)) {
          const count = await this.#conn.read(this.#buffer);
          if (count === null) {
            this.#closed = true;
            throw new Error(`closed after ${JSON.stringify(this.#text)}`);
          }
          this.#text += decoder.decode(this.#buffer.subarray(0, count));
        }
      })(),
      `${pattern}, read ${JSON.stringify(this.#text)}`,
      IO_TIMEOUT,
    );
    const text = this.#text;
    this.#text = "";
    return text;
  }

  /** Reads to the end of the stream and returns what came. */
  async end(): Promise<string> {
    await within(
      (async () => {
        while (!this.#closed) {
          const count = await this.#conn.read(this.#buffer).catch(() => null);
          if (count === null) this.#closed = true;
          else this.#text += decoder.decode(this.#buffer.subarray(0, count));
        }
      })(),
      "the close",
      IO_TIMEOUT,
    );
    return this.#text;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}

async function login(port: number, user: string, pass: string): Promise<Raw> {
  const raw = await Raw.connect(port);
  await raw.send(`CONNECT ${JSON.stringify({ verbose: false, user, pass })}\r\nPING\r\n`);
  await raw.until(/PONG\r\n$/);
  return raw;
}

for (const target of TARGETS) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${target.name}: ${name}`,
      ignore: target.missing !== undefined,
      ...SANITIZED,
      fn,
    });

  test("INFO says auth_required, with a nonce", async () => {
    const server = await target.start();
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        const buffer = new Uint8Array(4096);
        let text = "";
        while (!text.endsWith("\r\n")) {
          text += decoder.decode(buffer.subarray(0, (await conn.read(buffer)) ?? 0));
        }
        const info = JSON.parse(text.slice(5));
        assertEquals(info.auth_required, true);
        assertEquals(typeof info.nonce, "string");
      } finally {
        conn.close();
      }
    } finally {
      await server.stop();
    }
  });

  test("a right password is accepted, a wrong one told Authorization Violation and closed", async () => {
    const server = await target.start();
    try {
      const good = await login(server.port, "admin", "adm1n");
      good.close();
      const bad = await Raw.connect(server.port);
      await bad.send('CONNECT {"verbose":false,"user":"admin","pass":"nope"}\r\nPING\r\n');
      assertEquals(await bad.end(), "-ERR 'Authorization Violation'\r\n");
      bad.close();
    } finally {
      await server.stop();
    }
  });

  test("an operation before CONNECT is an Authorization Violation", async () => {
    const server = await target.start();
    try {
      const raw = await Raw.connect(server.port);
      await raw.send("SUB > 1\r\n");
      assertEquals(await raw.end(), "-ERR 'Authorization Violation'\r\n");
      raw.close();
    } finally {
      await server.stop();
    }
  });

  test("publish and subscribe permissions, in nats-server's words; the connection stays", async () => {
    const server = await target.start();
    const ports = server.loopPorts ?? [server.port, server.port];
    try {
      const shop = await login(ports[0], "shop", "sh0p");
      await shop.send("PUB billing.x 2\r\nhi\r\nPING\r\n");
      assertEquals(
        await shop.until(/PONG\r\n$/),
        `-ERR 'Permissions Violation for Publish to "billing.x"'\r\nPONG\r\n`,
      );
      await shop.send("SUB billing.> 1\r\nSUB orders.secret 2\r\nSUB orders.> 3\r\nPING\r\n");
      assertEquals(
        await shop.until(/PONG\r\n$/),
        `-ERR 'Permissions Violation for Subscription to "billing.>"'\r\n` +
          `-ERR 'Permissions Violation for Subscription to "orders.secret"'\r\nPONG\r\n`,
      );
      // orders.> overlaps the denied orders.secret: accepted, and that subject held back.
      const admin = await login(ports[1], "admin", "adm1n");
      await admin.send("PUB orders.secret 1\r\ns\r\nPUB orders.new 1\r\nn\r\nPING\r\n");
      await admin.until(/PONG\r\n$/);
      assertEquals(await shop.until(/\r\nn\r\n$/), "MSG orders.new 3 1\r\nn\r\n");
      shop.close();
      admin.close();
    } finally {
      await server.stop();
    }
  });

  test("allow_responses: a worker answers a request it received, once", async () => {
    const server = await target.start();
    const ports = server.loopPorts ?? [server.port, server.port];
    try {
      const worker = await login(ports[0], "worker", "w0rker");
      await worker.send("SUB svc 1\r\nPING\r\n");
      await worker.until(/PONG\r\n$/);
      const shop = await login(ports[1], "shop", "sh0p");
      await shop.send("SUB _INBOX.r1 9\r\nPING\r\n");
      await shop.until(/PONG\r\n$/);
      await shop.send("PUB svc _INBOX.r1 3\r\nreq\r\nPING\r\n");
      await shop.until(/PONG\r\n$/);
      assertEquals(await worker.until(/req\r\n$/), "MSG svc 1 _INBOX.r1 3\r\nreq\r\n");
      await worker.send(
        "PUB _INBOX.r1 3\r\nres\r\nPUB _INBOX.r1 3\r\nres\r\nPUB other 1\r\nx\r\nPING\r\n",
      );
      assertEquals(
        await worker.until(/PONG\r\n$/),
        `-ERR 'Permissions Violation for Publish to "_INBOX.r1"'\r\n` +
          `-ERR 'Permissions Violation for Publish to "other"'\r\nPONG\r\n`,
      );
      assertEquals(await shop.until(/res\r\n$/), "MSG _INBOX.r1 9 3\r\nres\r\n");
      worker.close();
      shop.close();
    } finally {
      await server.stop();
    }
  });

  test("the nats client: user and password, an nkey, and refusals", async () => {
    const server = await target.start();
    try {
      const servers = `127.0.0.1:${server.port}`;
      const admin = await nats.connect({ servers, user: "admin", pass: "adm1n" });
      await admin.flush();
      await admin.close();
      const signed = await nats.connect({
        servers,
        authenticator: nats.nkeyAuthenticator(nkeyUser.getSeed()),
      });
      await signed.flush();
      await signed.close();
      // nats-server resets the socket after its -ERR, which the nats@2 Node transport raises
      // as an uncaught ECONNRESET: its refusals are checked on raw sockets above instead.
      if (target === natsServer) return;
      await assertRejects(
        () => nats.connect({ servers, user: "admin", pass: "wrong", reconnect: false }),
        Error,
        "Authorization Violation",
      );
      const stranger = createUser();
      await assertRejects(
        () =>
          nats.connect({
            servers,
            authenticator: nats.nkeyAuthenticator(stranger.getSeed()),
            reconnect: false,
          }),
        Error,
        "Authorization Violation",
      );
    } finally {
      await server.stop();
    }
  });

  Deno.test({
    name: `${target.name}: TLS started after INFO; the nats client connects with the CA`,
    ignore: target.missing !== undefined || !hasOpenssl(),
    ...SANITIZED,
    async fn() {
      const { cert, key, ca } = await testCertificate();
      const dir = await Deno.makeTempDir();
      const certFile = `${dir}/cert.pem`;
      const keyFile = `${dir}/key.pem`;
      await Deno.writeTextFile(certFile, cert);
      await Deno.writeTextFile(keyFile, key);
      const server = await target.start({ cert, key, certFile, keyFile });
      try {
        const info = await Raw.connect(server.port);
        info.close();
        const client = await nats.connect({
          servers: `localhost:${server.port}`,
          user: "admin",
          pass: "adm1n",
          tls: { ca },
        });
        const sub = client.subscribe("t.>", { max: 1 });
        await client.flush();
        client.publish("t.1", "over tls");
        for await (const message of sub) assertEquals(message.string(), "over tls");
        await client.close();
      } finally {
        await server.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "Speedo: handshake-first TLS for clients that ask for it",
  ignore: !hasOpenssl(),
  ...SANITIZED,
  async fn() {
    const { cert, key, ca } = await testCertificate();
    const server = pubsubServer({
      port: 0,
      tls: { cert, key },
      pubsub: { tls: "handshake-first" },
    });
    const { port } = await server.listen();
    try {
      const client = await nats.connect({
        servers: `localhost:${port}`,
        tls: { ca, handshakeFirst: true },
      });
      await client.flush();
      assert(client.info?.tls_required);
      await client.close();
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "Speedo: a client that sends nothing after INFO is told Authentication Timeout",
  ...SANITIZED,
  async fn() {
    const server = pubsubServer({
      port: 0,
      authenticate: natsAuthenticator(AUTHORIZATION),
      pubsub: { authTimeout: 100 },
    });
    const { port } = await server.listen();
    try {
      const raw = await Raw.connect(port);
      assertEquals(await raw.end(), "-ERR 'Authentication Timeout'\r\n");
      raw.close();
    } finally {
      await server.close();
    }
  },
});

for (const loops of [1, 2]) {
  Deno.test({
    name: `Speedo: NATS over WebSocket asks the same authenticator (${loops} loop${
      loops > 1 ? "s" : ""
    })`,
    ...SANITIZED,
    async fn() {
      const { NatsOverWebSocket } = await import("./_nats_websocket_test_helper.ts");
      const server = pubsubServer({
        port: 0,
        loops,
        authenticate: natsAuthenticator(AUTHORIZATION),
        websocket: { port: 0 },
      });
      await server.listen();
      try {
        const url = `ws://127.0.0.1:${server.addresses[1].port}/`;
        {
          await using anonymous = await NatsOverWebSocket.open(url);
          assert((await anonymous.expect("\r\n")).includes('"auth_required":true'));
          anonymous.send("SUB > 1\r\n");
          assertEquals(await anonymous.expect("\r\n"), "-ERR 'Authorization Violation'\r\n");
        }
        {
          await using shop = await NatsOverWebSocket.open(url);
          await shop.expect("\r\n");
          shop.send('CONNECT {"verbose":false,"user":"shop","pass":"sh0p"}\r\nSUB > 1\r\nPING\r\n');
          assertEquals(
            await shop.expect("PONG\r\n"),
            `-ERR 'Permissions Violation for Subscription to ">"'\r\nPONG\r\n`,
          );
        }
      } finally {
        await server.close();
      }
    },
  });
}

/** A token, on both servers: the same bytes for a right and a wrong one. */
for (
  const [name, start] of [
    ["Speedo", async () => {
      const server = pubsubServer({ port: 0, authenticate: natsAuthenticator({ token: "t0k" }) });
      const { port } = await server.listen();
      return { port, stop: () => server.close() };
    }],
    ["nats-server", async () => {
      const server = await startNatsServer(undefined, 10_000, 'authorization: {"token": "t0k"}');
      return { port: server.port, stop: () => server.stop() };
    }],
  ] as const
) {
  Deno.test({
    name: `${name}: a token is accepted, a wrong one told Authorization Violation`,
    ignore: name === "nats-server" && NATS_SERVER_PATH === undefined,
    ...SANITIZED,
    async fn() {
      const server = await start();
      try {
        const good = await Raw.connect(server.port);
        await good.send('CONNECT {"verbose":false,"auth_token":"t0k"}\r\nPING\r\n');
        assertEquals(await good.until(/PONG\r\n$/), "PONG\r\n");
        good.close();
        const bad = await Raw.connect(server.port);
        await bad.send('CONNECT {"verbose":false,"auth_token":"t0"}\r\nPING\r\n');
        assertEquals(await bad.end(), "-ERR 'Authorization Violation'\r\n");
        bad.close();
      } finally {
        await server.stop();
      }
    },
  });
}
