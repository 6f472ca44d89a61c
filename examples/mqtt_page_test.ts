/**
 * The MQTT page of `examples/mqtt.ts --websocket`, as a person uses it: a real browser (headless
 * Chromium, driven by playwright-core) loads mqtt.html from the example's web address, connects
 * over MQTT over WebSocket, subscribes, and shows what an npm mqtt client over TCP publishes;
 * the page publishes and that client gets it; a denied subscription is said so on the page.
 * Every wait has a deadline. Not sanitized: the npm mqtt client's timers outlive it now and then
 * (see `protocols/mqtt/mqtt_clients_test.ts`).
 */

import { assertEquals, assertMatch } from "@std/assert";
import mqtt from "mqtt";
import { within } from "../testing/_socket_client.ts";
import { HAS_CHROMIUM, launchChromium } from "../testing/_chromium_test_helper.ts";
import { spawnExample } from "./_example_test_helper.ts";

Deno.test({
  name: HAS_CHROMIUM
    ? "examples/mqtt.ts --websocket in headless Chromium: mqtt.html subscribes, publishes and shows what a TCP client publishes"
    : "examples/mqtt.ts page in headless Chromium (ignored: chromium is not installed)",
  ignore: !HAS_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const example = await spawnExample(
      ["examples/mqtt.ts", "--port", "0", "--websocket", "0", "--deny-subscribe", "secret/#"],
      2,
    );
    const mqttPort = /:(\d+);/.exec(example.firstLines)?.[1];
    const pageUrl = /open (http:\/\/\S+\/mqtt\.html)/.exec(example.firstLines)?.[1];
    let tcp: mqtt.MqttClient | undefined;
    try {
      assertMatch(example.firstLines, /MQTT over WebSocket at ws:\/\/127\.0\.0\.1:\d+\/mqtt/);
      await using browser = await launchChromium();
      const page = await browser.context.newPage();
      await page.goto(pageUrl!, { timeout: 15_000 });
      await page.locator("#status", { hasText: "connected" }).waitFor({ timeout: 10_000 });

      // The page subscribes; the entry appears once the broker's SUBACK granted it.
      await page.fill("#filter", "home/+/temp");
      await page.click("#subscribe button[type=submit]");
      await page.locator('#subscriptions li[data-filter="home/+/temp"]').waitFor({
        timeout: 10_000,
      });

      // A TCP client publishes; the page shows what matches its filter, and only that.
      tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      const fromPage = new Promise<string>((resolve) =>
        tcp!.once("message", (topic, payload) => resolve(`${topic} ${payload}`))
      );
      await tcp.subscribeAsync("from/page", { qos: 0 });
      await tcp.publishAsync("home/hall/humidity", "no", { qos: 0 });
      await tcp.publishAsync("home/kitchen/temp", "21 °C ✓", { qos: 1 });
      await page.locator("#log li.received").first().waitFor({ timeout: 10_000 });
      assertEquals(await page.locator("#log li.received").allTextContents(), [
        "← home/kitchen/temp: 21 °C ✓",
      ]);

      // The page publishes; the TCP client gets it.
      await page.fill("#pub-topic", "from/page");
      await page.fill("#pub-data", "hi from Chromium");
      await page.click("#publish button[type=submit]");
      assertEquals(await within(fromPage, "the page's message"), "from/page hi from Chromium");

      // A subscription the broker refuses (--deny-subscribe) is said so, and not listed.
      await page.fill("#filter", "secret/plans");
      await page.click("#subscribe button[type=submit]");
      await page.locator("#log li.error").waitFor({ timeout: 10_000 });
      assertEquals(
        await page.locator("#log li.error").innerText(),
        "! subscription to secret/plans refused",
      );
      assertEquals(await page.locator("#subscriptions li").count(), 1);
      await page.locator("#status", { hasText: "connected" }).waitFor({ timeout: 1000 });
    } finally {
      await tcp?.endAsync(true).catch(() => {});
      example.child.kill("SIGTERM");
      const text = await example.output();
      assertMatch(text, /SIGTERM: closed after .* s: \d+ connections, \d+ messages published/);
      assertEquals((await example.child.status).code, 0);
    }
  },
});
