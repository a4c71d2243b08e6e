/**
 * E-mail notifications end to end (docs/email.md): a real Census over HTTPS and a real SMTP server
 * (test/support/smtp.ts) on loopback that requires AUTH and offers STARTTLS with a certificate made
 * for the test. The SMTP server and recipients are set through the API; the test message, the mail
 * of a session that ends FAILED and of its session.failed alert arrive with both parts and the UI
 * link; a 4xx refusal is retried with back-off and delivered, a 5xx one given up at once, a server
 * that never answers fails each attempt on its timeout until the message is given up; the password
 * is never in an answer, the audit log or the output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../src/core/secret-box.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from './support/smtp.ts';
import { runInventory, startTestServer, waitFor, type Reply, type RequestOptions, type TestServer } from './support/server.ts';

const SMTP_PASSWORD = 'Smtp-Secret-Pass-7391';
const BACKOFF_MS = 200;

let smtp: TestSmtpServer;
let s: TestServer;
let sid: string;
let smtpId: string;
const answers: string[] = [];
const output: string[] = [];
const restore: (() => void)[] = [];

/** Every answer is kept, to look for the password in all of them at the end. */
async function req(method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  const r = await s.req(method, path, { sid, ...o });
  answers.push(`${method} ${path} ${r.status} ${JSON.stringify(r.headers)} ${r.text}`);
  return r;
}

interface DeliveryOut {
  id: string;
  eventId: string;
  eventType: string;
  channel: string;
  targetId: string | null;
  target: string;
  status: string;
  attemptCount: number;
  lastError: string | null;
  attempts?: { at: number; ok: boolean; statusCode: number | null; error: string | null; durationMs: number }[];
}

async function emailDeliveries(): Promise<DeliveryOut[]> {
  const filter = encodeURIComponent(JSON.stringify([{ property: 'channel', value: 'email' }]));
  const r = await req('GET', `/api/census/delivery?filter=${filter}&pageSize=1000`);
  expect(r.status).toBe(200);
  return r.json.deliveries as DeliveryOut[];
}

async function delivery(id: string): Promise<DeliveryOut> {
  const r = await req('GET', `/api/census/delivery/${id}`);
  expect(r.status, r.text).toBe(200);
  return r.json as DeliveryOut;
}

/** The email deliveries made after `known` for this recipient, once they exist. */
async function newDeliveryFor(address: string, known: Set<string>, what: string): Promise<DeliveryOut> {
  return waitFor(async () => (await emailDeliveries()).find((d) => d.target === address && !known.has(d.id)), what);
}

async function settled(id: string, status: 'DELIVERED' | 'FAILED', timeoutMs = 20_000): Promise<DeliveryOut> {
  return waitFor(async () => {
    const d = await delivery(id);
    return d.status === status ? d : undefined;
  }, `delivery ${id} ${status}`, timeoutMs);
}

const header = (m: ReceivedMail, name: string) => {
  const v = m.parsed.headers.get(name);
  return typeof v === 'string' ? v : v === undefined ? undefined : JSON.stringify(v);
};
const mailsTo = (address: string) => smtp.received.filter((m) => m.to.includes(address));

beforeAll(async () => {
  // What Census prints (its log included) is kept, to look for the password in it.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      output.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => void (stream.write = write));
  }
  smtp = await startSmtpServer({ user: 'census-mailer', password: SMTP_PASSWORD });
  s = await startTestServer({ deliveryRetryMs: BACKOFF_MS, deliveryRetryMaxMs: 2 * BACKOFF_MS });
  sid = await s.login();
}, 60_000);

afterAll(async () => {
  await s?.stop();
  await smtp?.close();
  for (const r of restore) r();
});

