import { type ProtocolContext, Server } from "@speedo/speedo";
import { FrameTooLongError, LineDecoder } from "@speedo/speedo/framing";
import { exampleArgs, portFlag } from "./_args.ts";

// `--port 7000` or a bare `7000`; a bad port exits 2 with one line that says why.
const args = exampleArgs(
  { name: "examples/upper.ts", summary: "Upper-cases each line it gets", positional: "port" },
  { port: portFlag({ default: 7000, help: "port to listen on; 0 picks a free one" }) },
);

const upper = {
  create(context: ProtocolContext) {
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
};

const server = new Server({
  protocol: upper,
  port: args.port,
  onMessage(message, connection) {
    connection.write(new TextDecoder().decode(message.payload).toUpperCase());
  },
});
const { port } = await server.listen();
console.log(`upper-casing lines on port ${port}`);
