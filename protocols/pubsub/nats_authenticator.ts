/**
 * An {@linkcode Authenticator} for NATS clients configured as nats-server's `authorization`
 * block is: users with passwords, users with nkeys (Ed25519 keys that sign the server's
 * nonce), or one token; each user with its {@linkcode PubSubPermissions}.
 *
 * @module
 */

import type { AuthenticationResult, Authenticator } from "../../core/authentication.ts";
import { userPublicKey, verifyNonce } from "./_nkeys.ts";
import { PermissionCheck, type PubSubPermissions } from "./pubsub_permissions.ts";

/** One user of {@linkcode NatsAuthorization}: a name and password, or an nkey. */
export type NatsUser =
  & { permissions?: PubSubPermissions }
  & ({ user: string; password: string; nkey?: never } | { nkey: string; user?: never });

/** Who may connect, as nats-server's `authorization` block says it. */
export interface NatsAuthorization {
  /** Users: `{ user, password }` (CONNECT's `user` and `pass`) or `{ nkey }` (`nkey`, `sig`). */
  users?: NatsUser[];
  /** The one token every client presents (CONNECT's `auth_token`), when there are no users. */
  token?: string;
  /** Permissions of users that have none of their own (and of the token's clients). */
  default_permissions?: PubSubPermissions;
}

/**
 * Makes the authenticator of a NATS authorization: give it as the server's `authenticate`
 * (`pubsubServer({ authenticate: natsAuthenticator({...}) })`). The identity's name is the
 * user's (its nkey for an nkey user, `"token"` for the token), and its grants its
 * permissions. Passwords are compared in constant time; bcrypt hashes (`$2a$...`) are not
 * supported and are refused at construction.
 *
 * @param authorization Users, or a token, and their permissions.
 * @returns The authenticator.
 * @throws {TypeError} When the configuration is malformed: a user without password or
 *   nkey, a bad nkey, a bcrypt password, both users and a token, a bad permission.
 *
 * @example A user with a password who may only publish to `orders.>`
 * ```ts
 * import { natsAuthenticator } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const authenticate = natsAuthenticator({
 *   users: [{ user: "shop", password: "s3cret", permissions: { publish: ["orders.>"] } }],
 * });
 * const request = { protocol: "nats", listener: 0, credentials: { user: "shop", pass: "s3cret" } };
 * assertEquals(await authenticate(request), {
 *   name: "shop",
 *   grants: { publish: ["orders.>"] },
 * });
 * ```
 */
export function natsAuthenticator(authorization: NatsAuthorization): Authenticator {
  const { users = [], token, default_permissions: defaults } = authorization;
  if (!Array.isArray(users)) throw new TypeError("authorization.users must be an array");
  if (token !== undefined && (typeof token !== "string" || token === "")) {
    throw new TypeError("authorization.token must be a non-empty string");
  }
  if (token !== undefined && users.length > 0) {
    throw new TypeError("authorization takes users or a token, not both (as nats-server)");
  }
  const byName = new Map<string, { password: string; permissions?: PubSubPermissions }>();
  const byNkey = new Map<string, PubSubPermissions | undefined>();
  const check = (permissions: PubSubPermissions | undefined) => {
    if (permissions !== undefined) new PermissionCheck(permissions);
  };
  check(defaults);
  for (const entry of users) {
    check(entry.permissions);
    if (typeof entry.nkey === "string") {
      if (userPublicKey(entry.nkey) === undefined) {
        throw new TypeError(`authorization: "${entry.nkey}" is not a user nkey (U...)`);
      }
      byNkey.set(entry.nkey, entry.permissions);
    } else if (typeof entry.user === "string" && typeof entry.password === "string") {
      if (/^\$2[abxy]?\$/.test(entry.password)) {
        throw new TypeError(
          `authorization: user "${entry.user}" has a bcrypt password, unsupported`,
        );
      }
      byName.set(entry.user, { password: entry.password, permissions: entry.permissions });
    } else {
      throw new TypeError("authorization: each user needs user and password, or an nkey");
    }
  }
  const accept = (name: string, permissions: PubSubPermissions | undefined) => {
    const grants = permissions ?? defaults;
    return grants === undefined ? { name } : { name, grants };
  };
  return async ({ protocol, credentials }): Promise<AuthenticationResult> => {
    if (protocol !== "nats") return { refused: `not a NATS client (${protocol})` };
    const text = (key: string) => {
      const value = credentials[key];
      return typeof value === "string" ? value : undefined;
    };
    const nkey = text("nkey");
    if (nkey !== undefined && byNkey.has(nkey)) {
      const nonce = text("nonce");
      const sig = text("sig");
      if (nonce === undefined || sig === undefined || !(await verifyNonce(nkey, nonce, sig))) {
        return { refused: `bad nonce signature for nkey ${nkey}` };
      }
      return accept(nkey, byNkey.get(nkey));
    }
    if (token !== undefined) {
      return sameText(text("auth_token") ?? "", token)
        ? accept("token", undefined)
        : { refused: "bad token" };
    }
    const user = text("user") ?? "";
    const known = byName.get(user);
    // A wrong name costs the same comparison as a wrong password.
    const matched = sameText(text("pass") ?? "", known?.password ?? "\u0000");
    if (known === undefined || !matched) return { refused: `bad user or password (${user})` };
    return accept(user, known.permissions);
  };
}

/** Compares in time that depends on the lengths only. */
function sameText(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}
