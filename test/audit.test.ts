/**
 * The audit log (issue 11 point 6): logins, logouts, and every change, with who, when, from
 * where, what and how it ended; listed and downloaded as CSV by whoever holds log.view; kept for
 * the maintenance job's retention; never holding a secret. Against a real Census (SQLite) and its
 * store on both dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvRecords } from '../src/core/csv.ts';
import { MAINTENANCE_JOB_ID } from '../src/engine/system-jobs.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { DIALECTS } from './support/stores.ts';

const USER_PASSWORD = 'Audit-First-Pass-1';
const USER_NEW_PASSWORD = 'Audit-Second-Pass-2';
const CHANGED_PASSWORD = 'Audit-Third-Pass-3';
const IDENTITY_SECRET = 'Identity-Secret-Value-9';
const WRONG_PASSWORD = 'Not-The-Password-7';
const SECRETS = [ADMIN_PASSWORD, USER_PASSWORD, USER_NEW_PASSWORD, CHANGED_PASSWORD, IDENTITY_SECRET, WRONG_PASSWORD];

interface Wire {
  id: string; accessTime: number; user: string; userId: string | null; userIp: string | null; action: string;
  targetType: string | null; targetId: string | null; target: string | null; outcome: string; detail: Record<string, unknown> | null; description: string;
}

describe('the audit log', () => {
  let s: TestServer;
  let admin: string;
  let monitor: string;
  let entries: Wire[] = [];

  const all = async (sid = admin): Promise<Wire[]> => {
    const r = await s.req('GET', '/api/endeavour/log/audit?pageSize=10000', { sid });
    expect(r.status, r.text).toBe(200);
    return r.json.logs as Wire[];
  };
  const find = (action: string, outcome = 'success', more: Partial<Wire> = {}) =>
    entries.filter((e) => e.action === action && e.outcome === outcome && Object.entries(more).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v));

  /** A user holding `roleIds` on All Resources, logged in once with their own new password. */
  async function makeUser(name: string, roleIds: number[]): Promise<{ id: string; sid: string }> {
    const made = await s.req('POST', '/api/security/user', { sid: admin, body: { name, password: USER_PASSWORD, permissions: [{ resourcePoolId: 1000, roleIds }] } });
    expect(made.status, made.text).toBe(201);
    const login = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: name, password: USER_PASSWORD }, body: { newPassword: USER_NEW_PASSWORD } });
    expect(login.status, login.text).toBe(200);
    return { id: made.json.id as string, sid: login.json.sessionid as string };
  }

  beforeAll(async () => {
    s = await startTestServer();
    // A failed login first, then the admin's.
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: WRONG_PASSWORD } })).status).toBe(401);
    admin = await s.login();

    // Users and roles.
    const operator = await makeUser('audit-operator', [1003]);
    monitor = (await makeUser('audit-monitor', [1002])).sid;
    const role = await s.req('POST', '/api/security/role', { sid: admin, body: { name: 'Auditors', permissionIds: ['log.view'] } });
    expect(role.status, role.text).toBe(201);
    expect((await s.req('PUT', `/api/security/role/${role.json.id}`, { sid: admin, body: { permissionIds: ['log.view', 'policy.view'] } })).status).toBe(200);
    // A user's own password change.
    const own = await s.req('POST', `/api/security/user/${operator.id}?action=changePassword`, { sid: operator.sid, body: { oldPassword: USER_NEW_PASSWORD, newPassword: CHANGED_PASSWORD } });
    expect(own.status, own.text).toBeLessThan(300);
    // A refused user creation (password too short).
    expect((await s.req('POST', '/api/security/user', { sid: admin, body: { name: 'too-short', password: 'short', permissions: [] } })).status).toBe(400);
    // And one refused by the route's schema, before any use case ran.
    expect((await s.req('POST', '/api/security/role', { sid: admin, body: { name: 'Bad', permissionIds: 'log.view' } })).status).toBe(400);

    // Identities and an application server: registered, changed, unregistered.
    const identity = await s.req('POST', '/api/identity/user', { sid: admin, body: { name: 'audit login', username: 'postgres', password: IDENTITY_SECRET } });
    expect(identity.status, identity.text).toBe(201);
    const spare = await s.req('POST', '/api/identity/user', { sid: admin, body: { name: 'audit spare', username: 'nobody', password: IDENTITY_SECRET } });
    expect((await s.req('DELETE', `/api/identity/user/${spare.json.id}`, { sid: admin })).status).toBe(204);
    const server = await s.req('POST', '/api/appserver', {
      sid: admin,
      body: { name: 'audit-pg', hostAddress: '127.0.0.1', portNumber: 5432, applicationType: 'postgresql', addToCatJob: true, osuser: { href: `${s.url}/api/identity/user/${identity.json.id}` } },
    });
    expect(server.status, server.text).toBe(201);
    const changed = await s.req('PUT', `/api/appserver/${server.json.id}`, { sid: admin, body: { name: 'audit-pg-renamed', comment: 'moved' } });
    expect(changed.status, changed.text).toBe(200);
    // The registration's inventory ends before the server goes.
    await waitFor(async () => ((await s.req('GET', '/api/endeavour/job/1004', { sid: admin })).json.status === 'IDLE' ? true : undefined), 'the inventory to end');
    expect((await s.req('DELETE', `/api/appserver/${server.json.id}`, { sid: admin })).status).toBe(204);

    // The job: started, held, released, its trigger changed.
    expect((await s.req('POST', '/api/endeavour/job/1004?action=start', { sid: admin, body: {} })).status).toBeLessThan(300);
    expect((await s.req('POST', '/api/endeavour/job/1004?action=hold', { sid: admin, body: {} })).status).toBeLessThan(300);
    expect((await s.req('POST', '/api/endeavour/job/1004?action=release', { sid: admin, body: {} })).status).toBeLessThan(300);
    expect((await s.req('PUT', '/api/endeavour/job/1004/trigger', { sid: admin, body: { time: '03:30', timezone: 'Europe/Berlin' } })).status).toBe(200);

    // A Monitor user tries a change: 403 before any use case runs.
    const refused = await s.req('POST', '/api/appserver', { sid: monitor, body: { name: 'nope', hostAddress: '127.0.0.2', applicationType: 'postgresql' } });
    expect(refused.status).toBe(403);

    // The operator logs out.
    expect((await s.req('DELETE', '/api/endeavour/session', { sid: operator.sid })).status).toBe(204);
    entries = await all();
  }, 60_000);
  afterAll(async () => s?.stop());

  it('records logins, failed ones too, with the source address', () => {
    const failed = find('login', 'failure', { user: 'admin' });
    expect(failed).toHaveLength(1);
    expect(failed[0]!.userIp).toMatch(/127\.0\.0\.1/);
    expect(failed[0]!.detail).toMatchObject({ code: 'auth.failed' });
    const ok = find('login', 'success', { user: 'admin' });
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok[0]!.userIp).toMatch(/127\.0\.0\.1/);
    expect(ok[0]!.userId).toMatch(/^\d+$/);
    // A new user's first login is recorded, with the password it must change.
    expect(find('login', 'success', { user: 'audit-monitor' }).some((e) => e.detail?.passwordExpired === true)).toBe(true);
  });

  it('records logouts and password changes', () => {
    const out = find('logout', 'success', { user: 'audit-operator' });
    expect(out.some((e) => /127\.0\.0\.1/.test(e.userIp ?? ''))).toBe(true);
    // The first-login change and the user's own change later.
    const changes = find('user.password', 'success', { target: 'audit-operator' });
    expect(changes).toHaveLength(2);
    expect(changes.every((e) => e.user === 'audit-operator' && e.userIp !== null)).toBe(true);
  });

  it('records user and role changes, and refused ones', () => {
    const made = find('user.create', 'success', { target: 'audit-monitor', user: 'admin' });
    expect(made).toHaveLength(1);
    expect(made[0]!.targetType).toBe('user');
    expect(made[0]!.targetId).toMatch(/^\d+$/);
    const refused = find('user.create', 'failure', { target: 'too-short' });
    expect(refused).toHaveLength(1);
    expect(refused[0]!.detail).toMatchObject({ code: 'user.password-length' });
    expect(find('role.create', 'success', { target: 'Auditors' })).toHaveLength(1);
    // Each refusal once: by the use case, or by the API when none ran.
    const adminFailures = entries.filter((e) => e.user === 'admin' && e.outcome === 'failure' && e.action !== 'login');
    expect(adminFailures.map((e) => `${e.action} ${e.target}`)).toEqual(['user.create too-short', 'request POST /api/security/role']);
    expect(adminFailures[1]!.detail).toMatchObject({ status: 400, id: 'XSBInvalidArgumentException' });
    const changed = find('role.update', 'success', { target: 'Auditors' });
    expect(changed).toHaveLength(1);
    expect(changed[0]!.detail).toMatchObject({ fields: ['permissionIds'], permissionIds: ['log.view', 'policy.view'] });
  });

  it('records identities and application servers: create, register, update, unregister', () => {
    expect(find('identity.create', 'success', { target: 'audit login' })).toHaveLength(1);
    expect(find('identity.delete', 'success', { target: 'audit spare' })).toHaveLength(1);
    const reg = find('appserver.register', 'success', { target: 'audit-pg' });
    expect(reg).toHaveLength(1);
    expect(reg[0]!.detail).toMatchObject({ hostAddress: '127.0.0.1', applicationType: 'postgresql' });
    const upd = find('appserver.update', 'success', { targetId: reg[0]!.targetId });
    expect(upd).toHaveLength(1);
    expect(upd[0]!.detail).toMatchObject({ fields: ['comment', 'name'] });
    const gone = find('appserver.unregister', 'success', { targetId: reg[0]!.targetId });
    expect(gone).toHaveLength(1);
    expect(gone[0]!.target).toBe('audit-pg-renamed');
    // The registration's own inventory is a job start too.
    expect(find('job.start', 'success', { targetId: '1004' }).some((e) => e.detail?.trigger === 'registration')).toBe(true);
  });

  it('records job starts, holds, releases and trigger changes', () => {
    const starts = find('job.start', 'success', { targetId: '1004', user: 'admin' }).filter((e) => e.detail?.trigger === 'manual');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.target).toBe('Application Server Inventory');
    expect(find('job.hold', 'success', { targetId: '1004' })).toHaveLength(1);
    expect(find('job.release', 'success', { targetId: '1004' })).toHaveLength(1);
    const trigger = find('job.trigger', 'success', { targetId: '1004' });
    expect(trigger).toHaveLength(1);
    expect(trigger[0]!.detail).toMatchObject({ time: '03:30', timezone: 'Europe/Berlin' });
  });

  it("records a Monitor user's refused change as a failure, once", () => {
    const refused = entries.filter((e) => e.user === 'audit-monitor' && e.outcome === 'failure');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ action: 'request', targetType: 'route', target: 'POST /api/appserver' });
    expect(refused[0]!.detail).toMatchObject({ status: 403, id: 'XSBAccessDeniedException', code: 'permission.missing' });
    expect(refused[0]!.userIp).toMatch(/127\.0\.0\.1/);
  });

  it('is closed to a user without log.view, and has no way to change it', async () => {
    const r = await s.req('GET', '/api/endeavour/log/audit', { sid: monitor });
    expect(r.status).toBe(403);
    expect(r.json.id).toBe('XSBAccessDeniedException');
    expect((await s.req('GET', '/api/endeavour/log/audit/download/csv', { sid: monitor })).status).toBe(403);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const w = await s.req(method, '/api/endeavour/log/audit', { sid: admin, ...(method === 'DELETE' ? {} : { body: {} }) });
      expect(w.status, `${method}: ${w.text}`).toBe(404);
    }
    const doc = (await s.req('GET', '/api/openapi.json', { sid: admin })).json as { paths: Record<string, Record<string, { 'x-permission'?: string }>> };
    expect(Object.keys(doc.paths['/api/endeavour/log/audit'] ?? {})).toEqual(['get']);
    expect(doc.paths['/api/endeavour/log/audit']!.get!['x-permission']).toBe('log.view');
  });

  it('filters, sorts and pages like the other logs', async () => {
    const failures = await s.req('GET', `/api/endeavour/log/audit?filter=${encodeURIComponent(JSON.stringify([{ property: 'outcome', value: 'failure' }]))}`, { sid: admin });
    expect(failures.json.logs.every((e: Wire) => e.outcome === 'failure')).toBe(true);
    expect(failures.json.total).toBe(entries.filter((e) => e.outcome === 'failure').length);
    const newest = await s.req('GET', `/api/endeavour/log/audit?pageSize=2&sort=${encodeURIComponent(JSON.stringify([{ property: 'accessTime', direction: 'DESC' }]))}`, { sid: admin });
    expect(newest.json.logs).toHaveLength(2);
    expect(newest.json.logs[0].accessTime).toBeGreaterThanOrEqual(newest.json.logs[1].accessTime);
    expect(newest.json.links.nextPage).toBeDefined();
    const mine = await s.req('GET', `/api/endeavour/log/audit?filter=${encodeURIComponent(JSON.stringify([{ property: 'user', value: 'audit-*' }, { property: 'action', value: 'logout' }]))}`, { sid: admin });
    expect(mine.json.logs.map((e: Wire) => e.user)).toEqual(['audit-operator']);
    expect((await s.req('GET', '/api/endeavour/log/audit?filter=nope', { sid: admin })).status).toBe(400);
  });

  it('downloads as CSV, with the session as ?esessionid= (sppclient), matching the JSON', async () => {
    const since = entries[3]!.accessTime;
    const filter = encodeURIComponent(JSON.stringify([{ property: 'accessTime', value: since, op: '>=' }]));
    const csv = await s.req('GET', `/api/endeavour/log/audit/download/csv?esessionid=${admin}&filter=${filter}`, { exactHeaders: true });
    expect(csv.status, csv.text).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="census-audit-\d{8}T\d{6}\.csv"$/);
    const json = await s.req('GET', `/api/endeavour/log/audit?pageSize=10000&filter=${filter}`, { sid: admin });
    const rows = csvRecords(csv.text);
    expect(rows.length).toBe(json.json.total);
    expect(rows.length).toBeGreaterThan(10);
    json.json.logs.forEach((e: Wire, i: number) => {
      const row = rows[i]!;
      expect(row.id).toBe(e.id);
      expect(Number(row.accessTime)).toBe(e.accessTime);
      expect(row.time).toBe(new Date(e.accessTime).toISOString());
      expect(row.user).toBe(e.user);
      expect(row.action).toBe(e.action);
      expect(row.outcome).toBe(e.outcome);
      expect(row.target ?? null).toBe(e.target);
      expect(row.description).toBe(e.description);
      expect(row.detail ? JSON.parse(row.detail) : null).toEqual(e.detail);
    });
    // Only on the download: elsewhere ?esessionid= is no session.
    expect((await s.req('GET', `/api/endeavour/log/audit?esessionid=${admin}`, { exactHeaders: true })).status).toBe(401);
  });

  it('holds no secret, on the wire or in the database', async () => {
    const rows = await s.census.store.db.selectFrom('auditLog').selectAll().execute();
    expect(rows.length).toBe(entries.length);
    const text = JSON.stringify(rows) + JSON.stringify(entries);
    for (const secret of [...SECRETS, admin, monitor]) expect(text).not.toContain(secret);
  });

  it('keeps entries for the maintenance job\'s auditRetentionDays', async () => {
    const now = Date.now();
    const day = 86_400_000;
    const base = { userId: null, userName: 'old', address: null, targetType: null, targetId: null, targetName: null, outcome: 'success' as const, detail: null };
    await s.census.store.audit.add({ ...base, at: now - 400 * day, action: 'ancient' });
    await s.census.store.audit.add({ ...base, at: now - 40 * day, action: 'older' });
    const job = await s.census.store.jobs.get(MAINTENANCE_JOB_ID);
    const runMaintenance = async () => {
      const start = await s.req('POST', `/api/endeavour/job/${MAINTENANCE_JOB_ID}?action=start`, { sid: admin, body: {} });
      const id = start.json.lastrun.sessionId as string;
      await waitFor(async () => ((await s.req('GET', `/api/endeavour/jobsession/${id}`, { sid: admin })).json.status === 'RUNNING' ? undefined : true), 'maintenance to end');
    };
    // The default, a year: only the 400-day-old entry goes.
    await runMaintenance();
    let actions = (await all()).map((e) => e.action);
    expect(actions).not.toContain('ancient');
    expect(actions).toContain('older');
    // 30 days: the 40-day-old one goes too; this test's entries stay.
    await s.census.store.jobs.setOptions(MAINTENANCE_JOB_ID, { ...job!.options, auditRetentionDays: 30 });
    await runMaintenance();
    actions = (await all()).map((e) => e.action);
    expect(actions).not.toContain('older');
    expect(actions).toContain('appserver.register');
    expect(actions.filter((a) => a === 'job.start').length).toBeGreaterThan(2);
  });
});

