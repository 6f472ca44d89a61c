import { assertEquals, assertStringIncludes } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { Server } from "./server.ts";
import { describeError, printable } from "./_printable.ts";

Deno.test("printable escapes control characters and keeps the rest", () => {
  assertEquals(printable("GET /a\tb"), "GET /a\tb");
  assertEquals(printable("a\nb\r\x1b[31mc\x00\x7f\x85"), "a\\x0ab\\x0d\\x1b[31mc\\x00\\x7f\\x85");
  assertEquals(printable("x\u2028y é"), "x\\u2028y é");
});

Deno.test("describeError keeps a forged log line on the error's own line", () => {
  const error = new Error("No such file: /\n2026-12-04 INFO admin logged in\x1b[2J");
  assertEquals(
    describeError(error),
    "Error: No such file: /\\x0a2026-12-04 INFO admin logged in\\x1b[2J",
  );
  const withStack = describeError(error, true);
  assertEquals(withStack.split("\n")[0], describeError(error));
  assertStringIncludes(withStack, "\n    at ");
  assertEquals(describeError("plain\nstring"), "plain\\x0astring");
});

Deno.test("Server logs an error quoting a peer's bytes on one line, escaped", async () => {
  const logged: string[] = [];
  let id = -1;
  const original = console.error;
  console.error = (...args: unknown[]) => void logged.push(args.join(" "));
  try {
    // A protocol that quotes what the peer sent in its error, as parsers do.
    const closed = Promise.withResolvers<void>();
    await using server = new Server({
      protocol: {
        create: () => ({
          data(chunk: Uint8Array) {
            throw new Error(`Bad input: ${new TextDecoder().decode(chunk)}`);
          },
        }),
      },
      onClose: (connection) => {
        id = connection.id;
        closed.resolve();
      },
    });
    const { port } = await server.listen();
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("x\nspeedo: forged line\x1b[2J"));
    await deadline(closed.promise, 5000);
  } finally {
    console.error = original;
  }
  assertEquals(logged, [
    `speedo: Error: Bad input: x\\x0aspeedo: forged line\\x1b[2J (connection ${id})`,
  ]);
});
