/**
 * SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash) as an MQTT 5 enhanced authentication method,
 * the one EMQX documents for MQTT 5 ("SCRAM-SHA-256" or "-512"): the password never crosses
 * the wire, the broker keeps only derived keys, and the client can check the broker knew them.
 * WebCrypto only (PBKDF2, HMAC, SHA-256).
 *
 * ```
 * client                                          broker
 * CONNECT  method, data "n,,n=user,r=CNONCE"  ->
 *                                             <-  AUTH 0x18 "r=CNONCE SNONCE,s=SALT,i=4096"
 * AUTH 0x18 "c=biws,r=CNONCE SNONCE,p=PROOF"  ->
 *                                             <-  CONNACK 0x00 "v=SERVER SIGNATURE"
 *                                                 (or CONNACK 0x86 and a close)
 * ```
 *
 * Not done: channel binding (`p=` is refused, `y` and `n` accepted), authorization identities
 * (`a=` is refused), and SASLprep beyond its normalization: passwords are NFKC-normalized,
 * the rest of RFC 4013 (prohibited characters) is not checked.
 *
 * @module
 */

import type { Identity } from "../../core/authentication.ts";
import type { MqttAuthMethod } from "./mqtt_enhanced_auth.ts";

/** The Authentication Method name clients send: `"SCRAM-SHA-256"`. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/** What the broker keeps of one user's password (RFC 5802 §3): never the password itself. */
export interface ScramCredentials {
  /** The salt of PBKDF2. */
  readonly salt: Uint8Array;
  /** PBKDF2 iterations (RFC 7677 asks for 4096 at least). */
  readonly iterations: number;
  /** H(HMAC(SaltedPassword, "Client Key")). */
  readonly storedKey: Uint8Array;
  /** HMAC(SaltedPassword, "Server Key"). */
  readonly serverKey: Uint8Array;
  /** What the user may do, given to the identity (see `Identity.grants`). */
  readonly grants?: unknown;
}

/** Options of {@linkcode scramSha256}. */
export interface ScramSha256Options {
  /**
   * A user's credentials, or `undefined` for an unknown user. An unknown user goes through
   * the exchange all the same (with a salt made up from its name) and is refused at its proof,
   * so that the answers do not tell which names exist.
   */
  credentials(
    username: string,
  ): ScramCredentials | undefined | Promise<ScramCredentials | undefined>;
  /** Makes the broker's nonce. @default {24 random bytes in base64} */
  nonce?: () => string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Derives what the broker keeps of a password.
 *
 * @param password The password.
 * @param options The salt (16 random bytes by default) and iterations (4096 by default).
 * @returns The credentials for {@linkcode ScramSha256Options.credentials}.
 *
 * @example
 * ```ts
 * import { scramSha256Credentials } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const credentials = await scramSha256Credentials("pencil");
 * assertEquals([credentials.salt.length, credentials.iterations], [16, 4096]);
 * ```
 */
export async function scramSha256Credentials(
  password: string,
  options: { salt?: Uint8Array; iterations?: number } = {},
): Promise<ScramCredentials> {
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(16));
  const iterations = options.iterations ?? 4096;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  }
  const { storedKey, serverKey } = await keys(password, salt, iterations);
  return { salt, iterations, storedKey, serverKey };
}

/**
 * The SCRAM-SHA-256 method for `mqttProtocol({ enhancedAuth: { methods } })`. A client that
 * proves its password gets the identity `{ name: username, grants }`; a wrong proof or an
 * unknown user, CONNACK 0x86 (Bad user name or password); a message that is not SCRAM, 0x87.
 *
 * @param options Where the users' credentials come from.
 * @returns The method.
 *
 * @example The broker side
 * ```ts
 * import { mqttProtocol, SCRAM_SHA_256, scramSha256, scramSha256Credentials } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const users = new Map([["user", await scramSha256Credentials("pencil")]]);
 * const protocol = mqttProtocol({
 *   enhancedAuth: { methods: { [SCRAM_SHA_256]: scramSha256({ credentials: (name) => users.get(name) }) } },
 * });
 * assertEquals(protocol.broker.sessions.size, 0);
 * ```
 */