describe.each(DIALECTS)('the audit repository on %s', (_name, open) => {
  it('adds, lists with filters and scope, and deletes by age', async () => {
    const t = await open();
    try {
      const base = { userId: 1, userName: 'admin', address: '10.0.0.1', targetName: null, outcome: 'success' as const, detail: { fields: ['name'] } };
      await t.store.audit.add({ ...base, at: 1_000, action: 'appserver.update', targetType: 'appserver', targetId: '7' });
      await t.store.audit.add({ ...base, at: 2_000, action: 'appserver.update', targetType: 'appserver', targetId: '8' });
      await t.store.audit.add({ ...base, at: 3_000, action: 'login', targetType: null, targetId: null, outcome: 'failure', detail: null });
      const everything = await t.store.audit.list({ where: [], order: [], limit: 10, offset: 0 });
      expect(everything.total).toBe(3);
      expect(everything.items[0]).toMatchObject({ at: 1_000, userId: 1, address: '10.0.0.1', detail: { fields: ['name'] } });
      // Limited to server 7: server 8's entry does not exist for the reader; entries about no server stay.
      const scoped = await t.store.audit.list({ where: [], order: [], limit: 10, offset: 0 }, new Set([7]));
      expect(scoped.items.map((e) => e.targetId)).toEqual(['7', null]);
      expect((await t.store.audit.list({ where: [], order: [], limit: 10, offset: 0 }, new Set())).items.map((e) => e.action)).toEqual(['login']);
      expect(await t.store.audit.deleteBefore(2_500)).toBe(2);
      expect((await t.store.audit.list({ where: [], order: [], limit: 10, offset: 0 })).items.map((e) => e.action)).toEqual(['login']);
    } finally {
      await t.cleanup();
    }
  });
});
