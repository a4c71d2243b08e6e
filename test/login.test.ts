/** Login sessions over HTTPS with a fake clock: sliding 45-minute idle timeout, logout, hashed passwords. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/core/clock.ts';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './support/server.ts';

const MIN = 60_000;

describe('login sessions', () => {
  let s: TestServer;
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0));

  beforeAll(async () => {
    s = await startTestServer({ clock });
  });
  afterAll(async () => s?.stop());

  it('keeps a session alive while it is used and expires it after 45 idle minutes', async () => {
    const sid = await s.login();
    expect(sid).toMatch(/^[0-9a-f]{32}$/);
    for (let i = 0; i < 3; i++) {
      clock.advance(44 * MIN);
      expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(200);
    }
    clock.advance(45 * MIN + 1);
    const r = await s.req('GET', '/api/endeavour/job', { sid });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ id: 'XSBSessionDoesNotExistException', description: expect.any(String) });
    clock.advance(-45 * MIN); // going back does not revive it
    expect((await s.req('GET', '/api/endeavour/job', { sid })).status).toBe(401);
  });

  it('logs out with 204, after which the id is unknown', async () => {
    const sid = await s.login();
    expect((await s.req('DELETE', '/api/endeavour/session', { sid })).status).toBe(204);
    const r = await s.req('GET', '/api/endeavour/job/1004', { sid });
    expect(r.status).toBe(401);
    expect(r.json.id).toBe('XSBSessionDoesNotExistException');
  });

  it('answers an unknown session id and a missing header differently', async () => {
    expect((await s.req('GET', '/api/endeavour/job', { sid: 'f'.repeat(32) })).json.id).toBe('XSBSessionDoesNotExistException');
    expect((await s.req('GET', '/api/endeavour/job')).json.id).toBe('XSBMissingSessionidException');
  });

  it('stores the password hashed, never in clear', async () => {
    const user = await s.census.store.users.byName('admin');
    expect(user!.passwordHash).toMatch(/^scrypt\$/);
    expect(user!.passwordHash).not.toContain(ADMIN_PASSWORD);
  });

  it('returns the user object clients deserialize', async () => {
    const r = await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD }, body: {} });
    expect(r.status).toBe(200);
    expect(r.json.user).toMatchObject({ id: '1000', name: 'admin', type: 'NATIVE_USER', tenantId: 1000, rbacPath: 'user:0/user:1000' });
    expect(r.json.user.links.self.href).toContain('/api/security/user/1000');
  });

  it('answers HEAD on ping without a session', async () => {
    expect((await s.req('HEAD', '/api/lifecycle/ping')).status).toBe(200);
  });

  it('changes the password in the login call (SPP first-boot flow)', async () => {
    const short = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'admin', password: ADMIN_PASSWORD }, body: { newPassword: 'short' } });
    expect(short.status).toBe(400);
    const next = 'A-new-long-password-2';
    const r = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'admin', password: ADMIN_PASSWORD }, body: { newPassword: next } });
    expect(r.status).toBe(200);
    expect(r.json.sessionid).toMatch(/^[0-9a-f]{32}$/);
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).status).toBe(401);
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: next } })).status).toBe(200);
    const back = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'admin', password: next }, body: { newPassword: ADMIN_PASSWORD } });
    expect(back.status).toBe(200);
  });

  it('counts sessions by status', async () => {
    const sid = await s.login();
    const all = await s.req('GET', '/api/endeavour/jobsession/stats', { sid });
    expect(all.status).toBe(200);
    expect(all.json.totalRuns).toBe(4); // the first-start runs of the four system jobs (1001, 1004, 1005, 1006)
    expect(all.json.COMPLETED).toBe(4);
    expect(all.json.successPercent).toBe(100);
    const f = encodeURIComponent(JSON.stringify([{ property: 'rangeunit', value: 'hour' }, { property: 'range', value: 1 }]));
    expect((await s.req('GET', `/api/endeavour/jobsession/stats?filter=${f}`, { sid })).json.totalRuns).toBe(0); // the fake clock moved on
    const perJob = await s.req('GET', '/api/endeavour/jobsession/stats/jobid/1004', { sid });
    expect(perJob.json.totalRuns).toBe(1);
    expect((await s.req('GET', '/api/endeavour/jobsession/stats/jobid/999', { sid })).status).toBe(404);
  });
});
