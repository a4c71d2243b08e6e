/**
 * Upgrading: the current Census opens a data directory written by Census 0.1.0
 * (test/fixtures/census-0.1.0, made by test/fixtures/make-v0.1.0.ts), migrates it, and finds
 * everything 0.1.0 answered before it stopped; the sealed credentials still open.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { dropMariaUser, ensureMariaUser, FIXTURE_ADMIN_PASSWORD, snapshot, type Snapshot } from './fixtures/upgrade-fixture.ts';
import { runInventory, startTestServer, type TestServer } from './support/server.ts';

const fixture = new URL('./fixtures/census-0.1.0/', import.meta.url).pathname;

describe('a database written by Census 0.1.0', () => {
  let s: TestServer;
  let sid: string;
  let dataDir: string;
  const { census: _v, commit: _c, createdAt: _t, ...expected } = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as Snapshot & { census: string; commit: string; createdAt: string };

  beforeAll(async () => {
    await ensureMariaUser();
    dataDir = mkdtempSync(join(tmpdir(), 'census-upgrade-'));
    // The 0.1.0 database is kept as its SQL dump (text, reviewable), and built here.
    const db = new SQLite(join(dataDir, 'census.db'));
    db.exec(readFileSync(join(fixture, 'census.sql'), 'utf8'));
    db.close();
    copyFileSync(join(fixture, 'secret.key'), join(dataDir, 'secret.key'));
    for (const f of ['census.db', 'secret.key']) chmodSync(join(dataDir, f), 0o600);
    s = await startTestServer({ dataDir });
    const login = await s.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: FIXTURE_ADMIN_PASSWORD } });
    expect(login.status).toBe(200);
    sid = login.json.sessionid;
  });

  afterAll(async () => {
    await s?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await dropMariaUser();
  });

  it('is migrated to the current schema', async () => {
    const r = await sql<{ v: number }>`SELECT MAX(version) AS v FROM census_migrations`.execute(s.census.store.db);
    expect(Number(r.rows[0]!.v)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
  });

  it('finds every job, session, task, log entry, identity, server and inventory row', async () => {
    const now = await snapshot(async (path) => {
      const r = await s.req('GET', path, { sid });
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
      return r.json;
    });
    // The fixture is not trivially empty: each kind of record is there to be lost.
    expect(expected.sessions.map((x) => x.status)).toEqual(['COMPLETED', 'COMPLETED', 'PARTIAL']);
    expect(expected.logs.filter((l) => l.type === 'ERROR').length).toBeGreaterThan(0);
    expect(expected.identities.users.length).toBe(3);
    expect(expected.identities.keys.length).toBe(1);
    expect(expected.instances.flatMap((i) => i.databases).length).toBeGreaterThan(0);
    // What came since 0.1.0 is there besides: the Hypervisor Inventory system job (1005), and
    // Notification Delivery (1006) with the one empty run a start gives a job that never ran.
    expect(now.jobs.find((j) => j.id === '1005')).toMatchObject({ name: 'Hypervisor Inventory', type: 'catalog', subType: 'hypervisor' });
    expect(now.jobs.find((j) => j.id === '1006')).toMatchObject({ name: 'Notification Delivery', type: 'notification', subType: 'delivery' });
    const delivery = new Set(now.sessions.filter((x) => String(x.jobId) === '1006').map((x) => String(x.id)));
    expect(delivery.size).toBe(1);
    expect({
      ...now,
      jobs: now.jobs.filter((j) => j.id !== '1005' && j.id !== '1006'),
      sessions: now.sessions.filter((x) => !delivery.has(String(x.id))),
      logs: now.logs.filter((l) => !delivery.has(String(l.jobsessionId))),
    }).toEqual(expected);
  });

  it('opens the sealed credentials: a new inventory logs in to both servers again', async () => {
    const session = await runInventory(s, sid);
    expect(session.status).toBe('PARTIAL');
    const tasks = (await s.req('GET', `/api/endeavour/jobsession/${session.id}/task`, { sid })).json.tasks;
    expect(tasks.map((t: { name: string; status: string; errorCode: string | null }) => [t.name, t.status, t.errorCode])).toEqual([
      ['pg-local', 'COMPLETED', null],
      ['mariadb-local', 'COMPLETED', null],
      ['nobody-home', 'FAILED', 'REFUSED'],
    ]);
  });
});
