/**
 * Every route is checked: each operation of the served OpenAPI document declares what it needs
 * (`x-permission`), and is called as a user of each built-in role and as a user with no role. A
 * user whose roles lack the permission gets exactly 403 XSBAccessDeniedException; one who holds
 * it never gets 403 (nor 401 or 5xx). The operations come from the document, so a route added
 * later is walked without editing this file. Then resource groups: what a user does not hold does
 * not exist for them.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUILT_IN_ROLES, type Permission } from '../../src/core/permissions.ts';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from '../support/pg-auth-cluster.ts';
import { runInventory, startTestServer, type TestServer } from '../support/server.ts';

type Need = Permission | 'session' | { action: Record<string, Permission | 'session'> };
interface Operation { method: string; path: string; need: Need | undefined; public: boolean }

const PASSWORD = 'Walk-The-Routes-1';
const NEW_PASSWORD = 'Walked-The-Routes-2';

/** A concrete URL for a documented path: ids that name nothing (a holder gets 400/404, never a change). */
const concrete = (path: string) => path
  .replace('{type}', 'postgresql')
  .replace('{logId}', 'ffffffffffffffffffffffff')
  .replace(/\{[A-Za-z]+\}/g, '999999');

describe('every route declares its permission and is checked against it', () => {
  let s: TestServer;
  let admin: string;
  let operations: Operation[] = [];
  /** Session ids by user: one per built-in role on All Resources, and one with no role. */
  const sessions = new Map<string, { sid: string; holds: ReadonlySet<string> }>();

  /** Makes a user holding `sets`, who logs in once (setting their own password, as a new user must). */
  async function makeUser(name: string, sets: { resourcePoolId: number; roleIds: number[] }[]): Promise<string> {
    const made = await s.req('POST', '/api/security/user', { sid: admin, body: { name, password: PASSWORD, permissions: sets } });
    expect(made.status, made.text).toBe(201);
    expect(made.json.passwordExpired).toBe(true);
    // Without setting a new password first, the login is refused.
    const refused = await s.req('POST', '/api/endeavour/session', { auth: { user: name, password: PASSWORD } });
    expect(refused.status).toBe(401);
    expect(refused.json.description).toMatch(/expired/);
    const login = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: name, password: PASSWORD }, body: { newPassword: NEW_PASSWORD } });
    expect(login.status, login.text).toBe(200);
    expect(login.json.user.passwordExpired).toBe(false);
    return login.json.sessionid as string;
  }

  beforeAll(async () => {
    s = await startTestServer();
    admin = await s.login();
    for (const role of BUILT_IN_ROLES) {
      sessions.set(role.name, { sid: await makeUser(`role-${role.id}`, [{ resourcePoolId: 1000, roleIds: [role.id] }]), holds: new Set(role.permissionIds) });
    }
    sessions.set('no role', { sid: await makeUser('no-role', []), holds: new Set() });
    const doc = (await s.req('GET', '/api/openapi.json', { exactHeaders: true })).json as {
      paths: Record<string, Record<string, { security?: unknown[]; 'x-permission'?: Need }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(), path, need: op['x-permission'], public: Array.isArray(op.security) && !op.security.some((r) => 'sessionid' in (r as object)),
    })));
  });
  afterAll(async () => s?.stop());

  it('finds every operation, and every one that needs a session names what it needs', () => {
    expect(operations.length).toBeGreaterThan(60);
    const unnamed = operations.filter((o) => !o.public && o.need === undefined).map((o) => `${o.method} ${o.path}`);
    expect(unnamed).toEqual([]);
    // Logging out is any user's own business.
    expect(operations.find((o) => o.method === 'DELETE' && o.path === '/api/endeavour/session')?.need).toBe('session');
  });

  /** Answers without reading an endless body (the event stream): the status and, if JSON, the body. */
  function call(method: string, path: string, sid: string): Promise<{ status: number; json: any }> {
    const url = new URL(s.url + path);
    return new Promise((resolve, reject) => {
      const req = https.request(url, {
        method, rejectUnauthorized: false,
        headers: { 'X-Endeavour-Sessionid': sid, Accept: 'application/json', 'Content-Type': 'application/json' },
      }, (res) => {
        if (/event-stream/.test(String(res.headers['content-type']))) {
          resolve({ status: res.statusCode ?? 0, json: undefined });
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: any;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.on('error', reject);
      req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      if (method !== 'GET' && method !== 'DELETE' && method !== 'OPTIONS') req.write('{}');
      req.end();
    });
  }

  it('answers each role exactly what its permissions say, on every operation and action', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const op of operations) {
      if (op.public || op.need === undefined) continue;
      if (op.method === 'DELETE' && op.path === '/api/endeavour/session') continue; // would end the walk's own sessions
      const cases: { url: string; need: Permission | 'session' }[] = typeof op.need === 'object'
        ? Object.entries(op.need.action).map(([action, need]) => ({ url: `${concrete(op.path)}?action=${action}`, need }))
        : [{ url: concrete(op.path), need: op.need }];
      for (const c of cases) {
        for (const [who, { sid, holds }] of sessions) {
          const r = await call(op.method, c.url, sid);
          checked++;
          const held = c.need === 'session' || holds.has(c.need);
          const ok = held
            ? r.status !== 401 && r.status < 500 && !(r.status === 403 && c.need !== 'session')
            : r.status === 403 && (r.json?.id === 'XSBAccessDeniedException' || r.json?.response?.id === 'XSBAccessDeniedException');
          if (!ok) wrong.push(`${who}: ${op.method} ${c.url} (${c.need}) → ${r.status} ${JSON.stringify(r.json)?.slice(0, 120)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  });

  it('a user with no role can still log out, and nothing else changed', async () => {
    const { sid } = sessions.get('no role')!;
    expect((await s.req('DELETE', '/api/endeavour/session', { sid })).status).toBe(204);
    // The walk created, deleted and started nothing.
    expect((await s.req('GET', '/api/appserver', { sid: admin })).json.total).toBe(0);
    expect((await s.req('GET', '/api/security/user', { sid: admin })).json.total).toBe(BUILT_IN_ROLES.length + 2);
  });
});

describe('resource groups: what a user does not hold does not exist for them', () => {
  let s: TestServer;
  let admin: string;
  const port = inject('pgAuthPort');

  beforeAll(async () => {
    s = await startTestServer();
    admin = await s.login();
  });
  afterAll(async () => s?.stop());

  it('lists, gets, tasks, log entries and inventory are limited to the groups held; the inventory runs only there', async () => {
    const ident = (await s.req('POST', '/api/identity/user', { sid: admin, body: { username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } })).json;
    const reg = async (name: string, host: string) => (await s.req('POST', '/api/appserver', {
      sid: admin, body: { name, hostAddress: host, portNumber: port, applicationType: 'postgresql', osuser: { href: ident.links.self.href } },
    })).json.id as string;
    const mine = await reg('mine', '127.0.0.1');
    const theirs = await reg('theirs', 'localhost');
    const group = await s.req('POST', '/api/security/resourcepool', { sid: admin, body: { name: 'team A', resources: [{ href: `${s.url}/api/appserver/${mine}` }] } });
    expect(group.status, group.text).toBe(201);
    expect(group.json.resources).toEqual([expect.objectContaining({ id: mine, name: 'mine', type: 'appserver' })]);
    await s.req('POST', '/api/security/user', {
      sid: admin, body: { name: 'operator', password: PASSWORD, permissions: [{ resourcePoolId: Number(group.json.id), roleIds: [1003] }] },
    });
    const op = (await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'operator', password: PASSWORD }, body: { newPassword: NEW_PASSWORD } })).json.sessionid as string;

    // Lists and direct reads.
    const list = await s.req('GET', '/api/appserver', { sid: op });
    expect(list.json.appservers.map((a: { name: string }) => a.name)).toEqual(['mine']);
    expect(list.json.total).toBe(1);
    expect((await s.req('GET', `/api/appserver/${mine}`, { sid: op })).status).toBe(200);
    const hidden = await s.req('GET', `/api/appserver/${theirs}`, { sid: op });
    expect(hidden.status).toBe(404);
    expect(hidden.json.id).toBe('XSBObjectNotFoundException');
    // Seeing a server is not changing it: the role has no appserver.edit at all.
    expect((await s.req('PUT', `/api/appserver/${mine}`, { sid: op, body: { name: 'x' } })).status).toBe(403);
    expect((await s.req('GET', '/api/identity/user', { sid: op })).status).toBe(403);

    // The inventory as the operator covers their server only.
    const started = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid: op });
    expect(started.status).toBe(200);
    const own = started.json.lastrun.sessionId as string;
    const session = await waitEnded(s, admin, own);
    expect(session.status).toBe('COMPLETED');
    const ownTasks = (await s.req('GET', `/api/endeavour/jobsession/${own}/task`, { sid: admin })).json.tasks as { name: string }[];
    expect(ownTasks.map((t) => t.name)).toEqual(['mine']);

    // An admin's inventory covers both; the operator sees only their server's tasks, log entries and instances.
    const all = await runInventory(s, admin);
    const tasks = async (sid: string) => ((await s.req('GET', `/api/endeavour/jobsession/${all.id}/task`, { sid })).json.tasks as { name: string }[]).map((t) => t.name).sort();
    expect(await tasks(admin)).toEqual(['mine', 'theirs']);
    expect(await tasks(op)).toEqual(['mine']);
    const logs = async (sid: string) => JSON.stringify((await s.req('GET', `/api/endeavour/log/job?pageSize=1000&filter=${encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: all.id }]))}`, { sid })).json.logs);
    expect(await logs(admin)).toContain('theirs');
    const opLogs = await logs(op);
    expect(opLogs).toContain('mine');
    expect(opLogs).not.toContain('theirs');
    const instances = async (sid: string) => ((await s.req('GET', '/api/application/postgresql/instance', { sid })).json.instances as { appserverId?: string; links: unknown }[]).length;
    expect(await instances(admin)).toBe(2);
    expect(await instances(op)).toBe(1);
  });

  it('keeps one enabled user who can manage users: the last one cannot be deleted, disabled or demoted', async () => {
    const me = (await s.req('GET', '/api/security/user', { sid: admin })).json.users.find((u: { name: string }) => u.name === 'admin');
    for (const body of [{ accountDisabled: true }, { permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] }]) {
      const r = await s.req('PUT', `/api/security/user/${me.id}`, { sid: admin, body });
      expect(r.status, r.text).toBe(400);
      expect(r.json.id).toBe('XSBOperationNotAllowedException');
    }
    expect((await s.req('DELETE', `/api/security/user/${me.id}`, { sid: admin })).status).toBe(400);
    // Built-in roles and All Resources cannot change.
    expect((await s.req('PUT', '/api/security/role/1000', { sid: admin, body: { permissionIds: [] } })).status).toBe(400);
    expect((await s.req('DELETE', '/api/security/resourcepool/1000', { sid: admin })).status).toBe(400);
    // With a second administrator, the first can be demoted.
    const second = await s.req('POST', '/api/security/user', { sid: admin, body: { name: 'admin2', password: PASSWORD, permissions: [{ resourcePoolId: 1000, roleIds: [1000] }] } });
    expect(second.status).toBe(201);
    const demoted = await s.req('PUT', `/api/security/user/${me.id}`, { sid: admin, body: { permissions: [{ resourcePoolId: 1000, roleIds: [1000, 1002] }] } });
    expect(demoted.status, demoted.text).toBe(200);
  });

  it('a disabled user cannot log in and loses their sessions', async () => {
    const made = await s.req('POST', '/api/security/user', { sid: admin, body: { name: 'leaver', password: PASSWORD, permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
    const sid = (await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'leaver', password: PASSWORD }, body: { newPassword: NEW_PASSWORD } })).json.sessionid as string;
    expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(200);
    expect((await s.req('PUT', `/api/security/user/${made.json.id}`, { sid: admin, body: { accountDisabled: true } })).status).toBe(200);
    expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(401);
    const again = await s.req('POST', '/api/endeavour/session', { auth: { user: 'leaver', password: NEW_PASSWORD } });
    expect(again.status).toBe(401);
    expect(again.json.description).toMatch(/disabled/);
    // A wrong password learns nothing about the account.
    const guess = await s.req('POST', '/api/endeavour/session', { auth: { user: 'leaver', password: 'not-it-at-all' } });
    expect(guess.json.description).not.toMatch(/disabled/);
  });

  it('changes a password with the old one, ends the other sessions, and refuses a wrong old one', async () => {
    const made = await s.req('POST', '/api/security/user', { sid: admin, body: { name: 'changer', password: PASSWORD, permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
    const first = (await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'changer', password: PASSWORD }, body: { newPassword: NEW_PASSWORD } })).json.sessionid as string;
    const second = (await s.req('POST', '/api/endeavour/session', { auth: { user: 'changer', password: NEW_PASSWORD } })).json.sessionid as string;
    const wrong = await s.req('POST', `/api/security/user/${made.json.id}?action=changePassword`, { sid: first, body: { oldPassword: 'nope-nope-nope', newPassword: 'Third-Pass-33' } });
    expect(wrong.status).toBe(400);
    const ok = await s.req('POST', `/api/security/user/${made.json.id}?action=changePassword`, { sid: first, body: { oldPassword: NEW_PASSWORD, newPassword: 'Third-Pass-33' } });
    expect(ok.status, ok.text).toBe(204);
    expect((await s.req('GET', '/api/endeavour/job', { sid: first })).status).toBe(200);
    expect((await s.req('GET', '/api/endeavour/job', { sid: second })).status).toBe(401);
    // Someone else's password needs user.edit: a Monitor cannot change the admin's.
    const other = await s.req('POST', '/api/security/user/1000?action=changePassword', { sid: first, body: { oldPassword: 'x-x-x-x-x', newPassword: 'Fourth-Pass-44' } });
    expect(other.status).toBe(403);
  });
});

async function waitEnded(s: TestServer, sid: string, id: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await s.req('GET', `/api/endeavour/jobsession/${id}`, { sid });
    if (r.json.status !== 'RUNNING') return r.json;
    if (Date.now() > deadline) throw new Error(`session ${id} did not end`);
    await new Promise((done) => setTimeout(done, 25));
  }
}
