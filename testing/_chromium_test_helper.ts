/**
 * Headless Chromium for browser tests, driven by playwright-core (a test-only dependency, mapped
 * in deno.json, loaded only when Chromium is installed): one launch, with a throwaway profile.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import type { BrowserContext } from "playwright-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed: tests that need it are ignored without it. */
export const HAS_CHROMIUM: boolean = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

/** A running headless Chromium; disposing closes it and removes its profile. */
export interface Chromium extends AsyncDisposable {
  /** Its browser context: `newPage()` from here. */
  readonly context: BrowserContext;
}

/**
 * Launches headless Chromium with a new temporary profile, within 30 s.
 *
 * @param viewport The pages' size. @default {playwright's default, 1280x720}
 * @returns The browser, to dispose of.
 */
export async function launchChromium(
  viewport?: { width: number; height: number },
): Promise<Chromium> {
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "speedo-chromium-" });
  const removeProfile = () => Deno.remove(profile, { recursive: true }).catch(() => {});
  let context: BrowserContext;
  try {
    context = await deadline(
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        ...(viewport === undefined ? {} : { viewport }),
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      }),
      30_000,
    );
  } catch (error) {
    await removeProfile();
    throw error;
  }
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await removeProfile();
    },
  };
}
