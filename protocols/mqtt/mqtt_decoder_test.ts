import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { forEachChunkSize } from "../../testing/chunks.ts";
import { MqttDecoder, type MqttDecoderOptions } from "./mqtt_decoder.ts";
import {
  MqttClientIdentifierInvalidError,
  MqttError,
  MqttMalformedPacketError,
  MqttPacketTooLargeError,
  MqttProtocolViolationError,
  MqttTopicNameInvalidError,
  MqttUnsupportedProtocolVersionError,
} from "./mqtt_errors.ts";
import type { MqttPacket } from "./mqtt_packets.ts";
import { ReasonCode } from "./reason_codes.ts";
import { fromHex, SPEC_CONNECT_4, SPEC_PUBLISH_5 } from "./_mqtt_test_helper.ts";

/** A packet with a one-byte remaining length. */
function raw(first: number, ...body: number[]): number[] {
  assert(body.length < 128);
  return [first, body.length, ...body];
}

/** A UTF-8 string field from raw bytes. */
function str(...utf8: number[]): number[] {
  return [0, utf8.length, ...utf8];
}

/** A UTF-8 string field from text. */
function text(value: string): number[] {
  return str(...new TextEncoder().encode(value));
}

/** A level 5 CONNECT, client id "c", no properties, to open a stream. */
const CONNECT_5 = raw(0x10, ...text("MQTT"), 5, 0x02, 0, 60, 0, ...text("c"));
/** A level 4 CONNECT, client id "c", clean session. */
const CONNECT_4 = raw(0x10, ...text("MQTT"), 4, 0x02, 0, 60, ...text("c"));

/**
 * Feeds `input` at every chunk size and asserts that the decoder throws `type` with `reason`,
 * and stays failed after.
 */
function assertRefused(
  input: number[],
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => MqttError,
  reason: number,
  options: MqttDecoderOptions = {},
): MqttError {
  let last: MqttError | undefined;
  forEachChunkSize(new Uint8Array(input), (parts, size) => {
    const decoder = new MqttDecoder(options);
    let error: unknown;
    try {
      for (const part of parts) {
        decoder.feed(part);
        while (decoder.next() !== null) { /* packets before the bad one */ }
      }
    } catch (caught) {
      error = caught;
    }
    assertInstanceOf(error, type, `chunk size ${size}`);
    assertEquals((error as MqttError).reasonCode, reason, `chunk size ${size}`);
    assertEquals(decoder.next(), null);
    last = error as MqttError;
  });
  return last!;
}

function decodeAll(input: number[], options: MqttDecoderOptions = {}): MqttPacket[] {
  const decoder = new MqttDecoder(options);
  decoder.feed(new Uint8Array(input));
  const packets: MqttPacket[] = [];
  for (let packet = decoder.next(); packet !== null; packet = decoder.next()) packets.push(packet);
  return packets;
}

Deno.test("MqttDecoder decodes a level 4 CONNECT with clean session and keep-alive 60 from spec bytes", () => {
  assertEquals(decodeAll(fromHex(SPEC_CONNECT_4.hex)), [SPEC_CONNECT_4.packet]);
});

Deno.test("MqttDecoder decodes a level 5 PUBLISH with properties from spec bytes", () => {
  assertEquals(decodeAll(fromHex(SPEC_PUBLISH_5.hex), { protocolLevel: 5 }), [
    SPEC_PUBLISH_5.packet,
  ]);
});

Deno.test("MqttDecoder keeps a leading U+FEFF in a string, as the spec requires", () => {
  const packets = decodeAll(raw(0x30, ...str(0xef, 0xbb, 0xbf, 0x61)), { protocolLevel: 4 });
  assertEquals(packets[0].type === "publish" && packets[0].topic, "\ufeffa");
});

Deno.test("MqttDecoder refuses reserved flag bits in the fixed header with 0x81", () => {
  assertRefused([...CONNECT_4, ...raw(0xc1)], MqttMalformedPacketError, 0x81);
  assertRefused(
    [...CONNECT_4, ...raw(0x80, 0, 1, ...text("a"), 0)],
    MqttMalformedPacketError,
    0x81,
  );
  assertRefused([...CONNECT_4, ...raw(0x60, 0, 1)], MqttMalformedPacketError, 0x81);
  assertRefused(raw(0x00), MqttMalformedPacketError, 0x81, { protocolLevel: 5 });
});