export function scramSha256(options: ScramSha256Options): MqttAuthMethod {
  if (typeof options?.credentials !== "function") {
    throw new TypeError("scramSha256 needs a credentials function");
  }
  const nonce = options.nonce ?? (() => base64(crypto.getRandomValues(new Uint8Array(24))));
  // Salts of unknown users: the same name always gets the same one, as a real user would.
  const mockKey = crypto.getRandomValues(new Uint8Array(32));
  return () => {
    let first:
      | { bare: string; serverFirst: string; nonce: string; gs2: string; username: string }
      | undefined;
    let credentials: ScramCredentials | undefined;
    let over = false;
    return async (data) => {
      if (over) return { refused: "the SCRAM exchange is over" };
      const text = data === undefined ? undefined : utf8(data);
      if (text === undefined) return { refused: "SCRAM data missing or not UTF-8" };
      if (first === undefined) {
        const parsed = parseClientFirst(text);
        if (typeof parsed === "string") {
          over = true;
          return { refused: parsed };
        }
        credentials = await options.credentials(parsed.username);
        const salt = credentials?.salt ?? (await hmac(mockKey, parsed.username)).subarray(0, 16);
        const combined = parsed.nonce + nonce();
        const serverFirst = `r=${combined},s=${base64(salt)},i=${credentials?.iterations ?? 4096}`;
        first = { ...parsed, serverFirst, nonce: combined };
        return { continue: encoder.encode(serverFirst) };
      }
      over = true;
      const final = parseClientFinal(text);
      if (typeof final === "string") return { refused: final };
      if (final.channelBinding !== btoa(first.gs2)) return { refused: "channel binding differs" };
      if (final.nonce !== first.nonce) return { refused: "nonce differs" };
      const authMessage = `${first.bare},${first.serverFirst},${final.withoutProof}`;
      if (credentials === undefined) {
        return { refused: `unknown user "${first.username}"`, reasonCode: 0x86 };
      }
      const signature = await hmac(credentials.storedKey, authMessage);
      const clientKey = xor(final.proof, signature);
      if (
        clientKey === undefined || !sameBytes(await sha256(clientKey), credentials.storedKey)
      ) {
        return { refused: `wrong proof for "${first.username}"`, reasonCode: 0x86 };
      }
      const serverSignature = await hmac(credentials.serverKey, authMessage);
      const identity: Identity = credentials.grants === undefined
        ? { name: first.username }
        : { name: first.username, grants: credentials.grants };
      return { success: identity, data: encoder.encode(`v=${base64(serverSignature)}`) };
    };
  };
}

/**
 * The client side of SCRAM-SHA-256, for tests and for clients such as npm `mqtt` (whose
 * `handleAuth` answers the broker's AUTH): `first()` goes in CONNECT's Authentication Data,
 * `final(serverFirst)` in the AUTH that answers the broker's, and `verify(serverFinal)` checks
 * the CONNACK's data.
 *
 * @example
 * ```ts
 * import { ScramSha256Client } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const client = new ScramSha256Client("user", "pencil", { nonce: "rOprNGfwEbeRWgbNEkqO" });
 * assertEquals(new TextDecoder().decode(client.first()), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
 * ```
 */
export class ScramSha256Client {
  readonly #password: string;
  readonly #bare: string;
  readonly #nonce: string;
  #serverSignature: Uint8Array | undefined;

  /**
   * Makes a client for one exchange.
   *
   * @param username The user name.
   * @param password The password.
   * @param options The client's nonce (random by default; fixed only in tests).
   */
  constructor(username: string, password: string, options: { nonce?: string } = {}) {
    this.#password = password;
    this.#nonce = options.nonce ?? base64(crypto.getRandomValues(new Uint8Array(24)));
    this.#bare = `n=${username.replaceAll("=", "=3D").replaceAll(",", "=2C")},r=${this.#nonce}`;
  }

  /**
   * The client-first message.
   *
   * @returns Its bytes.
   */
  first(): Uint8Array {
    return encoder.encode(`n,,${this.#bare}`);
  }

