import { assertEquals, assertRejects } from "@std/assert";
import { connect } from "./client.ts";
import { LineDecoder } from "./framing/line_decoder.ts";
import type { ProtocolContext } from "./protocol.ts";
import { echoServer } from "../protocols/echo/mod.ts";
import { waitFor, within } from "../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../testing/_tls.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ignore = !hasOpenssl();

async function readExactly(conn: Deno.Conn, length: number): Promise<string> {
  const buffer = new Uint8Array(length);
  let read = 0;
  while (read < length) {
    const n = await within(conn.read(buffer.subarray(read)), `${length} bytes over TLS`);
    if (n === null) break;
    read += n;
  }
  return decoder.decode(buffer.subarray(0, read));
}

for (const workers of [0, 1]) {
  Deno.test({
    name: `Server with tls serves the echo protocol unchanged (workers: ${workers})`,
    ignore,
    sanitizeOps: true,
    sanitizeResources: true,
    async fn() {
      const { cert, key, ca } = await testCertificate();
      await using server = echoServer({
        port: 0,
        workers,
        tls: { cert, key },
        echo: { maxLineLength: 1024 },
      });
      const { port } = await server.listen();
      const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
      try {
        const lines = Array.from({ length: 200 }, (_, i) => `tls line ${i}\r\n`).join("");
        const tooLong = "x".repeat(2000) + "\n";
        await conn.write(encoder.encode(lines + tooLong + "after\n"));
        const expected = lines + "ERR line too long (max 1024 bytes)\r\nafter\n";
        assertEquals(await readExactly(conn, encoder.encode(expected).length), expected);
      } finally {
        conn.close();
      }
    },
  });
}

Deno.test({
  name: "Server with tls survives a client that speaks plain TCP, and serves the next",
  ignore,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { cert, key, ca } = await testCertificate();
    const errors: Error[] = [];
    await using server = echoServer({
      port: 0,
      workers: 0,
      tls: { cert, key },
      onError: (error) => void errors.push(error),
    });
    const { port } = await server.listen();
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(encoder.encode("hello, not a TLS handshake\n"));
    const buffer = new Uint8Array(64);
    // The server answers with a TLS alert or just closes: either way the stream ends.
    while ((await within(plain.read(buffer), "the plain client to be closed")) !== null);
    plain.close();
    const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
    await conn.write(encoder.encode("secure\n"));
    assertEquals(await readExactly(conn, 7), "secure\n");
    conn.close();
    assertEquals(errors.length <= 1, true, `errors: ${errors.map((e) => e.message)}`);
  },
});

Deno.test({
  name: "connect with tls talks to a TLS server, and refuses a server it does not trust",
  ignore,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { cert, key, ca } = await testCertificate();
    await using server = echoServer({ port: 0, workers: 1, tls: { cert, key } });
    const { port } = await server.listen();
    const lines: string[] = [];
    const protocol = {
      create: (context: ProtocolContext) => {
        const framer = new LineDecoder();
        return {
          open: () => void context.handle.write("over tls\n"),
          data(chunk: Uint8Array) {
            framer.feed(chunk);
            for (let line = framer.next(); line !== null; line = framer.next()) {
              lines.push(decoder.decode(line));
            }
          },
        };
      },
    };
    await using client = await connect({
      hostname: "localhost",
      port,
      protocol,
      tls: { caCerts: [ca] },
    });
    await waitFor(() => lines.length === 1, "the echo over TLS");
    assertEquals(lines, ["over tls"]);
    assertEquals(client.write("again\n"), true);
    await waitFor(() => lines.length === 2, "a second echo");

    // Without the test CA, the handshake fails: the certificate is checked.
    await assertRejects(() => connect({ hostname: "localhost", port, protocol, tls: {} }));
  },
});
