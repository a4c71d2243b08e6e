/**
 * Users and permissions in the web UI, in real headless Chromium against a real Census and a real
 * PostgreSQL: the admin adds a Monitor user on the Users page and logs out; the Monitor logs in,
 * sets the password they must change, and sees the jobs and the inventory's state while it runs
 * but no Run Inventory button and of System Configuration only their own API keys; the admin, in another browser profile,
 * sees both. The inventory run is held open by a lock on pg_database (as in ui.test.ts) until the
 * test commits. No sleeps: every wait is for something on screen or in the API, with a deadline.
 */
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from '../support/pg-auth-cluster.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from '../support/server.ts';
import { ensureChromium, ensureUiBuilt, launchBrowser, logIn, openTab, pageErrors, screenshot, type Tab } from './browser.ts';

const PG_PAGE = '/manage-protection/databases/postgresql';
const MONITOR = 'monitor.ui';
const TEMPORARY = 'Temporary-Pass-1';
const CHOSEN = 'Monitor-Own-Pass-2';

describe('web UI: users and permissions', () => {
  let s: TestServer;
  let browser: Browser;
  let blocker: pg.Client;
  let admin: Tab;
  let monitor: Tab;
  let sid: string;
  const pgPort = inject('pgAuthPort');
  const job = async () => (await s.req('GET', '/api/endeavour/job/1004', { sid })).json as { status: string };
  const nav = (p: Page) => p.getByRole('navigation', { name: 'Main' });

  beforeAll(async () => {
    ensureChromium();
    await ensureUiBuilt();
    s = await startTestServer({ taskTimeoutMs: 60_000 });
    sid = await s.login();
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'pg', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } });
    const reg = await s.req('POST', '/api/appserver', {
      sid, body: { name: 'pg-auth', hostAddress: '127.0.0.1', portNumber: pgPort, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
    });
    expect(reg.status).toBe(201);
    blocker = new pg.Client({ host: '127.0.0.1', port: pgPort, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await blocker.connect();
    browser = await launchBrowser();
    admin = await openTab(browser);
    monitor = await openTab(browser);
  }, 600_000);

  afterAll(async () => {
    await blocker?.query('ROLLBACK').catch(() => {});
    await blocker?.end().catch(() => {});
    await browser?.close();
    await s?.stop();
  });

  it('lets the admin add a Monitor user on the Users page, then log out', async () => {
    const page = admin.page;
    await page.goto(s.url + '/system/users');
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(s.url + '/system/users');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    for (const name of ['Users', 'Roles', 'Resource groups', 'Jobs and Operations']) await nav(page).getByRole('link', { name, exact: true }).waitFor();
    await page.locator('tr[data-user="admin"]').waitFor();

    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByLabel('User name').fill(MONITOR);
    await page.getByLabel('Temporary password').fill(TEMPORARY);
    await page.getByLabel('Role').selectOption({ label: 'Monitor' });
    await page.getByLabel('Resource group').selectOption({ label: 'All Resources' });
    await page.locator('form').getByRole('button', { name: 'Add user' }).click();
    await page.getByText(`Added ${MONITOR}.`).waitFor();
    const row = page.locator(`tr[data-user="${MONITOR}"]`);
    await row.getByText('Monitor on All Resources').waitFor();
    await row.getByText('Must set a password').waitFor();
    await screenshot(page, 'users');

    // The API agrees: the user holds Monitor on All Resources and must change the password.
    const users = (await s.req('GET', '/api/security/user', { sid })).json.users as { name: string; passwordExpired: boolean }[];
    expect(users.find((u) => u.name === MONITOR)?.passwordExpired).toBe(true);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
  });

  it('shows the Monitor the running inventory and the jobs, but no Run Inventory button and no Users page', async () => {
    // Hold an inventory run open.
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');
    expect((await s.req('POST', '/api/endeavour/job/1004?action=start', { sid })).status).toBe(200);
    await waitFor(async () => ((await job()).status === 'RUNNING' ? true : undefined), 'the inventory to run');

    const page = monitor.page;
    await page.goto(s.url + PG_PAGE);
    await page.waitForURL(/\/login\?next=/);
    await logIn(page, MONITOR, TEMPORARY);
    // The password has expired: the login page asks for a new one and logs in with it.
    await page.getByRole('heading', { name: 'Set a new password' }).waitFor();
    await page.getByLabel('New password', { exact: true }).fill(CHOSEN);
    await page.getByLabel('Confirm new password').fill('not-the-same-1');
    await page.getByRole('button', { name: 'Set password and log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The two new passwords are not the same.' }).waitFor();
    await page.getByLabel('Confirm new password').fill(CHOSEN);
    await page.getByRole('button', { name: 'Set password and log in' }).click();
    await page.waitForURL(s.url + PG_PAGE);

    await page.getByRole('heading', { level: 1, name: 'PostgreSQL' }).waitFor();
    const backup = page.locator('#backup');
    await backup.getByRole('status').filter({ hasText: 'Inventory In Progress' }).waitFor();
    expect(await backup.getByRole('button').count()).toBe(0);
    await page.getByText('Your roles do not let you see the PostgreSQL servers').waitFor();
    await screenshot(page, 'monitor-inventory-in-progress');

    // The menu: Manage Protection and Jobs; of System Configuration only API keys (everyone's own).
    await nav(page).getByRole('link', { name: 'Jobs and Operations' }).waitFor();
    await nav(page).getByRole('link', { name: 'API keys' }).waitFor();
    expect(await nav(page).getByRole('list', { name: 'System Configuration' }).getByRole('link').allTextContents()).toEqual(['API keys']);
    expect(await nav(page).getByRole('link', { name: 'Users' }).count()).toBe(0);

    // Jobs: visible, without Start or Cancel.
    await nav(page).getByRole('link', { name: 'Jobs and Operations' }).click();
    const row = page.locator('#jobs tr[data-job="1004"]');
    await row.getByText('Running').first().waitFor();
    expect(await row.getByRole('button').count()).toBe(0);

    // The Users page by its address: said plainly, nothing listed.
    await page.goto(s.url + '/system/users');
    await page.getByText('Your roles do not let you see this page').waitFor();
    expect(await page.locator('tr[data-user]').count()).toBe(0);

    // The new password works for the API too, and the old one no longer does.
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: MONITOR, password: CHOSEN } })).status).toBe(200);
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: MONITOR, password: TEMPORARY } })).status).toBe(401);
  });

  it('shows the admin the Inventory In Progress button and the Users page, and Run Inventory again when the run ends', async () => {
    const page = admin.page;
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(s.url + PG_PAGE);
    const button = page.locator('#backup').getByRole('button', { name: 'Inventory In Progress' });
    await button.waitFor();
    expect(await button.isDisabled()).toBe(true);
    await nav(page).getByRole('link', { name: 'Users', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Register server' }).waitFor();

    await blocker.query('COMMIT');
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    // The Monitor's page follows the same job: the state goes, and still no button.
    const mon = monitor.page;
    await mon.goto(s.url + PG_PAGE);
    await mon.locator('#backup').getByText('Last run').waitFor();
    expect(await mon.locator('#backup').getByRole('button').count()).toBe(0);
    expect(await mon.locator('#backup').getByText('Inventory In Progress').count()).toBe(0);
  });

  it('lets the admin make a custom role and a resource group of one server', async () => {
    const page = admin.page;
    await nav(page).getByRole('link', { name: 'Roles', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Roles' }).waitFor();
    await page.locator('tr[data-role="SUPERUSER"]').waitFor();
    expect(await page.locator('tr[data-role="Monitor"]').getByRole('button').count()).toBe(0);
    await page.getByRole('button', { name: 'Add role' }).click();
    await page.getByLabel('Role name').fill('Viewer');
    await page.getByRole('checkbox', { name: /appserver\.view/ }).check();
    await page.getByRole('checkbox', { name: /policy\.view/ }).check();
    await page.getByRole('button', { name: 'Add role' }).last().click();
    await page.getByText('Added the role Viewer.').waitFor();
    await page.locator('tr[data-role="Viewer"]').getByText('policy.view').waitFor();

    await nav(page).getByRole('link', { name: 'Resource groups', exact: true }).click();
    await page.locator('tr[data-pool="All Resources"]').waitFor();
    await page.getByRole('button', { name: 'Add resource group' }).click();
    await page.getByLabel('Group name').fill('Team A');
    await page.getByRole('checkbox', { name: /pg-auth/ }).check();
    await page.getByRole('button', { name: 'Add resource group' }).last().click();
    await page.locator('tr[data-pool="Team A"]').getByText('pg-auth').waitFor();

    const roles = (await s.req('GET', '/api/security/role', { sid })).json.roles as { name: string; permissionIds: string[] }[];
    expect(roles.find((r) => r.name === 'Viewer')?.permissionIds.sort()).toEqual(['appserver.view', 'policy.view']);
    const pools = (await s.req('GET', '/api/security/resourcepool', { sid })).json.resourcePools as { name: string; resources: { name?: string }[] }[];
    expect(pools.find((p) => p.name === 'Team A')?.resources.map((r) => r.name)).toEqual(['pg-auth']);
    expect(pageErrors).toEqual([]);
  });
});