Deno.test("MqttDecoder refuses PUBLISH with QoS 3, or DUP at QoS 0, with 0x81", () => {
  assertRefused(raw(0x36, ...text("a"), 0, 1), MqttMalformedPacketError, 0x81, {
    protocolLevel: 4,
  });
  assertRefused(raw(0x38, ...text("a")), MqttMalformedPacketError, 0x81, { protocolLevel: 4 });
});

Deno.test("MqttDecoder refuses invalid UTF-8, U+0000 and encoded surrogates with 0x81", () => {
  const level = { protocolLevel: 4 as const };
  assertRefused(raw(0x30, ...str(0xc3, 0x28)), MqttMalformedPacketError, 0x81, level);
  assertRefused(raw(0x30, ...str(0x61, 0x00)), MqttMalformedPacketError, 0x81, level);
  assertRefused(raw(0x30, ...str(0xed, 0xa0, 0x80)), MqttMalformedPacketError, 0x81, level);
  assertRefused(raw(0x30, ...str(0xc0, 0xaf)), MqttMalformedPacketError, 0x81, level);
  assertRefused(
    [...CONNECT_4.slice(0, -3), ...str(0xff)],
    MqttMalformedPacketError,
    0x81,
  );
});

Deno.test("MqttDecoder refuses wildcards in a PUBLISH or Will topic name with 0x90", () => {
  const error = assertRefused(
    raw(0x30, ...text("a/+"), 0x61),
    MqttTopicNameInvalidError,
    ReasonCode.topicNameInvalid,
    { protocolLevel: 4 },
  );
  assertEquals((error as MqttTopicNameInvalidError).topic, "a/+");
  assertRefused(raw(0x30, ...text("#")), MqttTopicNameInvalidError, 0x90, { protocolLevel: 4 });
  assertRefused(
    raw(0x10, ...text("MQTT"), 4, 0x06, 0, 60, ...text("c"), ...text("w/#"), ...text("x")),
    MqttTopicNameInvalidError,
    0x90,
  );
});

Deno.test("MqttDecoder refuses an empty PUBLISH topic without a topic alias with 0x82", () => {
  assertRefused(raw(0x30, ...text(""), 0), MqttProtocolViolationError, 0x82, { protocolLevel: 4 });
  assertRefused(raw(0x30, ...text(""), 0), MqttProtocolViolationError, 0x82, { protocolLevel: 5 });
});

Deno.test("MqttDecoder refuses packet identifier 0 where one is required with 0x82", () => {
  const level = { protocolLevel: 5 as const };
  assertRefused(raw(0x32, ...text("a"), 0, 0, 0), MqttProtocolViolationError, 0x82, level);
  assertRefused(raw(0x40, 0, 0), MqttProtocolViolationError, 0x82, level);
  assertRefused(raw(0x62, 0, 0), MqttProtocolViolationError, 0x82, level);
  assertRefused(raw(0x82, 0, 0, 0, ...text("a"), 0), MqttProtocolViolationError, 0x82, level);
  assertRefused(raw(0xa2, 0, 0, 0, ...text("a")), MqttProtocolViolationError, 0x82, level);
});

Deno.test("MqttDecoder refuses a property repeated that may not repeat with 0x82", () => {
  const level = { protocolLevel: 5 as const };
  // contentType twice on a PUBLISH.
  const props = [0x03, ...text("a"), 0x03, ...text("b")];
  assertRefused(
    raw(0x30, ...text("t"), props.length, ...props),
    MqttProtocolViolationError,
    0x82,
    level,
  );
  // Two subscription identifiers on a SUBSCRIBE (a PUBLISH may carry several).
  assertRefused(
    raw(0x82, 0, 1, 4, 0x0b, 1, 0x0b, 2, ...text("a"), 0),
    MqttProtocolViolationError,
    0x82,
    level,
  );
  const publish = decodeAll(raw(0x30, ...text("t"), 6, 0x0b, 1, 0x0b, 2, 0x0b, 3), level);
  assertEquals(publish[0].type === "publish" && publish[0].properties, {
    subscriptionIdentifiers: [1, 2, 3],
  });
});

