// A real headless browser for tests: Debian's chromium (CHROMIUM_PATH to use another), driven by playwright-core.
// Every page it opens refuses requests to hosts other than loopback ones and records them, so a test can assert that
// nothing left the machine (no CDN, no web fonts); screenshots go to test-artifacts/ for a person to look at.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`no chromium found (tried ${candidates.join(', ')}): apt-get install -y chromium, or set CHROMIUM_PATH`);
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root (as in CI) cannot use Chromium's sandbox; the rest keeps it from calling home.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export interface GuardedContext {
  context: BrowserContext;
  /** URLs of every request the pages tried to make to a host that is not loopback (each was refused). */
  external: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
  newPage(): Promise<Page>;
}

export async function guardedContext(browser: Browser): Promise<GuardedContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const external: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || LOOPBACK.has(url.hostname)) return route.continue();
    external.push(url.href);
    return route.abort('blockedbyclient');
  });
  return {
    context,
    external,
    errors,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      return page;
    },
  };
}

/** Saves a full-page screenshot as test-artifacts/<name>.png (and, with `alsoTo`, at that path too). */
export async function screenshot(page: Page, name: string, alsoTo?: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = `${ARTIFACTS_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  if (alsoTo) await page.screenshot({ path: alsoTo, fullPage: true });
  return path;
}
