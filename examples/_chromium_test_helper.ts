/**
 * Headless Chromium for the page tests, driven by playwright-core (a test-only dependency, mapped
 * in deno.json, loaded only when Chromium is installed): a throwaway profile, every wait bounded.
 *
 * @module
 */

import type { BrowserContext } from "playwright-core";
import { deadline } from "@std/async/deadline";

/** Where Debian's Chromium is. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed; the page tests are ignored without it. */
export const HAS_CHROMIUM: boolean = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

/** A running headless Chromium: its context, closed with its profile by `await using`. */
export interface HeadlessChromium extends AsyncDisposable {
  readonly context: BrowserContext;
}

/**
 * Starts headless Chromium with a new profile, within 30 s.
 *
 * @returns The browser's context; disposing of it closes the browser and removes the profile.
 */
export async function launchChromium(): Promise<HeadlessChromium> {
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "speedo-chromium-" });
  const removeProfile = () => Deno.remove(profile, { recursive: true }).catch(() => {});
  let context: BrowserContext;
  try {
    context = await deadline(
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
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
