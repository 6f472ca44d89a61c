/**
 * What the session tests share: numbered payloads (a u32 each) and a raw client that logs in
 * and reads the reply.
 *
 * @module
 */

import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { HeaderEncoder } from "../../core/framing/header_encoder.ts";
import { within } from "../../testing/_socket_client.ts";
import { decodeLoginReply, encodeLogin, FrameType, type LoginReply } from "./_session_wire.ts";

/**
 * A raw client that logs in as `name` (with `secret`, if given) and reads the login reply; its
 * connection stays open. `after` is written in the same write as the login (frames a client
 * pipelines behind it).
 */
export async function rawLogin(
  port: number,
  name: string,
  sequences = { received: 0, acknowledged: 0, sent: 0 },
  { secret, after }: { secret?: string; after?: Uint8Array } = {},
): Promise<{ conn: Deno.TcpConn; reply: LoginReply }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const login = new HeaderEncoder().encode(
      FrameType.login,
      encodeLogin({ name, serverName: "server", secret, ...sequences }),
    );
    const bytes = new Uint8Array(login.length + (after?.length ?? 0));
    bytes.set(login);
    if (after !== undefined) bytes.set(after, login.length);
    await within(conn.write(bytes), "a login");
    const decoder = new HeaderDecoder();
    const buffer = new Uint8Array(4096);
    for (;;) {
      const read = await within(conn.read(buffer), `the login reply to ${name}`);
      if (read === null) throw new Error(`No login reply to ${name}`);
      decoder.feed(buffer.slice(0, read));
      const payload = decoder.next();
      if (payload === null) continue;
      const reply = decodeLoginReply(payload);
      if (typeof reply === "string") throw new Error(reply);
      return { conn, reply };
    }
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** A payload that carries `value` as a little-endian u32. */
export function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

/** The u32 a payload of {@linkcode u32} carries. */
export function read(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);
}

/** A raw session message frame: `seq`, then `payload`. */
export function rawMessage(seq: number, payload: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + payload.length);
  new DataView(body.buffer).setUint32(0, seq, true);
  body.set(payload, 4);
  return new HeaderEncoder().encode(1, body);
}
