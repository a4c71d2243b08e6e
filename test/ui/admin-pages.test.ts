/**
 * System Configuration's API keys, audit log, LDAP and users' permission sets in the web UI, in
 * real headless Chromium against a real Census: the admin makes a key (shown once, copied, then
 * listed without it; it works as a Bearer token; revoked, it no longer does), gives a Monitor a
 * second role and is shown the server's refusal to demote the last administrator, reads and
 * filters the audit log of what was just done and exports it as CSV, and registers an LDAP
 * server nobody listens for (Test says plainly that it failed). A Monitor, in another browser
 * profile, sees only their own API keys and neither the audit log nor LDAP.
 * One browser for the file; no sleeps: every wait is for something on screen, with a deadline.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, addUser, startTestServer, type TestServer } from '../support/server.ts';
import { ensureChromium, ensureUiBuilt, launchBrowser, logIn, openTab, pageErrors, screenshot, type Tab } from './browser.ts';

const MONITOR = 'monitor.keys';
const MONITOR_PASSWORD = 'Monitor-Keys-Pass-2';
const BIND_PASSWORD = 'Bind-Secret-Never-Shown-7';

describe('web UI: API keys, audit log, LDAP and permission sets', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: Tab;
  let monitor: Tab;
  let sid: string;
  let monitorId: string;
  const nav = (p: Page) => p.getByRole('navigation', { name: 'Main' });
  const systemLinks = (p: Page) => nav(p).getByRole('list', { name: 'System Configuration' }).getByRole('link').allTextContents();

  beforeAll(async () => {
    ensureChromium();
    await ensureUiBuilt();
    s = await startTestServer();
    sid = await s.login();
    // A Monitor who has already set their own password.
    monitorId = await addUser(s, sid, MONITOR, MONITOR_PASSWORD, [1002]);
    browser = await launchBrowser();
    admin = await openTab(browser);
    // The copy button writes to the clipboard; the test reads it back.
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    monitor = await openTab(browser);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('makes an API key that is shown once with a copy button, then listed without it; it works until revoked', async () => {
    const page = admin.page;
    await page.goto(s.url + '/system/api-keys');
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await nav(page).getByRole('link', { name: 'Audit log' }).waitFor();
    expect(await systemLinks(page)).toEqual(['Users', 'Roles', 'Resource groups', 'LDAP servers', 'API keys', 'Audit log', 'E-mail (SMTP)', 'Recipients', 'Webhooks', 'Delivery log', 'Alert settings']);
    await page.getByText('There are no API keys.').waitFor();

    await page.getByRole('button', { name: 'Create API key' }).click();
    // The form checks the name itself.
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('alert').filter({ hasText: 'Enter a name' }).waitFor();
    await page.getByLabel('Key name').fill('prometheus');
    await page.getByLabel('Allowed addresses').fill('127.0.0.0/8, ::1');
    await page.getByRole('checkbox', { name: /Read-only/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();

    const dialog = page.getByRole('dialog', { name: 'Your new API key: prometheus' });
    await dialog.waitFor();
    await dialog.getByText('you will not see it again').waitFor();
    const key = await dialog.getByLabel('API key').inputValue();
    expect(key).toMatch(/^cns_\S{20,}$/);
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await dialog.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await screenshot(page, 'api-key-shown-once', false);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Listed, without the key: its prefix, read-only, the addresses, never used.
    const row = page.locator('tr[data-key="prometheus"]');
    await row.getByText(key.slice(0, 12)).waitFor();
    expect(await row.locator('td[data-label="Read-only"]').textContent()).toBe('Yes');
    expect(await row.locator('td[data-label="Allowed addresses"]').textContent()).toBe('127.0.0.0/8, ::1');
    expect(await row.locator('td[data-label="Last used"]').textContent()).toBe('Never');
    expect(await row.locator('td[data-label="Owner"]').textContent()).toContain('admin');
    expect(await page.content()).not.toContain(key);

    // The key works as a Bearer token; after a reload the list shows its use.
    expect((await s.req('GET', '/api/endeavour/session', { headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
    await page.reload();
    await row.locator('td[data-label="Last used"]').getByText('from 127.0.0.1').waitFor();

    // Revoked after a confirmation: refused at once, still listed.
    await row.getByRole('button', { name: 'Revoke prometheus' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke the API key prometheus?' });
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('Revoked the API key prometheus.').waitFor();
    await row.getByText('Revoked').waitFor();
    expect(await row.getByRole('button').count()).toBe(0);
    expect((await s.req('GET', '/api/endeavour/session', { headers: { Authorization: `Bearer ${key}` } })).status).toBe(401);
  });

  it("edits a user's permission sets, and shows the server's refusal to demote the last administrator", async () => {
    const page = admin.page;
    await nav(page).getByRole('link', { name: 'Users', exact: true }).click();
    const row = page.locator(`tr[data-user="${MONITOR}"]`);
    await row.getByText('Monitor on All Resources').waitFor();
    await row.getByRole('button', { name: `Edit the permission sets of ${MONITOR}` }).click();
    const form = page.locator('form[data-form="user-roles"]');
    await form.locator('li[data-pair="Monitor on All Resources"]').waitFor();
    await form.getByLabel('Role', { exact: true }).selectOption({ label: 'Inventory Operator' });
    await form.getByLabel('Resource group', { exact: true }).selectOption({ label: 'All Resources' });
    await form.getByRole('button', { name: 'Add to the list' }).click();
    await form.locator('li[data-pair="Inventory Operator on All Resources"]').waitFor();
    await form.getByRole('button', { name: 'Save roles' }).click();
    await page.getByText(`Saved the roles of ${MONITOR}`).waitFor();
    await row.getByText('Monitor, Inventory Operator on All Resources').waitFor();
    const u = (await s.req('GET', `/api/security/user/${monitorId}`, { sid })).json as { permissions: { roles: { name: string }[] }[] };
    expect(u.permissions.flatMap((p) => p.roles.map((r) => r.name)).sort()).toEqual(['Inventory Operator', 'Monitor']);

    // Take the Inventory Operator away again.
    await row.getByRole('button', { name: `Edit the permission sets of ${MONITOR}` }).click();
    await form.getByRole('button', { name: 'Remove Inventory Operator on All Resources' }).click();
    await form.getByRole('button', { name: 'Save roles' }).click();
    await row.getByText('Monitor on All Resources').waitFor();

    // The admin is the only one who can manage users: the server refuses, in its own words.
    await page.locator('tr[data-user="admin"]').getByRole('button', { name: 'Edit the permission sets of admin' }).click();
    await form.getByRole('button', { name: 'Remove SUPERUSER on All Resources' }).click();
    await form.getByText('No roles: admin can log in but do nothing.').waitFor();
    await form.getByRole('button', { name: 'Save roles' }).click();
    const refusal = await form.getByRole('alert').textContent();
    expect(refusal).toContain('no enabled user who can manage users');
    await screenshot(page, 'user-roles-refused');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('tr[data-user="admin"]').getByText('SUPERUSER on All Resources').waitFor();
  });

  it('lists the audit log of what was just done, filters and sorts it, and exports the same as CSV', async () => {
    const page = admin.page;
    await nav(page).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const rows = page.locator('table[aria-label="Audit log"] tbody tr');
    await page.locator('tr[data-action="apikey.revoke"]').waitFor();
    await page.locator('tr[data-action="user.update"][data-outcome="failure"]').waitFor();
    // Newest first.
    const times = async () => rows.locator('time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime')!)));
    const newestFirst = await times();
    expect(newestFirst).toEqual([...newestFirst].sort((a, b) => b - a));

    // Action apikey.* (a wildcard): the key's creation and revocation, nothing else.
    await page.getByLabel('Action').fill('apikey.*');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/action=apikey\.\*/);
    await page.locator('tr[data-action="apikey.create"]').waitFor();
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-action')))).toEqual(['apikey.revoke', 'apikey.create']);
    await page.locator('tr[data-action="apikey.create"]').getByText('prometheus').first().waitFor();

    // Oldest first, by the Time header.
    await page.getByRole('button', { name: /^Time:/ }).click();
    await page.waitForURL(/order=asc/);
    await expect.poll(async () => rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-action')))).toEqual(['apikey.create', 'apikey.revoke']);

    // The CSV holds the same entries, in the same order.
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(file.suggestedFilename()).toMatch(/^census-audit-\d{8}T\d{6}\.csv$/);
    const csv = readFileSync((await file.path())!, 'utf8').trim().split('\r\n');
    expect(csv[0]!.startsWith('id,accessTime,time,user')).toBe(true);
    expect(csv.slice(1).map((l) => l.split(',')[6])).toEqual(['apikey.create', 'apikey.revoke']);

    // Only failures: the refused demotion is among them, and nothing else shows.
    await page.getByLabel('Action').fill('');
    await page.getByLabel('Outcome').selectOption('failure');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/outcome=failure/);
    await page.locator('tr[data-action="user.update"]').waitFor();
    expect(new Set(await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-outcome'))))).toEqual(new Set(['failure']));

    // A time range in the future matches nothing, and says so.
    await page.getByLabel('From').fill('2999-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No entries match these filters.').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.locator('tr[data-action="apikey.create"]').waitFor();
  });

  it('registers an LDAP server nobody listens for; Test shows the failure; the bind password is never shown; group mappings', async () => {
    const page = admin.page;
    await nav(page).getByRole('link', { name: 'LDAP servers' }).click();
    await page.getByText('No LDAP server is registered').waitFor();
    await page.getByRole('button', { name: 'Register LDAP server' }).click();
    await page.getByLabel('Name', { exact: true }).fill('corp');
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    await page.getByLabel('URL').fill('ldaps://127.0.0.1:1');
    await page.getByLabel('Bind DN').fill('cn=census,dc=example,dc=com');
    await page.getByLabel('Bind password').fill(BIND_PASSWORD);
    await page.getByLabel('User base').fill('ou=people,dc=example,dc=com');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await page.getByText('Registered the LDAP server corp.').waitFor();
    const row = page.locator('tr[data-ldap="corp"]');
    await row.getByText('LDAPS, certificate checked').waitFor();

    await row.getByRole('button', { name: 'Test corp' }).click();
    const result = page.locator('.test-result');
    await result.getByText('Connection test of corp: failed').waitFor();
    await result.locator('li[data-check="connect"] [data-status="FAILED"]').waitFor();
    expect(await result.locator('li[data-check="bind"] [data-status]').getAttribute('data-status')).toBe('SKIPPED');
    await screenshot(page, 'ldap-test-failed');

    // Editing shows no password; moving the server without it is refused as the server words it.
    await row.getByRole('button', { name: 'Edit corp' }).click();
    expect(await page.getByLabel('Bind password').inputValue()).toBe('');
    await page.getByLabel('URL').fill('ldaps://127.0.0.1:2');
    await page.getByRole('button', { name: 'Save LDAP server' }).click();
    await page.getByRole('alert').filter({ hasText: 'bindPassword' }).waitFor();
    await page.getByLabel('Bind password').fill(BIND_PASSWORD);
    await page.getByRole('button', { name: 'Save LDAP server' }).click();
    await page.getByText('Saved the LDAP server corp.').waitFor();
    await row.getByText('ldaps://127.0.0.1:2').waitFor();
    expect(await page.content()).not.toContain(BIND_PASSWORD);
    const listed = await s.req('GET', '/api/ldap', { sid });
    expect(listed.text).not.toContain(BIND_PASSWORD);
    expect(listed.json.ldapServers[0].url).toBe('ldaps://127.0.0.1:2');

    // A group mapping: added, listed, removed.
    await row.getByRole('button', { name: 'Group mappings of corp' }).click();
    const mappings = page.locator('#ldap-mappings');
    await mappings.getByText('No group is mapped').waitFor();
    await mappings.getByRole('button', { name: 'Add mapping' }).click();
    await mappings.getByLabel('Group DN').fill('cn=ops,ou=groups,dc=example,dc=com');
    await mappings.getByLabel('Role', { exact: true }).selectOption({ label: 'Inventory Operator' });
    await mappings.locator('form').getByRole('button', { name: 'Add mapping' }).click();
    const mapped = mappings.locator('tr[data-mapping="cn=ops,ou=groups,dc=example,dc=com"]');
    await mapped.getByText('Inventory Operator').waitFor();
    await mapped.getByText('All Resources').waitFor();
    const id = listed.json.ldapServers[0].id as string;
    expect((await s.req('GET', `/api/ldap/${id}/mapping`, { sid })).json.mappings.map((m: { groupDn: string }) => m.groupDn)).toEqual(['cn=ops,ou=groups,dc=example,dc=com']);
    await mapped.getByRole('button', { name: /Remove the mapping/ }).click();
    await mappings.getByText('No group is mapped').waitFor();
    expect((await s.req('GET', `/api/ldap/${id}/mapping`, { sid })).json.mappings).toEqual([]);
  });

  it('shows a Monitor only their own API keys, and neither the audit log nor LDAP', async () => {
    const page = monitor.page;
    await page.goto(s.url + '/system/api-keys');
    await logIn(page, MONITOR, MONITOR_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await nav(page).getByRole('link', { name: 'API keys' }).waitFor();
    expect(await systemLinks(page)).toEqual(['API keys']);
    await page.getByText('There are no API keys.').waitFor();

    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.getByLabel('Key name').fill('sppmon');
    expect(await page.getByLabel('Owner', { exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Your new API key: sppmon' });
    const key = await dialog.getByLabel('API key').inputValue();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.locator('tr[data-key="sppmon"]').waitFor();
    // The admin's key is not theirs to see; there is no Owner column.
    expect(await page.locator('tr[data-key]').count()).toBe(1);
    expect(await page.locator('th', { hasText: 'Owner' }).count()).toBe(0);
    const mine = await s.req('GET', '/api/endeavour/session', { headers: { Authorization: `Bearer ${key}` } });
    expect(mine.json.user.name).toBe(MONITOR);

    for (const [path, title] of [['/system/audit-log', 'Audit log'], ['/system/ldap', 'LDAP servers']] as const) {
      await page.goto(s.url + path);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      await page.getByText('Your roles do not let you see this page').waitFor();
      expect(await page.locator('table').count()).toBe(0);
    }
    expect(pageErrors).toEqual([]);
  });
});
