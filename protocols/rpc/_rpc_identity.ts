/**
 * The caller's identity, carried from the I/O thread (where the RPC protocol authenticated the
 * connection) to the services, wherever they run: inline or in any worker. A connection can
 * move to another worker (a worker replaced, the pool resized), so the identity rides in every
 * request the protocol dispatches rather than once per connection:
 *
 * ```
 *  dispatched payload: ┌ kind u8 ┬ flags u8 (bit 0: identity) ┬ identity length u16 LE ┬ id u32 ┬ identity JSON ┬ body … ┐
 *                      0         1                            2                        4        8               8 + length
 * ```
 *
 * On the wire a client's flags and length bytes are zero (the protocol refuses a frame that
 * sets them), so only the server's own protocol can attach an identity. The identity is JSON
 * (`{ name, grants }`): plain data, as an authenticator's grants must be. The services parse it
 * once per connection ({@linkcode ConnectionIdentities}).
 *
 * @module
 */

import type { ConnectionHandle } from "../../core/connection_handle.ts";
import type { Identity } from "../../core/authentication.ts";
import { RPC_HEADER_SIZE } from "./_rpc_frame.ts";

/** Bit of the RPC header's flags byte: an identity follows the header. */
export const IDENTITY_FLAG = 1;
/** Longest identity, in bytes of JSON (its length is a u16). */
export const MAX_IDENTITY_LENGTH = 0xffff;

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * An identity as it rides in dispatched payloads.
 *
 * @throws {RangeError} When it is not JSON, or longer than 65,535 bytes.
 */
export function encodeIdentity(identity: Identity): Uint8Array {
  let json: string | undefined;
  try {
    json = JSON.stringify(
      identity.grants === undefined
        ? { name: identity.name }
        : { name: identity.name, grants: identity.grants },
    );
  } catch (error) {
    throw new RangeError(`The identity of "${identity.name}" is not plain data`, { cause: error });
  }
  const bytes = utf8.encode(json);
  if (bytes.length > MAX_IDENTITY_LENGTH) {
    throw new RangeError(
      `The identity of "${identity.name}" is ${bytes.length} bytes of JSON, more than ${MAX_IDENTITY_LENGTH}`,
    );
  }
  return bytes;
}

/** A copy of an RPC payload from the wire with `identity` (from {@linkcode encodeIdentity}). */
export function withIdentity(payload: Uint8Array, identity: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + identity.length);
  out.set(payload.subarray(0, RPC_HEADER_SIZE));
  out[1] = IDENTITY_FLAG;
  out[2] = identity.length & 0xff;
  out[3] = identity.length >>> 8;
  out.set(identity, RPC_HEADER_SIZE);
  out.set(payload.subarray(RPC_HEADER_SIZE), RPC_HEADER_SIZE + identity.length);
  return out;
}

/** Bytes of the identity in a dispatched payload (0 without one). */
export function identityLength(payload: Uint8Array): number {
  return (payload[1] & IDENTITY_FLAG) === 0 ? 0 : payload[2] | (payload[3] << 8);
}

/** Connections remembered before the first sweep of closed ones. */
const FIRST_SWEEP = 1024;

/**
 * The identities of the connections a `Services` table met, parsed once per connection. Closed
 * connections are dropped by `forget` (inline) or by a sweep once the map doubled since the
 * last one (in workers, which are not told of closes).
 */
export class ConnectionIdentities {
  readonly #byConnection = new Map<number, { handle: ConnectionHandle; identity: Identity }>();
  #sweepAt = FIRST_SWEEP;

  /** The identity a dispatched payload carries, or `undefined`. */
  of(connection: ConnectionHandle, payload: Uint8Array): Identity | undefined {
    const length = identityLength(payload);
    if (length === 0) return undefined;
    const known = this.#byConnection.get(connection.id);
    if (known !== undefined) return known.identity;
    const parsed = JSON.parse(
      text.decode(payload.subarray(RPC_HEADER_SIZE, RPC_HEADER_SIZE + length)),
    ) as Identity;
    const identity: Identity = Object.freeze(
      parsed.grants === undefined
        ? { name: parsed.name }
        : { name: parsed.name, grants: parsed.grants },
    );
    if (this.#byConnection.size >= this.#sweepAt) this.#sweep();
    this.#byConnection.set(connection.id, { handle: connection, identity });
    return identity;
  }

  /** Forgets a connection that closed. */
  forget(connectionId: number): void {
    this.#byConnection.delete(connectionId);
  }

  #sweep(): void {
    for (const [id, { handle }] of this.#byConnection) {
      if (!handle.open) this.#byConnection.delete(id);
    }
    this.#sweepAt = Math.max(FIRST_SWEEP, 2 * this.#byConnection.size);
  }
}
