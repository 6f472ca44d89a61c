import { type MessageHandler, type ProtocolHandlerFactory, Server } from "@speedo/speedo";
import { FrameTooLongError, LineDecoder } from "@speedo/speedo/framing";
import { exampleArgs, loopCount, loopsFlag, portFlag, serverOrExit } from "./_args.ts";
import { closeOnSignal } from "./_close_on_signal.ts";

/** Frames lines and dispatches each; every I/O loop builds it again from its recipe. */
export function upperProtocol(): ProtocolHandlerFactory {
  return {
    create(context) {
      const lines = new LineDecoder({ keepEnding: true, maxLineLength: 1024 });
      return {
        data(chunk: Uint8Array) {
          lines.feed(chunk);
          while (true) {
            let line: Uint8Array | null;
            try {
              line = lines.next();
            } catch (error) {
              // The decoder skips the rest of an over-long line; the peer is told, not cut off.
              if (!(error instanceof FrameTooLongError)) throw error;
              context.handle.write(`ERR line too long (max ${error.maxLength} bytes)\n`);
              continue;
            }
            if (line === null) return;
            context.dispatch(line);
          }
        },
      };
    },
    recipe: { module: import.meta.url, export: "upperProtocol" },
  };
}

/** Answers each line upper-cased: this module is the handler, loaded by URL on each loop. */
const upper: MessageHandler = {
  onMessage(message, connection) {
    connection.write(new TextDecoder().decode(message.payload).toUpperCase());
  },
};
export default upper;

// The server runs when this file is run, not when a loop loads it for its protocol or handler.
if (import.meta.main) {
  // `--port 7000` or a bare `7000`; a bad port exits 2 with one line that says why.
  const args = exampleArgs(
    { name: "examples/upper.ts", summary: "Upper-cases each line it gets", positional: "port" },
    {
      port: portFlag({ default: 7000, help: "port to listen on; 0 picks a free one" }),
      loops: loopsFlag(),
    },
  );
  const server = serverOrExit(() =>
    new Server({
      protocol: upperProtocol(),
      handler: import.meta.url,
      port: args.port,
      loops: args.loops,
    })
  );
  // Not awaited: the server imports this module as its handler, and a top-level await here
  // would hold that import (and so the listen) until the listen was done.
  server.listen().then(({ port }) => {
    const loops = loopCount(server.stats().loops.length);
    console.log(`upper-casing lines on port ${port}${loops === "" ? "" : ` (${loops})`}`);
    closeOnSignal(server, () => `${server.stats().messagesIn} lines upper-cased`);
  });
}
