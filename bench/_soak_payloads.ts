/**
 * The bytes the soak test (`soak.ts`) sends and expects back, made from a sequence number alone:
 * the load checks every answer against what the number says it must be, and the server child
 * (`_soak_server.ts`) builds HTTP bodies with the same function.
 *
 * @module
 */

/** The subjects of the pub/sub load; subscribers listen on `soak.>`. */
export const SOAK_SUBJECT_PREFIX = "soak";
/** Distinct last tokens of a publisher's subjects, so that `>` matches several subjects. */
export const SOAK_SUBJECT_SPREAD = 8;

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Filler text that differs with `seed`, so that a delivery or a body mixed up with another
 * (a buffer reused too early, bytes of the wrong message) fails the check.
 *
 * @param seed Any non-negative integer.
 * @param length Characters wanted.
 * @returns `length` characters of `[a-z0-9]`.
 */
export function filler(seed: number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += ALPHABET[(seed + i * 7) % ALPHABET.length];
  return text;
}

/**
 * One line of the echo load, with its ending: every line differs, and the lengths (1 to 120
 * bytes) and endings (LF, and CRLF one time in four) vary.
 *
 * @param client The client's number.
 * @param seq The line's number on that client.
 * @returns The line.
 */
export function echoLine(client: number, seq: number): string {
  return `e${client}.${seq} ${filler(seq, seq % 97)}${seq % 4 === 0 ? "\r\n" : "\n"}`;
}

/**
 * The subject a publisher's message `seq` goes to.
 *
 * @param publisher The publisher's number.
 * @param seq The message's number on that publisher.
 * @returns `soak.p<publisher>.<seq mod spread>`.
 */
export function pubsubSubject(publisher: number, seq: number): string {
  return `${SOAK_SUBJECT_PREFIX}.p${publisher}.${seq % SOAK_SUBJECT_SPREAD}`;
}

/**
 * The payload of a publisher's message `seq`: its numbers, then 0 to 299 filler bytes.
 *
 * @param publisher The publisher's number.
 * @param seq The message's number on that publisher.
 * @returns The payload text.
 */
export function pubsubPayload(publisher: number, seq: number): string {
  return `p${publisher} ${seq} ${filler(seq + publisher, (seq * 13) % 300)}`;
}

/**
 * The body the soak HTTP handler answers to `GET <path>?pad=<pad>`.
 *
 * @param path The request's path.
 * @param pad Filler characters asked for.
 * @returns The body text.
 */
export function httpBody(path: string, pad: number): string {
  return `soak ${path} ${filler(path.length + pad, pad)}`;
}

/** Most filler an HTTP request may ask for: the handler refuses more, with a 400. */
export const HTTP_MAX_PAD = 16 * 1024;
