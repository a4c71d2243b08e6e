/**
 * Webhooks end to end (docs/notifications.md): a real Census over HTTPS posts to real HTTP
 * receivers in this process. A session that ends FAILED arrives signed, and the signature checks
 * out; endpoints get only the events they asked for; a receiver that answers 503 is retried with a
 * growing back-off and each attempt is listed with its answer; one that never recovers is given up
 * after its retry time, with the delivery.failed alert, and a resend by hand delivers it (and
 * clears the alert); Slack and Teams bodies; the test action; the secret is in no answer after
 * the one that made it. Back-off is set to 50 ms (doubling, at most 200 ms) so that retries take
 * fractions of a second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { DELIVERY_JOB_ID } from '../src/engine/system-jobs.ts';
import { freePort } from './support/redis-server.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { signatureValid, startReceiver, type Receiver } from './support/webhook-receiver.ts';

describe('webhooks', () => {
  let s: TestServer;
  let sid: string;
  const receivers: Receiver[] = [];
  const secrets: string[] = [];
  let identityHref: string;

  const receiver = async (respond?: Receiver['respond']) => {
    const r = await startReceiver(respond);
    receivers.push(r);
    return r;
  };
  const addWebhook = async (body: Record<string, unknown>) => {
    const r = await s.req('POST', '/api/census/webhook', { sid, body });
    expect(r.status, r.text).toBe(201);
    expect(r.json.secret).toMatch(body.secret ? /./ : /^whsec_/);
    secrets.push(r.json.secret);
    return r.json as { id: string; secret: string };
  };
  /** Registers a server nothing answers at; `inventory`: with SPP's addToCatJob, whose session ends FAILED. */
  const registerDeadServer = async (name: string, inventory = false) => {
    const r = await s.req('POST', '/api/appserver', {
      sid, body: { name, hostAddress: '127.0.0.1', portNumber: await freePort(), applicationType: 'postgresql', osuser: { href: identityHref }, addToCatJob: inventory },
    });
    expect(r.status, r.text).toBe(201);
    return r.json as { id: string };
  };
  const deliveries = async (webhookId: string) => {
    const filter = encodeURIComponent(JSON.stringify([{ property: 'targetId', value: Number(webhookId) }, { property: 'channel', value: 'webhook' }]));
    const r = await s.req('GET', `/api/census/delivery?filter=${filter}`, { sid });
    expect(r.status, r.text).toBe(200);
    return r.json.deliveries as { id: string; status: string; eventType: string; eventId: string; attemptCount: number }[];
  };
  const delivery = async (id: string) => (await s.req('GET', `/api/census/delivery/${id}`, { sid })).json;

  beforeAll(async () => {
    s = await startTestServer({ deliveryRetryMs: 50, deliveryRetryMaxMs: 200 });
    sid = await s.login();
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'nobody', username: 'nobody', password: 'nothing-here' } });
    expect(ident.status, ident.text).toBe(201);
    identityHref = `${s.url}/api/identity/user/${ident.json.id}`;
  });

  afterAll(async () => {
    await s?.stop();
    for (const r of receivers) await r.close();
  });

  it('posts a signed session.ended of a FAILED session only to the endpoints that asked for FAILED sessions', async () => {
    const failedOnly = await receiver();
    const everything = await receiver();
    const failedHook = await addWebhook({ url: failedOnly.url, events: ['session.ended.FAILED'], name: 'failures' });
    const allHook = await addWebhook({ url: everything.url, events: ['session.ended'] });

    await registerDeadServer('dead-1', true);
    const [got] = await failedOnly.waitFor(1);
    expect(got!.headers['x-census-event']).toBe('session.ended');
    expect(got!.headers['content-type']).toBe('application/json');
    expect(signatureValid(failedHook.secret, got!)).toBe(true);
    expect(signatureValid(allHook.secret, got!)).toBe(false); // another endpoint's secret does not verify it
    expect(Math.abs(Number(got!.headers['x-census-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(got!.json).toMatchObject({ id: got!.headers['x-census-event-id'], type: 'session.ended', data: { session: { status: 'FAILED', jobId: 1004 } } });
    expect(got!.json.data.failed[0].name).toContain('dead-1');
    // A changed body no longer verifies.
    expect(signatureValid(failedHook.secret, { ...got!, body: got!.body.replace('FAILED', 'COMPLETED') })).toBe(false);

    // A COMPLETED session (maintenance) reaches the endpoint for every session.ended, not the FAILED one.
    const run = await s.req('POST', '/api/endeavour/job/1001?action=start', { sid });
    expect(run.status).toBe(200);
    const maintenanceId = Number(run.json.lastrun.sessionId);
    const completed = await waitFor(async () => everything.received.find((x) => x.json?.data?.session?.id === maintenanceId), 'the maintenance session at the catch-all endpoint');
    expect(completed.json.data.session.status).toBe('COMPLETED');
    expect(signatureValid(allHook.secret, completed)).toBe(true);
    // Both endpoints' deliveries of one notification are made in one pass: the FAILED-only one has none for it.
    const mine = await deliveries(failedHook.id);
    expect(mine.map((d) => d.eventId)).toEqual([got!.headers['x-census-event-id']]);
    expect(mine[0]!.status).toBe('DELIVERED');
    expect(failedOnly.received).toHaveLength(1);
    // The delivery job never reports on itself (loop guard): no session.ended of job 1006 anywhere.
    expect(everything.received.filter((x) => x.json?.data?.session?.jobId === DELIVERY_JOB_ID)).toEqual([]);
  });

  it('retries a receiver that answers 503 with a growing back-off, and lists each attempt with its answer', async () => {
    const flaky = await receiver((n) => (n < 2 ? { status: 503, body: `busy ${n}` } : { status: 200, body: 'got it' }));
    const hook = await addWebhook({ url: flaky.url, events: ['server.registered'] });
    const server = await registerDeadServer('dead-2');
    const got = await flaky.waitFor(3);
    // The same event each time: a receiver can drop what it already has.
    expect(new Set(got.map((r) => r.headers['x-census-event-id'])).size).toBe(1);
    expect(got[0]!.json).toMatchObject({ type: 'server.registered', data: { appserver: { id: Number(server.id), name: 'dead-2', type: 'postgresql' } } });
    expect(got.every((r) => signatureValid(hook.secret, r))).toBe(true);
    const [d] = await waitFor(async () => {
      const list = await deliveries(hook.id);
      return list[0]?.status === 'DELIVERED' ? list : undefined;
    }, 'the delivery to be DELIVERED');
    const detail = await delivery(d!.id);
    expect(detail.attemptCount).toBe(3);
    expect(detail.attempts.map((a: { statusCode: number; response: string; ok: boolean }) => [a.statusCode, a.response, a.ok])).toEqual([
      [503, 'busy 0', false], [503, 'busy 1', false], [200, 'got it', true],
    ]);
    expect(detail.attempts[0].error).toMatch(/503/);
    // 50 ms, then 100 ms between attempts at least.
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(45);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(95);
  });

  it('gives up on a receiver that never recovers, raises delivery.failed, and sends again by hand', async () => {
    let down = true;
    const broken = await receiver(() => (down ? { status: 500, body: 'down' } : { status: 204 }));
    const hook = await addWebhook({ url: broken.url, events: ['server.removed'], retryForMs: 500 });
    const server = await registerDeadServer('dead-3');
    expect((await s.req('DELETE', `/api/appserver/${server.id}`, { sid })).status).toBe(204);
    const [failed] = await waitFor(async () => {
      const list = await deliveries(hook.id);
      return list[0]?.status === 'FAILED' ? list : undefined;
    }, 'the delivery to be given up');
    const tries = broken.received.length;
    expect(tries).toBeGreaterThanOrEqual(2); // 50, 100, 200, 200 … ms apart within 500 ms (fewer on a busy machine)
    const detail = await delivery(failed!.id);
    expect(detail.lastError).toMatch(/500/);
    expect(detail.attempts).toHaveLength(tries);
    // Given up only when the next try would have come after its retry time.
    const backoff = Math.min(200, 50 * 2 ** (tries - 1));
    expect(detail.attempts.at(-1).at + backoff).toBeGreaterThanOrEqual(detail.giveUpAt);
    const key = `delivery:webhook:${hook.id}`;
    const alert = await s.census.store.alerts.open(key);
    expect(alert).toMatchObject({ kind: 'delivery.failed', severity: 'ERROR', status: 'ACTIVE' });
    expect(alert!.message).toContain('server.removed');
    expect(alert!.message).not.toContain('/hook'); // a URL's path can hold a token: the alert names the host only

    down = false;
    const resent = await s.req('POST', `/api/census/delivery/${failed!.id}?action=resend`, { sid });
    expect(resent.status, resent.text).toBe(200);
    expect(resent.json.status).toBe('PENDING');
    await broken.waitFor(tries + 1);
    await waitFor(async () => ((await delivery(failed!.id)).status === 'DELIVERED' ? true : undefined), 'the resent delivery to arrive');
    expect(broken.received.at(-1)!.headers['x-census-event-id']).toBe(broken.received[0]!.headers['x-census-event-id']);
    await waitFor(async () => ((await s.census.store.alerts.open(key)) === undefined ? true : undefined), 'the alert to clear');
  });

  it('refuses to resend a delivery still on its way (409)', async () => {
    const slow = await receiver(() => 'hold');
    const hook = await addWebhook({ url: slow.url, events: ['server.registered'] });
    await registerDeadServer('dead-6');
    await slow.waitFor(1);
    const [d] = await deliveries(hook.id);
    expect(d!.status).toBe('QUEUED'); // its task is waiting for the receiver's answer
    const r = await s.req('POST', `/api/census/delivery/${d!.id}?action=resend`, { sid });
    expect(r.status).toBe(409);
    expect(r.json.description).toMatch(/QUEUED/);
    slow.release(200);
    await waitFor(async () => ((await delivery(d!.id)).status === 'DELIVERED' ? true : undefined), 'the held delivery to finish');
  });

  it('does not retry a 4xx other than 408 and 429', async () => {
    const gone = await receiver(() => ({ status: 410, body: 'gone' }));
    const hook = await addWebhook({ url: gone.url, events: ['server.registered'] });
    await registerDeadServer('dead-4');
    const [d] = await waitFor(async () => {
      const list = await deliveries(hook.id);
      return list[0]?.status === 'FAILED' ? list : undefined;
    }, 'the delivery to fail');
    expect(d!.attemptCount).toBe(1);
    expect(gone.received).toHaveLength(1);
  });

  it('sends Slack and Teams bodies, signed the same way', async () => {
    const slack = await receiver();
    const teams = await receiver();
    const slackHook = await addWebhook({ url: slack.url, events: ['server.registered'], format: 'slack' });
    const teamsHook = await addWebhook({ url: teams.url, events: ['server.registered'], format: 'teams' });
    await registerDeadServer('dead-5');
    const [sl] = await slack.waitFor(1);
    const [tm] = await teams.waitFor(1);
    expect(sl!.json.text).toMatch(/^Server dead-5 \(postgresql at 127\.0\.0\.1\) registered$/);
    expect(sl!.json.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: sl!.json.text } });
    expect(signatureValid(slackHook.secret, sl!)).toBe(true);
    expect(tm!.json.type).toBe('message');
    const card = tm!.json.attachments[0];
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content.type).toBe('AdaptiveCard');
    expect(card.content.body.map((b: { text?: string }) => b.text)).toContain(sl!.json.text);
    expect(signatureValid(teamsHook.secret, tm!)).toBe(true);
    // One notification, two receivers: one event id.
    expect(tm!.headers['x-census-event-id']).toBe(sl!.headers['x-census-event-id']);
  });

  it('sends a signed test event and says how the endpoint answered', async () => {
    const ok = await receiver(() => ({ status: 202, body: 'accepted' }));
    const hook = await addWebhook({ url: ok.url, events: ['alert.raised'] });
    const r = await s.req('POST', `/api/census/webhook/${hook.id}?action=test`, { sid });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ ok: true, statusCode: 202, response: 'accepted', error: null });
    expect(r.json.durationMs).toBeGreaterThanOrEqual(0);
    expect(ok.received).toHaveLength(1);
    expect(ok.received[0]!.json.type).toBe('webhook.test');
    expect(signatureValid(hook.secret, ok.received[0]!)).toBe(true);

    // An endpoint nothing listens on: refused, in words.
    const dead = await addWebhook({ url: `http://127.0.0.1:${await freePort()}/x`, events: ['alert.raised'] });
    const refused = await s.req('POST', `/api/census/webhook/${dead.id}?action=test`, { sid });
    expect(refused.status).toBe(200);
    expect(refused.json).toMatchObject({ ok: false, statusCode: null });
    expect(refused.json.error).toMatch(/ECONNREFUSED/);
    // The test event is not a delivery.
    expect(await deliveries(hook.id)).toEqual([]);
  });

  it('refuses bad endpoints with SPP-shaped 400s', async () => {
    for (const body of [
      { url: 'ftp://example.com/x', events: ['session.ended'] },
      { url: 'not a url', events: ['session.ended'] },
      { url: 'https://example.com/x', events: [] },
      { url: 'https://example.com/x', events: ['session.exploded'] },
      { url: 'https://example.com/x', events: ['session.ended'], format: 'xml' },
      { url: 'https://example.com/x', events: ['session.ended'], secret: 'short' },
      { url: 'https://example.com/x', events: 'session.ended' },
      { url: 'https://example.com/x', events: ['session.ended'], retryForMs: -1 },
    ]) {
      const r = await s.req('POST', '/api/census/webhook', { sid, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json).toMatchObject({ id: expect.any(String), description: expect.any(String) });
    }
    expect((await s.req('GET', '/api/census/webhook/999999', { sid })).status).toBe(404);
    expect((await s.req('POST', '/api/census/webhook/999999?action=test', { sid })).status).toBe(404);
    expect((await s.req('POST', '/api/census/delivery/999999?action=resend', { sid })).status).toBe(404);
  });

  it('never answers with a signing secret after the answer that made it', async () => {
    const r = await receiver();
    const hook = await addWebhook({ url: r.url, events: ['alert.raised'], secret: 'my-own-secret-of-some-length' });
    expect(hook.secret).toBe('my-own-secret-of-some-length');
    const rotated = await s.req('PUT', `/api/census/webhook/${hook.id}`, { sid, body: { rotateSecret: true } });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    secrets.push(rotated.json.secret);
    const renamed = await s.req('PUT', `/api/census/webhook/${hook.id}`, { sid, body: { name: 'renamed', format: 'slack' } });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'renamed', format: 'slack', secretSet: true });
    expect(renamed.json.secret).toBeUndefined();
    const answers = [
      renamed.text,
      (await s.req('GET', '/api/census/webhook', { sid })).text,
      (await s.req('GET', `/api/census/webhook/${hook.id}`, { sid })).text,
      (await s.req('GET', '/api/census/delivery?pageSize=1000', { sid })).text,
      (await s.req('GET', '/api/endeavour/log/audit?pageSize=1000', { sid })).text,
      (await s.req('GET', '/api/endeavour/alert/message?pageSize=1000', { sid })).text,
      (await s.req('GET', `/api/endeavour/job/${DELIVERY_JOB_ID}`, { sid })).text,
      (await s.req('GET', '/metrics', { sid })).text,
    ];
    const sealed = (await s.census.store.webhooks.all()).map((w) => w.secret);
    for (const text of answers) {
      expect(text.length).toBeGreaterThan(0);
      for (const secret of [...secrets, ...sealed]) expect(text).not.toContain(secret);
    }
    expect(JSON.parse(answers[1]!).webhooks.every((w: { secretSet: boolean; secret?: string }) => w.secretSet && w.secret === undefined)).toBe(true);
  });

  it('shows deliveries and their latency in /metrics, and job 1006 as a system job', async () => {
    const m = (await s.req('GET', '/metrics', { sid })).text;
    const delivered = Number(/^census_deliveries\{channel="webhook",status="DELIVERED"\} (\d+)$/m.exec(m)?.[1]);
    expect(delivered).toBeGreaterThanOrEqual(4);
    expect(Number(/^census_delivery_attempts_total\{channel="webhook",result="failed"\} (\d+)$/m.exec(m)?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(/^census_delivery_latency_seconds_count\{channel="webhook"\} (\d+)$/m.exec(m)?.[1])).toBe(delivered);
    expect(m).toMatch(/^census_delivery_latency_seconds_bucket\{channel="webhook",le="\+Inf"\} \d+$/m);
    const job = await s.req('GET', `/api/endeavour/job/${DELIVERY_JOB_ID}`, { sid });
    expect(job.status).toBe(200);
    expect(job.json.name).toBe('Notification Delivery');
    expect(job.json.lastrun).toBeTruthy();
  });

  it('is driven by `census webhook add|list|test|deliveries|resend`', async () => {
    const home = mkdtempSync(join(tmpdir(), 'census-cli-webhook-'));
    const env = { CENSUS_URL: s.url, CENSUS_USER: 'admin', CENSUS_PASSWORD: ADMIN_PASSWORD, CENSUS_INSECURE: '1' };
    const census = (args: string[]) => runCli(home, args, { env });
    try {
      const r = await receiver((n) => (n === 0 ? { status: 200, body: 'test ok' } : { status: 422, body: 'no thanks' }));
      const add = await census(['webhook', 'add', '--endpoint', r.url, '--events', 'server.registered,alert.raised', '--format', 'slack', '--name', 'cli-hook', '--retry-for', '2h']);
      expect(add.code, add.stderr).toBe(0);
      const secret = /^ {2}(whsec_\S+)$/m.exec(add.stdout)?.[1];
      expect(secret).toBeDefined();
      secrets.push(secret!);
      const id = /\(id (\d+)\)/.exec(add.stdout)![1]!;
      const hook = (await s.req('GET', `/api/census/webhook/${id}`, { sid })).json;
      expect(hook).toMatchObject({ name: 'cli-hook', format: 'slack', retryForMs: 7_200_000, events: ['server.registered', 'alert.raised'] });

      const list = await census(['webhook', 'list']);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`^\\s*${id}\\s+cli-hook\\s+slack\\s+yes\\s+server\\.registered,alert\\.raised\\s+http://127`, 'm'));
      expect(list.stdout).not.toContain(secret!);

      const test = await census(['webhook', 'test', id]);
      expect(test.code, test.stderr).toBe(0);
      expect(test.stdout).toMatch(/^Delivered: HTTP 200 in \d+ ms\. It answered: test ok$/m);
      const refused = await census(['webhook', 'test', id]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/Failed after \d+ ms: HTTP 422/);

      await registerDeadServer('dead-cli');
      await r.waitFor(3);
      const failed = await waitFor(async () => {
        const out = await census(['webhook', 'deliveries', '--webhook', id, '--status', 'failed', '--json']);
        const rows = JSON.parse(out.stdout) as { id: string; status: string; eventType: string }[];
        const registered = rows.filter((d) => d.eventType === 'server.registered');
        return registered.length ? registered : undefined;
      }, 'the 422 delivery to show as failed');
      const table = await census(['webhook', 'deliveries', '--webhook', id]);
      expect(table.stdout).toMatch(new RegExp(`^\\s*${failed[0]!.id}\\s.*server\\.registered\\s+webhook\\s+${id}\\s+FAILED\\s+1\\s+HTTP 422`, 'm'));
      const resend = await census(['webhook', 'resend', failed[0]!.id]);
      expect(resend.code, resend.stderr).toBe(0);
      expect(resend.stdout).toMatch(/will be sent again now/);
      await r.waitFor(4);
      // Its own failure raised delivery.failed, which this endpoint (alert.raised) was sent once and
      // refused too: raising the open alert again only counts, so no further notification follows.
      const alertsSent = r.received.filter((x) => x.body.includes('delivery.failed'));
      expect(alertsSent.length).toBeLessThanOrEqual(1);

      const bad = await census(['webhook', 'add', '--endpoint', r.url, '--events', 'nonsense']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('session.ended.FAILED');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
