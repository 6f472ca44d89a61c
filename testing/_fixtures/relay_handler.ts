/**
 * A message handler for tests of several I/O loops: a line `to <id> <text>` writes `<text>`
 * to connection `<id>` (wherever it lives) and answers `sent` or `closed`; `close <id>` closes
 * it; `whoami` answers the connection's id; any other line is echoed.
 *
 * @module
 */

import type { MessageHandler } from "../../core/message_handler.ts";

const decoder = new TextDecoder();

const relayHandler: MessageHandler = {
  onMessage(message, connection, context) {
    const line = decoder.decode(message.payload).trimEnd();
    const [verb, id, ...rest] = line.split(" ");
    if (verb === "to") {
      const sent = context.handle(Number(id)).write(`${rest.join(" ")}\n`);
      connection.write(sent ? "sent\n" : "closed\n");
    } else if (verb === "close") {
      context.handle(Number(id)).close();
      connection.write("closing\n");
    } else if (verb === "whoami") {
      connection.write(`${connection.id}\n`);
    } else {
      connection.write(message.payload);
    }
  },
};

export default relayHandler;