  /**
   * The client-final message, with the proof.
   *
   * @param serverFirst The broker's first message.
   * @returns Its bytes.
   * @throws {TypeError} When the broker's message is not SCRAM or its nonce is not ours.
   */
  async final(serverFirst: Uint8Array): Promise<Uint8Array> {
    const text = utf8(serverFirst) ?? "";
    const fields = attributes(text);
    const nonce = fields.get("r");
    const salt = unbase64(fields.get("s") ?? "");
    const iterations = Number(fields.get("i"));
    if (
      nonce === undefined || !nonce.startsWith(this.#nonce) || salt === undefined ||
      !Number.isInteger(iterations) || iterations < 1
    ) {
      throw new TypeError(`Not a SCRAM server-first message: "${text}"`);
    }
    const { clientKey, storedKey, serverKey } = await keys(this.#password, salt, iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#bare},${text},${withoutProof}`;
    const proof = xor(clientKey, await hmac(storedKey, authMessage))!;
    this.#serverSignature = await hmac(serverKey, authMessage);
    return encoder.encode(`${withoutProof},p=${base64(proof)}`);
  }

  /**
   * Whether the broker's final message proves it knew the password's keys.
   *
   * @param serverFinal The broker's final message (CONNACK's Authentication Data).
   * @returns `true` when its signature is the expected one.
   */
  verify(serverFinal: Uint8Array): boolean {
    const text = utf8(serverFinal) ?? "";
    const signature = text.startsWith("v=") ? unbase64(text.slice(2)) : undefined;
    return this.#serverSignature !== undefined && signature !== undefined &&
      sameBytes(signature, this.#serverSignature);
  }
}

/** RFC 5802 §7 client-first-message, or why it is not one. */
function parseClientFirst(
  text: string,
): { gs2: string; bare: string; username: string; nonce: string } | string {
  const comma1 = text.indexOf(",");
  const comma2 = text.indexOf(",", comma1 + 1);
  if (comma1 < 0 || comma2 < 0) return "not a SCRAM client-first message";
  const flag = text.slice(0, comma1);
  if (flag !== "n" && flag !== "y") return "channel binding is not supported";
  if (comma2 !== comma1 + 1) return "authorization identities are not supported";
  const bare = text.slice(comma2 + 1);
  const parts = bare.split(",");
  if (parts[0]?.startsWith("m=")) return "mandatory SCRAM extensions are not supported";
  const name = parts[0]?.startsWith("n=") ? saslName(parts[0].slice(2)) : undefined;
  const nonce = parts[1]?.startsWith("r=") ? parts[1].slice(2) : "";
  if (name === undefined || name === "") return "SCRAM user name missing or badly escaped";
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce)) return "SCRAM client nonce missing or invalid";
  return { gs2: text.slice(0, comma2 + 1), bare, username: name, nonce };
}

/** RFC 5802 §7 client-final-message, or why it is not one. */
function parseClientFinal(
  text: string,
): { channelBinding: string; nonce: string; withoutProof: string; proof: Uint8Array } | string {
  const at = text.lastIndexOf(",p=");
  const proof = at < 0 ? undefined : unbase64(text.slice(at + 3));
  if (proof === undefined) return "SCRAM proof missing";
  const withoutProof = text.slice(0, at);
  const parts = withoutProof.split(",");
  if (!parts[0].startsWith("c=") || !parts[1]?.startsWith("r=")) {
    return "not a SCRAM client-final message";
  }
  return { channelBinding: parts[0].slice(2), nonce: parts[1].slice(2), withoutProof, proof };
}

/** `a=b,c=d` as a map (values may hold `=`). */
function attributes(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of text.split(",")) {
    if (part[1] === "=") map.set(part[0], part.slice(2));
  }
  return map;
}

/** A saslname unescaped (`=2C` is `,`, `=3D` is `=`), or `undefined` when badly escaped. */
function saslName(escaped: string): string | undefined {
  if (/=(?!2C|3D)/.test(escaped)) return undefined;
  return escaped.replaceAll("=2C", ",").replaceAll("=3D", "=");
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** SaltedPassword's ClientKey, StoredKey and ServerKey (RFC 5802 §3). */
async function keys(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<{ clientKey: Uint8Array; storedKey: Uint8Array; serverKey: Uint8Array }> {
  const base = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password.normalize("NFKC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
      base,
      256,
    ),
  );
  const clientKey = await hmac(salted, "Client Key");
  return {
    clientKey,
    storedKey: await sha256(clientKey),
    serverKey: await hmac(salted, "Server Key"),
  };
}

async function hmac(key: Uint8Array, text: string): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, encoder.encode(text)));
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** `a XOR b`, or `undefined` when their lengths differ. */
function xor(a: Uint8Array, b: Uint8Array): Uint8Array | undefined {
  if (a.length !== b.length) return undefined;
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Equality in time that depends on the length only. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unbase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
