/**
 * The web UI with 10,000 application servers registered, in real headless Chromium against a
 * real Census over HTTPS: the PostgreSQL page reads its servers and instances a page at a time
 * from the server (never the whole estate), shows the first page with the total, and pages on.
 * The time from opening the page to its first rows is printed (a figure for bench/README.md's
 * reads section), not asserted: a timing is no test on a shared machine.
 *
 * The estate is written straight into the database with bulk SQL (bench/support/estate-data.ts,
 * shared with bench/reads) before Census starts on it: 10,000 servers, half PostgreSQL, each with
 * one instance and three databases.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEstate } from '../../bench/support/estate-data.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { Store } from '../../src/store/index.ts';
import { loadOrCreateKey } from '../../src/store/keyfile.ts';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.ts';
import { ensureChromium, ensureUiBuilt, launchBrowser, logIn, openTab, pageErrors, screenshot } from './browser.ts';

const SERVERS = 10_000;
const PG_PAGE = '/manage-protection/databases/postgresql';

describe('the web UI with 10,000 servers registered', () => {
  let s: TestServer;
  let browser: Browser;
  const dataDir = mkdtempSync(join(tmpdir(), 'census-estate-ui-'));
  /** Every API request the page made, with its query. */
  const requests: string[] = [];

  beforeAll(async () => {
    ensureChromium();
    await ensureUiBuilt();
    const store = await Store.open({ url: join(dataDir, 'census.db') });
    try {
      await generateEstate(store, { servers: SERVERS, box: SecretBox.fromKey(loadOrCreateKey(dataDir)) });
    } finally {
      await store.close();
    }
    s = await startTestServer({ dataDir });
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the first page of servers with the total, reading one page from the server, and pages on', async () => {
    const { page } = await openTab(browser);
    page.on('request', (r) => {
      if (r.url().includes('/api/')) requests.push(decodeURIComponent(r.url()));
    });
    await page.goto(s.url + PG_PAGE);
    await page.waitForURL(/\/login/);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    const started = Date.now();
    await page.waitForURL(s.url + PG_PAGE);
    const servers = page.locator('#servers');
    const table = servers.getByRole('table', { name: 'PostgreSQL servers' });
    // Servers sort by name: pg-1, pg-101, pg-1001 … the first row is pg-1.
    await table.getByRole('rowheader', { name: 'pg-1', exact: true }).waitFor({ timeout: 60_000 });
    const firstRowsMs = Date.now() - started;
    console.log(`estate-scale: first rows of the servers page after ${firstRowsMs} ms (${SERVERS} servers registered, ${SERVERS / 2} PostgreSQL)`);

    const pager = servers.getByRole('navigation', { name: 'Application server pages' });
    await expect.poll(() => pager.locator('.pager-info').textContent()).toBe(`1–50 of ${SERVERS / 2}`);
    expect(await table.locator('tbody tr').count()).toBe(50);
    await screenshot(page, 'estate-scale-servers');

    // The page asked for one page of servers, never the whole estate.
    const serverReads = requests.filter((u) => /\/api\/appserver\?/.test(u) && u.includes('applicationType'));
    expect(serverReads.length).toBeGreaterThan(0);
    for (const u of serverReads) expect(new URL(u).searchParams.get('pageSize')).toBe('50');

    // The instances page too: the first 25 of 5,000, with their pager.
    const instances = page.locator('#inventory');
    await expect.poll(() => instances.getByRole('navigation', { name: 'Instance pages' }).locator('.pager-info').textContent(), { timeout: 30_000 }).toBe(`1–25 of ${SERVERS / 2}`);

    // Next page: the second 50, asked of the server.
    await pager.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => pager.locator('.pager-info').textContent()).toBe(`51–100 of ${SERVERS / 2}`);
    expect(requests.some((u) => u.includes('/api/appserver?') && new URL(u).searchParams.get('pageStartIndex') === '50')).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
