/**
 * The message handler of `work_load.ts`: it spends a fixed amount of CPU on each message (FNV-1a
 * over its payload, `rounds` times, each round seeded with the last hash), then echoes the
 * payload. `rounds` comes as the server's startup data (`handlerData: { rounds }`), calibrated
 * once by the bench so that a message costs about the asked microseconds.
 *
 * @module
 */

import type { MessageHandler } from "../core/message_handler.ts";

let rounds = 1;
/** Every hash lands here, so that the work cannot be optimised away. */
let sink = 0;

/**
 * The work of one message: `rounds` passes of FNV-1a over `payload`.
 *
 * @param payload The bytes to hash.
 * @param rounds Passes over them.
 * @returns The last hash.
 */
function work(payload: Uint8Array, rounds: number): number {
  let hash = 0x811c9dc5;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < payload.length; i++) hash = Math.imul(hash ^ payload[i], 0x01000193);
    hash ^= round;
  }
  return hash >>> 0;
}

const workHandler: MessageHandler<{ rounds: number }> = {
  init(data) {
    rounds = data.rounds;
  },
  onMessage(message, connection) {
    sink ^= work(message.payload, rounds);
    // `sink` is an integer, never 0.5: reading it keeps the engine from dropping the work.
    if (sink === 0.5) connection.write("never\n");
    connection.write(message.payload);
  },
  keepsPayload: false,
};

export default workHandler;
