import { assertEquals } from "@std/assert";
import { ConnectReturnCode, connectReturnCodeFor, ReasonCode } from "./reason_codes.ts";

Deno.test("ReasonCode holds the MQTT 5.0 values the decoder answers with", () => {
  assertEquals(
    [
      ReasonCode.malformedPacket,
      ReasonCode.protocolError,
      ReasonCode.unsupportedProtocolVersion,
      ReasonCode.clientIdentifierNotValid,
      ReasonCode.topicNameInvalid,
      ReasonCode.packetTooLarge,
      ReasonCode.wildcardSubscriptionsNotSupported,
    ],
    [0x81, 0x82, 0x84, 0x85, 0x90, 0x95, 0xa2],
  );
});

Deno.test("connectReturnCodeFor maps each v5 CONNACK reason to the nearest v3.1.1 return code", () => {
  const cases: [number, number][] = [
    [ReasonCode.success, ConnectReturnCode.accepted],
    [ReasonCode.unsupportedProtocolVersion, ConnectReturnCode.unacceptableProtocolVersion],
    [ReasonCode.clientIdentifierNotValid, ConnectReturnCode.identifierRejected],
    [ReasonCode.badUserNameOrPassword, ConnectReturnCode.badUserNameOrPassword],
    [ReasonCode.badAuthenticationMethod, ConnectReturnCode.badUserNameOrPassword],
    [ReasonCode.notAuthorized, ConnectReturnCode.notAuthorized],
    [ReasonCode.banned, ConnectReturnCode.notAuthorized],
    [ReasonCode.serverUnavailable, ConnectReturnCode.serverUnavailable],
    [ReasonCode.serverBusy, ConnectReturnCode.serverUnavailable],
    [ReasonCode.malformedPacket, ConnectReturnCode.serverUnavailable],
    [ReasonCode.packetTooLarge, ConnectReturnCode.serverUnavailable],
  ];
  for (const [reason, expected] of cases) {
    assertEquals(connectReturnCodeFor(reason), expected, `reason 0x${reason.toString(16)}`);
  }
});
