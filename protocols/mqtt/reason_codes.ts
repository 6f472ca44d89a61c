/**
 * MQTT 5.0 reason codes and MQTT 3.1.1 CONNACK return codes, by name.
 *
 * @module
 */

/**
 * Every MQTT 5.0 reason code (spec §2.4), named as the specification names it. Several names
 * share a value: the packet they travel in says which meaning applies (0x00 is `success` in a
 * CONNACK, `normalDisconnection` in a DISCONNECT, `grantedQos0` in a SUBACK).
 *
 * @example Answering a packet that cannot be parsed
 * ```ts
 * import { ReasonCode } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ReasonCode.malformedPacket, 0x81);
 * ```
 */
export const ReasonCode = {
  /** CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH: it went well. */
  success: 0x00,
  /** DISCONNECT: a clean close; the Will is not published. */
  normalDisconnection: 0x00,
  /** SUBACK: subscribed, maximum QoS 0. */
  grantedQos0: 0x00,
  /** SUBACK: subscribed, maximum QoS 1. */
  grantedQos1: 0x01,
  /** SUBACK: subscribed, maximum QoS 2. */
  grantedQos2: 0x02,
  /** DISCONNECT from a client: close, but publish the Will. */
  disconnectWithWillMessage: 0x04,
  /** PUBACK, PUBREC: accepted, though nobody subscribes. */
  noMatchingSubscribers: 0x10,
  /** UNSUBACK: there was no such subscription. */
  noSubscriptionExisted: 0x11,
  /** AUTH: another step of authentication follows. */
  continueAuthentication: 0x18,
  /** AUTH from a client: authenticate again. */
  reAuthenticate: 0x19,
  /** Refused, for no reason the sender will name. */
  unspecifiedError: 0x80,
  /** The packet does not parse as the specification says. */
  malformedPacket: 0x81,
  /** The packet parses but breaks a rule of the protocol. */
  protocolError: 0x82,
  /** Valid, but this implementation does not accept it. */
  implementationSpecificError: 0x83,
  /** CONNACK: the protocol name or level is not supported. */
  unsupportedProtocolVersion: 0x84,
  /** CONNACK: the client identifier is valid UTF-8 but not accepted. */
  clientIdentifierNotValid: 0x85,
  /** CONNACK: the user name or password is refused. */
  badUserNameOrPassword: 0x86,
  /** Not authorized for what was asked. */
  notAuthorized: 0x87,
  /** CONNACK: the server cannot serve now. */
  serverUnavailable: 0x88,
  /** CONNACK, DISCONNECT: the server is busy; try later. */
  serverBusy: 0x89,
  /** CONNACK: this client is banned. */
  banned: 0x8a,
  /** DISCONNECT: the server is shutting down. */
  serverShuttingDown: 0x8b,
  /** CONNACK, DISCONNECT: the authentication method is not supported or does not match. */
  badAuthenticationMethod: 0x8c,
  /** DISCONNECT: nothing arrived within 1.5 keep-alive periods. */
  keepAliveTimeout: 0x8d,
  /** DISCONNECT: another connection with the same client identifier took the session. */
  sessionTakenOver: 0x8e,
  /** SUBACK, UNSUBACK, DISCONNECT: the topic filter is not accepted. */
  topicFilterInvalid: 0x8f,
  /** CONNACK, PUBACK, PUBREC, DISCONNECT: the topic name is not accepted. */
  topicNameInvalid: 0x90,
  /** PUBACK, PUBREC, SUBACK, UNSUBACK: the packet identifier is already in use. */
  packetIdentifierInUse: 0x91,
  /** PUBREL, PUBCOMP: no flow has this packet identifier. */
  packetIdentifierNotFound: 0x92,
  /** DISCONNECT: more QoS > 0 publications in flight than Receive Maximum allows. */
  receiveMaximumExceeded: 0x93,
  /** DISCONNECT: the topic alias is 0 or above the maximum. */
  topicAliasInvalid: 0x94,
  /** CONNACK, DISCONNECT: the packet is larger than the maximum packet size. */
  packetTooLarge: 0x95,
  /** DISCONNECT: publishing too fast. */
  messageRateTooHigh: 0x96,
  /** An administrative quota is exceeded. */
  quotaExceeded: 0x97,
  /** DISCONNECT: closed by an administrator. */
  administrativeAction: 0x98,
  /** The payload does not match its Payload Format Indicator. */
  payloadFormatInvalid: 0x99,
  /** CONNACK, DISCONNECT: retained messages are not supported. */
  retainNotSupported: 0x9a,
  /** CONNACK, DISCONNECT: the QoS asked for is not supported. */
  qosNotSupported: 0x9b,
  /** CONNACK, DISCONNECT: connect to another server for now. */
  useAnotherServer: 0x9c,
  /** CONNACK, DISCONNECT: connect to another server from now on. */
  serverMoved: 0x9d,
  /** SUBACK, DISCONNECT: shared subscriptions are not supported. */
  sharedSubscriptionsNotSupported: 0x9e,
  /** CONNACK, DISCONNECT: too many connections per unit of time. */
  connectionRateExceeded: 0x9f,
  /** DISCONNECT: the connection lasted as long as it is allowed to. */
  maximumConnectTime: 0xa0,
  /** SUBACK, DISCONNECT: subscription identifiers are not supported. */
  subscriptionIdentifiersNotSupported: 0xa1,
  /** SUBACK, DISCONNECT: wildcard subscriptions are not supported. */
  wildcardSubscriptionsNotSupported: 0xa2,
} as const;

