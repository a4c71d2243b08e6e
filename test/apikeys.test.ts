/**
 * API keys (issue 11, point 5): made by a user for themselves or by an admin, shown once, kept
 * hashed, usable as `Authorization: Bearer …` and in place of a session id, listed with their
 * last use, refused at once when revoked, expired, their owner disabled or the address not
 * allowed; a read-only key only reads. Against a real server (HTTPS, SQLite), with a clock the
 * test can move forward; the repository on SQLite and PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../src/core/clock.ts';
import { startTestServer, type Reply, type RequestOptions, type TestServer } from './support/server.ts';
import { DIALECTS, type TestStore } from './support/stores.ts';

const PASSWORD = 'Key-Owner-Pass-1';
const NEW_PASSWORD = 'Key-Owner-Pass-2';
const KEY = /^cns_[A-Za-z0-9_-]{43}$/;

/** Real time, moved forward by the test when it needs a key to expire or a minute to pass. */
class SkewClock implements Clock {
  skew = 0;
  now(): number {
    return Date.now() + this.skew;
  }
}

/** Every file under `dir`, read whole (the database, its WAL, anything else the server wrote). */
function everyFile(dir: string): Buffer[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? everyFile(p) : [readFileSync(p)];
  });
}

describe('API keys', () => {
  const clock = new SkewClock();
  let s: TestServer;
  let admin: string;
  /** Every answer's text, with what was asked, to check that no key leaks into one. */
  const answers: { what: string; text: string }[] = [];
  const keys: string[] = [];

  async function call(method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
    const r = await s.req(method, path, o);
    answers.push({ what: `${method} ${path}`, text: r.text });
    return r;
  }
  const bearer = (key: string): RequestOptions => ({ headers: { Authorization: `Bearer ${key}` } });

  /** Makes a key with `sid`; returns the 201's record and the key (kept for the leak checks). */
  async function makeKey(sid: string, body: Record<string, unknown>): Promise<{ key: string; id: string; json: any }> {
    const r = await s.req('POST', '/api/security/apikey', { sid, body });
    expect(r.status, r.text).toBe(201);
    expect(r.json.key).toMatch(KEY);
    keys.push(r.json.key);
    return { key: r.json.key, id: r.json.id, json: r.json };
  }

  /** A user holding `roleIds` on All Resources, logged in once (a new user sets their password). */
  async function makeUser(name: string, roleIds: number[]): Promise<{ id: string; sid: string }> {
    const made = await call('POST', '/api/security/user', { sid: admin, body: { name, password: PASSWORD, permissions: roleIds.length ? [{ resourcePoolId: 1000, roleIds }] : [] } });
    expect(made.status, made.text).toBe(201);
    const login = await call('POST', '/api/endeavour/session?changePassword=true', { auth: { user: name, password: PASSWORD }, body: { newPassword: NEW_PASSWORD } });
    expect(login.status, login.text).toBe(200);
    return { id: made.json.id, sid: login.json.sessionid };
  }

  beforeAll(async () => {
    s = await startTestServer({ clock });
    admin = await s.login();
  });
  afterAll(async () => s?.stop());

  it('is shown once, works as Bearer and as X-Endeavour-Sessionid, and is listed with its last use but never itself', async () => {
    const made = await makeKey(admin, { name: 'prometheus' });
    expect(made.json).toMatchObject({ name: 'prometheus', prefix: made.key.slice(0, 12), userName: 'admin', readOnly: false, allowedAddresses: [], lastUsedAt: null, status: 'ACTIVE' });
    // Ninety days unless told otherwise.
    expect(made.json.expiresAt - clock.now()).toBeGreaterThan(89 * 86_400_000);

    const asBearer = await call('GET', '/api/endeavour/job', bearer(made.key));
    expect(asBearer.status, asBearer.text).toBe(200);
    const asSession = await call('GET', '/api/endeavour/job', { sid: made.key });
    expect(asSession.status).toBe(200);

    const list = await call('GET', '/api/security/apikey', { sid: admin });
    expect(list.status).toBe(200);
    const listed = list.json.apiKeys.find((k: { id: string }) => k.id === made.id);
    expect(listed).toMatchObject({ name: 'prometheus', lastUsedFrom: '127.0.0.1', status: 'ACTIVE' });
    expect(listed.lastUsedAt).toBeGreaterThan(0);
    expect(listed).not.toHaveProperty('key');
    const one = await call('GET', `/api/security/apikey/${made.id}`, { sid: admin });
    expect(one.json).toMatchObject({ id: made.id, lastUsedAt: listed.lastUsedAt });
    expect(one.json).not.toHaveProperty('key');

    // The last use is written at most once a minute.
    await call('GET', '/api/endeavour/job', bearer(made.key));
    expect((await call('GET', `/api/security/apikey/${made.id}`, { sid: admin })).json.lastUsedAt).toBe(listed.lastUsedAt);
    clock.skew += 61_000;
    await call('GET', '/api/endeavour/job', bearer(made.key));
    expect((await call('GET', `/api/security/apikey/${made.id}`, { sid: admin })).json.lastUsedAt).toBeGreaterThanOrEqual(listed.lastUsedAt + 61_000);
  });

  it('is refused at once when revoked, with the same 401 as an unknown session', async () => {
    const unknownSession = await call('GET', '/api/endeavour/job', { sid: 'no-such-session' });
    expect(unknownSession.status).toBe(401);
    const { key, id } = await makeKey(admin, { name: 'script' });
    expect((await call('GET', '/api/endeavour/job', bearer(key))).status).toBe(200);
    expect((await call('DELETE', `/api/security/apikey/${id}`, { sid: admin })).status).toBe(204);
    for (const o of [bearer(key), { sid: key }]) {
      const r = await call('GET', '/api/endeavour/job', o);
      expect(r.status).toBe(401);
      expect(r.json).toEqual(unknownSession.json);
    }
    // A key that never existed, or a malformed one, answers the same.
    const forged = `cns_${'A'.repeat(43)}`;
    expect((await call('GET', '/api/endeavour/job', bearer(forged))).json).toEqual(unknownSession.json);
    expect((await call('GET', '/api/endeavour/job', bearer('cns_short'))).json).toEqual(unknownSession.json);
    // Still listed, revoked, with its last use; revoking again changes nothing.
    const got = await call('GET', `/api/security/apikey/${id}`, { sid: admin });
    expect(got.json).toMatchObject({ status: 'REVOKED', lastUsedFrom: '127.0.0.1' });
    expect(got.json.revokedAt).toBeGreaterThan(0);
    expect((await call('DELETE', `/api/security/apikey/${id}`, { sid: admin })).status).toBe(204);
    expect((await call('GET', `/api/security/apikey/${id}`, { sid: admin })).json.revokedAt).toBe(got.json.revokedAt);
  });

  it('expires: refused once its time has passed on the server clock; an expiry in the past is a 400', async () => {
    const past = await call('POST', '/api/security/apikey', { sid: admin, body: { name: 'late', expiresAt: clock.now() - 1000 } });
    expect(past.status).toBe(400);
    expect((await call('POST', '/api/security/apikey', { sid: admin, body: { name: 'bad', expiresAt: 'next tuesday' } })).status).toBe(400);
    const { key, id } = await makeKey(admin, { name: 'short-lived', expiresAt: new Date(clock.now() + 5 * 60_000).toISOString() });
    expect((await call('GET', '/api/endeavour/job', bearer(key))).status).toBe(200);
    clock.skew += 6 * 60_000;
    expect((await call('GET', '/api/endeavour/job', bearer(key))).status).toBe(401);
    admin = await s.login(); // the clock moved: start afresh rather than lean on the session's idle time
    expect((await call('GET', `/api/security/apikey/${id}`, { sid: admin })).json.status).toBe('EXPIRED');
  });

  it('read-only: reads, but cannot start a job or make keys', async () => {
    const { key } = await makeKey(admin, { name: 'ro', readOnly: true });
    expect((await call('GET', '/api/endeavour/job', bearer(key))).status).toBe(200);
    expect((await call('GET', '/api/security/user', bearer(key))).status).toBe(200);
    const start = await call('POST', '/api/endeavour/job/1004?action=start', bearer(key));
    expect(start.status).toBe(403);
    expect(start.json.id).toBe('XSBAccessDeniedException');
    expect((await call('POST', '/api/security/user', { ...bearer(key), body: { name: 'sneaky', password: PASSWORD } })).status).toBe(403);
    expect((await call('POST', '/api/security/apikey', { ...bearer(key), body: { name: 'more' } })).status).toBe(403);
  });

  it('allowed addresses: only from the listed addresses and ranges; bad entries are a 400', async () => {
    const here = await makeKey(admin, { name: 'here', allowedAddresses: ['127.0.0.1/32', '::1'] });
    expect(here.json.allowedAddresses).toEqual(['127.0.0.1/32', '::1']);
    expect((await call('GET', '/api/endeavour/job', bearer(here.key))).status).toBe(200);
    const elsewhere = await makeKey(admin, { name: 'elsewhere', allowedAddresses: ['10.0.0.0/8', 'fd00::/8'] });
    expect((await call('GET', '/api/endeavour/job', bearer(elsewhere.key))).status).toBe(401);
    expect((await call('GET', `/api/security/apikey/${elsewhere.id}`, { sid: admin })).json.lastUsedAt).toBeNull();
    for (const bad of ['10.0.0.0/33', 'example.com', '1.2.3.4/8/1', '::1/129']) {
      const r = await call('POST', '/api/security/apikey', { sid: admin, body: { name: 'x', allowedAddresses: [bad] } });
      expect(r.status, bad).toBe(400);
    }
  });

  it("a Monitor user manages their own keys only; an admin sees and revokes anyone's; the owner's permissions and state count", async () => {
    const monitor = await makeUser('monitor', [1002]);
    const adminKey = await makeKey(admin, { name: 'admin-only' });
    const own = await makeKey(monitor.sid, { name: 'sppmon' });
    expect(own.json).toMatchObject({ userId: monitor.id, userName: 'monitor', createdBy: monitor.id });

    const list = await call('GET', '/api/security/apikey', { sid: monitor.sid });
    expect(list.json.apiKeys.map((k: { name: string }) => k.name)).toEqual(['sppmon']);
    expect((await call('GET', `/api/security/apikey?userId=${adminKey.json.userId}`, { sid: monitor.sid })).json.apiKeys).toEqual([]);
    expect((await call('GET', `/api/security/apikey/${adminKey.id}`, { sid: monitor.sid })).status).toBe(404);
    expect((await call('DELETE', `/api/security/apikey/${adminKey.id}`, { sid: monitor.sid })).status).toBe(404);
    expect((await call('GET', '/api/endeavour/job', bearer(adminKey.key))).status).toBe(200);
    const forOther = await call('POST', '/api/security/apikey', { sid: monitor.sid, body: { name: 'theirs', userId: Number(adminKey.json.userId) } });
    expect(forOther.status).toBe(403);

    // The key acts with the Monitor role: reads jobs and metrics, starts nothing.
    expect((await call('GET', '/api/endeavour/job', bearer(own.key))).status).toBe(200);
    expect((await call('GET', '/metrics', { ...bearer(own.key), exactHeaders: true })).status).toBe(200);
    expect((await call('POST', '/api/endeavour/job/1004?action=start', bearer(own.key))).status).toBe(403);

    // An admin lists everyone's, or one user's, and makes keys for others.
    const all = (await call('GET', '/api/security/apikey', { sid: admin })).json.apiKeys.map((k: { name: string }) => k.name);
    expect(all).toEqual(expect.arrayContaining(['sppmon', 'admin-only']));
    expect((await call('GET', `/api/security/apikey?userId=${monitor.id}`, { sid: admin })).json.apiKeys.map((k: { name: string }) => k.name)).toEqual(['sppmon']);
    const given = await makeKey(admin, { name: 'given', userId: Number(monitor.id) });
    expect(given.json).toMatchObject({ userName: 'monitor', createdBy: adminKey.json.userId });

    // Demoted owner, demoted key.
    expect((await call('PUT', `/api/security/user/${monitor.id}`, { sid: admin, body: { permissions: [] } })).status).toBe(200);
    expect((await call('GET', '/api/endeavour/job', bearer(own.key))).status).toBe(403);
    expect((await call('PUT', `/api/security/user/${monitor.id}`, { sid: admin, body: { permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } })).status).toBe(200);
    expect((await call('GET', '/api/endeavour/job', bearer(own.key))).status).toBe(200);

    // A disabled owner's keys fail; enabled again, they work again.
    expect((await call('PUT', `/api/security/user/${monitor.id}`, { sid: admin, body: { accountDisabled: true } })).status).toBe(200);
    expect((await call('GET', '/api/endeavour/job', bearer(own.key))).status).toBe(401);
    expect((await call('PUT', `/api/security/user/${monitor.id}`, { sid: admin, body: { accountDisabled: false } })).status).toBe(200);
    expect((await call('GET', '/api/endeavour/job', bearer(own.key))).status).toBe(200);

    // An admin revokes the monitor's key; deleting the user removes the rest.
    expect((await call('DELETE', `/api/security/apikey/${own.id}`, { sid: admin })).status).toBe(204);
    expect((await call('GET', '/api/endeavour/job', bearer(own.key))).status).toBe(401);
    expect((await call('GET', '/api/endeavour/job', bearer(given.key))).status).toBe(200);
    expect((await call('DELETE', `/api/security/user/${monitor.id}`, { sid: admin })).status).toBe(204);
    expect((await call('GET', '/api/endeavour/job', bearer(given.key))).status).toBe(401);
    expect((await call('GET', `/api/security/apikey/${given.id}`, { sid: admin })).status).toBe(404);
  });

  it('an event stream opened with a key closes when the key is revoked', async () => {
    const { key, id } = await makeKey(admin, { name: 'stream' });
    const { closed } = await new Promise<{ closed: Promise<void> }>((resolve, reject) => {
      const req = https.request(new URL(`${s.url}/api/endeavour/events`), {
        rejectUnauthorized: false, headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' },
      }, (res) => {
        expect(res.statusCode).toBe(200);
        res.resume();
        // Wrapped: resolving with a promise itself would wait for the stream to close.
        resolve({ closed: new Promise<void>((done) => res.on('close', () => done())) });
      });
      req.on('error', reject);
      req.end();
    });
    expect((await call('DELETE', `/api/security/apikey/${id}`, { sid: admin })).status).toBe(204);
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream stayed open')), 10_000).unref())]);
  });

  it('a request with a key has no session to log out of: the key keeps working', async () => {
    const { key } = await makeKey(admin, { name: 'logout' });
    expect((await call('DELETE', '/api/endeavour/session', bearer(key))).status).toBe(204);
    expect((await call('GET', '/api/endeavour/job', bearer(key))).status).toBe(200);
  });

  it('never shows a key again: not in any answer but its creation, not in the database or any file (only its hash)', async () => {
    expect(keys.length).toBeGreaterThan(5);
    const leaks = answers.filter((a) => keys.some((k) => a.text.includes(k))).map((a) => a.what);
    expect(leaks).toEqual([]);
    const files = everyFile(s.dataDir);
    for (const key of keys) {
      expect(files.some((f) => f.includes(key))).toBe(false);
    }
    // What the database holds is the hash.
    const hashes = (await s.census.store.db.selectFrom('apiKeys').select('keyHash').execute()).map((r) => r.keyHash);
    expect(hashes).toContain(createHash('sha256').update(keys[0]!).digest('hex'));
  });
});

