/**
 * The monitor's /metrics as Prometheus's own linter reads it: `promtool check metrics` (Debian
 * package `prometheus`), over an echo server, a pub/sub server and an MQTT broker with traffic,
 * the handler histogram on, and a label value that needs escaping.
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import { mqttServer } from "../protocols/mqtt/mqtt_server.ts";
import { SocketClient } from "../testing/_socket_client.ts";
import { echoLines, get, natsClient, watched } from "./_monitor_test_helper.ts";
import { monitor } from "./monitor.ts";

const PROMTOOL = "promtool";
const HAS_PROMTOOL = await new Deno.Command(PROMTOOL, { args: ["--version"], stdout: "null" })
  .output().then((out) => out.success, () => false);

/** Runs `promtool check metrics` on `text`: its exit code and what it said. */
async function promtoolCheck(text: string): Promise<{ code: number; said: string }> {
  const child = new Deno.Command(PROMTOOL, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, said: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test({
  name: HAS_PROMTOOL
    ? "monitor /metrics passes promtool check metrics, and promtool catches a broken exposition"
    : "monitor /metrics with promtool (ignored: promtool is not installed)",
  ignore: !HAS_PROMTOOL,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    // The same check fails on what the format forbids: this test can fail.
    const broken = await promtoolCheck('# TYPE bad counter\nbad{a="b\nc"} 1\n');
    assertEquals(broken.code !== 0, true, broken.said);

    await using w = await watched({ handlerTime: true });
    using echo = await SocketClient.connect(w.echoPort);
    await echoLines(echo, "one", "two");
    using sub = await natsClient(w.pubsubPort, "greet.>");
    await sub.write("PUB greet.all 2\r\nhi\r\n");
    assertEquals(await sub.readLines(2), ["MSG greet.all 1 2\r\n", "hi\r\n"]);
    const { text } = await get(w.monitor, "/metrics");
    assertStringIncludes(text, "speedo_handler_duration_seconds_bucket");
    const checked = await promtoolCheck(text);
    assertEquals([checked.code, checked.said], [0, ""]);

    // A protocol name that must be escaped, and the MQTT families.
    await using mqtt = mqttServer({ port: 0 });
    await mqtt.listen();
    await using odd = await monitor({ 'say "hi"\\\n': mqtt }, {
      port: 0,
      sources: { mqtt: mqtt.broker },
    });
    const escaped = (await get(odd, "/metrics")).text;
    assertStringIncludes(escaped, 'protocol="say \\"hi\\"\\\\\\n"');
    assertStringIncludes(escaped, "speedo_mqtt_sessions 0\n");
    const again = await promtoolCheck(escaped);
    assertEquals([again.code, again.said], [0, ""]);
  },
});
