/**
 * The control packets of MQTT 3.1.1 (protocol level 4) and MQTT 5.0 (level 5), as plain
 * objects that {@linkcode MqttDecoder} returns and the encoder functions take.
 *
 * Level 4 has no properties, no reason codes on acknowledgements or DISCONNECT, and no AUTH:
 * the encoder leaves those fields out at level 4, and the decoder fills them with their
 * level 5 defaults (reason code 0, no properties).
 *
 * @module
 */

/** The protocol levels spoken: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
export type ProtocolLevel = 4 | 5;

/** A quality of service: at most once, at least once, exactly once. */
export type QoS = 0 | 1 | 2;

/**
 * The control packet types, as the high four bits of a packet's first byte (spec §2.1.2).
 *
 * @example
 * ```ts
 * import { PacketType } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(PacketType.publish, 3);
 * ```
 */
export const PacketType = {
  /** Client to server: open a session. */
  connect: 1,
  /** Server to client: the answer to CONNECT. */
  connack: 2,
  /** Either way: an application message. */
  publish: 3,
  /** Acknowledges a QoS 1 PUBLISH. */
  puback: 4,
  /** QoS 2, step 1: publish received. */
  pubrec: 5,
  /** QoS 2, step 2: publish release. */
  pubrel: 6,
  /** QoS 2, step 3: publish complete. */
  pubcomp: 7,
  /** Client to server: subscribe to topic filters. */
  subscribe: 8,
  /** Server to client: the answer to SUBSCRIBE. */
  suback: 9,
  /** Client to server: unsubscribe from topic filters. */
  unsubscribe: 10,
  /** Server to client: the answer to UNSUBSCRIBE. */
  unsuback: 11,
  /** Client to server: are you there? */
  pingreq: 12,
  /** Server to client: yes. */
  pingresp: 13,
  /** Either way: the connection ends, with a reason at level 5. */
  disconnect: 14,
  /** Either way, level 5 only: a step of extended authentication. */
  auth: 15,
} as const;

/**
 * The MQTT 5.0 properties (spec §2.2.2.2), by name. Every one is optional; each packet allows
 * only some of them (the decoder refuses the others with a protocol error, the encoder writes
 * what it is given). Binary properties are views, like payloads (see {@linkcode MqttDecoder}).
 */