describe.each(DIALECTS)('the API key repository on %s', (_name, open) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.store.db.deleteFrom('apiKeys').execute();
  });
  afterAll(async () => t?.cleanup());

  it('finds a key by its clear value, records use and revocation, and drops the keys of a deleted user', async () => {
    const u = await t.store.users.create('owner', 'x', 1000);
    const key = `cns_${'b'.repeat(43)}`;
    const made = await t.store.apiKeys.create({
      userId: u.id, name: 'k', key, prefix: 'bbbbbbbb', createdAt: 1000, createdBy: u.id, expiresAt: 5000, readOnly: true, allowedAddresses: ['10.0.0.0/8'],
    });
    expect(made).toMatchObject({ userName: 'owner', readOnly: true, allowedAddresses: ['10.0.0.0/8'], lastUsedAt: null, revokedAt: null });
    expect(await t.store.apiKeys.byKey(key)).toMatchObject({ id: made.id, userDisabled: false });
    expect(await t.store.apiKeys.byKey(`cns_${'c'.repeat(43)}`)).toBeUndefined();
    await t.store.apiKeys.touch(made.id, 2000, '10.1.2.3');
    await t.store.apiKeys.revoke(made.id, 3000);
    await t.store.apiKeys.revoke(made.id, 4000);
    expect(await t.store.apiKeys.get(made.id)).toMatchObject({ lastUsedAt: 2000, lastUsedFrom: '10.1.2.3', revokedAt: 3000 });
    expect((await t.store.apiKeys.list(u.id)).map((k) => k.id)).toEqual([made.id]);
    await t.store.users.delete(u.id);
    expect(await t.store.apiKeys.list()).toEqual([]);
  });
});
