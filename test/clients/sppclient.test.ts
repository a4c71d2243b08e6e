/**
 * IBM sppclient (spec §8.2): its samples and SDK calls — runjob.py, JobAPI.run, JobAPI.monitor,
 * get_log_entries, joblist.py, get_sessions.py — against a Census whose inventory job runs long
 * enough to be seen RUNNING: the one registered server is a TCP listener that never answers, so
 * its task fails at the (short) task deadline.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor, type RequestOptions, type TestServer } from '../support/server.ts';

let srv: TestServer;
let blackHole: net.Server;
const sockets = new Set<net.Socket>();
let blackHolePort = 0;

beforeAll(async () => {
  blackHole = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  blackHolePort = (blackHole.address() as net.AddressInfo).port;
  srv = await startTestServer({ taskTimeoutMs: 3000 });
});

afterAll(async () => {
  await srv?.stop();
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => (blackHole ? blackHole.close(() => resolve()) : resolve()));
});

/** sppclient's session: every call carries the session header, Accept JSON and the locale header. */
function client(sid: string, headerName = 'X-Endeavour-Sessionid') {
  const call = (method: string, path: string, o: RequestOptions = {}) =>
    srv.req(method, path, { ...o, headers: { [headerName]: sid, 'X-Endeavour-Locale': 'en-us', ...o.headers } });
  return {
    get: async (path: string) => {
      const r = await call('GET', path);
      // sppclient's response hook raises on any 4xx/5xx.
      expect(r.status, `GET ${path}: ${r.text}`).toBeLessThan(400);
      return r.json;
    },
    post: async (path: string, body: unknown = {}) => {
      const r = await call('POST', path, { body });
      expect(r.status, `POST ${path}: ${r.text}`).toBeLessThan(400);
      return r;
    },
    call,
  };
}

type Client = ReturnType<typeof client>;

async function findJob(c: Client, name: string) {
  const list = await c.get('/api/endeavour/job');
  return (list.jobs as { name: string; id: string; links: Record<string, { href: string }> }[])
    .find((j) => j.name.toLowerCase() === name.toLowerCase());
}

async function monitorUntilIdle(c: Client, jobId: string): Promise<string[]> {
  const seen: string[] = [];
  await waitFor(async () => {
    const st = await c.get(`/api/endeavour/job/${jobId}/status`);
    seen.push(st.currentStatus);
    return st.currentStatus === 'IDLE' ? true : undefined;
  }, `job ${jobId} to become IDLE`, 20_000);
  return seen;
}

