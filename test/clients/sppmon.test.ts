/**
 * IBM sppmon (v1.2.x, `--jobs --jobLogs`) against Census, call for call as spec §8.1 lists them:
 * login with pageSize on the URL and no body, ping before the session header is attached, job and
 * job-session lists read only by following links.nextPage.href, job logs by session, logout 204.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, request, startTestServer, waitFor, type Reply, type TestServer } from '../support/server.ts';
import { followPages } from '../support/sppmon.ts';

const ALL_LOG_TYPES = ['INFO', 'DEBUG', 'ERROR', 'SUMMARY', 'WARN', 'DETAIL'];
/**
 * sppmon runs as an administrator, and as the least-privilege account its documentation asks for:
 * a user holding only the built-in Monitor role, made (and its first password set) in beforeAll.
 */
const MONITOR_PASSWORD = 'Monitor-Pass-1234';
const ACCOUNTS = [{ user: 'admin', password: ADMIN_PASSWORD }, { user: 'sppmon', password: MONITOR_PASSWORD }];

let srv: TestServer;

async function runToIdle(sid: string, jobId: string) {
  const before = (await srv.req('GET', `/api/endeavour/job/${jobId}`, { sid })).json.lastrun?.sessionId;
  const r = await srv.req('POST', `/api/endeavour/job/${jobId}?action=start`, { sid, body: {} });
  expect(r.status).toBe(200);
  await waitFor(async () => {
    const j = (await srv.req('GET', `/api/endeavour/job/${jobId}`, { sid })).json;
    return j.status === 'IDLE' && j.lastrun?.sessionId !== before ? true : undefined;
  }, `job ${jobId} back to IDLE`);
}

beforeAll(async () => {
  srv = await startTestServer();
  // A few more runs than the first-start ones, so that per-job session history spans several pages.
  const sid = await srv.login();
  // 1006 (Notification Delivery) started by hand with nothing due runs an empty session, as sppmon reads it.
  for (const id of ['1001', '1004', '1005', '1006', '1001', '1004', '1005', '1006']) await runToIdle(sid, id);
  const made = await srv.req('POST', '/api/security/user', { sid, body: { name: 'sppmon', password: 'First-Pass-1234', permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
  expect(made.status).toBe(201);
  const first = await srv.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'sppmon', password: 'First-Pass-1234' }, body: { newPassword: MONITOR_PASSWORD } });
  expect(first.status).toBe(200);
  await srv.req('DELETE', '/api/endeavour/session', { sid: first.json.sessionid });
  await srv.req('DELETE', '/api/endeavour/session', { sid });
});

afterAll(async () => {
  await srv?.stop();
});

