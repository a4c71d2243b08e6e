/**
 * The Catalogic ECX Jenkins plugin (spec §8.4) — lower-case session header, JSON content type on
 * POSTs that carry no entity, any non-200 aborts the build — and the IBM CDM/QRadar runjob.py
 * sample (spec §8.6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from '../support/server.ts';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});

afterAll(async () => {
  await srv?.stop();
});

const DONE = ['IDLE', 'COMPLETED', 'PARTIAL', 'FAILED'];

describe('ECX Jenkins plugin (spec §8.4)', () => {
  let sid = '';
  const h = () => ({ 'x-endeavour-sessionid': sid });

  it('logs in with a JSON content type and no entity → exactly 200', async () => {
    const r = await srv.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.json.sessionid).toMatch(/^[0-9a-f]{32}$/);
    sid = r.json.sessionid;
  });

  it('lists jobs sorted by name ascending, ids and names as JSON strings', async () => {
    const sort = encodeURIComponent(JSON.stringify([{ property: 'name', direction: 'ASC' }]));
    const r = await srv.req('GET', `/api/endeavour/job?sort=${sort}`, { headers: h() });
    expect(r.status).toBe(200);
    const names = r.json.jobs.map((j: { name: string }) => j.name);
    expect(names).toEqual(['Application Server Inventory', 'Hypervisor Inventory', 'Maintenance', 'Notification Delivery']);
    for (const j of r.json.jobs) {
      expect(typeof j.id).toBe('string');
      expect(typeof j.name).toBe('string');
    }
    // And the other way round, so the order is the sort's, not the ids'.
    const desc = encodeURIComponent(JSON.stringify([{ property: 'name', direction: 'DESC' }]));
    const d = await srv.req('GET', `/api/endeavour/job?sort=${desc}`, { headers: h() });
    expect(d.json.jobs.map((j: { name: string }) => j.name)).toEqual([...names].reverse());
  });

  for (const jobId of ['1004', '1001']) {
    it(`starts job ${jobId} with no body → exactly 200 with status, polls to done, reads lastSessionStatus`, async () => {
      const before = (await srv.req('GET', `/api/endeavour/job/${jobId}`, { headers: h() })).json.lastrun.sessionId;
      const r = await srv.req('POST', `/api/endeavour/job/${jobId}?action=start`, { headers: h() });
      expect(r.status).toBe(200);
      expect(typeof r.json.status).toBe('string');
      expect(r.json.id).toBe(jobId);
      const newSession = r.json.lastrun.sessionId;
      expect(newSession).not.toBe(before);
      const final = await waitFor(async () => {
        const g = await srv.req('GET', `/api/endeavour/job/${jobId}`, { headers: h() });
        expect(g.status).toBe(200);
        return DONE.includes(g.json.status) && g.json.lastrun.sessionId === newSession && g.json.lastrun.status !== 'RUNNING' ? g.json : undefined;
      }, `job ${jobId} to finish`);
      expect(final.lastSessionStatus).toBe('COMPLETED');
      expect(final.lastSessionStatusDisplayName).toBe('Completed');
      expect(typeof final.lastSessionDuration).toBe('number');
    });
  }

  it('an unknown job id aborts with a non-200', async () => {
    const r = await srv.req('POST', '/api/endeavour/job/999999?action=start', { headers: h() });
    expect(r.status).toBe(404);
  });
});

describe('IBM CDM runjob.py (spec §8.6)', () => {
  it('a wrong password gets 401 {id: XSBAuthenticationException, description}', async () => {
    const r = await srv.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: 'not-the-password' } });
    expect(r.status).toBe(401);
    expect(r.json.id).toBe('XSBAuthenticationException');
    expect(typeof r.json.description).toBe('string');
    expect(r.json.description.length).toBeGreaterThan(0);
    expect(r.json.sessionid).toBeUndefined();
  });

  it('an unknown user gets the same answer as a wrong password', async () => {
    const r = await srv.req('POST', '/api/endeavour/session', { auth: { user: 'nobody', password: 'whatever' } });
    expect(r.status).toBe(401);
    expect(r.json.id).toBe('XSBAuthenticationException');
  });

  it('iterates jobs[0..total-1] to find a job by name and starts it with {}', async () => {
    const r = await srv.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } });
    const headers = { 'x-endeavour-sessionid': r.json.sessionid };
    const list = await srv.req('GET', '/api/endeavour/job', { headers });
    expect(list.status).toBe(200);
    expect(list.json.total).toBe(list.json.jobs.length);
    let found: { id: string; name: string } | undefined;
    for (let i = 0; i < list.json.total; i++) {
      const j = list.json.jobs[i];
      expect(j, `jobs[${i}]`).toBeDefined();
      if (j.name === 'Maintenance') found = j;
    }
    expect(found?.id).toBe('1001');
    const start = await srv.req('POST', `/api/endeavour/job/${found!.id}?action=start&actionname=start`, { headers, body: {} });
    expect(start.status).toBe(200);
    expect(start.json.name).toBe('Maintenance');
    await waitFor(async () => {
      const g = await srv.req('GET', '/api/endeavour/job/1001', { headers });
      return g.json.status === 'IDLE' ? true : undefined;
    }, 'maintenance to finish');
  });
});
