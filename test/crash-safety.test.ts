/**
 * Crash and restart safety. With real processes on PostgreSQL: a SIGKILLed worker's tasks run
 * again elsewhere within seconds (its liveness lock is gone) while a slow live worker keeps its
 * own, and a worker stopped with SIGTERM hands its tasks back at once. On both stores: a task's
 * result, its log entries and its COMPLETED status commit together. Over HTTP: a registration
 * sent again gets the server its first attempt saved. Slow servers are made slow for certain by a
 * test transaction holding a lock every PostgreSQL inventory needs (as in cluster.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { postgresqlCollector } from '../src/collectors/postgresql/index.ts';
import { systemClock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { Engine } from '../src/engine/engine.ts';
import { InProcessQueue } from '../src/engine/queue.ts';
import { INVENTORY_JOB_ID } from '../src/engine/system-jobs.ts';
import type { Store } from '../src/store/index.ts';
import { AUTH_HOSTS, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { spawnCensus, type CensusProcess } from './support/processes.ts';
import { ADMIN_PASSWORD, request, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { DIALECTS, scratchDatabase, type TestStore } from './support/stores.ts';

/** Holds a lock every PostgreSQL inventory of the auth cluster waits on, until released. */
async function holdInventories(port: number) {
  const blocker = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await blocker.query('COMMIT');
    await blocker.end();
  };
}

