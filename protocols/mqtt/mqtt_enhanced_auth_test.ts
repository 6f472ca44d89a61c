/**
 * MQTT 5 enhanced authentication over real sockets: raw clients that speak AUTH by hand with
 * the codec (SCRAM-SHA-256, re-authentication, every refusal and bound), then the npm `mqtt`
 * client through its `handleAuth`.
 */

import { assert, assertEquals } from "@std/assert";
import mqtt from "mqtt";
import { Buffer } from "node:buffer";
import { mqttServer, type MqttServerOptions } from "./mqtt_server.ts";
import { encodeAuth, encodePublish } from "./mqtt_encoder.ts";
import type { MqttPacket, Properties } from "./mqtt_packets.ts";
import type { MqttAuthMethod } from "./mqtt_enhanced_auth.ts";
import {
  SCRAM_SHA_256,
  scramSha256,
  ScramSha256Client,
  scramSha256Credentials,
} from "./scram_sha256.ts";
import { RawClient } from "./_raw_client_test_helper.ts";
import { within } from "../../testing/_socket_client.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
const SCRAM = SCRAM_SHA_256;
const users = new Map([["alice", await scramSha256Credentials("wonderland")]]);
const scram = scramSha256({ credentials: (name) => users.get(name) });

async function withBroker(
  options: MqttServerOptions,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  await using server = mqttServer({ port: 0, ...options });
  const { port } = await server.listen();
  await fn(port);
}

/** A level 5 client whose CONNECT has these properties; the CONNACK is not awaited. */
function open(port: number, properties: Properties, clientId = "c"): Promise<RawClient> {
  return RawClient.start(port, 5, { clientId, properties });
}

function auth(reasonCode: number, method: string | undefined, data?: Uint8Array): Uint8Array {
  return encodeAuth({
    type: "auth",
    reasonCode,
    properties: {
      ...(method === undefined ? {} : { authenticationMethod: method }),
      ...(data === undefined ? {} : { authenticationData: data }),
    },
  });
}

/**
 * Expects a packet of this type and reason code naming `method` (or none): its Authentication
 * Data (an empty array when absent).
 */
function expectPacket(
  packet: MqttPacket | undefined,
  type: string,
  reasonCode: number,
  method?: string,
): Uint8Array {
  const properties = packet !== undefined && "properties" in packet ? packet.properties : undefined;
  assertEquals([
    packet?.type,
    packet !== undefined && "reasonCode" in packet ? packet.reasonCode : undefined,
    properties?.authenticationMethod,
  ], [type, reasonCode, method]);
  return properties?.authenticationData ?? new Uint8Array(0);
}

/** Expects this packet, then the close. */
async function refusedWith(client: RawClient, type: string, reasonCode: number): Promise<void> {
  const packet = await client.next();
  assertEquals([packet?.type, packet && "reasonCode" in packet && packet.reasonCode], [
    type,
    reasonCode,
  ]);
  assertEquals(await client.next(), undefined, "closed after the refusal");
}

/** SCRAM by hand up to the CONNACK, which is returned. */
async function scramConnect(
  port: number,
  password: string,
): Promise<{ client: RawClient; scram: ScramSha256Client; connack: MqttPacket | undefined }> {
  const scram = new ScramSha256Client("alice", password);
  const client = await open(port, {
    authenticationMethod: SCRAM,
    authenticationData: scram.first(),
  });
  const challenge = expectPacket(await client.next(), "auth", 0x18, SCRAM);
  await client.write(auth(0x18, SCRAM, await scram.final(challenge)));
  return { client, scram, connack: await client.next() };
}

