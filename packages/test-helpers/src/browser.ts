/**
 * Headless Chromium for the browser tests (Debian's `chromium`, driven by playwright-core): one path, one set
 * of flags, one launch. Tests skip, saying why, where the binary is absent.
 */
import { existsSync, mkdirSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

/** Debian's chromium, or `CHROMIUM_PATH`. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Whether {@link CHROMIUM} exists on this machine. */
export const HAS_CHROMIUM = existsSync(CHROMIUM);

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/**
 * One Chromium for the tests of a file: launched before them (where {@link HAS_CHROMIUM}), with `outDir` made
 * for their screenshots, and closed after them. Returns the browser's getter, for use inside the tests.
 */
export function useChromium(outDir: string): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (!HAS_CHROMIUM) return;
    browser = await launchChromium();
    mkdirSync(outDir, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === undefined) throw new Error(`Chromium is not running (${CHROMIUM})`);
    return browser;
  };
}
