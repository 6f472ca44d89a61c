/**
 * The pub/sub server over a real Unix domain socket: a subscriber and a publisher pass a
 * message through it, PING is answered, and the socket file goes at close.
 */

import { assert, assertEquals, assertFalse, assertMatch } from "@std/assert";
import { SocketClient } from "../../testing/_socket_client.ts";
import { pubsubServer } from "./pubsub_server.ts";

Deno.test({
  name: 'pubsubServer with transport "unix" routes SUB/PUB/MSG and answers PING',
  ignore: Deno.build.os === "windows",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "speedo_unix_" });
    const path = `${dir}/pubsub.sock`;
    try {
      const server = pubsubServer({ transport: "unix", path });
      const { path: bound } = await server.listen();
      assertEquals(bound, path);
      {
        using subscriber = await SocketClient.connectUnix(path);
        using publisher = await SocketClient.connectUnix(path);
        // INFO tells no TCP address for a Unix socket.
        assertMatch(
          await subscriber.readLine(),
          /^INFO \{.*"host":"0\.0\.0\.0","port":0,.*\}\r\n$/,
        );
        assertMatch(await publisher.readLine(), /^INFO /);
        await subscriber.write('CONNECT {"verbose":false}\r\n');
        await publisher.write('CONNECT {"verbose":false}\r\n');
        assertEquals(await subscriber.request("SUB greet.* 7\r\nPING\r\n"), "PONG\r\n");
        assertEquals(await publisher.request("PUB greet.unix 5\r\nhello\r\nPING\r\n"), "PONG\r\n");
        assertEquals(await subscriber.readLines(2), ["MSG greet.unix 7 5\r\n", "hello\r\n"]);
        assertEquals(await publisher.request("PING\r\n"), "PONG\r\n");
        assert((await Deno.lstat(path)).isSocket);
      }
      await server.close();
      assertFalse(await Deno.lstat(path).then(() => true, () => false));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
