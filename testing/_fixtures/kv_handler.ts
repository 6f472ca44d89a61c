/**
 * A RESP-like key-value message handler for affinity tests: its store is a `Map` per worker
 * (module state), so two workers hold two stores. Commands, one per line:
 *
 * | line            | answers                                                         |
 * | --------------- | --------------------------------------------------------------- |
 * | `SET key value` | `+OK`                                                           |
 * | `GET key`       | `$value`, or `$-1` (nil) when this worker's store lacks the key |
 * | `WHO key`       | `:<workerIndex>`: which worker ran it                           |
 * | `INIT`          | `:<workerIndex> <JSON of the startup data init got>`            |
 *
 * Startup data `{ fail: true }` makes `init` throw: the worker cannot start.
 *
 * @module
 */

import type { MessageHandler } from "../../core/message_handler.ts";

const decoder = new TextDecoder();
const store = new Map<string, string>();
let startup: unknown = "init not called";

const kvHandler: MessageHandler<{ fail?: boolean } | undefined> = {
  init(data) {
    if (data?.fail === true) throw new Error("init failed on purpose");
    startup = data;
  },
  onMessage(message, connection, context) {
    const [command, key, value] = decoder.decode(message.payload).trim().split(" ");
    if (command === "SET") {
      store.set(key, value);
      connection.write("+OK\r\n");
    } else if (command === "GET") {
      const found = store.get(key);
      connection.write(found === undefined ? "$-1\r\n" : `$${found}\r\n`);
    } else if (command === "WHO") {
      connection.write(`:${context.workerIndex}\r\n`);
    } else if (command === "INIT") {
      connection.write(`:${context.workerIndex} ${JSON.stringify(startup)}\r\n`);
    } else {
      connection.write(`-ERR unknown command '${command}'\r\n`);
    }
  },
};

export default kvHandler;
