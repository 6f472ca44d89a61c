/**
 * `examples/mqtt.ts --tls-cert --tls-key` as a person runs it: `mosquitto_sub --cafile` gets what
 * `mosquitto_pub --cafile` publishes over TLS; with `--websocket`, the page comes over https and
 * npm mqtt over wss shares the broker; bad TLS flags exit 2. Not sanitized: the npm mqtt
 * client's timers (see `mqtt_clients_test.ts`).
 */

import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import mqtt from "mqtt";
import { runToExit, spawnExample } from "../../examples/_example_test_helper.ts";
import {
  MOSQUITTO_PUB_PATH,
  MOSQUITTO_SUB_PATH,
  mosquittoFirstMessage,
} from "../../testing/_fixtures/mosquitto.ts";
import { within } from "../../testing/_socket_client.ts";
import { hasOpenssl, testCertificate } from "../../testing/_tls.ts";

const HAS_OPENSSL = hasOpenssl();

/** The test identity as PEM files in a new folder, which the caller removes. */
async function certificateFiles(): Promise<{ dir: string; cert: string; key: string; ca: string }> {
  const { cert, key, ca } = await testCertificate();
  const dir = await Deno.makeTempDir({ prefix: "speedo-mqtt-example-tls-" });
  const files = { dir, cert: `${dir}/cert.pem`, key: `${dir}/key.pem`, ca: `${dir}/ca.pem` };
  await Deno.writeTextFile(files.cert, cert);
  await Deno.writeTextFile(files.key, key);
  await Deno.writeTextFile(files.ca, ca);
  return files;
}

Deno.test({
  name:
    "examples/mqtt.ts --tls-cert --tls-key: mosquitto_pub --cafile reaches mosquitto_sub --cafile; the web address serves https and wss",
  ignore: !HAS_OPENSSL || MOSQUITTO_PUB_PATH === undefined || MOSQUITTO_SUB_PATH === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const files = await certificateFiles();
    const example = await spawnExample([
      "examples/mqtt.ts",
      "--port",
      "0",
      "--tls-cert",
      files.cert,
      "--tls-key",
      files.key,
      "--websocket",
      "0",
    ], 2);
    const port = /:(\d+);/.exec(example.firstLines)?.[1];
    const web = /open https:\/\/127\.0\.0\.1:(\d+)\/mqtt\.html/.exec(example.firstLines)?.[1];
    let client: mqtt.MqttClient | undefined;
    try {
      assertMatch(example.firstLines, /Speedo MQTT over TLS listening on 127\.0\.0\.1:\d+; try: /);
      assertStringIncludes(example.firstLines, `wss://127.0.0.1:${web}/mqtt`);
      // What the README shows: the CLI clients with --cafile, the host name the certificate names.
      const target = ["-h", "localhost", "-p", port!, "--cafile", files.ca];
      const line = await mosquittoFirstMessage({
        connection: target,
        subscribe: ["-t", "home/#"],
        publish: ["-t", "home/kitchen", "-m", "21"],
      });
      assertEquals(line, "home/kitchen 21");

      // The page over https, from the same address as MQTT over wss.
      const { ca } = await testCertificate();
      using http = Deno.createHttpClient({ caCerts: [ca] });
      const page = await within(
        fetch(`https://localhost:${web}/mqtt.html`, { client: http }),
        "the page",
      );
      assertStringIncludes(await page.text(), "mqtt_page.js");
      client = await mqtt.connectAsync(`wss://localhost:${web}/mqtt`, {
        ca,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      const got = new Promise<string>((resolve) =>
        client!.once("message", (topic, payload) => resolve(`${topic} ${payload}`))
      );
      await client.subscribeAsync("home/#", { qos: 1 });
      await new Deno.Command(MOSQUITTO_PUB_PATH!, {
        args: [...target, "-t", "home/hall", "-m", "19", "-q", "1"],
        stdout: "null",
        stderr: "null",
      }).output();
      assertEquals(await within(got, "the message over wss"), "home/hall 19");
    } finally {
      await client?.endAsync(true).catch(() => {});
      example.child.kill("SIGTERM");
      const text = await example.output();
      await Deno.remove(files.dir, { recursive: true });
      assertMatch(text, /SIGTERM: closed after .* connections, \d+ messages published/);
      assertEquals((await example.child.status).code, 0);
    }
  },
});

Deno.test("examples/mqtt.ts rejects bad TLS and WebSocket flags with exit code 2", async () => {
  const missing = "/nonexistent/cert.pem";
  // Any readable file will do where the flag is missing its partner (the example's cwd is scratch).
  const readable = new URL("../../deno.json", import.meta.url).pathname;
  const cases: [string[], string][] = [
    [
      ["--tls-cert", missing, "--tls-key", missing],
      `--tls-cert must be a readable PEM file, got "${missing}"`,
    ],
    [["--tls-cert", readable], "--tls-cert and --tls-key go together"],
    [["--websocket", "x"], '--websocket must be an integer from 0 to 65535, got "x"'],
    [
      ["--websocket", "0", "--nats-port", "0"],
      "--websocket does not go with --nats-port or --backplane yet",
    ],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runToExit("examples/mqtt.ts", ["--port", "0", ...args]);
    assertEquals(code, 2, args.join(" "));
    assertStringIncludes(stderr, message);
  }
});
