/**
 * Authentication of session logins: the rule the session protocol applies to the identity the
 * server's authenticator (`ServerOptions.authenticate`) answers, and an authenticator for the
 * common case of one secret per session name.
 *
 * A session login presents `{ name, secret }` (the secret absent when the client has none) to
 * the authenticator, as protocol `"session"`, before the server looks at the session it names.
 *
 * @module
 */

import type { Authenticator, Identity } from "../../core/authentication.ts";

/**
 * Whether an identity may use the session `name`: when it is its own name, or one of the
 * names its grants list (`grants.sessions`, an array of names). The session protocol refuses
 * any other login the authenticator accepted, as it refuses a wrong secret.
 *
 * @param identity Who the authenticator says the client is.
 * @param name The session the client logs in to.
 * @returns Whether the login may go on.
 *
 * @example
 * ```ts
 * import { identityMayUse } from "@speedo/speedo/session";
 * import { assert } from "@std/assert";
 *
 * assert(identityMayUse({ name: "sensor-1" }, "sensor-1"));
 * assert(!identityMayUse({ name: "sensor-1" }, "sensor-2"));
 * assert(identityMayUse({ name: "ops", grants: { sessions: ["sensor-2"] } }, "sensor-2"));
 * ```
 */
export function identityMayUse(identity: Identity, name: string): boolean {
  if (identity.name === name) return true;
  const grants = identity.grants as { sessions?: unknown } | undefined;
  return typeof grants === "object" && grants !== null && Array.isArray(grants.sessions) &&
    grants.sessions.includes(name);
}

/** Where {@linkcode sessionSecrets} finds the secret of a session name. */
export type SessionSecretSource =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>
  | ((name: string) => string | undefined | Promise<string | undefined>);

/**
 * An authenticator (`ServerOptions.authenticate`) of session logins with one secret per
 * session name: a login is accepted as the identity `{ name }` when it carries the secret of
 * its name. It refuses a login without a secret, with a wrong one, of a name without a secret,
 * and every other protocol's request, all with one reason, so that a refusal does not tell
 * whether the name exists.
 *
 * Secrets are compared as SHA-256 digests (WebCrypto) in constant time, and a name without a
 * secret is compared against a random one, so the time taken does not tell how much of a guess
 * was right, nor whether the name is known.
 *
 * @param secrets The secrets by name: a `Map`, a plain object, or a function (which may look
 *   them up elsewhere and return a promise).
 * @returns The authenticator.
 * @throws {TypeError} When `secrets` is none of these.
 *
 * @example
 * ```ts
 * import { sessionSecrets } from "@speedo/speedo/session";
 * import { assertEquals } from "@std/assert";
 *
 * const authenticate = sessionSecrets({ "sensor-1": "s3cret" });
 * const login = (secret?: string) =>
 *   authenticate({ protocol: "session", listener: 0, credentials: { name: "sensor-1", secret } });
 * assertEquals(await login("s3cret"), { name: "sensor-1" });
 * assertEquals(await login("guess"), { refused: "bad session name or secret" });
 * assertEquals(await login(), { refused: "bad session name or secret" });
 * ```
 */
export function sessionSecrets(secrets: SessionSecretSource): Authenticator {
  let lookup: (name: string) => string | undefined | Promise<string | undefined>;
  if (typeof secrets === "function") lookup = secrets;
  else if (secrets instanceof Map) lookup = (name) => secrets.get(name);
  else if (typeof secrets === "object" && secrets !== null) {
    const table = secrets as Readonly<Record<string, string>>;
    lookup = (name) => Object.hasOwn(table, name) ? table[name] : undefined;
  } else {
    throw new TypeError(
      `secrets must be a Map, an object or a function of the name, got ${String(secrets)}`,
    );
  }
  const unknown = crypto.getRandomValues(new Uint8Array(32));
  const refused = { refused: "bad session name or secret" };
  return async ({ protocol, credentials }) => {
    const name = credentials.name;
    const secret = credentials.secret;
    if (protocol !== "session" || typeof name !== "string") return refused;
    const expected = await lookup(name);
    const known = typeof expected === "string";
    const [want, got] = await Promise.all([
      known ? digest(expected) : Promise.resolve(unknown),
      digest(typeof secret === "string" ? secret : ""),
    ]);
    const same = constantTimeEqual(want, got);
    return known && typeof secret === "string" && same ? { name } : refused;
  };
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares two digests of one length without stopping at the first difference. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
