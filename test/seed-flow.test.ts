/**
 * The seed document, word for word, over real HTTPS against real PostgreSQL: two registered
 * servers, one reachable and one with a wrong password. Start the inventory; GET job 1004 shows
 * RUNNING with every field of the seed's example; later IDLE with lastSessionStatus PARTIAL;
 * 200 throughout.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SECOND_HOST, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';

/** The first example response of the seed, with its elided `links` made an empty object. */
function seedExample(): Record<string, unknown> {
  const text = readFileSync(new URL('../../shared/seed/000_374d64e0bd9b750e.txt', import.meta.url), 'utf8');
  const start = text.indexOf('{\n    "links"');
  const end = text.indexOf('\n}\n', start) + 2;
  return JSON.parse(text.slice(start, end).replace('{...}', '{}')) as Record<string, unknown>;
}

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

describe('seed: status of the application server inventory job', () => {
  let s: TestServer;
  let sid: string;
  /** A user holding only the Monitor role: the seed's status check needs nothing more. */
  let monitor: string;
  let blocker: pg.Client;
  const port = inject('pgAuthPort');

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
    const register = async (name: string, password: string, hostAddress: string) => {
      const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: `${name} login`, username: AUTH_SUPERUSER, password } });
      expect(ident.status).toBe(201);
      const a = await s.req('POST', '/api/appserver', {
        sid,
        body: { name, hostAddress, portNumber: port, applicationType: 'postgresql', osType: 'linux', addToCatJob: false, osuser: { href: ident.json.links.self.href } },
      });
      expect(a.status).toBe(201);
    };
    const made = await s.req('POST', '/api/security/user', { sid, body: { name: 'watcher', password: 'First-Pass-1234', permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
    expect(made.status).toBe(201);
    monitor = (await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'watcher', password: 'First-Pass-1234' }, body: { newPassword: 'Watcher-Pass-1234' } })).json.sessionid;
    await register('pg-good', AUTH_SUPERPASS, '127.0.0.1');
    await register('pg-wrong-password', 'not-the-password', AUTH_SECOND_HOST);
    // Hold the run open: the collector reads pg_database, which this transaction locks until released.
    blocker = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await blocker.connect();
  });

  afterAll(async () => {
    await blocker?.end().catch(() => {});
    await s?.stop();
  });

  it('answers 200 with RUNNING and every field of the example, then IDLE with PARTIAL', async () => {
    const example = seedExample();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');

    const start = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid });
    expect(start.status).toBe(200);
    expect(start.json.status).toBe('RUNNING');

    const running = await s.req('GET', '/api/endeavour/job/1004', { sid });
    expect(running.status).toBe(200);
    const job = running.json;
    expect(job.status).toBe('RUNNING');
    expect(job.statusDisplayName).toBe('Running');
    // Same names and JSON types as the seed's example. While the job runs, `lastrun` is the
    // running session, so its `end` is still null (docs/compat.md).
    for (const [key, value] of Object.entries(example)) {
      expect(job, `field ${key}`).toHaveProperty(key);
      if (key === 'lastrun') continue;
      if (key === 'lastSessionStatus' || key === 'lastSessionStatusDisplayName') {
        expect(typeof job[key]).toBe('string'); // the first-start run has ended COMPLETED
        continue;
      }
      expect(kind(job[key]), `type of ${key}`).toBe(kind(value));
    }
    for (const [key, value] of Object.entries(example.lastrun as Record<string, unknown>)) {
      expect(job.lastrun, `lastrun.${key}`).toHaveProperty(key);
      if (key === 'end') expect(job.lastrun.end).toBeNull();
      else expect(kind(job.lastrun[key]), `type of lastrun.${key}`).toBe(kind(value));
    }
    expect(job).toMatchObject({
      id: '1004', name: 'Application Server Inventory', type: 'catalog', typeDisplayName: 'Catalog', subType: 'application',
      subTypeDisplayName: 'Application', serviceId: 'serviceprovider.catalog.application', displayName: 'Application Server Inventory',
      tenantId: 1000, actions: null, statistics: null, triggerIds: ['1004'], triggerData: [{ triggerId: '1004', triggerInfo: null }],
    });
    expect(job.lastrun.sessionId).toBe(start.json.lastrun.sessionId);
    expect(job.lastrun).toMatchObject({ status: 'RUNNING', numTasks: 2, results: 'Started', jobName: 'Application Server Inventory' });
    expect(job.lastRunTime).toBe(job.lastrun.start);
    expect(job.nextFireTime).toBeGreaterThan(Date.now() - 1000);
    expect(job.links.start).toBeUndefined();
    expect(job.links.cancel.rel).toBe('action');

    // The Monitor reads the very same status, and may not start or cancel.
    const watched = await s.req('GET', '/api/endeavour/job/1004', { sid: monitor });
    expect(watched.status).toBe(200);
    // (`lastrun.duration` counts on while it runs.)
    expect({ ...watched.json, lastrun: { ...watched.json.lastrun, duration: job.lastrun.duration } }).toEqual(job);
    const refused = await s.req('POST', '/api/endeavour/job/1004?action=cancel', { sid: monitor });
    expect(refused.status).toBe(403);
    expect(refused.json.id).toBe('XSBAccessDeniedException');

    // A second start while it runs starts nothing new and answers with the running job.
    const again = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid, raw: '' });
    expect(again.status).toBe(200);
    expect(again.json.lastrun.sessionId).toBe(job.lastrun.sessionId);

    await blocker.query('COMMIT');

    const statuses = new Set<number>();
    const idle = await waitFor(async () => {
      const r = await s.req('GET', '/api/endeavour/job/1004', { sid });
      statuses.add(r.status);
      return r.json.status === 'IDLE' ? r.json : undefined;
    }, 'job 1004 to become IDLE');
    expect([...statuses]).toEqual([200]);
    expect(idle).toMatchObject({ status: 'IDLE', statusDisplayName: 'Idle', lastSessionStatus: 'PARTIAL', lastSessionStatusDisplayName: 'Partial' });
    expect(idle.lastrun).toMatchObject({ sessionId: job.lastrun.sessionId, status: 'PARTIAL', percent: 100, numTasks: 2 });
    expect(typeof idle.lastrun.end).toBe('number');
    expect(idle.lastSessionDuration).toBe(idle.lastrun.duration);
    expect(idle.links.start.href).toMatch(/\/api\/endeavour\/job\/1004\?action=start$/);
    expect((await s.req('GET', '/api/endeavour/job/1004', { sid: monitor })).json).toEqual(idle);
  });

  it('logs the failed server by name and reason, and keeps what the good one has', async () => {
    const job = (await s.req('GET', '/api/endeavour/job/1004', { sid })).json;
    const sessionId = job.lastrun.sessionId;
    const session = await s.req('GET', `/api/endeavour/jobsession/${sessionId}`, { sid });
    expect(session.json).toMatchObject({ status: 'PARTIAL', numTasks: 2, percent: 100 });
    expect(session.json.properties.statistics[0]).toEqual({ resourceType: 'appserver', total: 2, success: 1, failed: 1, skipped: 0 });

    const filter = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }, { property: 'type', value: ['ERROR'], op: 'IN' }]));
    const errors = await s.req('GET', `/api/endeavour/log/job?filter=${filter}`, { sid });
    expect(errors.json.total).toBe(1);
    const entry = errors.json.logs[0];
    expect(entry.message).toContain('pg-wrong-password');
    expect(entry.message).toMatch(/password authentication failed/);
    expect(entry.message).not.toContain('not-the-password');
    expect(entry.jobsessionId).toBe(Number(sessionId));

    const tasks = await s.req('GET', `/api/endeavour/jobsession/${sessionId}/task`, { sid });
    const byName = Object.fromEntries(tasks.json.tasks.map((t: { name: string }) => [t.name, t]));
    expect(byName['pg-good'].status).toBe('COMPLETED');
    expect(byName['pg-wrong-password']).toMatchObject({ status: 'FAILED', errorCode: 'AUTH' });

    const instances = await s.req('GET', '/api/application/postgresql/instance', { sid });
    expect(instances.json.total).toBe(1);
    const instance = instances.json.instances[0];
    expect(instance).toMatchObject({ host: '127.0.0.1', port });
    const admin = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await admin.connect();
    const version = (await admin.query('SHOW server_version')).rows[0].server_version;
    const names = (await admin.query('SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1')).rows.map((r) => r.datname);
    await admin.end();
    expect(instance.version).toBe(version);
    const dbs = await s.req('GET', `/api/application/postgresql/instance/${instance.id}/database`, { sid });
    expect(dbs.json.databases.map((d: { name: string }) => d.name).sort()).toEqual(names);
    for (const d of dbs.json.databases) {
      expect(d.sizeBytes).toBeGreaterThan(0);
      expect(d.owner).toBe(AUTH_SUPERUSER);
      expect(d.encoding).toBe('UTF8');
    }
  });
});
