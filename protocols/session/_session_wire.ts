/**
 * The session protocol's frames, inside the 8-byte message header:
 *
 * ```
 *  type 0  heartbeat     header only; its ackSeq acknowledges
 *  type 1  login         first frame of a client:
 *          ┌ version u8 ┬ name length u8 ┬ server name length u8 ┬ 0 ┬ received u32 ┬ acknowledged u32 ┬ sent u32 ┬ name ┬ server name ┐
 *  type 2  login reply   first frame of the server:
 *          ┌ status u8 ┬ server name length u8 ┬ 0 0 ┬ received u32 ┬ acknowledged u32 ┬ sent u32 ┬ server name ┬ reason UTF-8 ┐
 *          status: 0 accepted, 1 rejected, 2 sequence mismatch
 *  after login, any type from 1: a message   ┌ seq u32 ┬ payload … ┐, its ackSeq acknowledges
 * ```
 *
 * @module
 */

import type { SessionSequences } from "./session_errors.ts";

export const FrameType = { heartbeat: 0, login: 1, loginReply: 2 } as const;
export const LoginStatus = { accepted: 0, rejected: 1, mismatch: 2 } as const;
export const PROTOCOL_VERSION = 1;
/** Bytes before a message's payload: its sequence number. */
export const SEQ_SIZE = 4;

const utf8 = new TextEncoder();
const text = new TextDecoder();

export interface Login extends SessionSequences {
  name: string;
  serverName: string;
}

export interface LoginReply extends SessionSequences {
  status: number;
  serverName: string;
  reason: string;
}

export function encodeLogin(login: Login): Uint8Array {
  const name = utf8.encode(login.name);
  const serverName = utf8.encode(login.serverName);
  const payload = new Uint8Array(16 + name.length + serverName.length);
  const view = new DataView(payload.buffer);
  payload[0] = PROTOCOL_VERSION;
  payload[1] = name.length;
  payload[2] = serverName.length;
  view.setUint32(4, login.received, true);
  view.setUint32(8, login.acknowledged, true);
  view.setUint32(12, login.sent, true);
  payload.set(name, 16);
  payload.set(serverName, 16 + name.length);
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
  if (payload.length !== 16 + nameLength + serverNameLength) return "login has a bad length";
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    received: view.getUint32(4, true),
    acknowledged: view.getUint32(8, true),
    sent: view.getUint32(12, true),
    name: text.decode(payload.subarray(16, 16 + nameLength)),
    serverName: text.decode(payload.subarray(16 + nameLength)),
  };
}

export function encodeLoginReply(reply: LoginReply): Uint8Array {
  const serverName = utf8.encode(reply.serverName);
  const reason = utf8.encode(reply.reason).subarray(0, 1024);
  const payload = new Uint8Array(16 + serverName.length + reason.length);
  const view = new DataView(payload.buffer);
  payload[0] = reply.status;
  payload[1] = serverName.length;
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
