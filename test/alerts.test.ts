/**
 * Alerts (docs/alerts.md) through a real Census over HTTPS, inventorying a real, password-checking
 * PostgreSQL cluster: a server with a wrong password makes sessions PARTIAL or FAILED
 * (session.failed names it) and, run after run, a failing server (server.failing); a database
 * dropped between two runs raises inventory.database-removed and clears when it is back; a good
 * run clears the rest. The alerts read as SPP's /api/endeavour/alert/message (sppclient's
 * get_alerts.py query included), are acknowledged through the API and the CLI, and what raised
 * or cleared them sits in the notification outbox, written with the change. Version changes and
 * findings are driven at the rule level (a real server's version does not change under a test);
 * the stalled-session watchdog runs with the fake clock against a server that never answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FakeClock } from '../src/core/clock.ts';
import type { Alert } from '../src/core/alerts.ts';
import type { JobSession } from '../src/core/types.ts';
import { checkStalled, onInventoryRecorded, onSessionClosed } from '../src/engine/alerts.ts';
import { DELIVERY_JOB_ID, DELIVERY_SERVICE } from '../src/engine/system-jobs.ts';
import { runCli } from './support/cli.ts';
import { AUTH_HOSTS, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { ADMIN_PASSWORD, runInventory, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { silentListener, type SilentListener } from './support/silent-listener.ts';

const suffix = Math.random().toString(36).slice(2, 8);
const gone = `alert_gone_${suffix}`;
const ALERTS = '/api/endeavour/alert/message';
const SETTINGS = '/api/census/alert/settings';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('alerts', () => {
  let s: TestServer;
  let sid: string;
  let admin: pg.Client;
  let hang: SilentListener;
  let home: string;
  const clock = new FakeClock(Date.now());
  const port = inject('pgAuthPort');
  let goodId: string;
  let flakyId: string;
  let goodIdentity: string;

  const get = async (path: string) => {
    const r = await s.req('GET', path, { sid });
    expect(r.status, `GET ${path}: ${r.text}`).toBe(200);
    return r.json;
  };
  const list = async (filter: object[] = [], extra = ''): Promise<Json[]> =>
    (await get(`${ALERTS}?pageSize=1000&filter=${encodeURIComponent(JSON.stringify(filter))}${extra}`)).alerts;
  /** Every alert under one key, newest first. */
  const byKey = (key: string) => list([{ property: 'key', value: key }], `&sort=${encodeURIComponent('[{"property":"id","direction":"DESC"}]')}`);
  const openUnder = async (key: string) => (await byKey(key)).find((a) => a.status !== 'CLEARED');
  const notifications = (type: string) =>
    s.census.store.db.selectFrom('notifications').selectAll().where('type', '=', type).orderBy('id').execute()
      .then((rows) => rows.map((r) => ({ ...r, data: JSON.parse(r.data) as Json })));
  const run = async () => {
    clock.advance(1_000);
    return runInventory(s, sid);
  };
  const inventoryOne = async (id: string) => {
    clock.advance(1_000);
    const r = await s.req('POST', `/api/appserver/${id}?action=inventory`, { sid, body: {} });
    expect(r.status, r.text).toBe(200);
    return waitFor(async () => {
      const x = await s.req('GET', `/api/endeavour/jobsession/${r.json.sessionId}`, { sid });
      return x.json.status === 'RUNNING' ? undefined : x.json;
    }, `session ${r.json.sessionId} to end`);
  };

  beforeAll(async () => {
    admin = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${gone}`);
    hang = await silentListener();
    home = mkdtempSync(join(tmpdir(), 'census-cli-alerts-'));
    s = await startTestServer({ clock, taskTimeoutMs: 4_000 });
    sid = await s.login();
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'pg-login', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } });
    expect(ident.status, ident.text).toBe(201);
    goodIdentity = ident.json.links.self.href;
    const good = await s.req('POST', '/api/appserver', {
      sid, body: { name: 'pg-good', hostAddress: AUTH_HOSTS[0], portNumber: port, applicationType: 'postgresql', osuser: { href: goodIdentity } },
    });
    expect(good.status, good.text).toBe(201);
    goodId = good.json.id;
    const flaky = await s.req('POST', '/ngp/appserver', {
      sid, body: { name: 'pg-flaky', hostAddress: AUTH_HOSTS[1], portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: 'not-the-password' },
    });
    expect(flaky.status, flaky.text).toBe(201);
    flakyId = String(flaky.json.response.id);
  }, 60_000);

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${gone} WITH (FORCE)`).catch(() => {});
    await admin?.end();
    await s?.stop();
    await hang?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('has settings with defaults, changes what a PUT gives, and refuses bad values in SPP\'s shape', async () => {
    expect(await get(SETTINGS)).toEqual({
      stalledAfterMs: 1_800_000, failingRuns: 3, missedGraceMs: 300_000, watch: { databaseRemoved: true, versionChanged: true, findings: false },
    });
    const put = await s.req('PUT', SETTINGS, { sid, body: { failingRuns: 2, watch: { findings: true } } });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ failingRuns: 2, stalledAfterMs: 1_800_000, watch: { databaseRemoved: true, versionChanged: true, findings: true } });
    expect((await get(SETTINGS)).failingRuns).toBe(2);
    for (const body of [{ failingRuns: 0 }, { stalledAfterMs: 'soon' }, { watch: { findings: 'maybe' } }, { missedGraceMs: 1.5 }]) {
      const bad = await s.req('PUT', SETTINGS, { sid, body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json).toMatchObject({ id: 'XSBInvalidArgumentException', description: expect.any(String) });
    }
    expect((await get(SETTINGS)).failingRuns).toBe(2); // nothing of the refused ones stuck
  });

  it('raises session.failed naming the failing server when a session ends PARTIAL, with session.ended in the outbox', async () => {
    const first = await run();
    expect(first.status).toBe('PARTIAL');
    const alert = await openUnder('job:1004');
    expect(alert).toMatchObject({
      kind: 'session.failed', type: 'WARN', status: 'ACTIVE', acknowledged: false, count: 1, jobId: '1004', jobsessionId: Number(first.id),
    });
    expect(alert.message).toContain('pg-flaky');
    expect(alert.message).not.toContain('pg-good');
    expect(alert.objects).toEqual(expect.arrayContaining([
      { type: 'job', id: 1004, name: 'Application Server Inventory' },
      expect.objectContaining({ type: 'jobsession', id: Number(first.id) }),
      { type: 'appserver', id: Number(flakyId), name: 'pg-flaky' },
    ]));
    expect(alert.links.acknowledge.href).toContain(`${ALERTS}/${alert.id}?action=acknowledge`);
    expect(alert.links.jobsession.href).toContain(`/api/endeavour/jobsession/${first.id}`);
    expect((await get(`${ALERTS}/${alert.id}`)).id).toBe(alert.id);

    // The session's end and the alert's opening are in the outbox, written when the session closed.
    const ended = (await notifications('session.ended')).find((n) => n.data.session.id === Number(first.id));
    expect(ended!.data).toMatchObject({
      session: { id: Number(first.id), jobId: 1004, status: 'PARTIAL', end: first.end },
      failed: [{ name: 'pg-flaky', reason: expect.stringMatching(/password|authentication/i) }],
      tasks: { total: 2, completed: 1, failed: 1, cancelled: 0 },
    });
    expect(Number(ended!.createdAt)).toBe(first.end);
    const raised = (await notifications('alert.raised')).filter((n) => n.data.alert.key === 'job:1004');
    expect(raised).toHaveLength(1);
    expect(raised[0]!.data.alert).toMatchObject({ id: Number(alert.id), kind: 'session.failed', status: 'ACTIVE' });
    // The first inventory of each server changed its inventory: one inventory.changed for the good one.
    const changed = (await notifications('inventory.changed')).filter((n) => n.data.sessionId === Number(first.id));
    expect(changed.map((n) => n.data.appserver.name)).toEqual(['pg-good']);
    expect(changed[0]!.data.changes).toEqual(expect.arrayContaining([expect.objectContaining({ objectType: 'database', objectName: gone, change: 'appeared' })]));
    // One failure of two needed: the server is not failing yet.
    expect(await openUnder(`appserver:${flakyId}`)).toBeUndefined();
  });

  it('makes it an ERROR when a session FAILED, counts it on the open alert, and raises server.failing after N failed runs', async () => {
    const alone = await inventoryOne(flakyId);
    expect(alone.status).toBe('FAILED');
    const alert = await openUnder('job:1004');
    expect(alert).toMatchObject({ kind: 'session.failed', type: 'ERROR', count: 2, jobsessionId: Number(alone.id) });
    expect((await byKey('job:1004')).filter((a) => a.status !== 'CLEARED')).toHaveLength(1);
    // Raised again while open: counted, not notified again.
    expect((await notifications('alert.raised')).filter((n) => n.data.alert.key === 'job:1004')).toHaveLength(1);

    const failing = await openUnder(`appserver:${flakyId}`);
    expect(failing).toMatchObject({ kind: 'server.failing', type: 'ERROR', status: 'ACTIVE' });
    expect(failing.message).toMatch(/pg-flaky failed its last 2 inventories/);
    expect(failing.objects).toEqual(expect.arrayContaining([{ type: 'appserver', id: Number(flakyId), name: 'pg-flaky' }]));
    expect(await openUnder(`appserver:${goodId}`)).toBeUndefined();
  });

  it('raises inventory.database-removed when a watched database is dropped, and clears it when it is back', async () => {
    await admin.query(`DROP DATABASE ${gone} WITH (FORCE)`);
    await run();
    const removed = (await list([{ property: 'kind', value: 'inventory.database-removed' }, { property: 'status', value: 'ACTIVE' }]))
      .filter((a) => a.key.startsWith(`database:${goodId}:`) && a.key.endsWith(`/${gone}`));
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ type: 'WARN' });
    expect(removed[0].message).toContain(gone);
    expect(removed[0].objects).toEqual(expect.arrayContaining([{ type: 'appserver', id: Number(goodId), name: 'pg-good' }]));
    const key = removed[0].key as string;

    await admin.query(`CREATE DATABASE ${gone}`);
    await run();
    const after = await byKey(key);
    expect(after[0]).toMatchObject({ id: removed[0].id, status: 'CLEARED', clearedAt: expect.any(Number) });
    const cleared = (await notifications('alert.cleared')).filter((n) => n.data.alert.key === key);
    expect(cleared).toHaveLength(1);
    expect(cleared[0]!.data.alert.status).toBe('CLEARED');
  });

  it('clears session.failed and server.failing with the next COMPLETED session', async () => {
    const fixed = await s.req('PUT', `/api/appserver/${flakyId}`, { sid, body: { osuser: { href: goodIdentity } } });
    expect(fixed.status, fixed.text).toBe(200);
    const ok = await run();
    expect(ok.status).toBe('COMPLETED');
    expect(await openUnder('job:1004')).toBeUndefined();
    expect(await openUnder(`appserver:${flakyId}`)).toBeUndefined();
    const [job] = await byKey('job:1004');
    expect(job).toMatchObject({ status: 'CLEARED', clearedAt: ok.end });
    const ended = (await notifications('session.ended')).find((n) => n.data.session.id === Number(ok.id));
    expect(ended!.data).toMatchObject({ session: { status: 'COMPLETED' }, failed: [], tasks: { total: 2, completed: 2 } });
  });

  it("answers sppclient's get_alerts.py query: sorted by last ascending, filtered on last", async () => {
    const all = await list([], '&sort=' + encodeURIComponent('[{"property":"last","direction":"DESC"}]'));
    expect(all.length).toBeGreaterThanOrEqual(3);
    const lasts = all.map((a) => a.last);
    expect([...lasts].sort((a, b) => b - a)).toEqual(lasts);
    const cut = lasts[Math.floor(lasts.length / 2)];
    const r = await s.req('GET', `${ALERTS}?sort=[{"property":"last","direction":"ASC"}]&pageSize=10000&filter=[{"property":"last","value":${cut},"op":">="}]`, { sid });
    expect(r.status, r.text).toBe(200);
    expect(r.json.total).toBe(all.filter((a) => a.last >= cut).length);
    expect(r.json.alerts.map((a: Json) => a.last)).toEqual(all.filter((a) => a.last >= cut).map((a) => a.last).sort((a, b) => a - b));
    for (const a of r.json.alerts) {
      expect(a).toMatchObject({ id: expect.stringMatching(/^\d+$/), message: expect.any(String), type: expect.stringMatching(/^(ERROR|WARN|INFO)$/), acknowledged: expect.any(Boolean) });
    }
    // Paging as the other collections: the envelope, links while there is more.
    const page = await get(`${ALERTS}?pageSize=1`);
    expect(page).toMatchObject({ total: all.length, page: 1 });
    expect(page.alerts).toHaveLength(1);
    expect(page.links.nextPage.href).toContain('pageStartIndex=1');
    // Filters on status, kind, type and acknowledged.
    expect((await list([{ property: 'status', value: 'CLEARED' }])).every((a) => a.status === 'CLEARED')).toBe(true);
    expect((await list([{ property: 'type', value: 'ERROR' }])).every((a) => a.type === 'ERROR')).toBe(true);
    expect((await list([{ property: 'acknowledged', value: 'true' }]))).toEqual([]);
    expect((await list([{ property: 'acknowledged', value: false }])).length).toBe(all.length);
    const bad = await s.req('GET', `${ALERTS}?filter=[{"property":"last"`, { sid });
    expect(bad.status).toBe(400);
    expect(bad.json.id).toBe('XSBInvalidArgumentException');
    expect((await s.req('GET', `${ALERTS}/99999999`, { sid })).status).toBe(404);
    expect((await s.req('GET', `${ALERTS}/nope`, { sid })).status).toBe(400);
  });

  it('raises inventory.version-changed until someone acknowledges it; a later change is news again (rule level)', async () => {
    const store = s.census.store;
    const session = (await store.sessions.list({ where: [], order: [], limit: 1, offset: 0 }, 1004)).items[0]!;
    const change = (oldValue: string, newValue: string) => ({
      objectType: 'instance', objectName: 'pg-main', parentName: null, change: 'changed' as const, field: 'version', oldValue, newValue,
    });
    const record = (changes: ReturnType<typeof change>[]) => store.transaction((r) => onInventoryRecorded(r, {
      appserver: { id: Number(goodId), name: 'pg-good', type: 'postgresql' }, session, changes, findings: [], now: clock.now(),
    }));
    const key = `version:${goodId}:pg-main`;
    await record([change('16.1', '16.2')]);
    const first = await openUnder(key);
    expect(first).toMatchObject({ kind: 'inventory.version-changed', type: 'INFO', status: 'ACTIVE' });
    expect(first.message).toContain('16.1 → 16.2');
    // It does not clear itself: a run without a version change leaves it.
    await record([]);
    expect((await openUnder(key)).id).toBe(first.id);

    const ack = await s.req('POST', `${ALERTS}/${first.id}?action=acknowledge`, { sid });
    expect(ack.status, ack.text).toBe(200);
    expect(ack.json).toMatchObject({ status: 'ACKNOWLEDGED', acknowledged: true, acknowledgedBy: 'admin', acknowledgedAt: clock.now() });
    expect(ack.json.links.acknowledge).toBeUndefined();
    const audited = (await get(`/api/endeavour/log/audit?filter=${encodeURIComponent(JSON.stringify([{ property: 'action', value: 'alert.acknowledge' }]))}`)).logs;
    expect(audited).toEqual([expect.objectContaining({ user: 'admin', targetType: 'alert', targetId: first.id, target: 'inventory.version-changed', outcome: 'success' })]);
    // Again: nothing changes.
    expect((await s.req('POST', `${ALERTS}/${first.id}?action=acknowledge`, { sid })).json.acknowledgedAt).toBe(clock.now());

    await record([change('16.2', '17.0')]);
    const [second, old] = await byKey(key);
    expect(old).toMatchObject({ id: first.id, status: 'CLEARED', acknowledged: true });
    expect(second).toMatchObject({ status: 'ACTIVE', acknowledged: false });
    expect(second.message).toContain('16.2 → 17.0');

    // Not watched: no alert.
    await s.req('PUT', SETTINGS, { sid, body: { watch: { versionChanged: false } } });
    await record([{ ...change('1', '2'), objectName: 'pg-other' }]);
    expect(await byKey(`version:${goodId}:pg-other`)).toEqual([]);
    await s.req('PUT', SETTINGS, { sid, body: { watch: { versionChanged: true } } });

    // A cleared alert cannot be acknowledged.
    const late = await s.req('POST', `${ALERTS}/${first.id}?action=acknowledge`, { sid });
    expect(late.status).toBe(409);
    expect(late.json.id).toBeDefined();
    expect((await s.req('POST', `${ALERTS}/${second.id}?action=snooze`, { sid })).status).toBe(400);
  });

  it('raises a watched readiness finding and clears it when a later inventory no longer reports it (rule level)', async () => {
    const store = s.census.store;
    const session = (await store.sessions.list({ where: [], order: [], limit: 1, offset: 0 }, 1004)).items[0]!;
    const record = (findings: { instance: string; code: string; message: string; database?: string }[]) => store.transaction((r) => onInventoryRecorded(r, {
      appserver: { id: Number(flakyId), name: 'pg-flaky', type: 'postgresql' }, session, changes: [], findings, now: clock.now(),
    }));
    await record([
      { instance: 'pg-main', code: 'ARCHIVE_MODE_OFF', message: 'archive_mode is off' },
      { instance: 'pg-main', code: 'NO_CONNECT', message: 'cannot connect', database: 'sales' },
    ]);
    const a = await openUnder(`finding:${flakyId}:ARCHIVE_MODE_OFF:pg-main`);
    const b = await openUnder(`finding:${flakyId}:NO_CONNECT:pg-main/sales`);
    expect(a).toMatchObject({ kind: 'inventory.finding', status: 'ACTIVE' });
    expect(b.message).toContain('cannot connect');
    await record([{ instance: 'pg-main', code: 'ARCHIVE_MODE_OFF', message: 'archive_mode is off' }]);
    expect((await openUnder(`finding:${flakyId}:ARCHIVE_MODE_OFF:pg-main`)).count).toBe(2);
    expect(await openUnder(`finding:${flakyId}:NO_CONNECT:pg-main/sales`)).toBeUndefined();
    await record([]);
    expect(await openUnder(`finding:${flakyId}:ARCHIVE_MODE_OFF:pg-main`)).toBeUndefined();
  });

  it("keeps a session's alert settings for its tasks: a change applies from the next session (rule level)", async () => {
    const store = s.census.store;
    const session = (await store.sessions.list({ where: [], order: [], limit: 1, offset: 0 }, 1004)).items[0]!;
    const before = (await s.req('GET', SETTINGS, { sid })).json as { watch: { findings: boolean } };
    const record = (code: string | null, shared: Map<string, unknown>) => store.transaction((r) => onInventoryRecorded(r, {
      appserver: { id: Number(flakyId), name: 'pg-flaky', type: 'postgresql' }, session, changes: [], now: clock.now(), shared,
      findings: code ? [{ instance: 'pg-kept', code, message: code }] : [],
    }));
    await s.req('PUT', SETTINGS, { sid, body: { watch: { findings: true } } });
    const thisSession = new Map<string, unknown>();
    await record('FIRST', thisSession);
    expect(await openUnder(`finding:${flakyId}:FIRST:pg-kept`)).toMatchObject({ status: 'ACTIVE' });
    await s.req('PUT', SETTINGS, { sid, body: { watch: { findings: false } } });
    // The same session still watches findings, as when its first task read the settings…
    await record('SECOND', thisSession);
    expect(await openUnder(`finding:${flakyId}:SECOND:pg-kept`)).toMatchObject({ status: 'ACTIVE' });
    // …and the next session reads them again: not watched any more.
    await record('THIRD', new Map());
    expect(await openUnder(`finding:${flakyId}:THIRD:pg-kept`)).toBeUndefined();
    await s.req('PUT', SETTINGS, { sid, body: { watch: { findings: before.watch.findings } } });
    await record(null, new Map()); // clears this test's findings
  });

  it('raises session.stalled when a running session makes no progress for the set time, and clears it when it moves or ends', async () => {
    await s.req('PUT', SETTINGS, { sid, body: { stalledAfterMs: 60_000 } });
    const reg = await s.req('POST', '/ngp/appserver', {
      sid, body: { name: 'pg-hangs', hostAddress: '127.0.0.1', portNumber: hang.port, applicationType: 'postgresql', username: 'x', password: 'y' },
    });
    expect(reg.status, reg.text).toBe(201);
    const hangId = String(reg.json.response.id);
    // A task's start is stamped with the real time (its lease is real time): catch the fake clock up first.
    clock.set(Math.max(clock.now(), Date.now()) + 1_000);
    const started = await s.req('POST', `/api/appserver/${hangId}?action=inventory`, { sid, body: {} });
    const sessionId = Number(started.json.sessionId);
    const key = `session:${sessionId}`;
    // Running, its one task started: not stalled while within the time.
    await waitFor(async () => ((await s.census.store.tasks.bySession(sessionId))[0]?.status === 'RUNNING' ? true : undefined), 'the task to run');
    expect(await s.census.engine.checkStalled()).not.toContain(sessionId);

    clock.advance(65_000);
    expect(await s.census.engine.checkStalled()).toContain(sessionId);
    const stalled = await openUnder(key);
    expect(stalled).toMatchObject({ kind: 'session.stalled', type: 'WARN', jobsessionId: sessionId });
    expect(stalled.message).toMatch(/no progress for 1 minute/);
    // A tick while stalled is no new occurrence.
    await s.census.engine.checkStalled();
    expect((await openUnder(key)).count).toBe(1);

    // It moved (what a task's end writes): the next tick clears it.
    await s.census.store.sessions.update(sessionId, { lastUpdate: clock.now() });
    expect(await s.census.engine.checkStalled()).not.toContain(sessionId);
    expect((await byKey(key))[0]).toMatchObject({ id: stalled.id, status: 'CLEARED' });

    // Stalled again, then it ends (the server never answers: its deadline fails the task): the close clears it.
    clock.advance(65_000);
    await s.census.engine.checkStalled();
    const again = await openUnder(key);
    expect(again.id).not.toBe(stalled.id);
    const ended = await s.census.engine.waitForSession(sessionId, 30_000);
    expect(ended.status).toBe('FAILED');
    expect((await byKey(key))[0]).toMatchObject({ id: again.id, status: 'CLEARED' });
    expect((await s.req('DELETE', `/api/appserver/${hangId}`, { sid })).status).toBeLessThan(300);
  });

  it('leaves the delivery job alone: no session.ended, no session alert, no stalled check (loop guard)', async () => {
    const store = s.census.store;
    const now = clock.now();
    const delivery: JobSession = {
      id: now, jobId: DELIVERY_JOB_ID, jobName: 'Notification Delivery', type: 'census', subType: 'delivery', serviceId: DELIVERY_SERVICE,
      status: 'RUNNING', start: now - 10 * 3_600_000, end: null, lastUpdate: now - 10 * 3_600_000, numTasks: 0, percent: 0, results: '',
      trigger: 'notification', cancelRequested: false, statistics: [], scope: [],
    };
    const inserted = await store.sessions.insert(delivery);
    try {
      expect(await checkStalled({ store, clock })).not.toContain(inserted.id);
      expect(await openUnder(`session:${inserted.id}`)).toBeUndefined();
      const before = (await notifications('session.ended')).length;
      await store.transaction((r) => onSessionClosed(r, { ...inserted, status: 'FAILED', end: now }, now));
      expect((await notifications('session.ended')).length).toBe(before);
      expect(await openUnder(`job:${DELIVERY_JOB_ID}`)).toBeUndefined();
    } finally {
      await store.sessions.deleteMany([inserted.id]);
    }
  });

  it('counts alerts by kind and status in /metrics', async () => {
    const text = (await s.req('GET', '/metrics', { sid, headers: { Accept: 'text/plain' } })).text;
    expect(text).toContain('# TYPE census_alerts gauge');
    const tally = (await s.census.store.alerts.tally());
    const cleared = tally.find((t) => t.kind === 'session.failed' && t.status === 'CLEARED')!.n;
    expect(text).toContain(`census_alerts{kind="session.failed",status="CLEARED"} ${cleared}`);
    expect(text).toContain('census_alerts{kind="delivery.failed",status="ACTIVE"} 0');
  });

  it('lists and acknowledges alerts with census alert list|ack', async () => {
    const env = { CENSUS_URL: s.url, CENSUS_USER: 'admin', CENSUS_PASSWORD: ADMIN_PASSWORD, CENSUS_INSECURE: '1' };
    const active = await list([{ property: 'status', value: 'ACTIVE' }]);
    expect(active.length).toBeGreaterThan(0);
    const listed = await runCli(home, ['alert', 'list', '--json'], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as Alert[]).map((a) => a.id).sort()).toEqual(active.map((a) => a.id).sort());
    const table = await runCli(home, ['alert', 'list', '--status', 'all', '--kind', 'session.failed', '--since', '2h'], { env });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/session\.failed\s+CLEARED/);
    expect((await runCli(home, ['alert', 'list', '--status', 'maybe'], { env })).code).toBe(2);

    const target = active[0];
    const ack = await runCli(home, ['alert', 'ack', target.id, '99999999'], { env });
    expect(ack.code).toBe(1); // one of the two does not exist
    expect(ack.stdout).toContain(`Alert ${target.id} acknowledged`);
    expect(ack.stderr).toContain('99999999');
    expect((await get(`${ALERTS}/${target.id}`)).status).toBe('ACKNOWLEDGED');
    expect((await runCli(home, ['alert', 'ack'], { env })).code).toBe(2);
  }, 120_000);
});
