import { LineDecoder, type ProtocolContext, Server } from "../mod.ts";

const upper = {
  create(context: ProtocolContext) {
    const lines = new LineDecoder({ keepEnding: true, maxLineLength: 1024 });
    return {
      data(chunk: Uint8Array) {
        lines.feed(chunk);
        for (let line = lines.next(); line !== null; line = lines.next()) context.dispatch(line);
      },
    };
  },
};

const server = new Server({
  protocol: upper,
  port: Number(Deno.args[0] ?? 7000),
  onMessage(message, connection) {
    connection.write(new TextDecoder().decode(message.payload).toUpperCase());
  },
});
const { port } = await server.listen();
console.log(`upper-casing lines on port ${port}`);
