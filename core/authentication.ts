/**
 * Authentication: one hook of the server (`ServerOptions.authenticate`) that every protocol
 * asks with the credentials it carries (NATS `CONNECT`'s user and password, a session login's
 * secret, ...). The hook sees them with the peer's address, the listener it came on and, on
 * TLS, what the handshake established, and answers with an {@linkcode Identity} or a refusal.
 *
 * The protocol asks through {@linkcode ProtocolContext.authenticate} and decides what a
 * refusal looks like on its wire (NATS: `-ERR 'Authorization Violation'` and a close); a peer
 * that has not authenticated learns nothing but that refusal. The server bounds the hook: one
 * that throws refuses (and the error is reported to `onError`), one that does not answer
 * within `authenticationTimeout` refuses too.
 *
 * On several I/O loops (`ServerOptions.loops`) the hook runs on the thread that made the
 * server (a function cannot cross threads): each loop asks it over the loop's channel, so an
 * identity's `grants` must be plain data (structured-cloneable). Authentication happens once
 * per connection, so that round trip is not paid per message.
 *
 * @module
 */

/** What a protocol asks the server's authenticator. */
export interface AuthenticationRequest {
  /** The protocol asking, as it names itself: `"nats"`, `"session"`, `"rpc"`, ... */
  readonly protocol: string;
  /**
   * What the peer presented, under the protocol's own names (NATS: `user`, `pass`, `token`,
   * `nkey`, `sig` with the `nonce` it signed; sessions: `name`, `secret`). Strings, numbers,
   * booleans or bytes; absent fields were not sent.
   */
  readonly credentials: Readonly<Record<string, unknown>>;
  /** The peer's address (absent in test harnesses). */
  readonly remoteAddr?: Deno.Addr;
  /** The server's listener the peer came on: 0 the main address, `i + 1` `listeners[i]`. */
  readonly listener: number;
  /** On a TLS connection, what its handshake established; absent on plain TCP and Unix. */
  readonly tls?: TlsHandshakeFacts;
}

/**
 * What a TLS handshake established that the runtime tells. `Deno.listenTls` (the default TLS
 * path) reports the negotiated ALPN protocol only: it neither asks for nor reports client
 * certificates. With `tls.clientCa` the server verifies client certificates itself (through
 * `node:tls`) and reports the verified one here.
 */
export interface TlsHandshakeFacts {
  /** The ALPN protocol agreed on, or `null`. */
  readonly alpnProtocol: string | null;
  /** The client's certificate, verified against `tls.clientCa`; absent when none was asked. */
  readonly peerCertificate?: PeerCertificate;
}

/** A client certificate that chained to the server's `tls.clientCa`. */
export interface PeerCertificate {
  /** Its subject's fields (`CN`, `O`, ...). */
  readonly subject: Readonly<Record<string, string>>;
  /** Its issuer's fields. */
  readonly issuer: Readonly<Record<string, string>>;
  /** SHA-256 fingerprint, as `AB:CD:...`. */
  readonly fingerprint256: string;
  /** Serial number, hexadecimal. */
  readonly serialNumber: string;
  /** End of validity, as the certificate writes it. */
  readonly validTo: string;
}

/** An accepted peer: who it is, and what it may do. */
export interface Identity {
  /** Its name, as the authenticator calls it (shown to handlers, such as RPC services). */
  readonly name: string;
  /**
   * What it may do, in the terms of the protocol that asked (NATS: publish and subscribe
   * permissions); the protocol documents the shape it reads. Plain data: on several loops it
   * crosses threads.
   */
  readonly grants?: unknown;
}

/** A refusal, with the reason the server logs (the peer is told only the protocol's refusal). */
export interface AuthenticationRefusal {
  /** Why, for logs and for the protocol's own error text where it has one. */
  readonly refused: string;
}

/** An authenticator's answer: an identity, or a refusal. */
export type AuthenticationResult = Identity | AuthenticationRefusal;

/**
 * The server's authentication hook (`ServerOptions.authenticate`).
 *
 * @example Names and secrets from a table
 * ```ts
 * import type { Authenticator } from "@speedo/speedo";
 * import { assertEquals } from "@std/assert";
 *
 * const secrets = new Map([["alice", "s3cret"]]);
 * const authenticate: Authenticator = ({ credentials }) => {
 *   const name = String(credentials.user ?? "");
 *   return secrets.get(name) === credentials.pass ? { name } : { refused: "bad credentials" };
 * };
 * const request = { protocol: "nats", listener: 0, credentials: { user: "alice", pass: "x" } };
 * assertEquals(await authenticate(request), { refused: "bad credentials" });
 * ```
 */
export type Authenticator = (
  request: AuthenticationRequest,
) => AuthenticationResult | Promise<AuthenticationResult>;

/**
 * Whether an authenticator's answer refuses.
 *
 * @param result The answer.
 * @returns `true` for a refusal.
 *
 * @example
 * ```ts
 * import { isRefusal } from "@speedo/speedo";
 * import { assert } from "@std/assert";
 *
 * assert(isRefusal({ refused: "no" }));
 * assert(!isRefusal({ name: "alice" }));
 * ```
 */
export function isRefusal(result: AuthenticationResult): result is AuthenticationRefusal {
  return typeof (result as Partial<AuthenticationRefusal>).refused === "string";
}

/**
 * Checks an authenticator's answer: an identity with a string `name`, or a refusal with a
 * string reason. Anything else refuses, so that a buggy hook never lets a peer in.
 *
 * @param value What the hook returned.
 * @returns The answer, or a refusal that says what was wrong.
 */
export function checkedResult(value: unknown): AuthenticationResult {
  if (value !== null && typeof value === "object") {
    const result = value as Partial<Identity & AuthenticationRefusal>;
    if (typeof result.refused === "string") return { refused: result.refused };
    if (typeof result.name === "string") {
      return result.grants === undefined
        ? { name: result.name }
        : { name: result.name, grants: result.grants };
    }
  }
  return { refused: "the authenticator returned neither an identity nor a refusal" };
}
