import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium } from 'playwright-core';

/**
 * Debian's chromium, driven by playwright-core. Nothing is downloaded: playwright-core
 * ships no browser, and `.ci/run` installs the `chromium` package when it is missing.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for a closed network: without the background-networking ones, Chromium keeps
 * trying Google's hosts (refused here) at every start.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Media elements may play without a user gesture (tests call play() themselves).
  '--autoplay-policy=no-user-gesture-required',
];

export interface HeadlessChromium {
  browser: Browser;
  /** A fresh context (own cookies and storage); closed with the browser. */
  newContext(options?: Parameters<Browser['newContext']>[0]): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Starts headless Chromium with its own empty profile directory, removed on close. */
export async function launchChromium(): Promise<HeadlessChromium> {
  const profileDir = mkdtempSync(join(tmpdir(), 'rtms-hub-chromium-'));
  // launchPersistentContext would pin one context; a plain launch with --user-data-dir
  // is refused by Playwright, so the profile goes through the env Chromium honours.
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    env: { ...process.env, HOME: profileDir, XDG_CONFIG_HOME: profileDir, XDG_CACHE_HOME: profileDir },
  });
  return {
    browser,
    newContext: (options) => browser.newContext(options),
    close: async () => {
      await browser.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