describe('sppclient (spec §8.2)', () => {
  let c: Client;
  let c2: Client;
  let firstRunSession = '';

  it('logs in twice (constructor and explicit login) and both sessions work', async () => {
    const s1 = await srv.login();
    const s2 = await srv.login();
    expect(s1).not.toBe(s2);
    c = client(s1, 'X-Endeavour-sessionid');
    c2 = client(s2, 'x-endeavour-sessionid');
    expect((await c.get('/api/endeavour/job')).jobs.length).toBe(4);
    expect((await c2.get('/api/endeavour/job')).jobs.length).toBe(4);
  });

  it('joblist.py: every job has already run (lastrun.start > 0) on a fresh Census', async () => {
    const list = await c.get('/api/endeavour/job?pageSize=10000');
    expect(list.jobs.map((j: { id: string }) => j.id).sort()).toEqual(['1001', '1004', '1005', '1006']);
    for (const j of list.jobs) {
      expect(typeof j.name).toBe('string');
      expect(typeof j.status).toBe('string');
      expect(j.lastrun.start).toBeGreaterThan(0);
      expect(typeof j.lastrun.status).toBe('string');
    }
  });

  it('registers an application server whose host never answers', async () => {
    const idn = await c.call('POST', '/api/identity/user', { body: { name: 'pg-login', username: 'census', password: 'S3cret-pg' } });
    expect(idn.status).toBe(201);
    const as = await c.call('POST', '/api/appserver', {
      body: { hostAddress: '127.0.0.1', portNumber: blackHolePort, applicationType: 'postgresql', osuser: { href: idn.json.links.self.href }, addToCatJob: false },
    });
    expect(as.status).toBe(201);
    // addToCatJob:false starts nothing.
    expect((await c.get('/api/endeavour/job/1004')).status).toBe('IDLE');
  });

  it('runjob.py: finds the job by name case-insensitively and starts it with ?action=start&actionname=start and {}', async () => {
    const job = await findJob(c, 'application server inventory');
    expect(job).toBeDefined();
    expect(job!.links.start).toBeDefined();
    const before = (await c.get(`/api/endeavour/job/${job!.id}`)).lastrun.sessionId;
    const r = await c.post(`/api/endeavour/job/${job!.id}?action=start&actionname=start`, {});
    expect(r.status).toBe(200);
    expect(r.json.id).toBe(job!.id);
    expect(r.json.status).toBe('RUNNING');
    expect(r.json.lastrun.status).toBe('RUNNING');
    expect(r.json.lastrun.sessionId).toMatch(/^\d+$/);
    expect(r.json.lastrun.sessionId).not.toBe(before);
    expect(typeof r.json.lastrun.start).toBe('number');
    // While it runs there is no start action, but the status endpoint says RUNNING.
    expect(r.json.links.start).toBeUndefined();
    expect((await c2.get(`/api/endeavour/job/${job!.id}/status`)).currentStatus).toBe('RUNNING');
    firstRunSession = r.json.lastrun.sessionId;
  });

  it('monitor: polls /job/{id}/status until IDLE, then reads the result through lastrun and the job session', async () => {
    const seen = await monitorUntilIdle(c, '1004');
    expect(seen[0]).toBe('RUNNING');
    const list = await c.get('/api/endeavour/job?pageSize=10000');
    const job = list.jobs.find((j: { id: string }) => j.id === '1004');
    expect(job.lastrun.sessionId).toBe(firstRunSession);
    const s = await c.get(`/api/endeavour/jobsession/${job.lastrun.sessionId}`);
    expect(['COMPLETED', 'PARTIAL', 'FAILED']).toContain(s.status);
    // Its only server never answered: the one task failed at the deadline.
    expect(s.status).toBe('FAILED');
    expect(s.id).toBe(firstRunSession);
    expect(typeof s.end).toBe('number');
    expect(s.percent).toBe(100);
    expect(job.lastSessionStatus).toBe('FAILED');
    expect(job.status).toBe('IDLE');
  });

  it('get_log_entries: logs of the session sorted by logTime ascending', async () => {
    const sort = encodeURIComponent(JSON.stringify([{ property: 'logTime', direction: 'ASC' }]));
    const filter = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: firstRunSession }]));
    const r = await c.get(`/api/endeavour/log/job?pageSize=1000&pageStartIndex=0&sort=${sort}&filter=${filter}`);
    expect(r.logs.length).toBeGreaterThanOrEqual(3);
    expect(r.total).toBe(r.logs.length);
    for (let i = 1; i < r.logs.length; i++) expect(r.logs[i].logTime).toBeGreaterThanOrEqual(r.logs[i - 1].logTime);
    for (const l of r.logs) {
      expect(l.jobsessionId).toBe(Number(firstRunSession));
      expect(typeof l.type).toBe('string');
      expect(typeof l.message).toBe('string');
    }
    expect(r.logs.some((l: { type: string }) => l.type === 'ERROR')).toBe(true);
    expect(r.logs[r.logs.length - 1].type).toBe('SUMMARY');
  });

  it('JobAPI.run: POST links.start.href with {}, then the start response’s livejobsessions gives the new session', async () => {
    const job = await c.get('/api/endeavour/job/1004');
    expect(job.status).toBe('IDLE');
    const start = new URL(job.links.start.href);
    const jobrun = (await c.post(start.pathname + start.search, {})).json;
    expect(jobrun.status).toBe('RUNNING');
    const newSession: string = jobrun.lastrun.sessionId;
    expect(newSession).not.toBe(firstRunSession);
    const live = new URL(jobrun.links.livejobsessions.href);
    const sessions = await c2.get(live.pathname + live.search);
    expect(sessions.sessions.length).toBe(1);
    expect(sessions.sessions[0].id).toBe(newSession);
    expect(sessions.sessions[0].status).toBe('RUNNING');
    expect(sessions.sessions[0].end).toBeNull();
    // A second start while it runs does not open another session.
    const again = await c.call('POST', '/api/endeavour/job/1004?action=start', { body: {} });
    expect(again.status).toBe(200);
    expect(again.json.lastrun.sessionId).toBe(newSession);
    await monitorUntilIdle(c, '1004');
    expect((await c.get(live.pathname + live.search)).sessions).toEqual([]);
    expect((await c.get(`/api/endeavour/jobsession/${newSession}`)).status).toBe('FAILED');
  });

  it('get_sessions.py: filter start >= a time in ms (a JSON number)', async () => {
    const all = (await c.get('/api/endeavour/jobsession?pageSize=10000')).sessions as { id: string; start: number; jobName: string; status: string }[];
    expect(all.length).toBeGreaterThanOrEqual(4); // two first-start runs + two runs above
    const since = all.find((s) => s.id === firstRunSession)!.start;
    const filter = encodeURIComponent(JSON.stringify([{ property: 'start', value: since, op: '>=' }]));
    const r = await c.get(`/api/endeavour/jobsession?pageSize=10000&filter=${filter}`);
    const expected = all.filter((s) => s.start >= since).map((s) => s.id).sort();
    expect(expected.length).toBeLessThan(all.length);
    expect(r.sessions.map((s: { id: string }) => s.id).sort()).toEqual(expected);
    expect(r.total).toBe(expected.length);
    for (const s of r.sessions) {
      expect(typeof s.jobName).toBe('string');
      expect(typeof s.status).toBe('string');
      if (s.status === 'PARTIAL' || s.status === 'FAILED') {
        const log = new URL(s.links.log.href);
        const logs = await c.get(log.pathname + log.search);
        expect(logs.logs.length).toBeGreaterThan(0);
        for (const l of logs.logs) expect(l.jobsessionId).toBe(Number(s.id));
      }
    }
  });

  it('accepts the session header in any case, and rejects a wrong one', async () => {
    const sid = await srv.login();
    for (const name of ['X-Endeavour-Sessionid', 'X-Endeavour-sessionid', 'x-endeavour-sessionid', 'X-ENDEAVOUR-SESSIONID']) {
      const r = await srv.req('GET', '/api/endeavour/job/1001', { headers: { [name]: sid, 'X-Endeavour-Locale': 'en-us' } });
      expect(r.status, name).toBe(200);
    }
    const bad = await srv.req('GET', '/api/endeavour/job/1001', { headers: { 'x-endeavour-sessionid': 'f'.repeat(32) } });
    expect(bad.status).toBe(401);
    expect(bad.json.id).toBe('XSBSessionDoesNotExistException');
  });

  it('logout: DELETE /api/endeavour/session is accepted (< 400) and ends only that session', async () => {
    const r = await c.call('DELETE', '/api/endeavour/session');
    expect(r.status).toBe(204);
    expect((await c.call('GET', '/api/endeavour/job')).status).toBe(401);
    expect((await c2.call('GET', '/api/endeavour/job')).status).toBe(200);
  });
});
