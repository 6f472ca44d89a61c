/**
 * The session protocol's frames, inside the 8-byte message header:
 *
 * ```
 *  type 0  heartbeat     header only; its ackSeq acknowledges
 *  type 1  login         first frame of a client:
 *          ┌ version u8 ┬ name length u8 ┬ server name length u8 ┬ secret length u8 ┬ received u32 ┬ acknowledged u32 ┬ sent u32 ┬ name ┬ server name ┬ secret ┐
 *  type 2  login reply   first frame of the server:
 *          ┌ status u8 ┬ server name length u8 ┬ flags u8 ┬ 0 ┬ received u32 ┬ acknowledged u32 ┬ sent u32 ┬ server name ┬ reason UTF-8 ┐
 *          status: 0 accepted, 1 rejected, 2 sequence mismatch, 3 refused (authentication)
 *          flags: bit 0 "numbers withheld" (a mismatch told to a login no authenticator vouched for)
 *  after login, any type from 1: a message   ┌ seq u32 ┬ payload … ┐, its ackSeq acknowledges
 * ```
 *
 * Version 2 added the secret (UTF-8, 0 to 255 bytes; 0 means none was given), in the byte
 * version 1 kept at zero; a version 1 login is rejected with a reason that names the versions.
 * A refused login (status 3) carries no numbers, no server name and a fixed reason: a peer the
 * authenticator did not accept learns nothing about the session it named, not even whether it
 * exists.
 *
 * @module
 */

import type { SessionSequences } from "./session_errors.ts";

export const FrameType = { heartbeat: 0, login: 1, loginReply: 2 } as const;
export const LoginStatus = { accepted: 0, rejected: 1, mismatch: 2, refused: 3 } as const;
/** Bits of a login reply's flags byte. */
export const LoginReplyFlag = { numbersWithheld: 1 } as const;
export const PROTOCOL_VERSION = 2;
/** Longest secret a login carries, in UTF-8 bytes. */
export const MAX_SECRET_LENGTH = 255;
/** The reason of every refused login: the same whatever failed. */
export const REFUSED_REASON = "Authentication failed";
/** Bytes before a message's payload: its sequence number. */
export const SEQ_SIZE = 4;

const utf8 = new TextEncoder();
const text = new TextDecoder();

export interface Login extends SessionSequences {
  name: string;
  serverName: string;
  /** The credential for the server's authenticator; absent when none was sent. */
  secret?: string;
}

export interface LoginReply extends SessionSequences {
  status: number;
  serverName: string;
  reason: string;
  /** {@linkcode LoginReplyFlag} bits. */
  flags?: number;
}

export function encodeLogin(login: Login): Uint8Array {
  const name = utf8.encode(login.name);
  const serverName = utf8.encode(login.serverName);
  const secret = utf8.encode(login.secret ?? "");
  if (secret.length > MAX_SECRET_LENGTH) {
    throw new RangeError(
      `secret must be at most ${MAX_SECRET_LENGTH} bytes of UTF-8, got ${secret.length}`,
    );
  }
  const payload = new Uint8Array(16 + name.length + serverName.length + secret.length);
  const view = new DataView(payload.buffer);
  payload[0] = PROTOCOL_VERSION;
  payload[1] = name.length;
  payload[2] = serverName.length;
  payload[3] = secret.length;
  view.setUint32(4, login.received, true);
  view.setUint32(8, login.acknowledged, true);
  view.setUint32(12, login.sent, true);
  payload.set(name, 16);
  payload.set(serverName, 16 + name.length);
  payload.set(secret, 16 + name.length + serverName.length);
  return payload;
}

/** Reads a login; a string says what is wrong with it. */
export function decodeLogin(payload: Uint8Array): Login | string {
  if (payload.length < 16) return `login of ${payload.length} bytes is too short`;
  if (payload[0] !== PROTOCOL_VERSION) {
    return `session protocol version ${
      payload[0]
    } is not supported (this side speaks ${PROTOCOL_VERSION})`;
  }
  const nameLength = payload[1];
  const serverNameLength = payload[2];
  const secretLength = payload[3];
  if (payload.length !== 16 + nameLength + serverNameLength + secretLength) {
    return "login has a bad length";
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const secretStart = 16 + nameLength + serverNameLength;
  const login: Login = {
    received: view.getUint32(4, true),
    acknowledged: view.getUint32(8, true),
    sent: view.getUint32(12, true),
    name: text.decode(payload.subarray(16, 16 + nameLength)),
    serverName: text.decode(payload.subarray(16 + nameLength, secretStart)),
  };
  if (secretLength > 0) login.secret = text.decode(payload.subarray(secretStart));
  return login;
}

export function encodeLoginReply(reply: LoginReply): Uint8Array {
  const serverName = utf8.encode(reply.serverName);
  const reason = utf8.encode(reply.reason).subarray(0, 1024);
  const payload = new Uint8Array(16 + serverName.length + reason.length);
  const view = new DataView(payload.buffer);
  payload[0] = reply.status;
  payload[1] = serverName.length;
  payload[2] = reply.flags ?? 0;
  view.setUint32(4, reply.received, true);
  view.setUint32(8, reply.acknowledged, true);
  view.setUint32(12, reply.sent, true);
  payload.set(serverName, 16);
  payload.set(reason, 16 + serverName.length);
  return payload;
}

/** Reads a login reply; a string says what is wrong with it. */
export function decodeLoginReply(payload: Uint8Array): LoginReply | string {
  if (payload.length < 16 || payload.length < 16 + payload[1]) {
    return `login reply of ${payload.length} bytes is too short`;
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    status: payload[0],
    flags: payload[2],
    received: view.getUint32(4, true),
    acknowledged: view.getUint32(8, true),
    sent: view.getUint32(12, true),
    serverName: text.decode(payload.subarray(16, 16 + payload[1])),
    reason: text.decode(payload.subarray(16 + payload[1])),
  };
}

/**
 * Whether two sides can resume: each side still holds every message the other has not
 * received, and neither has received more than the other sent.
 */
export function sequencesMatch(local: SessionSequences, remote: SessionSequences): boolean {
  return local.acknowledged <= remote.received && remote.received <= local.sent &&
    remote.acknowledged <= local.received && local.received <= remote.sent;
}
