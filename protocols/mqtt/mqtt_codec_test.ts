import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { MqttDecoder } from "./mqtt_decoder.ts";
import { encodePacket } from "./mqtt_encoder.ts";
import type { MqttPacket, ProtocolLevel } from "./mqtt_packets.ts";

const utf8 = new TextEncoder();
const bytes = (text: string) => utf8.encode(text);

/** One of every packet, as the decoder returns it at level 4 (no properties, no reasons). */
const LEVEL_4: MqttPacket[] = [
  {
    type: "connect",
    protocolName: "MQTT",
    protocolLevel: 4,
    cleanStart: false,
    keepAlive: 30,
    clientId: "client-4",
    will: { topic: "status/client-4", payload: bytes("gone"), qos: 1, retain: true },
    username: "user",
    password: new Uint8Array([0, 1, 2, 255]),
  },
  { type: "connack", sessionPresent: true, reasonCode: 0 },
  { type: "publish", dup: false, qos: 0, retain: false, topic: "a/b", payload: bytes("zero") },
  {
    type: "publish",
    dup: true,
    qos: 2,
    retain: true,
    topic: "ünïcode/topic",
    packetId: 65535,
    payload: new Uint8Array(300).fill(7),
  },
  {
    type: "publish",
    dup: false,
    qos: 1,
    retain: false,
    topic: "e",
    packetId: 1,
    payload: bytes(""),
  },
  { type: "puback", packetId: 1, reasonCode: 0 },
  { type: "pubrec", packetId: 2, reasonCode: 0 },
  { type: "pubrel", packetId: 3, reasonCode: 0 },
  { type: "pubcomp", packetId: 4, reasonCode: 0 },
  {
    type: "subscribe",
    packetId: 5,
    subscriptions: [
      { topicFilter: "a/+/c", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      { topicFilter: "#", qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ],
  },
  { type: "suback", packetId: 5, reasonCodes: [0, 2, 0x80] },
  { type: "unsubscribe", packetId: 6, topicFilters: ["a/+/c", "#"] },
  { type: "unsuback", packetId: 6, reasonCodes: [] },
  { type: "pingreq" },
  { type: "pingresp" },
  { type: "disconnect", reasonCode: 0 },
];

/** One of every packet at level 5, with every property each may carry. */
const LEVEL_5: MqttPacket[] = [
  {
    type: "connect",
    protocolName: "MQTT",
    protocolLevel: 5,
    cleanStart: true,
    keepAlive: 60,
    clientId: "",
    will: {
      topic: "will/topic",
      payload: bytes("bye"),
      qos: 2,
      retain: false,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 3600,
        contentType: "text/plain",
        responseTopic: "re/ply",
        correlationData: new Uint8Array([9, 8, 7]),
        willDelayInterval: 5,
        userProperties: [["k", "v"]],
      },
    },
    password: bytes("secret"),
    properties: {
      sessionExpiryInterval: 0xffffffff,
      authenticationMethod: "SCRAM-SHA-1",
      authenticationData: new Uint8Array([1, 2]),
      requestProblemInformation: 0,
      requestResponseInformation: 1,
      receiveMaximum: 20,
      topicAliasMaximum: 10,
      userProperties: [["a", "1"], ["a", "2"], ["b", ""]],
      maximumPacketSize: 1 << 20,
    },
  },
  {
    type: "connack",
    sessionPresent: false,
    reasonCode: 0,
    properties: {
      sessionExpiryInterval: 10,
      assignedClientIdentifier: "auto-1",
      serverKeepAlive: 120,
      authenticationMethod: "SCRAM-SHA-1",
      authenticationData: new Uint8Array([3]),
      responseInformation: "resp/",
      serverReference: "other:1883",
      reasonString: "welcome",
      receiveMaximum: 100,
      topicAliasMaximum: 0,
      maximumQos: 1,
      retainAvailable: false,
      userProperties: [["x", "y"]],
      maximumPacketSize: 65536,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: true,
    },
  },
  { type: "connack", sessionPresent: true, reasonCode: 0x87 },
  {
    type: "publish",
    dup: false,
    qos: 1,
    retain: true,
    topic: "sensors/1",
    packetId: 42,
    properties: {
      payloadFormatIndicator: 0,
      messageExpiryInterval: 1,
      contentType: "application/json",
      responseTopic: "r",
      correlationData: new Uint8Array(0),
      subscriptionIdentifiers: [1, 300, 268435455],
      topicAlias: 3,
      userProperties: [["u", "1"], ["u", "1"]],
    },
    payload: bytes('{"t":21.5}'),
  },
  {
    type: "publish",
    dup: false,
    qos: 0,
    retain: false,
    topic: "",
    properties: { topicAlias: 3 },
    payload: new Uint8Array(0),
  },
  { type: "puback", packetId: 1, reasonCode: 0 },
  { type: "puback", packetId: 1, reasonCode: 0x10 },
  {
    type: "pubrec",
    packetId: 2,
    reasonCode: 0x80,
    properties: { reasonString: "no", userProperties: [["why", "quota"]] },
  },
  { type: "pubrel", packetId: 3, reasonCode: 0x92 },
  { type: "pubcomp", packetId: 4, reasonCode: 0, properties: { reasonString: "ok" } },
  {
    type: "subscribe",
    packetId: 5,
    subscriptions: [
      { topicFilter: "a/#", qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
      {
        topicFilter: "$share/g/b",
        qos: 0,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 1,
      },
    ],
    properties: { subscriptionIdentifiers: [7], userProperties: [["s", "t"]] },
  },
  {
    type: "suback",
    packetId: 5,
    reasonCodes: [1, 0x9e],
    properties: { reasonString: "shared off" },
  },
  {
    type: "unsubscribe",
    packetId: 6,
    topicFilters: ["a/#"],
    properties: { userProperties: [["u", "v"]] },
  },
  { type: "unsuback", packetId: 6, reasonCodes: [0, 0x11] },
  { type: "pingreq" },
  { type: "pingresp" },
  {
    type: "auth",
    reasonCode: 0x18,
    properties: { authenticationMethod: "SCRAM-SHA-1", authenticationData: new Uint8Array([5]) },
  },
  { type: "auth", reasonCode: 0 },
  { type: "disconnect", reasonCode: 0 },
  {
    type: "disconnect",
    reasonCode: 0x9c,
    properties: { sessionExpiryInterval: 0, serverReference: "b:1883", reasonString: "move" },
  },
];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function roundTrip(packets: MqttPacket[], level: ProtocolLevel): void {
  const stream = concat(packets.map((packet) => encodePacket(packet, level)));
  forEachChunkSize(stream, (parts, size) => {
    const decoder = new MqttDecoder();
    let index = 0;
    for (const part of parts) {
      // A copy, spoiled once drained, as a socket's reused read buffer would be: a packet that
      // kept a view past the next feed would show garbage.
      const chunk = part.slice();
      decoder.feed(chunk);
      const seen: MqttPacket[] = [];
      for (let packet = decoder.next(); packet !== null; packet = decoder.next()) seen.push(packet);
      for (const packet of seen) {
        assertEquals(packet, packets[index], `packet ${index} at chunk size ${size}`);
        index++;
      }
      chunk.fill(0xee);
    }
    assertEquals(index, packets.length, `chunk size ${size}`);
    assertEquals(decoder.protocolLevel, level);
  });
}

Deno.test("MqttDecoder and encodePacket round-trip every packet at level 4, at every chunk size", () => {
  roundTrip(LEVEL_4, 4);
});

Deno.test("MqttDecoder and encodePacket round-trip every packet and property at level 5, at every chunk size", () => {
  roundTrip(LEVEL_5, 5);
});

Deno.test("MqttDecoder with a preset level decodes a server's packets without a CONNECT", () => {
  const decoder = new MqttDecoder({ protocolLevel: 5 });
  decoder.feed(encodePacket(LEVEL_5[1], 5));
  assertEquals(decoder.next(), LEVEL_5[1]);
  assertEquals(decoder.next(), null);
});

Deno.test("MqttDecoder takes a 1-byte dribble of a 200 KiB PUBLISH", () => {
  const payload = new Uint8Array(200 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i * 31;
  const packet: MqttPacket = {
    type: "publish",
    dup: false,
    qos: 1,
    retain: false,
    topic: "big",
    packetId: 9,
    properties: { contentType: "application/octet-stream" },
    payload,
  };
  const stream = encodePacket(packet, 5);
  const decoder = new MqttDecoder({ protocolLevel: 5 });
  const seen: MqttPacket[] = [];
  for (let i = 0; i < stream.length; i++) {
    decoder.feed(stream.subarray(i, i + 1));
    for (let next = decoder.next(); next !== null; next = decoder.next()) seen.push(next);
  }
  assertEquals(seen, [packet]);
});

Deno.test("MqttDecoder keeps a split packet valid until the next feed while the next split packet begins", () => {
  const first = encodePacket(LEVEL_4[3], 4);
  const second = encodePacket(LEVEL_4[2], 4);
  const decoder = new MqttDecoder({ protocolLevel: 4 });
  decoder.feed(first.slice(0, 10));
  assertEquals(decoder.next(), null);
  decoder.feed(concat([first.subarray(10), second.subarray(0, 3)]));
  const packet = decoder.next();
  assertEquals(decoder.next(), null);
  assertEquals(packet, LEVEL_4[3]);
  decoder.feed(second.subarray(3));
  assertEquals(decoder.next(), LEVEL_4[2]);
});

Deno.test("MqttDecoder refuses a feed before the previous chunk is drained", () => {
  const decoder = new MqttDecoder({ protocolLevel: 4 });
  decoder.feed(new Uint8Array([0xc0, 0x00, 0xd0, 0x00]));
  assertEquals(decoder.next(), { type: "pingreq" });
  assertThrows(
    () => decoder.feed(new Uint8Array([0xc0, 0x00])),
    Error,
    "before next returned null",
  );
});

Deno.test("MqttDecoder rejects bad options", () => {
  assertThrows(() => new MqttDecoder({ maxPacketSize: 0 }), RangeError);
  assertThrows(() => new MqttDecoder({ protocolLevel: 3 as ProtocolLevel }), RangeError);
  assertInstanceOf(new MqttDecoder(), MqttDecoder);
});