export interface Properties {
  /** 0x01, PUBLISH and Will: 0 for unspecified bytes, 1 for UTF-8 text. */
  payloadFormatIndicator?: 0 | 1;
  /** 0x02, PUBLISH and Will: lifetime of the message, in seconds. */
  messageExpiryInterval?: number;
  /** 0x03, PUBLISH and Will: the payload's content type, such as a MIME type. */
  contentType?: string;
  /** 0x08, PUBLISH and Will: the topic a response should go to. */
  responseTopic?: string;
  /** 0x09, PUBLISH and Will: ties a response to its request. */
  correlationData?: Uint8Array;
  /**
   * 0x0B, PUBLISH and SUBSCRIBE: subscription identifiers, 1 to 268,435,455. A SUBSCRIBE
   * carries at most one; a PUBLISH to a client carries one per matching subscription, which is
   * why this property is an array.
   */
  subscriptionIdentifiers?: number[];
  /** 0x11, CONNECT, CONNACK, DISCONNECT: how long the session outlives the connection, in seconds. */
  sessionExpiryInterval?: number;
  /** 0x12, CONNACK: the client identifier the server chose for a client that sent none. */
  assignedClientIdentifier?: string;
  /** 0x13, CONNACK: the keep-alive the server imposes, in seconds. */
  serverKeepAlive?: number;
  /** 0x15, CONNECT, CONNACK, AUTH: the extended authentication method's name. */
  authenticationMethod?: string;
  /** 0x16, CONNECT, CONNACK, AUTH: the extended authentication method's data. */
  authenticationData?: Uint8Array;
  /** 0x17, CONNECT: 0 asks the server to leave reason strings and user properties out of errors. */
  requestProblemInformation?: 0 | 1;
  /** 0x18, Will: how long to wait before publishing the Will, in seconds. */
  willDelayInterval?: number;
  /** 0x19, CONNECT: 1 asks the server for response information in CONNACK. */
  requestResponseInformation?: 0 | 1;
  /** 0x1A, CONNACK: the basis of response topics. */
  responseInformation?: string;
  /** 0x1C, CONNACK, DISCONNECT: another server to use. */
  serverReference?: string;
  /** 0x1F, acknowledgements, DISCONNECT, AUTH: a human-readable reason. */
  reasonString?: string;
  /** 0x21, CONNECT, CONNACK: QoS > 0 publications the sender will process at once, 1 to 65,535. */
  receiveMaximum?: number;
  /** 0x22, CONNECT, CONNACK: highest topic alias the sender accepts. */
  topicAliasMaximum?: number;
  /** 0x23, PUBLISH: a number standing for the topic name, 1 or more. */
  topicAlias?: number;
  /** 0x24, CONNACK: the highest QoS the server supports (absent means 2). */
  maximumQos?: 0 | 1;
  /** 0x25, CONNACK: whether the server supports retained messages (absent means yes). */
  retainAvailable?: boolean;
  /** 0x26, every packet with properties: name-value pairs, in order; names may repeat. */
  userProperties?: [name: string, value: string][];
  /** 0x27, CONNECT, CONNACK: the largest packet the sender accepts, in bytes. */
  maximumPacketSize?: number;
  /** 0x28, CONNACK: whether the server supports wildcard subscriptions (absent means yes). */
  wildcardSubscriptionAvailable?: boolean;
  /** 0x29, CONNACK: whether the server supports subscription identifiers (absent means yes). */
  subscriptionIdentifiersAvailable?: boolean;
  /** 0x2A, CONNACK: whether the server supports shared subscriptions (absent means yes). */
  sharedSubscriptionAvailable?: boolean;
}

/** The Will of a CONNECT: a message the server publishes when the connection is lost. */
export interface Will {
  /** The topic name (no wildcards). */
  topic: string;
  /** The message. */
  payload: Uint8Array;
  /** Its QoS. */
  qos: QoS;
  /** Whether it is retained. */
  retain: boolean;
  /** Level 5: the Will's properties (payload format, expiry, delay...). */
  properties?: Properties;
}

/** CONNECT: the first packet from a client. */
export interface ConnectPacket {
  /** The kind of packet. */
  type: "connect";
  /** The protocol name; "MQTT" at levels 4 and 5. */
  protocolName: string;
  /** The protocol level. */
  protocolLevel: ProtocolLevel;
  /** Clean Session (level 4) or Clean Start (level 5): whether to begin a new session. */
  cleanStart: boolean;
  /** Longest silence allowed between client packets, in seconds; 0 turns keep-alive off. */
  keepAlive: number;
  /** The client identifier; may be empty (the server then assigns one, or refuses). */
  clientId: string;
  /** The Will, when the client sets one. */
  will?: Will;
  /** The user name, when the client sends one. */
  username?: string;
  /** The password, as bytes, when the client sends one. */
  password?: Uint8Array;
  /** Level 5: properties. */
  properties?: Properties;
}

/** CONNACK: the server's answer to CONNECT. */
export interface ConnackPacket {
  /** The kind of packet. */
  type: "connack";
  /** Whether the server resumes a stored session. */
  sessionPresent: boolean;
  /**
   * A {@linkcode ReasonCode} at level 5, a {@linkcode ConnectReturnCode} at level 4 (see
   * {@linkcode connectReturnCodeFor}).
   */
  reasonCode: number;
  /** Level 5: properties. */
  properties?: Properties;
}