describe.each(ACCOUNTS)('sppmon call sequence (spec §8.1) as $user', (account) => {
  const basic = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
  let sid = '';
  const sessionIds: string[] = [];

  it('logs in with POST /api/endeavour/session?pageSize=50, Basic auth and an empty JSON body', async () => {
    const r = await srv.req('POST', '/api/endeavour/session?pageSize=50', {
      raw: '',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      auth: account,
    });
    expect(r.status).toBe(200);
    expect(r.json.sessionid).toMatch(/^[0-9a-f]{32}$/);
    sid = r.json.sessionid;
  });

  it('logs in with no Content-Type header and no body at all', async () => {
    const r = await request(srv.url, 'POST', '/api/endeavour/session?pageSize=50', { headers: { Authorization: basic }, exactHeaders: true });
    expect(r.status).toBe(200);
    expect(r.json.sessionid).toMatch(/^[0-9a-f]{32}$/);
    expect(r.json.sessionid).not.toBe(sid);
  });

  it('reads the version from /api/lifecycle/ping?pageSize=50 without a session header', async () => {
    const r = await request(srv.url, 'GET', '/api/lifecycle/ping?pageSize=50', { headers: { Accept: 'application/json' }, exactHeaders: true });
    expect(r.status).toBe(200);
    expect(typeof r.json.version).toBe('string');
    expect(r.json.version).not.toBe('');
    expect(typeof r.json.build).toBe('string');
  });

  it('also answers the older /ngp/version probe without a session', async () => {
    const r = await srv.req('GET', '/ngp/version?pageSize=50');
    expect(r.status).toBe(200);
    for (const k of ['product', 'version', 'build', 'date', 'epoch']) expect(typeof r.json[k], k).toBe('string');
  });

  let jobs: { id: string; name: string }[] = [];

  it('lists jobs one per page by following links.nextPage.href until it is absent', async () => {
    const { items, pages } = await followPages(srv, sid, '/api/endeavour/job?pageSize=1', 'jobs');
    jobs = items.map((j) => ({ id: j.id as string, name: j.name as string }));
    expect(jobs.map((j) => j.id).sort()).toEqual(['1001', '1004', '1005', '1006']);
    expect(jobs.every((j) => typeof j.name === 'string' && j.name !== '')).toBe(true);
    expect(pages).toHaveLength(4);
    for (const p of pages) {
      expect(p.json.total).toBe(4);
      expect(p.json.jobs).toHaveLength(1);
    }
    expect(pages[0]!.json.page).toBe(1);
    expect(pages[1]!.json.page).toBe(2);
    expect(pages[0]!.json.links.lastPage.href).toContain('pageStartIndex=3');
    const last = pages[pages.length - 1]!.json.links;
    expect(last.nextPage).toBeUndefined();
    expect(last.lastPage).toBeUndefined();
  });

  it('reads every job’s session history page by page, with the types sppmon stores', async () => {
    for (const job of jobs) {
      const { items, pages } = await followPages(srv, sid, `/api/endeavour/jobsession/history/jobid/${job.id}?pageSize=1`, 'sessions');
      expect(items.length).toBeGreaterThanOrEqual(3); // first start + two runs in beforeAll
      expect(pages).toHaveLength(items.length);
      expect(pages[pages.length - 1]!.json.links.nextPage).toBeUndefined();
      const ids = new Set<string>();
      for (const s of items) {
        expect(s.jobId).toBe(job.id);
        expect(s.jobName).toBe(job.name);
        expect(typeof s.start).toBe('number');
        expect(s.start as number).toBeGreaterThan(0);
        expect(typeof s.end).toBe('number');
        expect(s.id).toMatch(/^\d+$/);
        expect(Number.isSafeInteger(parseInt(s.id as string, 10))).toBe(true);
        expect(Number.isInteger(s.duration)).toBe(true);
        expect(Number.isInteger(s.numTasks)).toBe(true);
        expect(typeof s.percent).toBe('number');
        expect(typeof s.status).toBe('string');
        expect(Array.isArray((s.properties as { statistics: unknown }).statistics)).toBe(true);
        ids.add(s.id as string);
      }
      expect(ids.size).toBe(items.length);
      sessionIds.push(...ids);

      // sppmon shrinks or grows pageSize between pages; the same records still come back, once each.
      const again = await followPages(srv, sid, `/api/endeavour/jobsession/history/jobid/${job.id}?pageSize=1`, 'sessions', 2);
      expect(again.items.map((s) => s.id).sort()).toEqual([...ids].sort());
    }
  });

  const logFilter = (sessionId: string, types: string[], messageIds?: string[]) =>
    encodeURIComponent(JSON.stringify([
      { property: 'jobsessionId', value: sessionId, op: '=' },
      { property: 'type', value: types, op: 'IN' },
      ...(messageIds ? [{ property: 'messageId', value: messageIds, op: 'IN' }] : []),
    ]));

  it('reads SUMMARY job logs per session with the fields sppmon parses', async () => {
    expect(sessionIds.length).toBeGreaterThan(0);
    for (const id of sessionIds) {
      const { items } = await followPages(srv, sid, `/api/endeavour/log/job?filter=${logFilter(id, ['SUMMARY'])}&pageSize=50`, 'logs');
      expect(items.length, `SUMMARY log of session ${id}`).toBeGreaterThanOrEqual(1);
      for (const l of items) {
        expect(l.type).toBe('SUMMARY');
        expect(l.jobsessionId).toBe(Number(id));
        expect(typeof l.jobsessionId).toBe('number');
        expect(typeof l.logTime).toBe('number');
        expect(l.id).toMatch(/^[0-9a-f]{24}$/);
        expect(typeof l.messageId).toBe('string');
        expect(typeof l.message).toBe('string');
        expect(Array.isArray(l.messageParams)).toBe(true);
        for (const p of l.messageParams as unknown[]) expect(typeof p).toBe('string');
      }
    }
  });

  it('ignores the messageId criterion as SPP does, so sppmon still gets the SUMMARY entries', async () => {
    const id = sessionIds[0]!;
    // sppmon always sends its seven CTGG ids; SPP ignored that criterion (spec §1.7), and so does Census.
    const withIds = await srv.req('GET', `/api/endeavour/log/job?filter=${logFilter(id, ['SUMMARY'], ['CTGGA2384', 'CTGGA0071'])}&pageSize=50`, { sid });
    const without = await srv.req('GET', `/api/endeavour/log/job?filter=${logFilter(id, ['SUMMARY'])}&pageSize=50`, { sid });
    expect(withIds.status).toBe(200);
    expect(without.json.total).toBeGreaterThan(0);
    expect(withIds.json.total).toBe(without.json.total);
    expect(withIds.json.logs.map((l: { id: string }) => l.id)).toEqual(without.json.logs.map((l: { id: string }) => l.id));
  });

  it('reads all six log types with --fullLogs', async () => {
    for (const id of sessionIds) {
      const full = await followPages(srv, sid, `/api/endeavour/log/job?filter=${logFilter(id, ALL_LOG_TYPES)}&pageSize=2`, 'logs');
      const summary = await srv.req('GET', `/api/endeavour/log/job?filter=${logFilter(id, ['SUMMARY'])}&pageSize=50`, { sid });
      expect(full.items.length).toBeGreaterThan(summary.json.total);
      const types = new Set(full.items.map((l) => l.type as string));
      expect(types.has('INFO')).toBe(true);
      expect(types.has('SUMMARY')).toBe(true);
      for (const t of types) expect(ALL_LOG_TYPES).toContain(t);
      for (const l of full.items) expect(l.jobsessionId).toBe(Number(id));
      const ids = full.items.map((l) => l.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('logs out with DELETE /api/endeavour/session → exactly 204, after which the session is gone', async () => {
    // sppmon pings once more on exit, still with its session.
    expect((await srv.req('GET', '/api/lifecycle/ping', { sid })).status).toBe(200);
    const r = await srv.req('DELETE', '/api/endeavour/session', { sid });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    const after = await srv.req('GET', '/api/endeavour/job?pageSize=50', { sid });
    expect(after.status).toBe(401);
    expect(after.json.id).toBe('XSBSessionDoesNotExistException');
    expect(typeof after.json.description).toBe('string');
  });
});
