import { access } from 'node:fs/promises';
import { chromium, type BrowserContext } from 'playwright-core';
import { tempDir } from './cli.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Why a browser test cannot run here, or null when it can. In CI (CI=true) a missing Chromium is
 * a failure, not a reason to skip: `.ci/run` installs it.
 */
export async function chromiumMissing(): Promise<string | null> {
  try {
    await access(CHROMIUM);
    return null;
  } catch {
    const why = `Chromium not found at ${CHROMIUM}`;
    if (process.env.CI === 'true') throw new Error(`${why}; CI must install it (see .ci/run)`);
    return why;
  }
}

/** Debian's Chromium, headless, with a fresh profile and nothing talking to the network by itself. */
export async function launchChromium(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(await tempDir(), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