/** PUBLISH: an application message, either way. */
export interface PublishPacket {
  /** The kind of packet. */
  type: "publish";
  /** Whether this is a redelivery (QoS > 0 only). */
  dup: boolean;
  /** Its QoS. */
  qos: QoS;
  /** Whether the server keeps it as the topic's retained message. */
  retain: boolean;
  /** The topic name; may be empty at level 5 when a topic alias stands for it. */
  topic: string;
  /** The packet identifier, 1 to 65,535, present when `qos` > 0. */
  packetId?: number;
  /** Level 5: properties. */
  properties?: Properties;
  /** The message. */
  payload: Uint8Array;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP: the steps of QoS 1 and QoS 2 delivery. */
export interface PublishAckPacket {
  /** The kind of packet. */
  type: "puback" | "pubrec" | "pubrel" | "pubcomp";
  /** The packet identifier of the PUBLISH acknowledged. */
  packetId: number;
  /** Level 5: a {@linkcode ReasonCode}; 0 (success) at level 4. */
  reasonCode: number;
  /** Level 5: properties. */
  properties?: Properties;
}

/** One topic filter of a SUBSCRIBE, with its options. */
export interface Subscription {
  /** The topic filter; may hold `+` and `#` wildcards. */
  topicFilter: string;
  /** The highest QoS the client accepts for it. */
  qos: QoS;
  /** Level 5: do not send the client its own publications. */
  noLocal: boolean;
  /** Level 5: keep the retain flag of forwarded publications as published. */
  retainAsPublished: boolean;
  /**
   * Level 5: 0 sends retained messages on subscribe, 1 only when the subscription is new,
   * 2 never.
   */
  retainHandling: 0 | 1 | 2;
}

/** SUBSCRIBE: a client subscribes to topic filters. */
export interface SubscribePacket {
  /** The kind of packet. */
  type: "subscribe";
  /** The packet identifier, echoed by the SUBACK. */
  packetId: number;
  /** One or more subscriptions. */
  subscriptions: Subscription[];
  /** Level 5: properties (subscription identifier, user properties). */
  properties?: Properties;
}

/** SUBACK: the server's answer to SUBSCRIBE. */
export interface SubackPacket {
  /** The kind of packet. */
  type: "suback";
  /** The packet identifier of the SUBSCRIBE. */
  packetId: number;
  /**
   * One per subscription, in order: the granted QoS (0, 1, 2) or a failure (0x80 or above; at
   * level 4 every failure is 0x80).
   */
  reasonCodes: number[];
  /** Level 5: properties. */
  properties?: Properties;
}

/** UNSUBSCRIBE: a client drops subscriptions. */
export interface UnsubscribePacket {
  /** The kind of packet. */
  type: "unsubscribe";
  /** The packet identifier, echoed by the UNSUBACK. */
  packetId: number;
  /** One or more topic filters, as subscribed. */
  topicFilters: string[];
  /** Level 5: properties. */
  properties?: Properties;
}

/** UNSUBACK: the server's answer to UNSUBSCRIBE. */
export interface UnsubackPacket {
  /** The kind of packet. */
  type: "unsuback";
  /** The packet identifier of the UNSUBSCRIBE. */
  packetId: number;
  /** Level 5: one {@linkcode ReasonCode} per topic filter; empty at level 4. */
  reasonCodes: number[];
  /** Level 5: properties. */
  properties?: Properties;
}

/** PINGREQ: a client's keep-alive. */
export interface PingreqPacket {
  /** The kind of packet. */
  type: "pingreq";
}

/** PINGRESP: the server's answer to PINGREQ. */
export interface PingrespPacket {
  /** The kind of packet. */
  type: "pingresp";
}

/** DISCONNECT: the end of a connection (either way at level 5, client only at level 4). */
export interface DisconnectPacket {
  /** The kind of packet. */
  type: "disconnect";
  /** Level 5: a {@linkcode ReasonCode}; 0 (normal disconnection) at level 4. */
  reasonCode: number;
  /** Level 5: properties. */
  properties?: Properties;
}

/** AUTH, level 5 only: a step of extended authentication. */
export interface AuthPacket {
  /** The kind of packet. */
  type: "auth";
  /** 0x00 success, 0x18 continue authentication, 0x19 re-authenticate. */
  reasonCode: number;
  /** Properties: authentication method and data, reason string, user properties. */
  properties?: Properties;
}

/** Any MQTT control packet; `type` tells which. */
export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PublishAckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
