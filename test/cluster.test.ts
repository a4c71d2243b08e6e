/**
 * Scale-out on PostgreSQL with real processes: one API server and three workers on a database
 * of their own. The inventory's servers answer slowly because a test transaction holds a lock
 * every collector needs, so the timing is certain without sleeps in the code under test.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_HOSTS, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { spawnCensus, type CensusProcess } from './support/processes.ts';
import { ADMIN_PASSWORD, request, waitFor } from './support/server.ts';
import { scratchDatabase } from './support/stores.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const database = scratchDatabase('census_cluster');
const dbUrl = database.url;
const SERVERS = 6;

describe('a cluster of one API server and three workers', () => {
  const procs: CensusProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'census-cluster-'));
  const port = inject('pgAuthPort');
  let admin: pg.Client;
  let blocker: pg.Client;
  let api: CensusProcess;
  let url: string;
  let sid: string;

  const env = { CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD };
  // The processes stand for workers on separate machines: none holds back for sharing this one's CPUs.
  const common = ['--database', dbUrl, '--data-dir', dataDir, '--lease', '3', '--task-timeout', '120', '--shared-cpu', '100'];
  const startServer = async () => {
    const p = spawnCensus('server', [...common, '--port', '0'], env);
    procs.push(p);
    return { p, url: await p.started };
  };
  const startWorker = async () => {
    const p = spawnCensus('worker', [...common, '--concurrency', '2'], env);
    procs.push(p);
    await p.started;
    return p;
  };
  const login = async (base: string) => (await request(base, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).json.sessionid as string;
  const tasks = async (sessionId: string) =>
    (await admin.query('SELECT id, name, status, owner, attempts FROM tasks WHERE session_id = $1 ORDER BY id', [sessionId])).rows;
  const hold = async () => {
    blocker = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');
  };
  const release = async () => {
    await blocker.query('COMMIT');
    await blocker.end();
  };
  const sessionEnd = (base: string, id: string) =>
    waitFor(async () => {
      const r = await request(base, 'GET', `/api/endeavour/jobsession/${id}`, { sid });
      return r.json.status === 'RUNNING' || r.json.status === 'CANCELLING' ? undefined : r.json;
    }, `session ${id} to end`, 90_000);

  beforeAll(async () => {
    await database.create();
    admin = new pg.Client({ connectionString: dbUrl });
    ({ p: api, url } = await startServer());
    await admin.connect();
    sid = await login(url);
    for (let i = 0; i < 3; i++) await startWorker();
    const body = AUTH_HOSTS.slice(0, SERVERS).map((h, i) => ({
      name: `pg-${i + 1}`, hostAddress: h, portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS,
    }));
    const reg = await request(url, 'POST', '/api/appserver?inventory=false', { sid, body });
    expect(reg.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await blocker?.end().catch(() => {});
    await admin?.end().catch(() => {});
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('spreads tasks over the workers and runs a killed worker\'s tasks again elsewhere', async () => {
    await hold();
    const start = await request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid });
    const sessionId = start.json.lastrun.sessionId as string;
    // Each worker takes two (its concurrency) and waits on the lock.
    const owners = await waitFor(async () => {
      const rows = await tasks(sessionId);
      const running = rows.filter((r) => r.status === 'RUNNING');
      return running.length === SERVERS ? running.map((r) => r.owner as string) : undefined;
    }, 'all tasks to be running');
    const byOwner = new Map<string, number>();
    for (const o of owners) byOwner.set(o, (byOwner.get(o) ?? 0) + 1);
    expect([...byOwner.values()].sort()).toEqual([2, 2, 2]);

    const victimName = owners[0]!;
    const victim = procs.find((p) => p.output().includes(`worker ${victimName} is taking tasks`))!;
    expect(await victim.kill('SIGKILL')).toBe(-1);
    await release();

    const done = await sessionEnd(url, sessionId);
    expect(done.status).toBe('COMPLETED');
    const rows = await tasks(sessionId);
    expect(rows).toHaveLength(SERVERS);
    expect(rows.every((r) => r.status === 'COMPLETED')).toBe(true);
    const rerun = rows.filter((r) => r.attempts === 2);
    expect(rerun).toHaveLength(2); // the victim's two, once more each
    const f = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }, { property: 'type', value: 'WARN' }]));
    const warns = (await request(url, 'GET', `/api/endeavour/log/job?filter=${f}`, { sid })).json.logs.map((l: { message: string }) => l.message);
    expect(warns.filter((m: string) => m.includes(victimName) && m.includes('runs again'))).toHaveLength(2);
    const instances = (await request(url, 'GET', '/api/application/postgresql/instance', { sid })).json;
    expect(instances.total).toBe(SERVERS);
  }, 120_000);

  it('resumes a session after the API server is killed and started again', async () => {
    await hold();
    const start = await request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid });
    const sessionId = start.json.lastrun.sessionId as string;
    await waitFor(async () => ((await tasks(sessionId)).some((r) => r.status === 'RUNNING') ? true : undefined), 'a task to run');
    expect(await api.kill('SIGKILL')).toBe(-1);
    ({ p: api, url } = await startServer());
    sid = await login(url);
    await release();
    const done = await sessionEnd(url, sessionId);
    expect(done.status).toBe('COMPLETED');
    expect((await tasks(sessionId)).every((r) => r.status === 'COMPLETED')).toBe(true);
  }, 120_000);

  it('cancels from any API server within seconds, aborting tasks in flight', async () => {
    const second = await startServer();
    const sid2 = await login(second.url);
    await hold();
    const start = await request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid });
    const sessionId = start.json.lastrun.sessionId as string;
    await waitFor(async () => ((await tasks(sessionId)).filter((r) => r.status === 'RUNNING').length >= 2 ? true : undefined), 'tasks to run');
    const t0 = Date.now();
    const cancel = await request(second.url, 'POST', `/api/endeavour/jobsession/${sessionId}?action=cancel`, { sid: sid2 });
    expect(cancel.status).toBe(201);
    const done = await sessionEnd(second.url, sessionId);
    expect(done.status).toBe('CANCELLED');
    expect(Date.now() - t0).toBeLessThan(30_000);
    await release();
    const rows = await tasks(sessionId);
    expect(rows.every((r) => r.status === 'CANCELLED' || r.status === 'COMPLETED')).toBe(true);
    expect(rows.some((r) => r.status === 'CANCELLED')).toBe(true);
  }, 120_000);

  it('creates one session when two API servers start the job at once', async () => {
    const other = procs.filter((p) => p !== api && p.output().includes('listening on')).at(-1)!;
    const otherUrl = await other.started;
    const sid2 = await login(otherUrl);
    await hold();
    const [a, b] = await Promise.all([
      request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid }),
      request(otherUrl, 'POST', '/api/endeavour/job/1004?action=start', { sid: sid2 }),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.json.lastrun.sessionId).toBe(b.json.lastrun.sessionId);
    await release();
    expect((await sessionEnd(url, a.json.lastrun.sessionId)).status).toBe('COMPLETED');
  }, 120_000);

  it('finishes a session when every worker was killed and one starts again', async () => {
    await hold();
    const start = await request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid });
    const sessionId = start.json.lastrun.sessionId as string;
    await waitFor(async () => ((await tasks(sessionId)).filter((r) => r.status === 'RUNNING').length >= 2 ? true : undefined), 'tasks to run');
    const workers = procs.filter((p) => p.output().includes('is taking tasks') && p.child.exitCode === null && p.child.signalCode === null);
    expect(workers.length).toBeGreaterThan(0);
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await release();
    await startWorker();
    const done = await sessionEnd(url, sessionId);
    expect(done.status).toBe('COMPLETED');
    const rows = await tasks(sessionId);
    expect(rows.every((r) => r.status === 'COMPLETED')).toBe(true);
    expect(rows.some((r) => r.attempts === 2)).toBe(true);
  }, 120_000);
});
