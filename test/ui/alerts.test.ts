/**
 * Alerts and notification settings in the web UI, in real headless Chromium against a real
 * Census: an inventory of a server nobody listens for fails for real, its alert shows in the
 * bell's count and on the Alerts page, and acknowledging it there brings the count down. The
 * admin saves the mail server (the password never comes back) and sends a test message through a
 * real SMTP server on a loopback port; registers a webhook pointing at a real HTTP receiver
 * started here, sees its signing secret once, tests it (the receiver's 200 is shown), and after
 * the next failed session finds the delivery in the delivery log with its attempt, and resends it.
 * A Monitor, in another browser profile, sees the bell and the alerts, but no Acknowledge and none
 * of the settings pages.
 * One browser for the file; no sleeps: every wait is for something on screen, with a deadline.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, addUser, runInventory, startTestServer, waitFor, type TestServer } from '../support/server.ts';
import { ensureChromium, ensureUiBuilt, launchBrowser, logIn, openTab, pageErrors, screenshot, type Tab } from './browser.ts';

const MONITOR = 'monitor.alerts';
const MONITOR_PASSWORD = 'Monitor-Alerts-Pass-3';
const SMTP_PASSWORD = 'Smtp-Secret-Never-Shown-9';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}
const ended = (r: Received) => r.headers['x-census-event'] === 'session.ended';

/** A webhook receiver: records every request, answers 200 with a short text. */
async function receiver() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('thanks from the receiver');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A real SMTP server on loopback (no TLS, login required): keeps what arrives. */
async function mailServer() {
  const mails: { to: string[]; data: string }[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      if (auth.username === 'census' && auth.password === SMTP_PASSWORD) cb(null, { user: 'census' });
      else cb(new Error('Invalid login'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('web UI: alerts bell, Alerts page, mail and webhook settings', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: Tab;
  let monitor: Tab;
  let sid: string;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let smtp: Awaited<ReturnType<typeof mailServer>>;
  const nav = (p: Page) => p.getByRole('navigation', { name: 'Main' });
  const bell = (p: Page) => p.locator('header.topbar a.bell');
  /** The bell once it shows `n` active alerts. */
  const bellAt = (p: Page, n: number | string) => p.locator(`header.topbar a.bell[data-count="${n}"]`);
  const systemLinks = (p: Page) => nav(p).getByRole('list', { name: 'System Configuration' }).getByRole('link').allTextContents();
  const activeAlerts = async () =>
    (await s.req('GET', `/api/endeavour/alert/message?filter=${encodeURIComponent(JSON.stringify([{ property: 'status', value: 'ACTIVE', op: '=' }]))}`, { sid })).json;

  beforeAll(async () => {
    ensureChromium();
    await ensureUiBuilt();
    [hook, smtp] = await Promise.all([receiver(), mailServer()]);
    s = await startTestServer();
    sid = await s.login();
    await addUser(s, sid, MONITOR, MONITOR_PASSWORD, [1002]);
    // A PostgreSQL server on a loopback port nobody listens on: its inventory fails at once.
    const reg = await s.req('POST', '/ngp/appserver', { sid, body: { name: 'nobody-home', hostAddress: '127.0.0.1', portNumber: 1, applicationType: 'postgresql', username: 'u', password: 'Unused-Pass-1', addToCatJob: false } });
    expect(reg.status, reg.text).toBe(201);
    browser = await launchBrowser();
    admin = await openTab(browser);
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    monitor = await openTab(browser);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await hook?.close();
    await smtp?.close();
  });

  it('counts the alert of a failed session in the bell, lists it, and acknowledging it brings the count down', async () => {
    const page = admin.page;
    await page.goto(s.url + '/jobs');
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Jobs and Operations' }).waitFor();
    await bellAt(page, '0').waitFor();
    expect(await bell(page).getAttribute('aria-label')).toBe('Alerts: none active');

    // A real failed run: the bell counts its alert without a reload.
    const session = await runInventory(s, sid);
    expect(session.status).toBe('FAILED');
    const active = await waitFor(async () => {
      const a = await activeAlerts();
      return a.total > 0 ? a : undefined;
    }, 'the alert of the failed session');
    const alert = active.alerts.find((a: { kind: string }) => a.kind === 'session.failed');
    expect(alert).toBeTruthy();
    await bellAt(page, active.total).waitFor();
    expect(await bell(page).getAttribute('aria-label')).toBe(`Alerts: ${active.total} active`);

    // The bell opens the Alerts page: the alert with its message, its session and its state.
    await bell(page).click();
    await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    const row = page.locator(`tr[data-alert="${alert.id}"]`);
    await row.getByText(alert.message).waitFor();
    expect(await row.getAttribute('data-kind')).toBe('session.failed');
    expect(await row.locator('td[data-label="Status"]').textContent()).toContain('Active');
    await row.getByRole('link', { name: `session ${session.id}` }).waitFor();
    // The failed server links to its type's page (the page looks up only the servers it shows).
    expect(await row.getByRole('link', { name: 'nobody-home' }).getAttribute('href')).toMatch(/postgresql/i);
    expect(await row.locator('td[data-label="Count"]').textContent()).toBe(String(alert.count));
    await screenshot(page, 'alerts-active');

    // Acknowledged from its row: the bell's count drops at once, the alert leaves the active list.
    await row.getByRole('button', { name: `Acknowledge the alert ${alert.id}` }).click();
    await page.getByText(`Acknowledged: ${alert.message}`).waitFor();
    await bellAt(page, active.total - 1).waitFor();
    await row.waitFor({ state: 'detached' });
    const after = (await s.req('GET', `/api/endeavour/alert/message/${alert.id}`, { sid })).json;
    expect(after).toMatchObject({ status: 'ACKNOWLEDGED', acknowledged: true, acknowledgedBy: 'admin' });

    // The status filter lives in the address: Acknowledged shows it, with who did it.
    await page.getByLabel('Status').selectOption('acknowledged');
    await page.waitForURL(/status=acknowledged/);
    await row.locator('td[data-label="Status"]').getByText('by admin').waitFor();
    await page.reload();
    await row.waitFor();
    expect(await page.getByLabel('Status').inputValue()).toBe('acknowledged');
    await page.getByLabel('Kind').selectOption('schedule.missed');
    await page.getByText('No alerts match these filters.').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL((u) => !u.search.includes('status='));
  }, 90_000);

  it('saves the mail server without ever showing its password back, and sends a test message', async () => {
    const page = admin.page;
    await nav(page).getByRole('link', { name: 'E-mail (SMTP)' }).click();
    await page.getByRole('heading', { level: 1, name: 'E-mail (SMTP)' }).waitFor();
    await page.getByText('No mail server is set').waitFor();
    await page.getByLabel('Host').fill('127.0.0.1');
    await page.getByLabel('Security').selectOption('none');
    await page.getByLabel('Port').fill(String(smtp.port));
    await page.getByLabel('Login (optional)').fill('census');
    await page.getByLabel('Password', { exact: true }).fill(SMTP_PASSWORD);
    await page.getByLabel('Sender').fill('census@example.com');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(`Saved the mail server 127.0.0.1:${smtp.port}.`).waitFor();
    // The password field is empty again and says one is set; it is nowhere in the page or the API.
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    await page.getByText('Set, never shown. Leave empty to keep it.').waitFor();
    expect(await page.content()).not.toContain(SMTP_PASSWORD);
    const listed = await s.req('GET', '/api/smtp', { sid });
    expect(listed.text).not.toContain(SMTP_PASSWORD);
    expect(listed.json.smtps[0]).toMatchObject({ host: '127.0.0.1', port: smtp.port, passwordSet: true });

    // A reload shows what was saved.
    await page.reload();
    expect(await page.getByLabel('Host').inputValue()).toBe('127.0.0.1');
    expect(await page.getByLabel('Security').inputValue()).toBe('none');

    await page.getByLabel('Send to').fill('ops@example.com');
    await page.getByRole('button', { name: 'Send test message' }).click();
    await page.locator('.send-result').getByText('Test message to ops@example.com: delivered').waitFor();
    await waitFor(async () => (smtp.mails.some((m) => m.to.includes('ops@example.com')) ? true : undefined), 'the test message to arrive');
    await screenshot(page, 'smtp-test-sent');

    // A recipient of failed sessions of the inventory job and of two alert kinds.
    await nav(page).getByRole('link', { name: 'Recipients' }).click();
    await page.getByText('Nobody is mailed yet.').waitFor();
    await page.getByRole('button', { name: 'Add recipient' }).click();
    await page.getByLabel('Address').fill('dba@example.com');
    await page.getByLabel('Notification not delivered').check();
    await page.getByLabel('Application Server Inventory').check();
    await page.getByLabel('Failed', { exact: true }).check();
    await page.locator('form[data-form="recipient-form"]').getByRole('button', { name: 'Add recipient' }).click();
    await page.getByText('Added the recipient dba@example.com.').waitFor();
    const recipient = page.locator('tr[data-recipient="dba@example.com"]');
    await recipient.getByText('Application Server Inventory').waitFor();
    expect((await s.req('GET', '/api/census/recipient', { sid })).json.recipients[0]).toMatchObject({
      address: 'dba@example.com', alertKinds: ['session.failed', 'schedule.missed', 'delivery.failed'], jobIds: [1004], results: ['FAILED'],
    });

    // Alert settings: the stall time in minutes goes to the API in ms.
    await nav(page).getByRole('link', { name: 'Alert settings' }).click();
    await page.getByLabel('Stall time (minutes)').fill('45');
    await page.getByLabel('A readiness finding appeared').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved the alert settings.').waitFor();
    expect((await s.req('GET', '/api/census/alert/settings', { sid })).json).toMatchObject({ stalledAfterMs: 45 * 60_000, watch: { findings: true } });
  }, 90_000);

  it('registers a webhook whose secret is shown once, tests it against a real receiver, and lists its deliveries', async () => {
    const page = admin.page;
    await nav(page).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByText('No webhook is registered.').waitFor();
    await page.getByRole('button', { name: 'Register webhook' }).click();
    await page.getByLabel('Name', { exact: true }).fill('ops-hook');
    await page.getByLabel('URL').fill(hook.url);
    // Only failed sessions (the form starts with failed and partial sessions and raised alerts).
    await page.getByLabel('Session failed').check();
    await page.getByLabel('Session partial').uncheck();
    await page.getByLabel('Alert raised').uncheck();
    await page.getByLabel('Format').selectOption('json');
    await page.getByRole('button', { name: 'Register', exact: true }).click();

    const dialog = page.getByRole('dialog', { name: 'The signing secret of ops-hook' });
    await dialog.getByText('you will not see it again').waitFor();
    const secret = await dialog.getByLabel('Signing secret').inputValue();
    expect(secret.length).toBeGreaterThanOrEqual(16);
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await dialog.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tr[data-webhook="ops-hook"]');
    await row.getByText(hook.url).waitFor();
    expect(await page.content()).not.toContain(secret);
    const listed = await s.req('GET', '/api/census/webhook', { sid });
    expect(listed.text).not.toContain(secret);
    const hookId = String(listed.json.webhooks[0].id);

    // Test: a signed test event arrives at the receiver; its 200 and answer are shown.
    await row.getByRole('button', { name: 'Test ops-hook' }).click();
    const result = page.locator('.send-result');
    await result.getByText('Test of ops-hook: delivered').waitFor();
    expect(await result.locator('[data-field="statusCode"]').textContent()).toBe('200');
    await result.getByText('thanks from the receiver').waitFor();
    expect(hook.received.length).toBe(1);
    // Signed with the secret the dialog showed (docs/notifications.md: v1=HMAC-SHA256 of "<timestamp>.<body>").
    const tested = hook.received[0]!;
    const mac = createHmac('sha256', secret).update(`${tested.headers['x-census-timestamp']}.${tested.body}`).digest('hex');
    expect(tested.headers['x-census-signature']).toBe(`v1=${mac}`);
    await screenshot(page, 'webhook-tested');

    // A failed session is delivered to it; the delivery log lists it, with its attempt.
    const session = await runInventory(s, sid);
    expect(session.status).toBe('FAILED');
    await waitFor(async () => (hook.received.some(ended) ? true : undefined), 'the session.ended delivery');
    await row.getByRole('link', { name: 'Delivery log of ops-hook' }).click();
    await page.getByRole('heading', { level: 1, name: 'Delivery log' }).waitFor();
    await page.waitForURL(new RegExp(`target=${hookId}`));
    const delivery = page.locator('tr[data-event="session.ended"][data-status="DELIVERED"]').first();
    await delivery.waitFor();
    expect(await delivery.locator('td[data-label="Attempts"]').textContent()).toBe('1');
    await delivery.getByRole('button', { name: /Open the delivery/ }).click();
    const opened = page.locator('#delivery');
    const attempt = opened.locator('tr[data-ok="true"]');
    await attempt.waitFor();
    expect(await attempt.locator('td[data-label="Status code"]').textContent()).toBe('200');
    await attempt.getByText('thanks from the receiver').waitFor();
    await screenshot(page, 'delivery-log');

    // Resend: the receiver gets it again, under the same event id.
    const before = hook.received.filter(ended);
    const eventId = before[0]!.headers['x-census-event-id'];
    expect(eventId).toBeTruthy();
    await opened.getByRole('button', { name: 'Resend' }).click();
    await waitFor(async () => (hook.received.filter(ended).length > before.length ? true : undefined), 'the resent delivery');
    expect(hook.received.at(-1)!.headers['x-census-event-id']).toBe(eventId);
    await opened.locator('tr[data-attempt]').nth(1).waitFor();
  }, 90_000);

  it('shows a Monitor the bell and the alerts, but no Acknowledge and none of the settings pages', async () => {
    const page = monitor.page;
    await page.goto(s.url + '/alerts?status=all');
    await logIn(page, MONITOR, MONITOR_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    const total = (await activeAlerts()).total as number;
    await bellAt(page, total).waitFor();
    await page.locator('tr[data-kind="session.failed"]').first().waitFor();
    expect(await page.getByRole('button', { name: /Acknowledge/ }).count()).toBe(0);
    expect(await page.getByRole('checkbox', { name: /Select the alert/ }).count()).toBe(0);
    expect(await systemLinks(page)).toEqual(['API keys']);
    await nav(page).getByRole('link', { name: 'Alerts' }).waitFor();

    for (const [path, title] of [['/system/smtp', 'E-mail (SMTP)'], ['/system/recipients', 'Recipients'], ['/system/webhooks', 'Webhooks'], ['/system/deliveries', 'Delivery log'], ['/system/alert-settings', 'Alert settings']] as const) {
      await page.goto(s.url + path);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      await page.getByText('Your roles do not let you see this page').waitFor();
      expect(await page.locator('table').count()).toBe(0);
    }
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
