/**
 * NATS nkeys, the part a server needs: decode a user's public key (`U...`) and check that the
 * client signed the server's nonce with it (Ed25519, through WebCrypto).
 *
 * An nkey's text is base32 (RFC 4648 alphabet, no padding) of a prefix byte, the 32-byte
 * Ed25519 public key, and a CRC-16 (XMODEM: polynomial 0x1021, initial 0) of both, stored
 * little-endian. The prefix byte of a user key is 20 << 3, which base32 spells as a leading
 * `U`. The client signs the nonce's bytes as the server sent them in `INFO`, and sends the
 * signature base64url without padding (standard base64 is accepted too, as nats-server does).
 *
 * @module
 */

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** The prefix byte of a user's public key. */
const USER_PREFIX = 20 << 3;

/**
 * The raw Ed25519 public key of a user nkey, or `undefined` when the text is not one (bad
 * alphabet, length, prefix or checksum).
 *
 * @param text The nkey, as `U` and 55 more characters.
 * @returns The 32 bytes of the key.
 */
export function userPublicKey(text: string): Uint8Array<ArrayBuffer> | undefined {
  const bytes = base32Decode(text);
  if (bytes === undefined || bytes.length !== 35 || bytes[0] !== USER_PREFIX) return undefined;
  const checksum = bytes[33] | (bytes[34] << 8);
  if (crc16(bytes.subarray(0, 33)) !== checksum) return undefined;
  return bytes.slice(1, 33);
}

/**
 * Whether `signature` is the user's Ed25519 signature of `nonce`.
 *
 * @param nkey The user's public nkey (`U...`).
 * @param nonce The nonce the server sent, as text.
 * @param signature The client's `sig`: base64url (or base64) of the 64-byte signature.
 * @returns `true` when it verifies; `false` for a bad key, encoding or signature.
 */
export async function verifyNonce(
  nkey: string,
  nonce: string,
  signature: string,
): Promise<boolean> {
  const key = userPublicKey(nkey);
  const sig = base64Decode(signature);
  if (key === undefined || sig === undefined || sig.length !== 64) return false;
  try {
    const publicKey = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, [
      "verify",
    ]);
    return await crypto.subtle.verify(
      { name: "Ed25519" },
      publicKey,
      sig,
      new TextEncoder().encode(nonce),
    );
  } catch {
    return false;
  }
}

/**
 * A random nonce for `INFO`, as nats-server makes one: 11 random bytes, base64url.
 *
 * @returns The nonce's text.
 */
export function makeNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(11));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function base32Decode(text: string): Uint8Array<ArrayBuffer> | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const value = BASE32.indexOf(text[i]);
    if (value < 0) return undefined;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffer >> bits) & 0xff;
    }
  }
  return out.subarray(0, at);
}

function base64Decode(text: string): Uint8Array<ArrayBuffer> | undefined {
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  const padded = standard + "=".repeat((4 - (standard.length % 4)) % 4);
  try {
    const binary = atob(padded);
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}