describe('a PostgreSQL cluster whose workers die or stop', () => {
  const database = scratchDatabase('census_crash');
  const dbUrl = database.url;
  const dataDir = mkdtempSync(join(tmpdir(), 'census-crash-'));
  const port = inject('pgAuthPort');
  const procs: CensusProcess[] = [];
  let admin: pg.Client;
  let url: string;
  let sid: string;
  let release: (() => Promise<void>) | undefined;

  // The default 60 s lease: only the liveness lock can explain a takeover within seconds.
  // The processes stand for workers on separate machines: none holds back for sharing this one's CPUs.
  const common = ['--database', dbUrl, '--data-dir', dataDir, '--task-timeout', '120', '--shared-cpu', '100'];
  const env = { CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const startWorker = async () => {
    const p = spawnCensus('worker', [...common, '--concurrency', '2'], env);
    procs.push(p);
    return { p, name: await p.started };
  };
  /** Workers alive now, by owner name. Three workers of two slots for four tasks: room to take over. */
  const workers = new Map<string, CensusProcess>();
  const addWorkers = async (n: number) => {
    for (const w of await Promise.all(Array.from({ length: n }, startWorker))) workers.set(w.name, w.p);
  };
  /** Waits until every task of the session runs; returns the tasks by owner. */
  const allRunning = (sessionId: string) => waitFor(async () => {
    const rows = await tasks(sessionId);
    if (!rows.every((r) => r.status === 'RUNNING')) return undefined;
    const byOwner = new Map<string, number[]>();
    for (const r of rows) byOwner.set(r.owner!, [...(byOwner.get(r.owner!) ?? []), r.id]);
    return byOwner;
  }, 'every task to run');
  const tasks = async (sessionId: string) =>
    (await admin.query<{ id: number; name: string; status: string; owner: string | null; attempts: number }>(
      'SELECT id, name, status, owner, attempts FROM tasks WHERE session_id = $1 ORDER BY id', [sessionId])).rows;
  const startInventory = async () => {
    const r = await request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid });
    expect(r.status).toBe(200);
    return r.json.lastrun.sessionId as string;
  };
  const sessionEnd = (id: string) =>
    waitFor(async () => {
      const r = await request(url, 'GET', `/api/endeavour/jobsession/${id}`, { sid });
      return r.json.status === 'RUNNING' || r.json.status === 'CANCELLING' ? undefined : r.json.status as string;
    }, `session ${id} to end`, 60_000);
  const logs = async (sessionId: string) =>
    (await admin.query<{ task_id: number | null; message_id: string; message: string }>('SELECT task_id, message_id, message FROM logs WHERE session_id = $1', [sessionId])).rows;

  beforeAll(async () => {
    await database.create();
    const server = spawnCensus('server', [...common, '--port', '0'], env);
    procs.push(server);
    url = await server.started;
    admin = new pg.Client({ connectionString: dbUrl });
    await admin.connect();
    sid = (await request(url, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).json.sessionid;
    const body = AUTH_HOSTS.slice(0, 4).map((h, i) => ({
      name: `pg-${i + 1}`, hostAddress: h, portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS,
    }));
    expect((await request(url, 'POST', '/api/appserver?inventory=false', { sid, body })).status).toBe(201);
  }, 90_000);

  afterEach(async () => {
    await release?.().catch(() => {});
    release = undefined;
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await admin?.end().catch(() => {});
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a SIGKILLed worker\'s tasks again within 5 s, while slow live workers keep their own', async () => {
    await addWorkers(3);
    release = await holdInventories(port);
    const sessionId = await startInventory();
    // Every task runs, stuck on the lock: its worker is slow, not dead.
    const before = await allRunning(sessionId);
    const [victimName, victims] = [...before.entries()][0]!;
    const victim = workers.get(victimName)!;
    workers.delete(victimName);

    const killedAt = Date.now();
    expect(await victim.kill('SIGKILL')).toBe(-1);
    await waitFor(async () => {
      const rows = (await tasks(sessionId)).filter((r) => victims.includes(r.id));
      return rows.every((r) => r.status === 'RUNNING' && workers.has(r.owner!)) ? true : undefined;
    }, 'the killed worker\'s tasks to run on another worker', 5_000);
    expect(Date.now() - killedAt).toBeLessThan(5_000);

    // The slow live workers kept their tasks, on their first attempt.
    const now = await tasks(sessionId);
    for (const [owner, ids] of before) {
      if (owner === victimName) continue;
      for (const r of now.filter((x) => ids.includes(x.id))) expect(r).toMatchObject({ status: 'RUNNING', owner, attempts: 1 });
    }
    const said = (await logs(sessionId)).filter((l) => l.message_id === 'CNSJ0009');
    expect(said).toHaveLength(victims.length);
    expect(said.every((l) => l.message.includes(victimName))).toBe(true);

    await release();
    release = undefined;
    expect(await sessionEnd(sessionId)).toBe('COMPLETED');
    const done = await tasks(sessionId);
    expect(done.every((r) => r.status === 'COMPLETED')).toBe(true);
    expect(done.filter((r) => r.attempts === 2).map((r) => r.id).sort()).toEqual([...victims].sort());
    // Each result recorded once, even for the tasks that ran twice.
    const complete = (await logs(sessionId)).filter((l) => l.message_id === 'CNSI0101');
    expect(complete.map((l) => l.task_id).sort()).toEqual(done.map((r) => r.id).sort());
  }, 60_000);

  it('hands the tasks of a worker stopped with SIGTERM back at once', async () => {
    await addWorkers(3 - workers.size);
    release = await holdInventories(port);
    const sessionId = await startInventory();
    const [stoppingName, held] = [...(await allRunning(sessionId)).entries()][0]!;
    const stopping = workers.get(stoppingName)!;
    workers.delete(stoppingName);

    const stoppedAt = Date.now();
    expect(await stopping.kill('SIGTERM')).toBe(0);
    await waitFor(async () => {
      const rows = (await tasks(sessionId)).filter((r) => held.includes(r.id));
      return rows.every((r) => r.status === 'RUNNING' && workers.has(r.owner!)) ? true : undefined;
    }, 'the handed-back tasks to run on another worker', 5_000);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    const said = (await logs(sessionId)).filter((l) => l.message_id === 'CNSJ0013');
    expect(said.map((l) => l.task_id).sort()).toEqual([...held].sort());
    expect(said.every((l) => l.message.includes(stoppingName))).toBe(true);

    await release();
    release = undefined;
    expect(await sessionEnd(sessionId)).toBe('COMPLETED');
    // A handed-back attempt does not count: an orderly stop is no crash.
    expect((await tasks(sessionId)).every((r) => r.status === 'COMPLETED' && r.attempts === 1)).toBe(true);
  }, 60_000);
});

describe('a registration sent again', () => {
  let s: TestServer;
  let sid: string;
  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(() => s?.stop());

  const inline = (over: Record<string, unknown> = {}) => ({
    name: 'retried', hostAddress: '127.0.0.9', portNumber: 5439, applicationType: 'postgresql', username: 'inventory', password: 'Retry-Pass-1', ...over,
  });

  it('gets the server its first attempt saved, and a different server at that address still gets 409', async () => {
    const first = await s.req('POST', '/ngp/appserver', { sid, body: inline() });
    expect(first.status).toBe(201);
    const again = await s.req('POST', '/ngp/appserver', { sid, body: inline() });
    expect(again.status).toBe(201);
    expect(again.json.response.id).toBe(first.json.response.id);
    expect(again.json.response.osuser.href).toBe(first.json.response.osuser.href);

    for (const other of [inline({ name: 'someone-else' }), inline({ password: 'Another-Pass-2' }), inline({ username: 'other' })]) {
      const r = await s.req('POST', '/ngp/appserver', { sid, body: other });
      expect(r.status).toBe(409);
      expect(r.json).toMatchObject({ statusCode: 409, id: expect.any(String), description: expect.stringContaining('already registered') });
    }
    const listed = (await s.req('GET', `/api/appserver?filter=${encodeURIComponent(JSON.stringify([{ property: 'hostAddress', value: '127.0.0.9' }]))}`, { sid })).json;
    expect(listed.total).toBe(1);
    const identities = (await s.req('GET', '/api/identity/user', { sid })).json.users.filter((u: { name: string }) => u.name === 'retried login');
    expect(identities).toHaveLength(1); // the retry made no second identity either
  });

  it('answers the same 201 and Location on /api/appserver with an identity href', async () => {
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'shared', username: 'inv', password: 'Shared-Pass-1' } });
    expect(ident.status).toBe(201);
    const body = { name: 'by-href', hostAddress: '127.0.0.10', portNumber: 5440, applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } };
    const first = await s.req('POST', '/api/appserver', { sid, body });
    const again = await s.req('POST', '/api/appserver', { sid, body });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.json.id).toBe(first.json.id);
    expect(again.headers.location).toBe(first.headers.location);
    const other = await s.req('POST', '/api/appserver', { sid, body: { ...body, name: 'by-href-2' } });
    expect(other.status).toBe(409);
  });
});