/** The numeric value of one of the {@linkcode ReasonCode}s. */
export type ReasonCodeValue = typeof ReasonCode[keyof typeof ReasonCode];

/**
 * The CONNACK return codes of MQTT 3.1.1 (spec §3.2.2.3); 6 to 255 are reserved.
 *
 * @example
 * ```ts
 * import { ConnectReturnCode } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ConnectReturnCode.notAuthorized, 5);
 * ```
 */
export const ConnectReturnCode = {
  /** Connection accepted. */
  accepted: 0x00,
  /** Refused: the server does not support the protocol level asked for. */
  unacceptableProtocolVersion: 0x01,
  /** Refused: the client identifier is valid UTF-8 but not allowed. */
  identifierRejected: 0x02,
  /** Refused: the MQTT service is unavailable. */
  serverUnavailable: 0x03,
  /** Refused: the user name or password is malformed or wrong. */
  badUserNameOrPassword: 0x04,
  /** Refused: the client is not authorized to connect. */
  notAuthorized: 0x05,
} as const;

/** The numeric value of one of the {@linkcode ConnectReturnCode}s. */
export type ConnectReturnCodeValue = typeof ConnectReturnCode[keyof typeof ConnectReturnCode];

/**
 * The MQTT 3.1.1 CONNACK return code nearest to an MQTT 5.0 CONNACK reason code, so that a
 * broker can decide a refusal once and answer clients of either level. A reason with no
 * counterpart (malformed packet, packet too large, quota exceeded...) maps to
 * `serverUnavailable`, the one v3 code that blames neither the client's identity nor its
 * credentials.
 *
 * @param reason A v5 CONNACK reason code.
 * @returns The v3.1.1 return code to send instead.
 *
 * @example
 * ```ts
 * import { ConnectReturnCode, connectReturnCodeFor, ReasonCode } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(connectReturnCodeFor(ReasonCode.success), ConnectReturnCode.accepted);
 * assertEquals(
 *   connectReturnCodeFor(ReasonCode.banned),
 *   ConnectReturnCode.notAuthorized,
 * );
 * ```
 */
export function connectReturnCodeFor(reason: number): ConnectReturnCodeValue {
  switch (reason) {
    case ReasonCode.success:
      return ConnectReturnCode.accepted;
    case ReasonCode.unsupportedProtocolVersion:
      return ConnectReturnCode.unacceptableProtocolVersion;
    case ReasonCode.clientIdentifierNotValid:
      return ConnectReturnCode.identifierRejected;
    case ReasonCode.badUserNameOrPassword:
    case ReasonCode.badAuthenticationMethod:
      return ConnectReturnCode.badUserNameOrPassword;
    case ReasonCode.notAuthorized:
    case ReasonCode.banned:
      return ConnectReturnCode.notAuthorized;
    default:
      return ConnectReturnCode.serverUnavailable;
  }
}
