import { assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import type { AuthenticationRequest } from "./authentication.ts";
import { Server } from "./server.ts";
import { Connection } from "./connection.ts";
import { loginProtocol } from "../testing/_fixtures/login_protocol.ts";
import { starttlsGreeter } from "../testing/_fixtures/starttls_greeter.ts";
import { IO_TIMEOUT, SocketClient, within } from "../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../testing/_tls.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads from `conn` until the text read ends with `end`. */
async function readUntil(conn: Deno.Conn, end: string): Promise<string> {
  const buffer = new Uint8Array(1024);
  let text = "";
  await within(
    (async () => {
      while (!text.endsWith(end)) {
        const count = await conn.read(buffer);
        if (count === null) throw new Error(`closed after ${JSON.stringify(text)}`);
        text += decoder.decode(buffer.subarray(0, count));
      }
    })(),
    `"${end.trim()}"`,
    IO_TIMEOUT,
  );
  return text;
}

for (const loops of [1, 2]) {
  Deno.test({
    name: `startsTls: a plaintext greeting, then TLS started by the protocol (${loops} loop${
      loops > 1 ? "s" : ""
    })`,
    ignore: !hasOpenssl(),
    async fn() {
      const { cert, key, ca } = await testCertificate();
      await using server = new Server({
        protocol: starttlsGreeter(),
        port: 0,
        loops,
        tls: { cert, key },
      });
      const { port } = await server.listen();
      const plain = await Deno.connect({ hostname: "127.0.0.1", port });
      assertEquals(await readUntil(plain, "\n"), "HELLO plain\n");
      const secure = await Deno.startTls(plain, { hostname: "localhost", caCerts: [ca] });
      try {
        assertEquals(await readUntil(secure, "\n"), "SECURE\n");
        await secure.write(encoder.encode("over tls\n"));
        assertEquals(await readUntil(secure, "\n"), "over tls\n");
      } finally {
        secure.close();
      }
    },
  });
}

Deno.test({
  name: "startsTls: a peer that answers the greeting in plaintext is closed",
  ignore: !hasOpenssl(),
  async fn() {
    const { cert, key } = await testCertificate();
    await using server = new Server({ protocol: starttlsGreeter(), port: 0, tls: { cert, key } });
    const { port } = await server.listen();
    using client = await SocketClient.connect(port);
    assertEquals((await client.readLine()).trimEnd(), "HELLO plain");
    await client.write("not tls at all\r\n\r\n");
    await client.readToEnd().catch(() => "");
    assertEquals(server.stats().connections, 0);
  },
});

Deno.test("startTls: refused where the listener has no tls", () => {
  const connection = new Connection(
    { read: () => Promise.resolve(null), write: (b) => Promise.resolve(b.length), close() {} },
    1,
    {} as never,
    {} as never,
  );
  assertThrows(() => connection.startTls(), TypeError, "no tls");
});

Deno.test({
  name: "tls.clientCa: a client certificate from the CA is verified and reaches authenticate",
  ignore: !hasOpenssl(),
  async fn() {
    const { cert, key, ca } = await testCertificate();
    const stranger = await testCertificate("Another CA");
    const asked: AuthenticationRequest[] = [];
    await using server = new Server({
      protocol: loginProtocol(),
      port: 0,
      tls: { cert, key, clientCa: ca },
      authenticate: (request) => {
        asked.push(request);
        const cn = request.tls?.peerCertificate?.subject.CN;
        return cn === undefined ? { refused: "no certificate" } : { name: cn };
      },
    });
    const { port } = await server.listen();
    // With a certificate the CA signed: in, named by it.
    const trusted = await Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts: [ca],
      cert,
      key,
    });
    try {
      assertEquals(await readUntil(trusted, "\n"), "AUTH required\n");
      await trusted.write(encoder.encode("LOGIN x y\n"));
      assertEquals(await readUntil(trusted, "\n"), "OK localhost null\n");
      assertMatch(
        asked[0].tls?.peerCertificate?.fingerprint256 ?? "",
        /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/,
      );
      assertEquals(asked[0].tls?.peerCertificate?.issuer.CN, "Speedo test CA");
    } finally {
      trusted.close();
    }
    // Without one, or with another CA's: the handshake fails.
    for (const client of [{}, { cert: stranger.cert, key: stranger.key }]) {
      await assertRejects(async () => {
        const conn = await Deno.connectTls({
          hostname: "localhost",
          port,
          caCerts: [ca],
          ...client,
        });
        try {
          await readUntil(conn, "\n");
        } finally {
          conn.close();
        }
      });
    }
  },
});