Deno.test("MqttDecoder refuses an unknown property identifier with 0x81", () => {
  assertRefused(
    raw(0x30, ...text("t"), 2, 0x04, 0),
    MqttMalformedPacketError,
    0x81,
    { protocolLevel: 5 },
  );
});

Deno.test("MqttDecoder refuses a property on a packet that may not carry it with 0x82", () => {
  // Topic alias in a CONNECT.
  assertRefused(
    raw(0x10, ...text("MQTT"), 5, 0x02, 0, 60, 3, 0x23, 0, 1, ...text("c")),
    MqttProtocolViolationError,
    0x82,
  );
  // Will delay interval among the CONNECT's own properties rather than the Will's.
  assertRefused(
    raw(0x10, ...text("MQTT"), 5, 0x02, 0, 60, 5, 0x18, 0, 0, 0, 1, ...text("c")),
    MqttProtocolViolationError,
    0x82,
  );
  // Reason string on a PUBLISH.
  assertRefused(
    raw(0x30, ...text("t"), 4, 0x1f, ...text("r")),
    MqttProtocolViolationError,
    0x82,
    { protocolLevel: 5 },
  );
});

Deno.test("MqttDecoder refuses out-of-range property values with 0x82 or 0x94", () => {
  const level = { protocolLevel: 5 as const };
  assertRefused(raw(0x30, ...text("t"), 2, 0x01, 2), MqttProtocolViolationError, 0x82, level);
  assertRefused(raw(0x30, ...text("t"), 2, 0x0b, 0), MqttProtocolViolationError, 0x82, level);
  assertRefused(raw(0x30, ...text("t"), 3, 0x23, 0, 0), MqttError, 0x94, level);
  assertRefused(
    raw(0x20, 0, 0, 3, 0x21, 0, 0),
    MqttProtocolViolationError,
    0x82,
    level,
  );
});

Deno.test("MqttDecoder refuses a remaining length that does not match the fields with 0x81", () => {
  const level = { protocolLevel: 4 as const };
  assertRefused(raw(0xc0, 0), MqttMalformedPacketError, 0x81, level);
  assertRefused(raw(0x40, 0, 1, 0), MqttMalformedPacketError, 0x81, level);
  assertRefused(
    [...CONNECT_4.slice(0, 1), CONNECT_4[1] + 1, ...CONNECT_4.slice(2), 0],
    MqttMalformedPacketError,
    0x81,
  );
  // A string announcing more bytes than the packet has.
  assertRefused(raw(0x82, 0, 1, 0, 9, 0x61, 0), MqttMalformedPacketError, 0x81, level);
  // A property length past the end of the packet.
  assertRefused(raw(0x30, ...text("t"), 9, 0x01), MqttMalformedPacketError, 0x81, {
    protocolLevel: 5,
  });
});

