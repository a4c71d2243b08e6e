/**
 * The fast lane (src/api/fast-lane.ts) answers a repeated job GET before Fastify. It must give
 * exactly what Fastify gives, and nothing Fastify would refuse: every check here first warms the
 * lane with a GET that goes through Fastify, then asks again in a way Fastify refuses or answers
 * differently, and counts the lane's answers (census_http_fast_lane_answers_total) to show which
 * side answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../support/raw-request.ts';
import { addUser, startTestServer, type Reply, type TestServer } from '../support/server.ts';

const JOB = '/api/endeavour/job/1004';
const PASSWORD = 'Fast-Lane-Pass-1';

describe('the fast lane answers only what Fastify answered, the way Fastify does', () => {
  let s: TestServer;
  let admin: string;

  /** The lane's answers so far, from the metrics. */
  async function laneAnswers(): Promise<number> {
    const m = await s.req('GET', '/metrics', { sid: admin, exactHeaders: true });
    const line = /^census_http_fast_lane_answers_total (\d+)$/m.exec(m.text);
    expect(line, m.text.slice(0, 500)).not.toBeNull();
    return Number(line![1]);
  }

  /** A GET of the job (exactly these headers), and whether the lane answered it. */
  async function get(headers: Record<string, string>, path = JOB): Promise<{ r: Reply; lane: boolean }> {
    const before = await laneAnswers();
    const raw = await rawRequest(s.url, 'GET', path, { headers });
    const r: Reply = { ...raw, json: raw.headers['content-type']?.toString().startsWith('application/json') ? JSON.parse(raw.text) : undefined };
    return { r, lane: (await laneAnswers()) === before + 1 };
  }
  const session = (sid: string) => ({ 'X-Endeavour-Sessionid': sid });

  beforeAll(async () => {
    s = await startTestServer();
    admin = await s.login();
  });
  afterAll(async () => s?.stop());

  it('gives the second GET the first one\'s bytes and headers, and counts it in the request metrics', async () => {
    const first = await get(session(admin));
    expect(first.r.status).toBe(200);
    expect(first.lane).toBe(false);
    const second = await get(session(admin));
    expect(second.lane).toBe(true);
    expect(second.r.status).toBe(200);
    expect(second.r.text).toBe(first.r.text);
    const headers = (r: Reply) => Object.fromEntries(Object.entries(r.headers).filter(([k]) => k !== 'date'));
    expect(headers(second.r)).toEqual(headers(first.r));
    expect(second.r.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(second.r.headers['cache-control']).toBe('no-store');
    const m = await s.req('GET', '/metrics', { sid: admin, exactHeaders: true });
    const count = /^census_http_requests_total\{method="GET",route="\/api\/endeavour\/job\/:id",status="200"\} (\d+)$/m.exec(m.text);
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('takes the same path however it is spelled, and leaves other spellings to Fastify', async () => {
    await get(session(admin));
    const slash = await get(session(admin), `${JOB}/`);
    expect(slash.r.status).toBe(200);
    expect(slash.lane).toBe(true);
    const encoded = await get(session(admin), '/%61pi/endeavour/job/1004');
    expect(encoded.lane).toBe(true);
    for (const other of ['/API/endeavour/job/1004', '/x/../api/endeavour/job/1004', '/api/endeavour/job/1004;x=1', '/api/endeavour/job/01004']) {
      const r = await get(session(admin), other);
      expect(r.lane, other).toBe(false);
    }
    // A query string is another URL: Fastify answers it (and the lane learns it then).
    const query = await get(session(admin), `${JOB}?x=1`);
    expect(query.lane).toBe(false);
    expect(query.r.status).toBe(200);
  });

  it('refuses no session, a random one and a logged-out one as Fastify does (401)', async () => {
    const gone = await s.login();
    expect((await get(session(gone))).r.status).toBe(200);
    expect((await get(session(gone))).lane).toBe(true);
    expect((await s.req('DELETE', '/api/endeavour/session', { sid: gone })).status).toBeLessThan(300);
    for (const headers of [{}, session('0123456789abcdef0123456789abcdef'), session(gone)]) {
      const r = await get(headers);
      expect(r.lane).toBe(false);
      expect(r.r.status).toBe(401);
      expect(r.r.json.id).toMatch(/^XSB(MissingSessionid|SessionDoesNotExist)Exception$/);
    }
  });

  it('refuses a user whose role loses the permission at once (403), and one disabled (401)', async () => {
    const id = await addUser(s, admin, 'lane-monitor', PASSWORD, [1002]);
    const login = await s.req('POST', '/api/endeavour/session', { auth: { user: 'lane-monitor', password: PASSWORD } });
    const sid = login.json.sessionid as string;
    expect((await get(session(sid))).r.status).toBe(200);
    expect((await get(session(sid))).lane).toBe(true);
    // Only a role without policy.view now.
    const role = await s.req('POST', '/api/security/role', { sid: admin, body: { name: 'no-jobs', permissionIds: ['site.view'] } });
    expect(role.status, role.text).toBe(201);
    expect((await s.req('PUT', `/api/security/user/${id}`, { sid: admin, body: { permissions: [{ resourcePoolId: 1000, roleIds: [Number(role.json.id)] }] } })).status).toBe(200);
    const refused = await get(session(sid));
    expect(refused.lane).toBe(false);
    expect(refused.r.status).toBe(403);
    expect((await s.req('PUT', `/api/security/user/${id}`, { sid: admin, body: { permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } })).status).toBe(200);
    expect((await get(session(sid))).r.status).toBe(200);
    expect((await get(session(sid))).lane).toBe(true);
    expect((await s.req('PUT', `/api/security/user/${id}`, { sid: admin, body: { accountDisabled: true } })).status).toBe(200);
    const disabled = await get(session(sid));
    expect(disabled.lane).toBe(false);
    expect(disabled.r.status).toBe(401);
  });

  it('leaves an API key, a body and another method to Fastify', async () => {
    await get(session(admin));
    const made = await s.req('POST', '/api/security/apikey', { sid: admin, body: { name: 'lane' } });
    expect(made.status, made.text).toBe(201);
    const key = await get({ Authorization: `Bearer ${made.json.key}` });
    expect(key.r.status).toBe(200);
    expect(key.lane).toBe(false);
    // The key in place of the session id: Fastify's too.
    expect((await get(session(made.json.key))).lane).toBe(false);
    // The session with an Authorization header beside it (Fastify takes the key first).
    const both = await get({ ...session(admin), Authorization: 'Bearer cns_not-a-key' });
    expect(both.lane).toBe(false);
    expect(both.r.status).toBe(401);
    const before = await laneAnswers();
    // Framed (Node's client sends a GET's body unframed otherwise).
    const withBody = await rawRequest(s.url, 'GET', JOB, { headers: { ...session(admin), 'Content-Type': 'application/json', 'Content-Length': '2' }, body: '{}' });
    expect(withBody.status).toBe(200);
    const head = await rawRequest(s.url, 'HEAD', JOB, { headers: session(admin) });
    expect(head.status).toBe(200);
    expect(await laneAnswers()).toBe(before);
  });

  it('answers what the job is now: a change goes through Fastify first', async () => {
    expect((await get(session(admin))).r.json.status).toBe('IDLE');
    expect((await s.req('POST', `${JOB}?action=hold`, { sid: admin })).status).toBe(200);
    const held = await get(session(admin));
    expect(held.lane).toBe(false);
    expect(held.r.json.status).toBe('HELD');
    const again = await get(session(admin));
    expect(again.lane).toBe(true);
    expect(again.r.json.status).toBe('HELD');
    expect((await s.req('POST', `${JOB}?action=release`, { sid: admin })).status).toBe(200);
    expect((await get(session(admin))).r.json.status).toBe('IDLE');
  });
});
