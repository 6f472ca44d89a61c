import { assertEquals, assertThrows } from "@std/assert";
import {
  encodeConnack,
  encodeConnect,
  encodePacket,
  encodePublish,
  encodePublishAck,
  encodeSuback,
  encodeSubscribe,
  publishSize,
  writePublish,
} from "./mqtt_encoder.ts";
import type { PublishPacket, SubackPacket } from "./mqtt_packets.ts";
import { hex, SPEC_CONNECT_4, SPEC_PUBLISH_5 } from "./_mqtt_test_helper.ts";

Deno.test("encodeConnect writes a level 4 CONNECT with clean session and keep-alive 60 as the spec lays it out", () => {
  assertEquals(hex(encodeConnect(SPEC_CONNECT_4.packet)), SPEC_CONNECT_4.hex);
});

Deno.test("encodeConnect writes the flags of a Will, user name and password in order", () => {
  const bytes = encodeConnect({
    type: "connect",
    protocolName: "MQTT",
    protocolLevel: 4,
    cleanStart: false,
    keepAlive: 10,
    clientId: "c",
    will: { topic: "w", payload: new Uint8Array([0x21]), qos: 1, retain: true },
    username: "u",
    password: new Uint8Array([0x70]),
  });
  // Flags: user name 0x80, password 0x40, Will retain 0x20, Will QoS 1 0x08, Will 0x04 = 0xec.
  assertEquals(
    hex(bytes),
    "10 19 00 04 4d 51 54 54 04 ec 00 0a 00 01 63 00 01 77 00 01 21 00 01 75 00 01 70",
  );
});

Deno.test("encodeConnect writes an empty property list at level 5", () => {
  const bytes = encodeConnect({
    type: "connect",
    protocolName: "MQTT",
    protocolLevel: 5,
    cleanStart: true,
    keepAlive: 10,
    clientId: "",
  });
  assertEquals(hex(bytes), "10 0d 00 04 4d 51 54 54 05 02 00 0a 00 00 00");
});

Deno.test("encodePublish writes a level 5 PUBLISH with properties as the spec lays it out", () => {
  const packet = SPEC_PUBLISH_5.packet;
  assertEquals(hex(encodePublish(packet, 5)), SPEC_PUBLISH_5.hex);
  // Level 4 leaves the properties out.
  assertEquals(hex(encodePublish(packet, 4)), "32 09 00 03 61 2f 62 00 0a 68 69");
});

Deno.test("encodePublish encodes remaining lengths at the spec's boundaries", () => {
  const header = (payloadLength: number) =>
    hex(
      encodePublish({
        type: "publish",
        dup: false,
        qos: 0,
        retain: false,
        topic: "a",
        payload: new Uint8Array(payloadLength),
      }, 4).subarray(0, 5),
    );
  // Remaining length = 3 (topic) + payload.
  assertEquals(header(124), "30 7f 00 01 61");
  assertEquals(header(125), "30 80 01 00 01");
  assertEquals(header(16380), "30 ff 7f 00 01");
  assertEquals(header(16381), "30 80 80 01 00");
});

Deno.test("writePublish writes the bytes of encodePublish into a caller's buffer at an offset", () => {
  const packet: PublishPacket = {
    type: "publish",
    dup: true,
    qos: 2,
    retain: true,
    topic: "t/ü",
    packetId: 300,
    properties: { subscriptionIdentifiers: [1, 2], userProperties: [["k", "v"]] },
    payload: new Uint8Array([1, 2, 3]),
  };
  const expected = encodePublish(packet, 5);
  assertEquals(publishSize(packet, 5), expected.length);
  const target = new Uint8Array(expected.length + 4).fill(0xaa);
  assertEquals(writePublish(packet, 5, target, 2), expected.length);
  assertEquals(target.subarray(2, 2 + expected.length), expected);
  assertEquals([target[0], target[1], target.at(-1)], [0xaa, 0xaa, 0xaa]);
  assertThrows(() => writePublish(packet, 5, target, 5), RangeError);
});

Deno.test("encodeConnack writes a level 5 CONNACK with a property", () => {
  const bytes = encodeConnack({
    type: "connack",
    sessionPresent: true,
    reasonCode: 0,
    properties: { topicAliasMaximum: 10 },
  }, 5);
  assertEquals(hex(bytes), "20 06 01 00 03 22 00 0a");
  assertThrows(
    () => encodeConnack({ type: "connack", sessionPresent: false, reasonCode: 0x87 }, 4),
    RangeError,
  );
});

Deno.test("encodeSubscribe writes a subscription identifier and level 5 options", () => {
  const bytes = encodeSubscribe({
    type: "subscribe",
    packetId: 5,
    subscriptions: [
      { topicFilter: "x/#", qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 2 },
    ],
    properties: { subscriptionIdentifiers: [300] },
  }, 5);
  // 300 as a variable byte integer is ac 02; options 0x01 | 0x04 (no local) | 0x20 = 0x25.
  assertEquals(hex(bytes), "82 0c 00 05 03 0b ac 02 00 03 78 2f 23 25");
});

Deno.test("encodeSuback writes any failure as 0x80 at level 4 and as given at level 5", () => {
  const packet: SubackPacket = { type: "suback", packetId: 1, reasonCodes: [0, 0x87] };
  assertEquals(hex(encodeSuback(packet, 4)), "90 04 00 01 00 80");
  assertEquals(hex(encodeSuback(packet, 5)), "90 05 00 01 00 00 87");
});

Deno.test("encodePublishAck takes the short form for a level 5 success without properties", () => {
  assertEquals(
    hex(encodePublishAck({ type: "puback", packetId: 1, reasonCode: 0 }, 5)),
    "40 02 00 01",
  );
  assertEquals(
    hex(encodePublishAck({ type: "pubrec", packetId: 1, reasonCode: 0x10 }, 5)),
    "50 04 00 01 10 00",
  );
  assertEquals(
    hex(encodePublishAck({ type: "pubrec", packetId: 1, reasonCode: 0x10 }, 4)),
    "50 02 00 01",
  );
});

Deno.test("Encoders refuse out-of-range fields with RangeError", () => {
  const publish: PublishPacket = {
    type: "publish",
    dup: false,
    qos: 1,
    retain: false,
    topic: "t",
    payload: new Uint8Array(0),
  };
  assertThrows(() => encodePublish(publish, 5), RangeError, "Packet identifier");
  assertThrows(() => encodePublish({ ...publish, packetId: 65536 }, 5), RangeError);
  assertThrows(() => encodePublish({ ...publish, packetId: 1 }, 3 as 4), RangeError);
  assertThrows(
    () => encodePublish({ ...publish, qos: 0, topic: "x".repeat(65536) }, 4),
    RangeError,
  );
  assertThrows(
    () =>
      encodePublish({
        ...publish,
        qos: 0,
        properties: { subscriptionIdentifiers: [0] },
      }, 5),
    RangeError,
  );
  assertThrows(() => encodePacket({ type: "auth", reasonCode: 0 }, 4), RangeError);
  assertThrows(
    () => encodeSubscribe({ type: "subscribe", packetId: 1, subscriptions: [] }, 4),
    RangeError,
  );
});