Deno.test("MqttDecoder refuses a remaining length encoded in more than 4 bytes with 0x81", () => {
  assertRefused(
    [0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
    MqttMalformedPacketError,
    0x81,
    { protocolLevel: 4, maxPacketSize: 1 << 30 },
  );
});

Deno.test("MqttDecoder refuses a packet over maxPacketSize on its fixed header, before its body", () => {
  // PUBLISH announcing 1,000 bytes of body; none of them is ever fed.
  const error = assertRefused(
    [0x30, 0xe8, 0x07],
    MqttPacketTooLargeError,
    ReasonCode.packetTooLarge,
    { protocolLevel: 4, maxPacketSize: 1000 },
  ) as MqttPacketTooLargeError;
  assertEquals([error.size, error.maxSize], [1003, 1000]);
  // The default is 1 MiB, fixed header included.
  assertRefused([0x30, 0xfd, 0xff, 0x3f], MqttPacketTooLargeError, 0x95, { protocolLevel: 4 });
  const decoder = new MqttDecoder({ protocolLevel: 4 });
  decoder.feed(new Uint8Array([0x30, 0xfc, 0xff, 0x3f]));
  assertEquals(decoder.next(), null);
});

Deno.test("MqttDecoder refuses protocols other than MQTT levels 4 and 5 with 0x84", () => {
  const error = assertRefused(
    raw(0x10, ...text("MQIsdp"), 3, 0x02, 0, 60, ...text("c")),
    MqttUnsupportedProtocolVersionError,
    ReasonCode.unsupportedProtocolVersion,
  ) as MqttUnsupportedProtocolVersionError;
  assertEquals([error.protocolName, error.protocolLevel], ["MQIsdp", 3]);
  assertRefused(
    raw(0x10, ...text("MQTT"), 6, 0x02, 0, 60, ...text("c")),
    MqttUnsupportedProtocolVersionError,
    0x84,
  );
});

Deno.test("MqttDecoder refuses an empty client identifier without clean session at level 4 with 0x85", () => {
  assertRefused(
    raw(0x10, ...text("MQTT"), 4, 0x00, 0, 60, ...text("")),
    MqttClientIdentifierInvalidError,
    ReasonCode.clientIdentifierNotValid,
  );
  assertEquals(
    decodeAll(raw(0x10, ...text("MQTT"), 5, 0x00, 0, 60, 0, ...text("")))[0].type,
    "connect",
  );
});

Deno.test("MqttDecoder refuses bad CONNECT flags with 0x81", () => {
  const connect = (flags: number) => raw(0x10, ...text("MQTT"), 4, flags, 0, 60, ...text("c"));
  assertRefused(connect(0x03), MqttMalformedPacketError, 0x81);
  assertRefused(connect(0x02 | 0x18), MqttMalformedPacketError, 0x81);
  assertRefused(connect(0x02 | 0x20), MqttMalformedPacketError, 0x81);
  assertRefused(
    raw(
      0x10,
      ...text("MQTT"),
      4,
      0x02 | 0x04 | 0x18,
      0,
      60,
      ...text("c"),
      ...text("w"),
      ...text(""),
    ),
    MqttMalformedPacketError,
    0x81,
  );
  assertRefused(
    raw(0x10, ...text("MQTT"), 4, 0x42, 0, 60, ...text("c"), ...text("p")),
    MqttMalformedPacketError,
    0x81,
  );
});

Deno.test("MqttDecoder refuses a stream not opened by exactly one CONNECT with 0x82", () => {
  assertRefused(raw(0xc0), MqttProtocolViolationError, 0x82);
  assertRefused([...CONNECT_5, ...CONNECT_5], MqttProtocolViolationError, 0x82);
});

Deno.test("MqttDecoder refuses AUTH at level 4 with 0x81", () => {
  assertRefused([...CONNECT_4, ...raw(0xf0)], MqttMalformedPacketError, 0x81);
  assertEquals(decodeAll([...CONNECT_5, ...raw(0xf0)])[1], { type: "auth", reasonCode: 0 });
});

Deno.test("MqttDecoder refuses bad SUBSCRIBE options and empty lists", () => {
  const v4 = { protocolLevel: 4 as const };
  const v5 = { protocolLevel: 5 as const };
  assertRefused(raw(0x82, 0, 1, ...text("a"), 0x04), MqttMalformedPacketError, 0x81, v4);
  assertRefused(raw(0x82, 0, 1, 0, ...text("a"), 0x40), MqttMalformedPacketError, 0x81, v5);
  assertRefused(raw(0x82, 0, 1, 0, ...text("a"), 0x03), MqttMalformedPacketError, 0x81, v5);
  assertRefused(raw(0x82, 0, 1, 0, ...text("a"), 0x30), MqttProtocolViolationError, 0x82, v5);
  assertRefused(raw(0x82, 0, 1, 0), MqttProtocolViolationError, 0x82, v5);
  assertRefused(raw(0xa2, 0, 1), MqttProtocolViolationError, 0x82, v4);
});

Deno.test("MqttDecoder reads level 5 acknowledgements in their short forms", () => {
  assertEquals(
    decodeAll([...raw(0x40, 0, 7), ...raw(0x50, 0, 7, 0x10), ...raw(0xe0)], {
      protocolLevel: 5,
    }),
    [
      { type: "puback", packetId: 7, reasonCode: 0 },
      { type: "pubrec", packetId: 7, reasonCode: 0x10 },
      { type: "disconnect", reasonCode: 0 },
    ],
  );
});
