/**
 * The web UI end to end, in real headless Chromium against a real Census over HTTPS and a real,
 * password-checking PostgreSQL: log in, register a server, run the inventory and watch the Run
 * Inventory button turn into "Inventory In Progress" (for a second viewer too, and across a
 * reload) and back, see the databases, follow the session with its tasks and log, and the
 * edges: refused registrations, an ended login session, the phone-width layout.
 *
 * The inventory run is held open deterministically: a transaction on the auth cluster locks
 * pg_database, which the collector reads, until the test commits (as test/seed-flow.test.ts does).
 * No sleeps: every wait is for something on screen or in the API, with a deadline.
 */
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from '../support/pg-auth-cluster.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from '../support/server.ts';
import { ensureChromium, ensureUiBuilt, launchBrowser, logIn, openTab, pageErrors, screenshot, type Tab } from './browser.ts';

const PG_PAGE = '/manage-protection/databases/postgresql';
const SERVER_NAME = 'pg-auth';

describe('web UI in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let blocker: pg.Client;
  let main: Tab;
  let page: Page;
  const pgPort = inject('pgAuthPort');
  const setup = { chromiumSeconds: 0, built: false };

  // The test's own login session, apart from the browser's.
  let apiSid: string | undefined;
  const api = async (path: string) => {
    apiSid ??= await s.login();
    const r = await s.req('GET', path, { sid: apiSid });
    expect(r.status).toBe(200);
    return r.json;
  };
  const inventoryJob = () => api('/api/endeavour/job/1004');
  const lockInventory = async () => {
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');
  };
  const runInventoryButton = (p: Page) => p.locator('#backup').getByRole('button', { name: /Run Inventory|Inventory In Progress|Starting/ });

  beforeAll(async () => {
    setup.chromiumSeconds = ensureChromium();
    setup.built = await ensureUiBuilt();
    // Long enough a task deadline that a run held open by the lock is never timed out meanwhile.
    s = await startTestServer({ taskTimeoutMs: 60_000 });
    browser = await launchBrowser();
    blocker = new pg.Client({ host: '127.0.0.1', port: pgPort, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await blocker.connect();
    main = await openTab(browser, { timezoneId: 'Europe/Berlin' });
    page = main.page;
  }, 600_000);

  afterAll(async () => {
    await blocker?.query('ROLLBACK').catch(() => {});
    await blocker?.end().catch(() => {});
    await browser?.close();
    await s?.stop();
  });

  it('serves the UI at / with history routing, and keeps API 404s for API paths', async () => {
    const index = await s.req('GET', '/', { headers: { Accept: 'text/html' } });
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.text).toContain('<div id="root">');
    const deep = await s.req('GET', '/jobs/sessions/123', { headers: { Accept: 'text/html' } });
    expect(deep.status).toBe(200);
    expect(deep.text).toBe(index.text);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.text)![1]!;
    const js = await s.req('GET', asset);
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toMatch(/immutable/);
    expect((await s.req('GET', '/assets/nope-123.js')).status).toBe(404);
    const apiMiss = await s.req('GET', '/api/nothing/here', { sid: await s.login() });
    expect(apiMiss.status).toBe(404);
    expect(apiMiss.json.id).toBe('XSBObjectNotFoundException');
    expect((await s.req('GET', '/api/endeavour/job')).status).toBe(401);
  });

  it('sends a visitor to the login page and, after logging in, to the page asked for', async () => {
    await page.goto(s.url + PG_PAGE);
    await page.waitForURL(/\/login\?next=%2Fmanage-protection%2Fdatabases%2Fpostgresql$/);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await screenshot(page, 'login');

    await logIn(page, 'admin', 'not-the-password');
    await page.getByRole('alert').filter({ hasText: 'The user name or password is not correct.' }).waitFor();

    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(s.url + PG_PAGE);
    await page.getByRole('heading', { level: 1, name: 'PostgreSQL' }).waitFor();
    const button = runInventoryButton(page);
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    // The button shows once the user's permissions are read; it is enabled once the job is too.
    await waitFor(async () => ((await button.isEnabled()) ? true : undefined), 'Run Inventory to be enabled');
    await page.getByText('No PostgreSQL servers are registered.').waitFor();
    await page.getByText('No PostgreSQL instances have been inventoried yet.').waitFor();
    // Navigation: Manage Protection with Databases and the rest; Jobs and Operations.
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['PostgreSQL', 'MySQL/MariaDB', 'File Systems', 'Containers', 'Cloud Management', 'Jobs and Operations']) {
      await nav.getByRole('link', { name, exact: true }).waitFor();
    }
    expect(await nav.getByRole('link', { name: 'PostgreSQL' }).getAttribute('aria-current')).toBe('page');
    await screenshot(page, 'postgresql-empty');
  });

  it('says plainly what Census cannot inventory, and still offers Run Inventory there', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Containers' }).click();
    await page.waitForURL(/\/manage-protection\/containers$/);
    await page.getByText('Census cannot inventory containers yet.').waitFor();
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    await screenshot(page, 'containers');
    // The menu comes from GET /api/census/collector: Cloud Management has no collector, and the
    // page names the types that do have one, linking to their pages.
    await nav.getByRole('link', { name: 'Cloud Management' }).click();
    await page.waitForURL(/\/manage-protection\/cloud-management$/);
    await page.getByText('Census cannot inventory cloud resources yet.').waitFor();
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    const collectors = (await api('/api/census/collector')).collectors as { displayName: string; group: string }[];
    for (const c of collectors) await page.locator('.unsupported').getByRole('link', { name: c.displayName, exact: true }).waitFor();
    // Hypervisors has two collectors (kvm, vmware): a page per type, driven by the Hypervisor Inventory.
    expect(collectors.filter((c) => c.group === 'hypervisors').map((c) => c.displayName)).toEqual(['KVM (libvirt)', 'VMware vSphere']);
    await nav.getByRole('list', { name: 'Hypervisors' }).getByRole('link', { name: 'KVM (libvirt)' }).click();
    await page.waitForURL(/\/manage-protection\/hypervisors\/kvm$/);
    await page.getByRole('heading', { level: 1, name: 'KVM (libvirt)' }).waitFor();
    await page.locator('#backup').getByText('The Hypervisor Inventory job connects to every registered hypervisor').waitFor();
    await page.getByText('No KVM hosts are registered.').waitFor();
    // A group's own address leads to its first type's page.
    await page.goto(s.url + '/manage-protection/hypervisors');
    await page.waitForURL(/\/manage-protection\/hypervisors\/kvm$/);
    await page.goto(s.url + '/manage-protection/file-systems');
    await page.waitForURL(/\/manage-protection\/file-systems\/file$/);
    // MySQL/MariaDB and File Systems are pages of their own, with forms for their logins.
    await nav.getByRole('link', { name: 'MySQL/MariaDB' }).click();
    await page.getByText('No MySQL/MariaDB servers are registered.').waitFor();
    await page.getByRole('button', { name: 'Register server' }).click();
    expect(await page.locator('form.register-form').getByLabel('Port').inputValue()).toBe('3306');
    // Redis's default user may have no password: the form lets it be empty (the collector's passwordOptional).
    await nav.getByRole('link', { name: 'Redis' }).click();
    await page.getByRole('heading', { level: 1, name: 'Redis' }).waitFor();
    await page.getByRole('button', { name: 'Register server' }).click();
    const redisForm = page.locator('form.register-form');
    expect(await redisForm.getByLabel('Port').inputValue()).toBe('6379');
    await redisForm.getByLabel('Password (optional)').waitFor();
    await redisForm.getByRole('button', { name: 'Register' }).click();
    await redisForm.getByText('Enter the user name Census logs in with.').waitFor();
    expect(await redisForm.getByText('Enter the password.').count()).toBe(0);
    await redisForm.getByText('Leave it empty if the server asks for none.').waitFor();
    await nav.getByRole('link', { name: 'File Systems' }).click();
    await page.getByRole('heading', { level: 1, name: 'File Systems' }).waitFor();
    await page.getByRole('button', { name: 'Register server' }).click();
    const form = page.locator('form.register-form');
    expect(await form.getByLabel('Port').inputValue()).toBe('22');
    await form.getByLabel('SSH private key').fill('not a key');
    await form.getByRole('button', { name: 'Register' }).click();
    await form.getByText('This does not look like a private key').waitFor();
    await form.getByRole('radio', { name: 'Password' }).check();
    await form.getByLabel('SSH password').waitFor();
    await form.getByRole('radio', { name: 'Key' }).check();
    await form.getByLabel('SSH private key').waitFor();
    await screenshot(page, 'file-systems-register');
    await nav.getByRole('link', { name: 'PostgreSQL' }).click();
    await page.getByRole('heading', { level: 1, name: 'PostgreSQL' }).waitFor();
  });

  it('checks the registration form before posting anything', async () => {
    let posts = 0;
    const count = (r: { url(): string; method(): string }) => {
      if (r.method() === 'POST' && r.url().includes('/ngp/appserver')) posts++;
    };
    page.on('request', count);
    await page.getByRole('button', { name: 'Register server' }).click();
    const form = page.locator('form.register-form');
    await form.getByLabel('Port').fill('70000');
    await form.getByRole('button', { name: 'Register' }).click();
    await form.getByText('Enter the host name or IP address.').waitFor();
    await form.getByText('The port is a whole number from 1 to 65535.').waitFor();
    await form.getByText('Enter the user name Census logs in with.').waitFor();
    await form.getByText('Enter the password.').waitFor();
    // The first field in error has the focus.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('reg-postgresql-host');
    expect(await form.getByLabel('Host name or IP address').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'register-invalid');
    page.off('request', count);
    expect(posts).toBe(0);
  });

  it('registers a PostgreSQL server and tests the connection', async () => {
    const form = page.locator('form.register-form');
    await form.getByLabel('Name (optional)').fill(SERVER_NAME);
    await form.getByLabel('Host name or IP address').fill('127.0.0.1');
    await form.getByLabel('Port').fill(String(pgPort));
    await form.getByLabel('User name').fill(AUTH_SUPERUSER);
    await form.getByLabel('Password').fill(AUTH_SUPERPASS);
    // The test starts the inventory itself, with the run held open.
    await form.getByLabel('Run an inventory of this server after registering it').uncheck();
    await form.getByLabel('Password').press('Enter');
    await page.getByRole('status').filter({ hasText: `Registered ${SERVER_NAME} (127.0.0.1:${pgPort}).` }).waitFor();
    const servers = page.getByRole('table', { name: 'PostgreSQL servers' });
    await servers.getByRole('rowheader', { name: SERVER_NAME }).waitFor();

    await servers.getByRole('button', { name: `Test connection to ${SERVER_NAME}` }).click();
    const result = page.locator('.test-result');
    await result.getByText(`Connection test of ${SERVER_NAME}`).waitFor({ timeout: 30_000 });
    const statuses = await result.locator('.badge').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses).toContain('SUCCESS');
    expect(statuses).not.toContain('FAILED');
  }, 60_000);

  it('shows the server\'s own message when it refuses a registration', async () => {
    await page.getByRole('button', { name: 'Register server' }).click();
    const form = page.locator('form.register-form');
    await form.getByLabel('Host name or IP address').fill('127.0.0.1');
    await form.getByLabel('Port').fill(String(pgPort));
    await form.getByLabel('User name').fill(AUTH_SUPERUSER);
    await form.getByLabel('Password').fill(AUTH_SUPERPASS);
    await form.getByLabel('Run an inventory of this server after registering it').uncheck();
    await form.getByRole('button', { name: 'Register' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain('Census did not register the server.');
    expect(text).toContain(`127.0.0.1:${pgPort} (postgresql) is already registered as "${SERVER_NAME}"`);
    await screenshot(page, 'register-refused');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });
  });

  it('Run Inventory: grayed out "Inventory In Progress" for every viewer and across a reload, back within 2 s of IDLE, databases listed', async () => {
    // A second person, logged in on their own, on the same page.
    const other = await openTab(browser, { viewport: { width: 1280, height: 800 } });
    await other.page.goto(s.url + PG_PAGE);
    await other.page.waitForURL(/\/login/);
    await logIn(other.page, 'admin', ADMIN_PASSWORD);
    await other.page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();

    await lockInventory();
    try {
      await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).click();
      const inProgress = page.locator('#backup').getByRole('button', { name: 'Inventory In Progress' });
      await inProgress.waitFor();
      expect(await inProgress.isDisabled()).toBe(true);
      expect((await inventoryJob()).status).toBe('RUNNING');
      await screenshot(page, 'postgresql-in-progress');

      // The other viewer sees it too (from the event stream; without it, its idle poll is every 5 s).
      const otherButton = other.page.locator('#backup').getByRole('button', { name: 'Inventory In Progress' });
      await otherButton.waitFor({ timeout: 7_000 });
      expect(await otherButton.isDisabled()).toBe(true);

      // A reload reads the state from the server again.
      await page.reload();
      await page.locator('#backup').getByRole('button', { name: 'Inventory In Progress' }).waitFor();
      expect(await runInventoryButton(page).isDisabled()).toBe(true);
    } finally {
      await blocker.query('COMMIT');
    }

    const idle = await waitFor(async () => {
      const j = await inventoryJob();
      return j.status === 'IDLE' ? j : undefined;
    }, 'the inventory job to become IDLE');
    expect(idle.lastSessionStatus).toBe('COMPLETED');
    // Within 2 s of IDLE, on both screens.
    const again = page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true });
    await again.waitFor({ timeout: 2_000 });
    expect(await again.isEnabled()).toBe(true);
    await other.page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor({ timeout: 2_000 });
    await other.context.close();

    // What the run found: the instance and its databases.
    const instanceName = `127.0.0.1:${pgPort}`;
    await page.locator('.instance-name', { hasText: instanceName }).waitFor();
    const dbs = page.getByRole('table', { name: `databases of ${instanceName}` });
    await dbs.getByRole('rowheader', { name: 'postgres', exact: true }).waitFor();
    const names = await dbs.getByRole('rowheader').allInnerTexts();
    const admin = new pg.Client({ host: '127.0.0.1', port: pgPort, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await admin.connect();
    const expected = (await admin.query('SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1')).rows.map((r) => r.datname as string);
    const version = (await admin.query('SHOW server_version')).rows[0].server_version as string;
    await admin.end();
    expect([...names].sort()).toEqual(expected);
    await page.getByText(`PostgreSQL ${version}`).first().waitFor();
    // Sizes are human readable.
    const size = await dbs.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'postgres', exact: true }) }).locator('td').first().innerText();
    expect(size).toMatch(/^\d+(\.\d+)? (KiB|MiB|GiB)$/);
    // The first inventory of the server: everything appeared.
    await page.locator('#changes').getByRole('table', { name: 'Changes' }).waitFor();
    await page.locator('#changes [data-status="APPEARED"]').first().waitFor();
    await screenshot(page, 'postgresql-idle');
  }, 90_000);

  it('Jobs and Operations: the sessions list with filters, one session\'s tasks and log', async () => {
    const sessionId: string = (await inventoryJob()).lastrun.sessionId;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs and Operations' }).click();
    await page.waitForURL(/\/jobs$/);
    const sessions = page.getByRole('table', { name: 'Job sessions' });
    const row = sessions.locator(`tr[data-session="${sessionId}"]`);
    await row.waitFor();
    expect(await row.locator('.badge').first().getAttribute('data-status')).toBe('COMPLETED');
    expect(await row.innerText()).toContain('1 of 1 server done');
    expect(await row.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    const jobs = page.getByRole('table', { name: 'Jobs' });
    await jobs.getByRole('rowheader', { name: /Application Server Inventory/ }).waitFor();
    await jobs.getByRole('button', { name: 'Start Application Server Inventory' }).waitFor();
    await screenshot(page, 'jobs');

    // Filters: by status, by job; they live in the address so a reload keeps them.
    await page.getByLabel('Status').selectOption('FAILED');
    await page.getByText('No job sessions match these filters.').waitFor();
    await page.reload();
    await page.getByText('No job sessions match these filters.').waitFor();
    expect(page.url()).toContain('status=FAILED');
    await page.getByLabel('Status').selectOption('COMPLETED');
    await page.getByLabel('Job', { exact: true }).selectOption({ label: 'Maintenance' });
    await sessions.locator('tr[data-session]').first().waitFor();
    expect(await sessions.locator(`tr[data-session="${sessionId}"]`).count()).toBe(0);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await row.waitFor();

    await row.getByRole('link', { name: 'Application Server Inventory' }).click();
    await page.waitForURL(new RegExp(`/jobs/sessions/${sessionId}$`));
    await page.getByRole('heading', { level: 1, name: 'Application Server Inventory' }).waitFor();
    const task = page.getByRole('table', { name: 'Tasks' }).locator(`tr[data-task="${SERVER_NAME}"]`);
    await task.waitFor();
    expect(await task.locator('.badge').getAttribute('data-status')).toBe('COMPLETED');
    const log = page.getByRole('list', { name: 'Log entries' });
    await log.locator('[data-type="SUMMARY"]').filter({ hasText: /ended/ }).waitFor();
    expect(await log.innerText()).toContain('CNSJ0001');
    await screenshot(page, 'session');

    // The type filter: only SUMMARY entries.
    for (const t of ['Info', 'Warn', 'Error', 'Debug', 'Detail']) await page.getByLabel(t, { exact: true }).uncheck();
    await expect.poll(async () => [...new Set(await log.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-type'))))], { timeout: 5_000 }).toEqual(['SUMMARY']);
    await page.getByRole('button', { name: 'Show all' }).click();
    await log.locator('[data-type="INFO"]').first().waitFor();
  }, 60_000);

  it('a running session\'s percent, tasks and log grow on screen without a reload', async () => {
    await page.getByRole('link', { name: 'Jobs and Operations' }).first().click();
    await page.waitForURL(/\/jobs$/);
    const before: string = (await inventoryJob()).lastrun.sessionId;
    await lockInventory();
    let sessionId: string;
    try {
      await page.getByRole('button', { name: 'Start Application Server Inventory' }).click();
      sessionId = await waitFor(async () => {
        const j = await inventoryJob();
        return j.status === 'RUNNING' && j.lastrun.sessionId !== before ? (j.lastrun.sessionId as string) : undefined;
      }, 'the new inventory session');
      const row = page.getByRole('table', { name: 'Job sessions' }).locator(`tr[data-session="${sessionId}"]`);
      await row.locator('[data-status="RUNNING"]').waitFor();
      await page.getByRole('table', { name: 'Jobs' }).getByRole('button', { name: 'Cancel Application Server Inventory' }).waitFor();
      await row.getByRole('link').first().click();
      await page.waitForURL(new RegExp(`/jobs/sessions/${sessionId}$`));
      await page.locator('.summary [data-status="RUNNING"]').waitFor();
      await page.getByRole('table', { name: 'Tasks' }).locator(`tr[data-task="${SERVER_NAME}"] [data-status="RUNNING"]`).waitFor();
      const log = page.getByRole('list', { name: 'Log entries' });
      await log.getByText(/started as session/).waitFor();
      expect(await log.locator('[data-type="SUMMARY"]').count()).toBe(0);
      await page.getByRole('button', { name: 'Cancel session' }).waitFor();
      await screenshot(page, 'session-running');
    } finally {
      await blocker.query('COMMIT');
    }
    // No reload: the same page turns to Completed, 100 %, and the summary line arrives.
    await page.locator('.summary [data-status="COMPLETED"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('.summary').getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    await page.getByRole('table', { name: 'Tasks' }).locator(`tr[data-task="${SERVER_NAME}"] [data-status="COMPLETED"]`).waitFor();
    await page.getByRole('list', { name: 'Log entries' }).locator('[data-type="SUMMARY"]').filter({ hasText: /ended/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel session' }).count()).toBe(0);
  }, 60_000);

  /**
   * Two fresh tabs of their own: one watches the Backup section, the other the running session.
   * Returns them with request counters, logged in on the PostgreSQL page.
   */
  const watchRun = async (opts: { blockEvents: boolean }) => {
    const counts = { events: 0, logReads: 0, backupJobReads: 0 };
    const open = async (isBackup: boolean) => {
      const tab = await openTab(browser);
      if (opts.blockEvents) await tab.page.route('**/api/endeavour/events**', (r) => r.abort());
      tab.page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (path === '/api/endeavour/events') counts.events++;
        if (path === '/api/endeavour/log/job') counts.logReads++;
        if (isBackup && path === '/api/endeavour/job/1004') counts.backupJobReads++;
      });
      await tab.page.goto(s.url + PG_PAGE);
      await tab.page.waitForURL(/\/login/);
      await logIn(tab.page, 'admin', ADMIN_PASSWORD);
      await tab.page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
      return tab;
    };
    const backup = await open(true);
    const session = await open(false);
    return { backup, session, counts };
  };
  const logIds = (p: Page) => p.getByRole('list', { name: 'Log entries' }).locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));

  it('with the event stream: one EventSource per tab, the session\'s log grows from events with few reads, the button turns back at IDLE', async () => {
    const { backup, session, counts } = await watchRun({ blockEvents: false });
    const p = session.page;
    try {
      // Both tabs have their stream open (the UI marks its state on the frame).
      await backup.page.locator('.shell[data-events="open"]').waitFor();
      await p.locator('.shell[data-events="open"]').waitFor();
      await lockInventory();
      try {
        await p.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).click();
        await p.locator('#backup').getByRole('button', { name: 'Inventory In Progress' }).waitFor();
        // The other tab learns of the run from the stream (its safety poll is 10 s).
        await backup.page.locator('#backup').getByRole('button', { name: 'Inventory In Progress' }).waitFor({ timeout: 3_000 });
        const logReadsBefore = counts.logReads;
        await p.locator('#backup').getByRole('link', { name: 'Watch the running session' }).click();
        await p.waitForURL(/\/jobs\/sessions\/\d+$/);
        await p.locator('.summary [data-status="RUNNING"]').waitFor();
        const log = p.getByRole('list', { name: 'Log entries' });
        await log.getByText(/started as session/).waitFor();
        expect(await log.locator('[data-type="SUMMARY"]').count()).toBe(0);
        const shown = (await logIds(p)).length;
        await blocker.query('COMMIT');

        // No reload: the entries the rest of the run writes arrive, the session ends on screen
        // well before any safety poll (15 s) could have noticed.
        await p.locator('.summary [data-status="COMPLETED"]').waitFor({ timeout: 5_000 });
        await log.locator('[data-type="SUMMARY"]').filter({ hasText: /ended/ }).waitFor({ timeout: 5_000 });
        await p.getByRole('table', { name: 'Tasks' }).locator(`tr[data-task="${SERVER_NAME}"] [data-status="COMPLETED"]`).waitFor();
        const ids = await logIds(p);
        expect(ids.length).toBeGreaterThan(shown);
        expect(new Set(ids).size).toBe(ids.length); // no entry twice
        expect(await p.locator('.log-count').innerText()).toBe(`${ids.length} entries`);
        // The first read, and the one after the end; not one a second.
        expect(counts.logReads - logReadsBefore).toBeLessThanOrEqual(3);
      } finally {
        await blocker.query('ROLLBACK').catch(() => {});
      }
      const idle = await waitFor(async () => {
        const j = await inventoryJob();
        return j.status === 'IDLE' ? j : undefined;
      }, 'the inventory job to become IDLE');
      expect(idle.lastSessionStatus).toBe('COMPLETED');
      const again = backup.page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true });
      await again.waitFor({ timeout: 2_000 });
      expect(await again.isEnabled()).toBe(true);
      // One EventSource per tab, across the in-app navigation to the session page.
      expect(counts.events).toBe(2);
      expect(await p.evaluate(() => document.querySelector('.shell')?.getAttribute('data-events'))).toBe('open');
      // The Backup tab read the job a few times (load, events, safety poll), not once a second.
      expect(counts.backupJobReads).toBeLessThan(15);
    } finally {
      await backup.context.close();
      await session.context.close();
    }
  }, 60_000);

  it('without the event stream (blocked): the pages fall back to polling and still update', async () => {
    const { backup, session, counts } = await watchRun({ blockEvents: true });
    const p = session.page;
    try {
      expect(counts.events).toBeGreaterThanOrEqual(1); // it tried
      await lockInventory();
      try {
        await p.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).click();
        await backup.page.locator('#backup').getByRole('button', { name: 'Inventory In Progress' }).waitFor({ timeout: 7_000 });
        await p.locator('#backup').getByRole('link', { name: 'Watch the running session' }).click();
        await p.waitForURL(/\/jobs\/sessions\/\d+$/);
        await p.locator('.summary [data-status="RUNNING"]').waitFor();
        const log = p.getByRole('list', { name: 'Log entries' });
        await log.getByText(/started as session/).waitFor();
        const logReadsBefore = counts.logReads;
        // Polled every second while it runs.
        await expect.poll(() => counts.logReads - logReadsBefore, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
        expect(await p.locator('.shell').getAttribute('data-events')).not.toBe('open');
      } finally {
        await blocker.query('COMMIT');
      }
      await p.locator('.summary [data-status="COMPLETED"]').waitFor({ timeout: 10_000 });
      await p.getByRole('list', { name: 'Log entries' }).locator('[data-type="SUMMARY"]').filter({ hasText: /ended/ }).waitFor();
      const ids = await logIds(p);
      expect(new Set(ids).size).toBe(ids.length);
      await waitFor(async () => ((await inventoryJob()).status === 'IDLE' ? true : undefined), 'the inventory job to become IDLE');
      await backup.page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor({ timeout: 2_000 });
    } finally {
      await backup.context.close();
      await session.context.close();
    }
  }, 60_000);

  it('Jobs: next run in local time with its zone, pause and release of the schedule, cancel of a run', async () => {
    const sid = await s.login();
    const put = await s.req('PUT', '/api/endeavour/job/1004/trigger', { sid, body: { time: '02:30', timezone: 'UTC' } });
    expect(put.status).toBe(200);
    await page.getByRole('link', { name: 'Jobs and Operations' }).first().click();
    await page.waitForURL(/\/jobs$/);
    await page.reload();
    const jobs = page.getByRole('table', { name: 'Jobs' });
    const row = jobs.locator('tr[data-job="1004"]');
    // 02:30 UTC is 03:30 or 04:30 in Berlin, the browser's zone here.
    await expect.poll(() => row.locator('td').nth(2).innerText()).toMatch(/[34]:30 AM (GMT\+[12]|CES?T)/);

    await jobs.getByRole('button', { name: 'Pause the schedule of Application Server Inventory' }).click();
    await row.locator('[data-status="HELD"]').waitFor();
    await row.getByText('schedule paused').waitFor();
    expect((await inventoryJob()).status).toBe('HELD');
    await jobs.getByRole('button', { name: 'Release the schedule of Application Server Inventory' }).click();
    await row.locator('[data-status="IDLE"]').waitFor();
    expect((await inventoryJob()).status).toBe('IDLE');

    await lockInventory();
    try {
      await jobs.getByRole('button', { name: 'Start Application Server Inventory' }).click();
      await jobs.getByRole('button', { name: 'Cancel Application Server Inventory' }).click();
      const dialog = page.getByRole('dialog', { name: 'Cancel Application Server Inventory?' });
      await dialog.getByRole('button', { name: 'Cancel the run' }).click();
      await row.locator('[data-status="IDLE"]').waitFor({ timeout: 15_000 });
    } finally {
      await blocker.query('COMMIT');
    }
    const sessions = page.getByRole('table', { name: 'Job sessions' });
    await sessions.locator('tr[data-session]').first().locator('[data-status="CANCELLED"]').waitFor();
    await s.req('PUT', '/api/endeavour/job/1004/trigger', { sid, body: { time: null } });
  }, 60_000);

  it('an ended login session sends the UI to the login page and, after logging in, back to the same page', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'PostgreSQL' }).click();
    await page.waitForURL(s.url + PG_PAGE);
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    const sid = await page.evaluate(() => sessionStorage.getItem('census.sessionid'));
    expect(sid).toMatch(/^[0-9a-f]{32}$/);
    // Behind the UI's back, as an expiry would.
    expect((await s.req('DELETE', '/api/endeavour/session', { sid: sid! })).status).toBe(204);
    // The page's next poll meets the 401: the event stream opened before stays open, so that is
    // the safety poll of the inventory job (every 10 s while the stream is up).
    await page.waitForURL(/\/login\?next=%2Fmanage-protection%2Fdatabases%2Fpostgresql$/, { timeout: 15_000 });
    await page.getByText('Log in to continue to').waitFor();
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(s.url + PG_PAGE);
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('census.sessionid'))).not.toBe(sid);
  }, 30_000);

  it('renders at phone width without horizontal overflow; the navigation collapses into a menu', async () => {
    const phone = await openTab(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const p = phone.page;
    await p.goto(s.url + PG_PAGE);
    await p.waitForURL(/\/login/);
    await screenshot(p, 'phone-login');
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    await p.locator('.instance-name').first().waitFor();
    // With mobile emulation the layout viewport widens to fit content that overflows, so compare
    // the document with the screen's width (clientWidth), not with innerWidth.
    const overflow = () => p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    expect(await p.locator('#sidenav').isVisible()).toBe(false);
    await screenshot(p, 'phone-postgresql');

    const menu = p.getByRole('button', { name: 'Open navigation' });
    await menu.click();
    await p.locator('#sidenav').waitFor({ state: 'visible' });
    await screenshot(p, 'phone-nav', false);
    await p.locator('#sidenav').getByRole('link', { name: 'Jobs and Operations' }).click();
    await p.waitForURL(/\/jobs$/);
    await p.locator('#sidenav').waitFor({ state: 'hidden' });
    await p.getByRole('table', { name: 'Job sessions' }).locator('tr[data-session]').first().waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(p, 'phone-jobs');
    const first = await p.getByRole('table', { name: 'Job sessions' }).locator('tr[data-session]').first().getAttribute('data-session');
    await p.goto(`${s.url}/jobs/sessions/${first}`);
    await p.getByRole('list', { name: 'Log entries' }).locator('li').first().waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(p, 'phone-session');
    await phone.context.close();
  }, 60_000);

  it('is keyboard usable: skip link, focus order, Enter submits', async () => {
    await page.goto(s.url + PG_PAGE);
    await page.locator('#backup').getByRole('button', { name: 'Run Inventory', exact: true }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to main content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // The next Tab stop after the skip is inside the page, not the navigation.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('#main'))).toBe(true);
  });

  it('unregisters with a confirmation, and logs out', async () => {
    const servers = page.getByRole('table', { name: 'PostgreSQL servers' });
    await servers.getByRole('button', { name: `Unregister ${SERVER_NAME}` }).click();
    const dialog = page.getByRole('dialog', { name: `Unregister ${SERVER_NAME}?` });
    await dialog.waitFor();
    // Escape backs out; nothing is removed.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await servers.getByRole('rowheader', { name: SERVER_NAME }).waitFor();
    await servers.getByRole('button', { name: `Unregister ${SERVER_NAME}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Unregister' }).click();
    await page.getByText('No PostgreSQL servers are registered.').waitFor();
    expect((await api('/api/appserver')).total).toBe(0);

    const sid = await page.evaluate(() => sessionStorage.getItem('census.sessionid'));
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    expect((await s.req('GET', '/api/endeavour/job', { sid: sid! })).status).toBe(401);
    expect(await page.evaluate(() => sessionStorage.getItem('census.sessionid'))).toBeNull();
  });

  it('no page threw an uncaught error', () => {
    console.log(`ui tests: chromium install ${setup.chromiumSeconds} s (0: already there); UI ${setup.built ? 'rebuilt' : 'build was current'}`);
    expect(pageErrors).toEqual([]);
  });
});
