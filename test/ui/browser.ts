/**
 * What the browser tests need around them: Debian's Chromium (installed by
 * scripts/ensure-chromium.sh when missing), an up-to-date build of the UI, a headless browser
 * driven by playwright-core, and screenshots in test-output/screenshots.
 *
 * The UI build: `npm ci` builds web/dist (prepare → build). So that `npm test` alone also tests
 * the current sources after an edit, ensureUiBuilt() rebuilds web/dist with Vite when it is
 * missing or older than any file under web/ (src, index.html, public, vite.config.ts) — a stat
 * walk of a few dozen files when nothing changed, about a second when something did. Census then
 * serves that web/dist exactly as in production (src/api/web.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = join(ROOT, 'web');
const DIST_INDEX = join(WEB, 'dist', 'index.html');
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');

/** Installs Debian's chromium when /usr/bin/chromium is missing; returns the seconds it took (0 when present). */
export function ensureChromium(): number {
  if (existsSync(CHROMIUM)) return 0;
  const started = Date.now();
  execFileSync('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`ui tests: installed chromium in ${seconds} s`);
  return seconds;
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** Builds web/dist when it is missing or older than the UI's sources; returns whether it built. */
export async function ensureUiBuilt(): Promise<boolean> {
  const sources = Math.max(...['src', 'public', 'index.html', 'vite.config.ts', 'tsconfig.json'].map((p) => newestMtime(join(WEB, p))));
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sources) return false;
  const { build } = await import('vite');
  const started = Date.now();
  await build({ root: WEB, configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });
  console.log(`ui tests: built the UI into web/dist in ${Date.now() - started} ms`);
  return true;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface Tab {
  context: BrowserContext;
  page: Page;
}

/** Uncaught errors and console errors of every page opened here; the last test asserts there were none. */
export const pageErrors: string[] = [];

/** A new browser profile (its own sessionStorage: a separate person) with one page. */
export async function openTab(browser: Browser, options: BrowserContextOptions = {}): Promise<Tab> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 }, locale: 'en-US', ...options });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  // Console errors too (a Content-Security-Policy refusal shows only there), except the
  // browser's own line for each 4xx answer, which the tests cause on purpose (401, 409).
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`${page.url()}: console: ${m.text()}`);
  });
  return { context, page };
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // From the top, so the sticky top bar sits where a person sees it; no caret, no running
  // animations: the same page gives the same picture.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage, animations: 'disabled', caret: 'hide' });
}

/** Fills the login form the page is on and submits it with Enter, as a person would. */
export async function logIn(page: Page, user: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Password').press('Enter');
}
