/**
 * A message handler for failure tests: it echoes every line, except these commands (matched
 * without their line ending):
 *
 * | line     | does                                                                     |
 * | -------- | ------------------------------------------------------------------------ |
 * | `throw`  | throws `Error("thrown on purpose")`: that message fails                  |
 * | `reject` | returns a promise rejected with `Error("rejected on purpose")`           |
 * | `crash`  | never settles, and throws from a timer: its worker dies (never inline!)  |
 * | `worker` | answers `worker <index>\r\n` (-1 inline), to see which worker runs it    |
 * | `slow`   | echoes after 100 ms                                                      |
 * | `mute`   | answers nothing, after 100 ms                                            |
 * | `later`  | answers `later` from a timer after 20 ms, not waited for (fire and forget) |
 * | `hold`   | echoes once a `release` comes (to this thread, from any connection)       |
 * | `release`| answers `released`, then lets every `hold` waiting in this thread echo    |
 *
 * @module
 */

import type { MessageHandler } from "../../core/message_handler.ts";

const decoder = new TextDecoder();
/** Said before `crash` throws: a passing run's red trace is expected, not a failure. */
const EXPECTED_CRASH =
  "faulty_handler: a test crashes this worker on purpose: its 'Uncaught (in worker) Error: crashed on purpose' trace is expected";
/** The `hold` messages waiting for a `release`. */
let held: (() => void)[] = [];

const faultyHandler: MessageHandler = {
  onMessage(message, connection, context) {
    switch (decoder.decode(message.payload).replace(/\r?\n$/, "")) {
      case "throw":
        throw new Error("thrown on purpose");
      case "reject":
        return Promise.reject(new Error("rejected on purpose"));
      case "crash":
        return new Promise(() => {
          setTimeout(() => {
            // Deno prints a worker's uncaught error even when the pool handles it: say it is
            // expected, so that a passing run's red trace does not read as a failure.
            console.error(EXPECTED_CRASH);
            throw new Error("crashed on purpose");
          });
        });
      case "worker":
        connection.write(`worker ${context.workerIndex}\r\n`);
        return;
      case "slow":
        return new Promise((resolve) => {
          setTimeout(() => {
            connection.write(message.payload);
            resolve();
          }, 100);
        });
      case "later":
        setTimeout(() => connection.write("later"), 20);
        return;
      case "hold":
        return new Promise((resolve) => {
          held.push(() => {
            connection.write(message.payload);
            resolve();
          });
        });
      case "release": {
        connection.write("released");
        const waiting = held;
        held = [];
        for (const release of waiting) release();
        return;
      }
      case "mute":
        return new Promise((resolve) => setTimeout(resolve, 100));
      default:
        connection.write(message.payload);
    }
  },
};

export default faultyHandler;
