/**
 * MQTT 5 enhanced authentication (spec §4.12, the AUTH packet §3.15): what a library user
 * plugs into `mqttProtocol({ enhancedAuth })`. A client names an Authentication Method in its
 * CONNECT; the broker runs the method's exchange, one step per piece of Authentication Data
 * the client sends, and answers each step with AUTH 0x18 (another round), CONNACK 0x00 (in),
 * or a refusal (CONNACK 0x86 / 0x87 / 0x8C, and a close).
 *
 * ```
 * CONNECT (method, data) -> (AUTH 0x18 from the server -> AUTH 0x18 from the client)* -> CONNACK
 * later, re-authentication: AUTH 0x19 (same method) -> (AUTH 0x18 <-> AUTH 0x18)* -> AUTH 0x00
 * ```
 *
 * `scramSha256` (in `scram_sha256.ts`) is one such method.
 *
 * @module
 */

import type { Identity } from "../../core/authentication.ts";

/** What a method is told when an exchange starts. */
export interface MqttAuthRequest {
  /** The Authentication Method the client named. */
  readonly method: string;
  /** The client identifier of its CONNECT (empty when the broker assigns one). */
  readonly clientId: string;
  /** The User Name of its CONNECT, when it sent one. */
  readonly username?: string;
  /** Whether the client re-authenticates a connection already accepted (AUTH 0x19). */
  readonly reauthentication: boolean;
  /** Who the client is so far, when it re-authenticates. */
  readonly identity?: Identity;
}

/** A refusal's reason code: CONNACK before the client is in, DISCONNECT after (0x86 → 0x87). */
export type MqttAuthRefusalCode =
  /** Bad user name or password. */
  | 0x86
  /** Not authorized. */
  | 0x87
  /** Banned. */
  | 0x8a
  /** Bad authentication method. */
  | 0x8c;

/**
 * A method's answer to one piece of the client's Authentication Data:
 *
 * - `{ continue: data }`: another round, AUTH 0x18 with this data to the client;
 * - `{ success: identity, data? }`: in, with this identity (CONNACK 0x00, or AUTH 0x00 after
 *   a re-authentication), with the final data if given;
 * - `{ refused: why, reasonCode? }`: out, with the reason code (default 0x87 Not authorized);
 *   `why` is not sent: the client learns the reason code only.
 */
export type MqttAuthAnswer =
  | { readonly continue: Uint8Array }
  | { readonly success: Identity; readonly data?: Uint8Array }
  | { readonly refused: string; readonly reasonCode?: MqttAuthRefusalCode };

/**
 * One exchange: called with the client's data of the CONNECT (or of the AUTH 0x19), then with
 * that of each AUTH 0x18 the client answers with. Calls never overlap. Absent data: the client
 * sent none.
 */
export type MqttAuthExchange = (
  data: Uint8Array | undefined,
) => MqttAuthAnswer | Promise<MqttAuthAnswer>;

/** An authentication method: starts one exchange per CONNECT or re-authentication. */
export type MqttAuthMethod = (request: MqttAuthRequest) => MqttAuthExchange;

/**
 * `mqttProtocol`'s `enhancedAuth`. A client that names one of `methods` is authenticated by it
 * alone: the server's `authenticate` hook is not asked (it keeps answering for clients that
 * name no method, with their user name and password). A client that names a method not in
 * `methods` is refused with CONNACK 0x8C, never let through to the password check. After a
 * successful re-authentication the new identity is the one `authorize` sees; while it runs, the
 * client's other packets go on under the old one.
 *
 * @example A method that wants the data "let me in", in one step
 * ```ts
 * import { mqttProtocol, type MqttAuthMethod } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const knock: MqttAuthMethod = () => (data) =>
 *   new TextDecoder().decode(data) === "let me in"
 *     ? { success: { name: "knocker" } }
 *     : { refused: "wrong knock" };
 * const protocol = mqttProtocol({ enhancedAuth: { methods: { KNOCK: knock } } });
 * assertEquals(protocol.broker.sessions.size, 0);
 * ```
 */
export interface MqttEnhancedAuthOptions {
  /** Methods by their Authentication Method name (`"SCRAM-SHA-256"`, ...). */
  readonly methods: Readonly<Record<string, MqttAuthMethod>>;
  /**
   * Rounds a method may ask for (AUTH 0x18 the broker sends) in one exchange; one more is
   * refused (0x87) and closed.
   *
   * @default {4}
   */
  readonly maxRounds?: number;
  /**
   * Time one exchange may take, from the CONNECT (or AUTH 0x19) to the last answer, in
   * milliseconds, the client's silences and the method's work together. Past it: CONNACK (or
   * DISCONNECT) 0x87 and a close.
   *
   * @default {10000}
   */
  readonly timeout?: number;
}