describe('the SMTP server through /api/smtp', () => {
  it('is set once, with the password sealed and never answered', async () => {
    expect((await req('GET', '/api/smtp')).json).toMatchObject({ total: 0, smtps: [] });
    const made = await req('POST', '/api/smtp', {
      body: {
        hostAddress: smtp.host, portNumber: smtp.port, security: 'starttls', username: smtp.user, password: SMTP_PASSWORD,
        fromAddress: 'Census <census@example.com>', caCert: smtp.cert, timeoutMs: 5_000,
      },
    });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({
      host: smtp.host, port: smtp.port, security: 'starttls', username: smtp.user, passwordSet: true, sender: 'Census <census@example.com>',
      hostAddress: smtp.host, portNumber: smtp.port, tlsVerify: true, retryForMs: 24 * 3_600_000,
    });
    expect(made.json).not.toHaveProperty('password');
    smtpId = made.json.id;
    expect(made.headers.location).toBe(`${s.url}/api/smtp/${smtpId}`);

    // Sealed in the database, and it opens to what was given.
    const row = await s.census.store.smtp.get();
    expect(row!.password).not.toContain(SMTP_PASSWORD);
    expect(SecretBox.keyIdOf(row!.password!)).toBeTypeOf('number');

    const second = await req('POST', '/api/smtp', { body: { host: 'other.example.com', sender: 'x@example.com' } });
    expect(second.status).toBe(409);
    expect(second.json).toMatchObject({ id: expect.any(String), description: expect.stringContaining(`PUT /api/smtp/${smtpId}`) });
    expect((await req('GET', '/api/smtp')).json).toMatchObject({ total: 1, smtps: [{ id: smtpId, passwordSet: true }] });
    expect((await req('GET', `/api/smtp/${smtpId}`)).json).toMatchObject({ id: smtpId, passwordSet: true });
  });

  it('refuses bad settings with SPP-shaped errors', async () => {
    const bad: [string, unknown][] = [
      ['no host', { host: '' }],
      ['a bad host', { host: 'smtp example.com' }],
      ['a bad sender', { sender: 'not an address' }],
      ['a header in the sender', { sender: 'a@example.com\r\nBcc: b@example.com' }],
      ['an unknown security', { security: 'ssl' }],
      ['a login without password', { username: 'u', password: null }],
      ['a port out of range', { port: 70000 }],
      ['a bad UI address', { uiUrl: 'javascript:alert(1)' }],
      ['a bad CA', { caCert: 'not a certificate' }],
    ];
    for (const [what, body] of bad) {
      const r = await req('PUT', `/api/smtp/${smtpId}`, { body });
      expect(r.status, what).toBe(400);
      expect(r.json, what).toMatchObject({ id: expect.any(String), description: expect.any(String) });
    }
    // A new host without the password again is refused: the stored one was given for another server.
    const moved = await req('PUT', `/api/smtp/${smtpId}`, { body: { host: 'smtp.example.com' } });
    expect(moved.status).toBe(400);
    expect(moved.json.description).toMatch(/password/);
    expect((await req('GET', '/api/smtp/999')).status).toBe(404);
  });

  it('sends the test message over STARTTLS with AUTH', async () => {
    const r = await req('POST', `/api/smtp/${smtpId}?action=test`, { body: { to: 'ops@example.com' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, statusCode: 250, error: null });
    const [m] = await smtp.waitForMessages(1);
    expect(m!.secure).toBe(true);
    expect(m!.user).toBe(smtp.user);
    expect(smtp.logins).toEqual([{ user: smtp.user, ok: true, secure: true }]);
    expect(m!.to).toEqual(['ops@example.com']);
    expect(m!.from).toBe('census@example.com');
    expect(m!.parsed.subject).toMatch(/^\[Census\] Test message/);
    expect(m!.parsed.text).toContain('Test message from Census');
    expect(m!.parsed.html).toContain('<h2>Test message from Census</h2>');
    // The link falls back to the address the caller reached Census by.
    expect(m!.parsed.text).toContain(s.url);
    expect(header(m!, 'x-census-event-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(m!.parsed.messageId).toBe(`<${header(m!, 'x-census-event-id')}.test@census>`);
  });

  it('says how a failed test went: a wrong password is a 5xx reply, an untrusted certificate a TLS error', async () => {
    expect((await req('PUT', `/api/smtp/${smtpId}`, { body: { password: 'Wrong-Pass-1' } })).status).toBe(200);
    const wrong = await req('POST', `/api/smtp/${smtpId}?action=test`, { body: { to: 'ops@example.com' } });
    expect(wrong.status).toBe(200);
    expect(wrong.json).toMatchObject({ ok: false, statusCode: 535 });
    expect(wrong.json.error).toMatch(/EAUTH/);
    expect((await req('PUT', `/api/smtp/${smtpId}`, { body: { password: SMTP_PASSWORD, caCert: null } })).status).toBe(200);
    const untrusted = await req('POST', `/api/smtp/${smtpId}?action=test`, { body: { to: 'ops@example.com' } });
    expect(untrusted.json.ok).toBe(false);
    expect(untrusted.json.error).toMatch(/certificate/i);
    const back = await req('PUT', `/api/smtp/${smtpId}`, { body: { caCert: smtp.cert } });
    expect(back.json).toMatchObject({ passwordSet: true, caCert: smtp.cert });
    expect(smtp.received).toHaveLength(1);
    expect((await req('POST', `/api/smtp/${smtpId}?action=test`, { body: { to: 'not-an-address' } })).status).toBe(400);
    expect((await req('POST', `/api/smtp/${smtpId}?action=send`, { body: { to: 'ops@example.com' } })).status).toBe(400);
  });
});

describe('the security modes', () => {
  it('speaks implicit TLS with `tls`, and no TLS at all with `none` (which this server refuses: no login without TLS)', async () => {
    const implicit = await startSmtpServer({ user: 'census-mailer', password: SMTP_PASSWORD, implicitTls: true });
    try {
      const put = await req('PUT', `/api/smtp/${smtpId}`, { body: { port: implicit.port, security: 'tls', caCert: implicit.cert } });
      expect(put.json).toMatchObject({ port: implicit.port, security: 'tls', passwordSet: true });
      const r = await req('POST', `/api/smtp/${smtpId}?action=test`, { body: { to: 'ops@example.com' } });
      expect(r.json).toMatchObject({ ok: true, statusCode: 250 });
      const [m] = await implicit.waitForMessages(1);
      expect(m).toMatchObject({ secure: true, user: 'census-mailer' });
    } finally {
      await implicit.close();
    }
    await req('PUT', `/api/smtp/${smtpId}`, { body: { port: smtp.port, security: 'none' } });
    const plain = await req('POST', `/api/smtp/${smtpId}?action=test`, { body: { to: 'ops@example.com' } });
    expect(plain.json.ok).toBe(false);
    // The server wants STARTTLS before a login, and `none` never upgrades: the login was never offered in clear.
    expect(plain.json.statusCode).toBe(538);
    expect(plain.json.response).toMatch(/STARTTLS/);
    expect(smtp.logins.filter((l) => !l.secure)).toEqual([]);
    const back = await req('PUT', `/api/smtp/${smtpId}`, { body: { security: 'starttls', caCert: smtp.cert } });
    expect(back.json).toMatchObject({ port: smtp.port, security: 'starttls' });
  });
});

describe('mail recipients through /api/census/recipient', () => {
  it('checks addresses, alert kinds, job ids and results', async () => {
    const bad: [string, unknown][] = [
      ['address', { address: 'two@example.com, three@example.com' }],
      ['alert kind', { address: 'a@example.com', alertKinds: ['session.exploded'] }],
      ['job', { address: 'a@example.com', jobIds: [424242] }],
      ['result', { address: 'a@example.com', jobIds: [1004], results: ['RUNNING'] }],
      ['type', { address: 'a@example.com', jobIds: 'all' }],
    ];
    for (const [what, body] of bad) {
      const r = await req('POST', '/api/census/recipient', { body });
      expect(r.status, what).toBe(400);
      expect(r.json, what).toMatchObject({ id: 'XSBInvalidArgumentException' });
    }
  });

  it('adds recipients for a job and for an alert kind', async () => {
    const team = await req('POST', '/api/census/recipient', { body: { address: 'inventory-team@example.com', jobIds: ['1004'] } });
    expect(team.status).toBe(201);
    expect(team.json).toMatchObject({ address: 'inventory-team@example.com', jobIds: [1004], results: [], alertKinds: [] });
    const oncall = await req('POST', '/api/census/recipient', { body: { address: 'oncall@example.com', alertKinds: ['session.failed'] } });
    expect(oncall.status).toBe(201);
    // Wants only the other job's sessions, and only completed ones: gets nothing here.
    const other = await req('POST', '/api/census/recipient', { body: { address: 'hypervisors@example.com', jobIds: [1005], results: ['completed'] } });
    expect(other.json.results).toEqual(['COMPLETED']);
    const list = await req('GET', '/api/census/recipient');
    expect(list.json.total).toBe(3);
    const changed = await req('PUT', `/api/census/recipient/${other.json.id}`, { body: { results: ['COMPLETED', 'FAILED'], jobIds: [1005] } });
    expect(changed.json).toMatchObject({ jobIds: [1005], results: ['COMPLETED', 'FAILED'], address: 'hypervisors@example.com' });
    const gone = await req('POST', '/api/census/recipient', { body: { address: 'temp@example.com', alertKinds: ['delivery.failed'] } });
    expect((await req('DELETE', `/api/census/recipient/${gone.json.id}`)).status).toBe(204);
    expect((await req('GET', `/api/census/recipient/${gone.json.id}`)).status).toBe(404);
  });
});

describe('notifications by e-mail', () => {
  let sessionId: number;

  it('mails a FAILED session to the job\'s recipient and its alert to the alert kind\'s, both parts, with the UI link', async () => {
    const ident = await req('POST', '/api/identity/user', { body: { name: 'pg', username: 'census_ro', password: 'Db-Pass-1' } });
    const reg = await req('POST', '/api/appserver', {
      body: { name: 'db-unreachable', hostAddress: '127.0.0.1', portNumber: 1, applicationType: 'postgresql', osType: 'linux', addToCatJob: false, osuser: { href: ident.json.links.self.href } },
    });
    expect(reg.status).toBe(201);
    const session = await runInventory(s, sid);
    expect(session.status).toBe('FAILED');
    sessionId = Number(session.id);

    await smtp.waitForMessages(3);
    const [toTeam] = mailsTo('inventory-team@example.com');
    const [toOncall] = mailsTo('oncall@example.com');
    expect(mailsTo('hypervisors@example.com')).toHaveLength(0);
    const link = `${s.url}/jobs/sessions/${sessionId}`;

    // The session's end, to the job's recipient.
    expect(toTeam!.secure).toBe(true);
    expect(toTeam!.user).toBe(smtp.user);
    expect(toTeam!.parsed.subject).toMatch(/^\[Census\] Job "Application Server Inventory" session \d+ ended FAILED/);
    for (const part of [toTeam!.parsed.text!, toTeam!.parsed.html as string]) {
      expect(part).toContain('Application Server Inventory');
      expect(part).toContain(String(sessionId));
      expect(part).toContain('FAILED');
      expect(part).toContain('db-unreachable');
      expect(part).toContain(link);
    }
    expect(toTeam!.parsed.html).toContain(`<a href="${link}">`);
    const eventId = header(toTeam!, 'x-census-event-id');
    const teamDelivery = (await emailDeliveries()).find((d) => d.target === 'inventory-team@example.com')!;
    expect(teamDelivery).toMatchObject({ status: 'DELIVERED', eventType: 'session.ended', eventId, attemptCount: 1 });
    expect(toTeam!.parsed.messageId).toBe(`<${eventId}.${teamDelivery.id}@census>`);

    // The alert, to the alert kind's recipient.
    expect(toOncall!.parsed.subject).toMatch(/Alert raised \(ERROR, session\.failed\)/);
    for (const part of [toOncall!.parsed.text!, toOncall!.parsed.html as string]) {
      expect(part).toContain('session.failed');
      expect(part).toContain('db-unreachable');
      expect(part).toContain(link);
    }
    const oncallDelivery = (await emailDeliveries()).find((d) => d.target === 'oncall@example.com')!;
    expect(oncallDelivery).toMatchObject({ status: 'DELIVERED', eventType: 'alert.raised' });
    expect(header(toOncall!, 'x-census-event-id')).toBe(oncallDelivery.eventId);
  });

  it('retries a 4xx refusal with back-off and delivers once', async () => {
    const known = new Set((await emailDeliveries()).map((d) => d.id));
    const before = mailsTo('inventory-team@example.com').length;
    smtp.refuse(451, 2);
    expect((await runInventory(s, sid)).status).toBe('FAILED');
    const d = await newDeliveryFor('inventory-team@example.com', known, 'the second session\'s mail');
    const done = await settled(d.id, 'DELIVERED');
    expect(done.attempts!.map((a) => [a.ok, a.statusCode])).toEqual([[false, 451], [false, 451], [true, 250]]);
    expect(done.attempts![0]!.error).toMatch(/Try again later/);
    // Backed off between tries: at least the base, then twice it.
    expect(done.attempts![1]!.at - done.attempts![0]!.at).toBeGreaterThanOrEqual(BACKOFF_MS);
    expect(done.attempts![2]!.at - done.attempts![1]!.at).toBeGreaterThanOrEqual(2 * BACKOFF_MS);
    await waitFor(async () => (mailsTo('inventory-team@example.com').length > before ? true : undefined), 'the retried mail');
    expect(mailsTo('inventory-team@example.com')).toHaveLength(before + 1);
    // The alert was open already: counted, not mailed again.
    expect(mailsTo('oncall@example.com')).toHaveLength(1);
  });

  it('gives a 5xx refusal up at once', async () => {
    const known = new Set((await emailDeliveries()).map((d) => d.id));
    smtp.refuse(550, 1);
    expect((await runInventory(s, sid)).status).toBe('FAILED');
    const d = await newDeliveryFor('inventory-team@example.com', known, 'the third session\'s mail');
    const failed = await settled(d.id, 'FAILED');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts![0]).toMatchObject({ ok: false, statusCode: 550 });
    expect(failed.lastError).toMatch(/refused by the test/);
  });

  it('fails each attempt on the timeout when the server never answers, retries, then gives up visibly', async () => {
    const put = await req('PUT', `/api/smtp/${smtpId}`, { body: { timeoutMs: 300, retryForMs: 1_500 } });
    expect(put.json).toMatchObject({ timeoutMs: 300, retryForMs: 1_500, passwordSet: true });
    const known = new Set((await emailDeliveries()).map((d) => d.id));
    const received = smtp.received.length;
    smtp.silent(true);
    try {
      expect((await runInventory(s, sid)).status).toBe('FAILED');
      const d = await newDeliveryFor('inventory-team@example.com', known, 'the fourth session\'s mail');
      const failed = await settled(d.id, 'FAILED', 30_000);
      expect(failed.attempts!.length).toBeGreaterThanOrEqual(2);
      for (const a of failed.attempts!) {
        expect(a.ok).toBe(false);
        expect(a.statusCode).toBeNull();
        expect(a.error).toMatch(/ETIMEDOUT|timeout|Greeting never received/i);
        expect(a.durationMs).toBeGreaterThanOrEqual(250);
      }
      expect(smtp.received.length).toBe(received);
      // Given up: the delivery.failed alert names the recipient.
      const alerts = await req('GET', `/api/endeavour/alert/message?filter=${encodeURIComponent(JSON.stringify([{ property: 'kind', value: 'delivery.failed' }]))}`);
      expect(alerts.status).toBe(200);
      expect(JSON.stringify(alerts.json.alerts)).toContain('inventory-team@example.com');
    } finally {
      smtp.silent(false);
    }
  }, 60_000);

  it('never shows the password: not in answers, the audit log, deliveries or the output', async () => {
    const audit = await req('GET', '/api/endeavour/log/audit?pageSize=1000');
    expect(audit.status).toBe(200);
    expect(audit.text).toContain('smtp.update');
    for (const d of await emailDeliveries()) answers.push(JSON.stringify(await delivery(d.id)));
    const all = answers.join('\n');
    expect(all).not.toContain(SMTP_PASSWORD);
    expect(all).not.toContain('Wrong-Pass-1');
    expect(output.join('')).not.toContain(SMTP_PASSWORD);
    // The mails themselves carry no credentials either.
    expect(smtp.received.map((m) => m.raw).join('\n')).not.toContain(SMTP_PASSWORD);
  });

  it('sends nothing once the SMTP server is removed', async () => {
    expect((await req('DELETE', `/api/smtp/${smtpId}`)).status).toBe(204);
    expect((await req('GET', '/api/smtp')).json.total).toBe(0);
    const known = new Set((await emailDeliveries()).map((d) => d.id));
    expect((await runInventory(s, sid)).status).toBe('FAILED');
    // The session's notification is dispatched (fanned out) without e-mail deliveries.
    await waitFor(async () => ((await s.census.store.notifications.undispatched(10)).length === 0 ? true : undefined), 'the dispatch');
    expect((await emailDeliveries()).filter((d) => !known.has(d.id))).toEqual([]);
  });
});
