/** `examples/pubsub.ts` as a person runs it: start, use, Ctrl-C (SIGTERM here), summary. */

import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { SocketClient } from "../../testing/_socket_client.ts";
import { runToExit, spawnExample } from "../../examples/_example_test_helper.ts";

Deno.test("examples/pubsub.ts routes messages, then shuts down on SIGTERM with a summary", async () => {
  const { text, code } = await withExample([], async (port) => {
    using subscriber = await SocketClient.connect(port);
    using publisher = await SocketClient.connect(port);
    assertMatch(await subscriber.readLine(), /^INFO /);
    assertMatch(await publisher.readLine(), /^INFO /);
    assertEquals(await subscriber.request("sub news.* 1\r\nping\r\n"), "+OK\r\n");
    assertEquals(await subscriber.readLine(), "PONG\r\n");
    assertEquals(await publisher.request("pub news.today 5\r\nhello\r\n"), "+OK\r\n");
    assertEquals(await subscriber.readLines(2), ["MSG news.today 1 5\r\n", "hello\r\n"]);
  });
  assertStringIncludes(text, "Speedo pub/sub listening on 127.0.0.1:");
  assertMatch(text, /SIGTERM: closed after .* 2 connections, 1 messages published, 1 delivered/);
  assertEquals(code, 0);
});

Deno.test("examples/pubsub.ts rejects a bad flag with exit code 2", async () => {
  const { code, stderr } = await runToExit("examples/pubsub.ts", ["--max-payload", "0"]);
  assertEquals(code, 2);
  assertStringIncludes(
    stderr,
    '--max-payload must be an integer of at least 1, got "0"',
  );
});

/**
 * Starts the example with `flags`, runs `use` with its port, then stops it with SIGTERM.
 *
 * @returns What it printed, and its exit code.
 */
async function withExample(
  flags: string[],
  use: (port: number) => Promise<void>,
): Promise<{ text: string; code: number }> {
  const { child, firstLines, output } = await spawnExample([
    "examples/pubsub.ts",
    "--port",
    "0",
    ...flags,
  ]);
  let text = firstLines;
  try {
    await use(Number(/:(\d+)/.exec(firstLines)?.[1]));
  } finally {
    child.kill("SIGTERM");
    text = await output();
  }
  return { text, code: (await child.status).code };
}

Deno.test("examples/pubsub.ts --user/--pass and --auth FILE: clients must log in", async () => {
  const login = async (port: number, connect: string) => {
    using client = await SocketClient.connect(port);
    assertMatch(await client.readLine(), /"auth_required":true/);
    return await client.request(`CONNECT ${connect}\r\nPING\r\n`);
  };
  await withExample(["--user", "ann", "--pass", "s3cret"], async (port) => {
    assertEquals(await login(port, '{"verbose":false,"user":"ann","pass":"s3cret"}'), "PONG\r\n");
    assertEquals(
      await login(port, '{"verbose":false,"user":"ann","pass":"guess"}'),
      "-ERR 'Authorization Violation'\r\n",
    );
  });
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        users: [{ user: "bob", password: "pw", permissions: { publish: ["ok"] } }],
      }),
    );
    await withExample(["--auth", file], async (port) => {
      using client = await SocketClient.connect(port);
      await client.readLine();
      assertEquals(
        await client.request(
          'CONNECT {"verbose":false,"user":"bob","pass":"pw"}\r\nPUB no 0\r\n\r\n',
        ),
        `-ERR 'Permissions Violation for Publish to "no"'\r\n`,
      );
    });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("examples/pubsub.ts refuses --user without --pass, and a bad --auth file, with exit code 2", async () => {
  for (
    const flags of [["--user", "ann"], ["--auth", "/nonexistent/auth.json"], [
      "--token",
      "t",
      "--user",
      "a",
      "--pass",
      "b",
    ]]
  ) {
    const { code, stderr } = await runToExit("examples/pubsub.ts", flags);
    assertEquals(code, 2, flags.join(" "));
    assertMatch(stderr, /--user|--auth|one of/);
  }
});
