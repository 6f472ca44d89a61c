/**
 * MQTT over TLS with real clients, against Speedo (`mqttServer({ tls })`) and a real mosquitto
 * with a TLS listener, the same expectations on both: the npm mqtt client at levels 4 and 5
 * over `mqtts://`, `mosquitto_pub`/`mosquitto_sub --cafile`, mutual TLS refusing a client
 * without a certificate, and (Speedo only) MQTT over WebSocket over TLS. The certificates are
 * made by `openssl` at test time. Not sanitized: the npm client's timers (`mqtt_clients_test.ts`).
 */

import { assert, assertEquals } from "@std/assert";
import mqtt from "mqtt";
import {
  MOSQUITTO_PATH,
  MOSQUITTO_PUB_PATH,
  MOSQUITTO_SUB_PATH,
  mosquittoFirstMessage,
  startMosquitto,
} from "../../testing/_fixtures/mosquitto.ts";
import { within } from "../../testing/_socket_client.ts";
import { hasOpenssl, type TestCertificate, testCertificate } from "../../testing/_tls.ts";
import { mqttServer } from "./mqtt_server.ts";

const UNSANITIZED = { sanitizeOps: false, sanitizeResources: false };
const HAS_OPENSSL = hasOpenssl();

/** The server's identity and a client's (signed by another CA), as files for mosquitto. */
interface Identities {
  server: TestCertificate;
  client: TestCertificate;
  /** Paths of the PEM files: the server's cert, key and CA, and the client CA. */
  files: { cert: string; key: string; ca: string; clientCa: string };
}

let identities: Promise<Identities> | undefined;

