/**
 * A message handler for worker-pool tests. By payload:
 * - `throw`: throws; `reject`: returns a rejected promise;
 * - `crash`: kills its worker with an uncaught error, and never finishes the message;
 * - `who`: answers `worker <index>`;
 * - `slow`: answers `slow` after a timer;
 * - anything else: echoed.
 */
import type { MessageHandler } from "../../core/message_handler.ts";

const text = new TextDecoder();

const handler: MessageHandler = {
  onMessage(message, connection, context) {
    const payload = text.decode(message.payload);
    switch (payload) {
      case "throw":
        throw new Error("asked to throw");
      case "reject":
        return Promise.reject(new Error("asked to reject"));
      case "crash":
        setTimeout(() => {
          throw new Error("asked to crash");
        });
        return new Promise(() => {});
      case "who":
        connection.write(`worker ${context.workerIndex}`);
        return;
      case "slow":
        return new Promise((resolve) =>
          setTimeout(() => {
            connection.write("slow");
            resolve();
          }, 20)
        );
      default:
        connection.write(message.payload);
    }
  },
};

export default handler;
