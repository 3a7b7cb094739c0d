import { mkdirSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium (scripts/setup.sh installs it) for the console's end-to-end tests: headless,
 * no network of its own, and every request a page makes outside `base` collected, so a test can
 * require the console to be self-contained.
 */
export interface ConsoleBrowser {
  context: BrowserContext;
  page: Page;
  /** URLs the page requested outside `base`. */
  external: string[];
}

export async function openConsoleBrowser(userDataDir: string, base: string, viewport?: { width: number; height: number }): Promise<ConsoleBrowser> {
  mkdirSync(userDataDir, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    ...(viewport ? { viewport } : {}),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const external: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) external.push(r.url());
  });
  return { context, page, external };
}