/** Made once: the certificates, written to a folder removed when the process ends. */
function tlsIdentities(): Promise<Identities> {
  identities ??= (async () => {
    const server = await testCertificate();
    const client = await testCertificate("Speedo test client CA");
    const dir = await Deno.makeTempDir({ prefix: "speedo-mqtt-tls-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const files = {
      cert: `${dir}/cert.pem`,
      key: `${dir}/key.pem`,
      ca: `${dir}/ca.pem`,
      clientCa: `${dir}/client-ca.pem`,
    };
    await Deno.writeTextFile(files.cert, server.cert);
    await Deno.writeTextFile(files.key, server.key);
    await Deno.writeTextFile(files.ca, server.ca);
    await Deno.writeTextFile(files.clientCa, client.ca);
    // mosquitto started as root reads them as the user `mosquitto`: a throwaway key, readable.
    await Deno.chmod(dir, 0o755);
    for (const file of Object.values(files)) await Deno.chmod(file, 0o644);
    return { server, client, files };
  })();
  return identities;
}

/** A broker listening with TLS on 127.0.0.1. */
interface TlsBroker {
  readonly port: number;
  stop(): Promise<void>;
}

/** A broker the scenarios run against, started with TLS (and client certificates if asked). */
interface TlsTarget {
  readonly name: string;
  readonly missing: string | undefined;
  start(options: { clientCertificates: boolean }): Promise<TlsBroker>;
}

const speedo: TlsTarget = {
  name: "Speedo",
  missing: HAS_OPENSSL ? undefined : "openssl not installed",
  async start({ clientCertificates }) {
    const { server: identity, client } = await tlsIdentities();
    const server = mqttServer({
      port: 0,
      tls: {
        cert: identity.cert,
        key: identity.key,
        ...(clientCertificates ? { clientCa: client.ca } : {}),
      },
    });
    const { port } = await server.listen();
    return { port, stop: () => server.close() };
  },
};

const mosquitto: TlsTarget = {
  name: "mosquitto",
  missing: MOSQUITTO_PATH === undefined
    ? "mosquitto not installed"
    : HAS_OPENSSL
    ? undefined
    : "openssl not installed",
  async start({ clientCertificates }) {
    const { files } = await tlsIdentities();
    // These lines follow the fixture's `listener` line: they make that listener TLS.
    const config = [`certfile ${files.cert}`, `keyfile ${files.key}`];
    if (clientCertificates) config.push(`cafile ${files.clientCa}`, "require_certificate true");
    return await startMosquitto({ config: config.join("\n") });
  },
};

const TARGETS = [speedo, mosquitto];

/** Connects over `mqtts://` (or `url`), trusting the test CA, without reconnecting. */
async function connect(
  url: string,
  level: 4 | 5,
  options: mqtt.IClientOptions = {},
): Promise<mqtt.MqttClient> {
  const { server } = await tlsIdentities();
  return await mqtt.connectAsync(url, {
    protocolVersion: level,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: server.ca,
    ...options,
  });
}

/**
 * Connects over `mqtts://` with `options` and resolves once the connection is refused: closed
 * or failed before CONNACK (`connectAsync` would wait forever for a close without an error).
 *
 * @throws {Error} When the client is let in.
 */
async function refused(port: number, options: mqtt.IClientOptions = {}): Promise<void> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  try {
    const outcome = await within(
      new Promise<string>((resolve) => {
        client.once("connect", () => resolve("connected"));
        client.once("error", () => resolve("refused"));
        client.once("close", () => resolve("refused"));
      }),
      "the connection's refusal",
    );
    assertEquals(outcome, "refused");
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

/**
 * Subscribes `subscriber` to `filter`; resolves once subscribed, with the first message to come
 * (as "topic payload", within a deadline).
 */
async function subscribed(
  subscriber: mqtt.MqttClient,
  filter: string,
): Promise<{ first: Promise<string> }> {
  const got = new Promise<string>((resolve) =>
    subscriber.once("message", (topic, payload) => resolve(`${topic} ${payload}`))
  );
  await subscriber.subscribeAsync(filter, { qos: 1 });
  return { first: within(got, `a message on ${filter}`) };
}

/**
 * At MQTT 3.1.1, then 5.0: a client at `urls[0]` subscribes to `filter`, one at `urls[1]`
 * publishes to `topic` at QoS 1, and the first gets it.
 */
async function publishToSubscriber(
  [subscriberUrl, publisherUrl]: [string, string],
  filter: string,
  topic: string,
): Promise<void> {
  for (const level of [4, 5] as const) {
    const subscriber = await connect(subscriberUrl, level);
    const publisher = await connect(publisherUrl, level);
    try {
      const { first } = await subscribed(subscriber, filter);
      await publisher.publishAsync(topic, `level ${level}`, { qos: 1 });
      assertEquals(await first, `${topic} level ${level}`);
    } finally {
      await subscriber.endAsync(true).catch(() => {});
      await publisher.endAsync(true).catch(() => {});
    }
  }
}

for (const target of TARGETS) {
  const test = (
    name: string,
    clientCertificates: boolean,
    fn: (port: number) => Promise<void>,
  ) =>
    Deno.test({
      name: `${target.name} over TLS: ${name}`,
      ignore: target.missing !== undefined,
      ...UNSANITIZED,
      async fn() {
        const broker = await target.start({ clientCertificates });
        try {
          await fn(broker.port);
        } finally {
          await broker.stop();
        }
      },
    });

  test(
    "npm mqtt over mqtts://, MQTT 3.1.1 and 5.0, publishes to a subscriber",
    false,
    async (port) => {
      await publishToSubscriber(
        [`mqtts://127.0.0.1:${port}`, `mqtts://localhost:${port}`],
        "secure/+",
        "secure/t1",
      );
    },
  );

  test("a client that does not trust the server's CA fails the handshake", false, async (port) => {
    await refused(port);
  });

  test(
    "mutual TLS: a client without a certificate is refused, one signed by the client CA connects",
    true,
    async (port) => {
      const { client } = await tlsIdentities();
      await refused(port, { ca: (await tlsIdentities()).server.ca });
      const withCertificate = await connect(`mqtts://127.0.0.1:${port}`, 5, {
        cert: client.cert,
        key: client.key,
      });
      try {
        assert(withCertificate.connected);
        await withCertificate.publishAsync("mtls/ok", "yes", { qos: 1 });
      } finally {
        await withCertificate.endAsync(true).catch(() => {});
      }
    },
  );

  Deno.test({
    name: `${target.name} over TLS: mosquitto_pub --cafile to mosquitto_sub --cafile`,
    ignore: target.missing !== undefined || MOSQUITTO_PUB_PATH === undefined ||
      MOSQUITTO_SUB_PATH === undefined,
    ...UNSANITIZED,
    async fn() {
      const { files } = await tlsIdentities();
      const broker = await target.start({ clientCertificates: false });
      const connection = ["-h", "localhost", "-p", String(broker.port), "--cafile", files.ca];
      try {
        const line = await mosquittoFirstMessage({
          connection,
          subscribe: ["-t", "tls/#", "-q", "1"],
          publish: ["-t", "tls/x", "-m", "hello over tls", "-q", "1"],
        });
        assertEquals(line, "tls/x hello over tls");
      } finally {
        await broker.stop();
      }
    },
  });
}

Deno.test({
  name: "Speedo: MQTT over WebSocket over TLS (wss://), npm mqtt at both levels",
  ignore: !HAS_OPENSSL,
  ...UNSANITIZED,
  async fn() {
    const { server: identity } = await tlsIdentities();
    await using server = mqttServer({
      port: 0,
      tls: { cert: identity.cert, key: identity.key },
      websocket: {},
    });
    const { port } = await server.listen();
    await publishToSubscriber(
      [`wss://127.0.0.1:${port}/`, `wss://localhost:${port}/mqtt`],
      "web/#",
      "web/secure",
    );
  },
});