describe.each(DIALECTS)('a task\'s end on %s', (_name, open) => {
  const secrets = SecretBox.fromKey(Buffer.alloc(32, 9));
  const port = inject('pgAuthPort');
  let t: TestStore;
  let engines: Engine[] = [];

  afterEach(async () => {
    for (const e of engines) await e.stop({ abandon: true });
    engines = [];
    await t?.cleanup();
  });

  const engine = async (store: Store, queue: InProcessQueue, exclusive: boolean) => {
    const e = new Engine({ store, clock: systemClock, queue, secrets, collectors: new Map([['postgresql', postgresqlCollector]]), taskTimeoutMs: 10_000, retries: 0 });
    engines.push(e);
    await e.init({ exclusive });
    e.start();
    return e;
  };

  /** Refuses, inside the database, to mark any task COMPLETED: a crash just before that commit. */
  const refuseCompleted = (store: Store) => store.dialect === 'sqlite'
    ? sql.raw(`CREATE TRIGGER refuse_completed BEFORE UPDATE OF status ON tasks WHEN NEW.status = 'COMPLETED'
        BEGIN SELECT RAISE(ABORT, 'no commit this time'); END`).execute(store.db)
    : sql.raw(`CREATE FUNCTION refuse_completed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.status = 'COMPLETED' THEN RAISE EXCEPTION 'no commit this time'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_completed BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_completed()`).execute(store.db);
  const allowCompleted = (store: Store) => sql.raw('DROP TRIGGER refuse_completed' + (store.dialect === 'postgres' ? ' ON tasks' : '')).execute(store.db);

  it('commits the result, its log entries and COMPLETED together, so a run cut short before the commit leaves none of them', async () => {
    t = await open();
    const { store } = t;
    const ident = await store.identities.create({ name: 'i', username: AUTH_SUPERUSER, secret: secrets.seal(AUTH_SUPERPASS), kind: 'password', type: 'system', ostype: 'LINUX', comment: null, createdAt: 1 });
    const server = await store.appservers.create({
      name: 'pg', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', osType: 'linux', identityId: ident.id,
      comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: 1,
    });
    await refuseCompleted(store);
    const q1 = new InProcessQueue(2);
    const first = await engine(store, q1, true);
    const { session } = await first.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    // The collector ran (its start is logged) and the task's handler has returned: the commit failed.
    await waitFor(async () => {
      const started = (await store.logs.list({ where: [{ column: 'messageId', kind: 'cmp', op: '=', value: 'CNSI0100' }], order: [], limit: 10, offset: 0 })).total;
      return started > 0 && q1.size.running === 0 && q1.size.waiting === 0 ? true : undefined;
    }, 'the first run to try its commit');
    const task = (await store.tasks.bySession(session.id))[0]!;
    expect(task).toMatchObject({ status: 'RUNNING', attempts: 1 });
    const ids = async () => (await store.logs.list({ where: [{ column: 'sessionId', kind: 'cmp', op: '=', value: session.id }], order: [], limit: 1000, offset: 0 })).items.map((l) => l.messageId);
    expect(await ids()).not.toContain('CNSI0101');
    expect(await ids()).not.toContain('CNSI0108');
    const instances = async () => Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM instances WHERE appserver_id = ${server.id}`.execute(store.db)).rows[0]!.n);
    expect(await instances()).toBe(0);

    // As after a crash: the next process runs the unfinished task again, and it is recorded once.
    await first.stop({ abandon: true });
    await allowCompleted(store);
    const second = await engine(store, new InProcessQueue(2), true);
    const done = await second.waitForSession(session.id, 20_000);
    expect(done.status).toBe('COMPLETED');
    expect((await store.tasks.bySession(session.id))[0]).toMatchObject({ status: 'COMPLETED', attempts: 2 });
    const after = await ids();
    expect(after.filter((m) => m === 'CNSI0101')).toHaveLength(1);
    expect(after.filter((m) => m === 'CNSI0108')).toHaveLength(1);
    expect(await instances()).toBe(1);
  });
});
