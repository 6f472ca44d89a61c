/**
 * The dashboard as a person sees it: headless Chromium (driven by playwright-core) loads `/`
 * with the token in its address, and while a light load runs on an echo server the charts
 * change. The page may ask only the monitor for anything. A screenshot is saved to a
 * temporary directory, and its path printed. Every wait has a deadline.
 */

import { assert, assertEquals } from "@std/assert";
import { SocketClient } from "../testing/_socket_client.ts";
import { HAS_CHROMIUM, launchChromium } from "../testing/_chromium_test_helper.ts";
import { watched } from "./_monitor_test_helper.ts";

/** Echoes lines one at a time until `stop` is aborted: a load a person would notice, no more. */
async function lightLoad(port: number, stop: AbortSignal): Promise<number> {
  using client = await SocketClient.connect(port);
  let sent = 0;
  while (!stop.aborted) {
    await client.write("x".repeat(100) + "\n");
    await client.readLine();
    sent++;
    // A pause every few lines leaves the thread to the monitor and the browser's driver.
    if (sent % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return sent;
}

Deno.test({
  name: HAS_CHROMIUM
    ? "monitor dashboard in headless Chromium draws live charts that change under load"
    : "monitor dashboard in headless Chromium (ignored: chromium is not installed)",
  ignore: !HAS_CHROMIUM,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using w = await watched({ token: "look", sampleInterval: 250 });
    const stop = new AbortController();
    let load: Promise<number> | undefined;
    try {
      await using browser = await launchChromium({ width: 1280, height: 900 });
      const page = await browser.context.newPage();
      const elsewhere: string[] = [];
      page.on("request", (request: { url(): string }) => {
        if (!request.url().startsWith(w.monitor.url)) elsewhere.push(request.url());
      });
      await page.goto(`${w.monitor.url}?token=look`, { timeout: 15_000 });
      await page.locator("body[data-polls]").waitFor({ timeout: 10_000 });

      load = lightLoad(w.echoPort, stop.signal);
      // Messages/s rises above 0 once two samples under load are in. (Waits are selectors and
      // probes are typed functions: this file is checked without the DOM's types, and the
      // page's content security policy forbids evaluating text.)
      await page.locator('#messages[data-last]:not([data-last="0"]):not([data-last^="0,"])')
        .waitFor({ timeout: 10_000 });
      const picture = (id: string): Promise<string> =>
        page.locator(`#${id} canvas`).evaluate((canvas: { toDataURL(): string }) =>
          canvas.toDataURL()
        );
      const before = { messages: await picture("messages"), bytes: await picture("bytes") };
      // Two more polls redraw the charts with new samples: the pictures change.
      for (let i = 0; i < 2; i++) {
        const polls = await page.locator("body").getAttribute("data-polls");
        await page.locator(`body:not([data-polls="${polls}"])`).waitFor({ timeout: 5_000 });
      }
      assert(await picture("messages") !== before.messages, "the messages/s chart changed");
      assert(await picture("bytes") !== before.bytes, "the bytes/s chart changed");
      const figures: [string, number][] = await page.locator("figure").evaluateAll(
        (all: { id: string; dataset: Record<string, string> }[]) =>
          all.map((figure) => [figure.id, Number(figure.dataset.samples)]),
      );
      assertEquals(figures.map(([id]) => id), ["messages", "connections", "queue", "bytes", "rss"]);
      assert(figures.every(([, samples]) => samples >= 2), JSON.stringify(figures));
      const connections = await page.locator("#connections .value").innerText();
      assertEquals(connections, "1");
      const summary = await page.locator("#summary").innerText();
      assert(summary.includes(`echo 127.0.0.1:${w.echoPort}: 1 conn`), summary);
      assertEquals(await page.locator("#status").getAttribute("class"), "");

      const shots = await Deno.makeTempDir({ prefix: "speedo-dashboard-" });
      const path = `${shots}/dashboard.png`;
      await page.screenshot({ path, fullPage: true });
      assert((await Deno.stat(path)).size > 10_000);
      console.log(`dashboard screenshot: ${path}`);
      assertEquals(elsewhere, [], "the page asked only its monitor");
    } finally {
      stop.abort();
      await load;
    }
  },
});