Deno.test({
  name:
    "enhancedAuth: SCRAM-SHA-256 by hand, CONNACK with the server's signature, then re-authentication",
  ...SANITIZED,
  async fn() {
    const asked: (string | undefined)[] = [];
    await withBroker({
      mqtt: {
        enhancedAuth: { methods: { [SCRAM]: scram } },
        authorize: ({ identity }) => (asked.push(identity?.name), true),
      },
    }, async (port) => {
      const { client, scram: first, connack } = await scramConnect(port, "wonderland");
      try {
        const signature = expectPacket(connack, "connack", 0, SCRAM);
        assert(first.verify(signature), "the broker proved it knows the keys");
        // Re-authentication (§4.12.1): AUTH 0x19, one round, AUTH 0x00 with the signature.
        const again = new ScramSha256Client("alice", "wonderland");
        await client.write(auth(0x19, SCRAM, again.first()));
        const challenge = expectPacket(await client.next(), "auth", 0x18, SCRAM);
        await client.write(auth(0x18, SCRAM, await again.final(challenge)));
        assert(again.verify(expectPacket(await client.next(), "auth", 0, SCRAM)));
        // The connection goes on, as alice.
        await client.write(encodePublish({
          type: "publish",
          dup: false,
          qos: 1,
          retain: false,
          topic: "a",
          packetId: 1,
          payload: new Uint8Array(0),
        }, 5));
        assertEquals((await client.next())?.type, "puback");
        assertEquals(asked, ["alice"]);
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  name:
    "enhancedAuth: a wrong SCRAM proof gets CONNACK 0x86 and a close; a wrong one at re-authentication DISCONNECT 0x87",
  ...SANITIZED,
  async fn() {
    await withBroker({ mqtt: { enhancedAuth: { methods: { [SCRAM]: scram } } } }, async (port) => {
      const wrong = await scramConnect(port, "looking-glass");
      try {
        expectPacket(wrong.connack, "connack", 0x86);
        assertEquals(await wrong.client.next(), undefined);
      } finally {
        wrong.client.close();
      }
      const { client } = await scramConnect(port, "wonderland");
      try {
        const again = new ScramSha256Client("alice", "looking-glass");
        await client.write(auth(0x19, SCRAM, again.first()));
        const challenge = expectPacket(await client.next(), "auth", 0x18, SCRAM);
        await client.write(auth(0x18, SCRAM, await again.final(challenge)));
        await refusedWith(client, "disconnect", 0x87);
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  name:
    "enhancedAuth: an unknown method gets CONNACK 0x8C, with or without methods, never the password check",
  ...SANITIZED,
  async fn() {
    for (const enhancedAuth of [undefined, { methods: { [SCRAM]: scram } }]) {
      await withBroker({
        authenticate: () => ({ name: "anyone" }),
        mqtt: { ...(enhancedAuth === undefined ? {} : { enhancedAuth }) },
      }, async (port) => {
        for (const method of ["GS2-KRB5", "toString"]) {
          const client = await open(port, { authenticationMethod: method });
          try {
            await refusedWith(client, "connack", 0x8c);
          } finally {
            client.close();
          }
        }
      });
    }
  },
});

Deno.test({
  name: "enhancedAuth: the method decides alone where the server's authenticate refuses everyone",
  ...SANITIZED,
  async fn() {
    await withBroker({
      authenticate: () => ({ refused: "nobody by password" }),
      mqtt: { enhancedAuth: { methods: { [SCRAM]: scram } } },
    }, async (port) => {
      const { client, connack } = await scramConnect(port, "wonderland");
      client.close();
      expectPacket(connack, "connack", 0, SCRAM);
      const plain = await open(port, {});
      try {
        await refusedWith(plain, "connack", 0x87);
      } finally {
        plain.close();
      }
    });
  },
});

/** A method that asks for another round, always. */
const endless: MqttAuthMethod = () => () => ({ continue: new Uint8Array([1]) });

Deno.test({
  name: "enhancedAuth: more rounds than maxRounds are refused (0x87) and closed",
  ...SANITIZED,
  async fn() {
    await withBroker({
      mqtt: { enhancedAuth: { methods: { ENDLESS: endless }, maxRounds: 2 } },
    }, async (port) => {
      const client = await open(port, { authenticationMethod: "ENDLESS" });
      try {
        for (let round = 0; round < 2; round++) {
          assertEquals((await client.next())?.type, "auth");
          await client.write(auth(0x18, "ENDLESS", new Uint8Array([2])));
        }
        await refusedWith(client, "connack", 0x87);
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  name: "enhancedAuth: a client silent mid-exchange is refused (0x87) and closed at the timeout",
  ...SANITIZED,
  async fn() {
    await withBroker({
      mqtt: { enhancedAuth: { methods: { [SCRAM]: scram }, timeout: 200 } },
    }, async (port) => {
      const scramClient = new ScramSha256Client("alice", "wonderland");
      const client = await open(port, {
        authenticationMethod: SCRAM,
        authenticationData: scramClient.first(),
      });
      try {
        assertEquals((await client.next())?.type, "auth");
        const started = Date.now();
        await refusedWith(client, "connack", 0x87);
        assert(Date.now() - started < 2000, "closed by the 200 ms timeout, not another");
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  name:
    "enhancedAuth: AUTH out of place is a protocol error, another method at re-authentication 0x8C",
  ...SANITIZED,
  async fn() {
    await withBroker({ mqtt: { enhancedAuth: { methods: { [SCRAM]: scram } } } }, async (port) => {
      // No method at CONNECT: AUTH is a protocol error (§3.15, [MQTT-4.12.0-7]).
      const plain = await RawClient.connect(port, 5, "plain");
      try {
        await plain.write(auth(0x19, SCRAM, new Uint8Array(1)));
        await refusedWith(plain, "disconnect", 0x82);
      } finally {
        plain.close();
      }
      // Something else than AUTH or DISCONNECT before the CONNACK ([MQTT-3.1.2-30]).
      const eager = await open(port, {
        authenticationMethod: SCRAM,
        authenticationData: new ScramSha256Client("alice", "x").first(),
      });
      try {
        assertEquals((await eager.next())?.type, "auth");
        await eager.write(encodePublish({
          type: "publish",
          dup: false,
          qos: 0,
          retain: false,
          topic: "a",
          payload: new Uint8Array(0),
        }, 5));
        await refusedWith(eager, "connack", 0x82);
      } finally {
        eager.close();
      }
      const cases: [string, Uint8Array, number][] = [
        ["another method", auth(0x19, "OTHER", new Uint8Array(1)), 0x8c],
        ["no method", auth(0x19, undefined, new Uint8Array(1)), 0x82],
        ["continue with no exchange", auth(0x18, SCRAM, new Uint8Array(1)), 0x82],
        ["success from a client", auth(0, SCRAM), 0x82],
      ];
      for (const [what, bytes, reasonCode] of cases) {
        const { client } = await scramConnect(port, "wonderland");
        try {
          await client.write(bytes);
          await within(refusedWith(client, "disconnect", reasonCode), what);
        } finally {
          client.close();
        }
      }
    });
  },
});

Deno.test({
  name: "enhancedAuth: the npm mqtt v5 client logs in with SCRAM-SHA-256 through handleAuth",
  // The npm client keeps timers of its own past endAsync (see mqtt_clients_test.ts).
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withBroker({ mqtt: { enhancedAuth: { methods: { [SCRAM]: scram } } } }, async (port) => {
      for (const [password, expected] of [["wonderland", 0], ["looking-glass", 0x86]] as const) {
        const scramClient = new ScramSha256Client("alice", password);
        const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
          protocolVersion: 5,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          properties: {
            authenticationMethod: SCRAM,
            authenticationData: Buffer.from(scramClient.first()),
          },
        });
        client.handleAuth = (packet, callback) => {
          scramClient.final(packet.properties!.authenticationData!).then((data) =>
            callback(undefined, {
              cmd: "auth",
              reasonCode: 0x18,
              properties: { authenticationMethod: SCRAM, authenticationData: Buffer.from(data) },
            })
          );
        };
        try {
          const result = await within(
            new Promise<{ code: number; data?: Uint8Array }>((resolve) => {
              client.once(
                "connect",
                (connack) => resolve({ code: 0, data: connack.properties?.authenticationData }),
              );
              client.once("error", (error) => resolve({ code: (error as { code: number }).code }));
            }),
            `mqtt.js with password ${password}`,
          );
          assertEquals(result.code, expected);
          if (expected === 0) assert(scramClient.verify(result.data!));
        } finally {
          await client.endAsync(true);
        }
      }
    });
  },
});
