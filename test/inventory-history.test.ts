/**
 * The change history through the API, against the password-checking PostgreSQL cluster: a
 * database dropped between two runs is reported disappeared and kept as missing, a new one
 * appeared, one that grew past the threshold changed; the session counts them and says them in
 * words; each object has its own history.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { runInventory as runJob, startTestServer, type TestServer } from './support/server.ts';

const suffix = Math.random().toString(36).slice(2, 8);
const keep = `hist_keep_${suffix}`;
const drop = `hist_drop_${suffix}`;
const added = `hist_new_${suffix}`;

describe('change history per inventory run', () => {
  let s: TestServer;
  let sid: string;
  let admin: pg.Client;
  const port = inject('pgAuthPort');

  const runInventory = () => runJob(s, sid);

  beforeAll(async () => {
    admin = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await admin.connect();
    for (const db of [keep, drop]) await admin.query(`CREATE DATABASE ${db}`);
    s = await startTestServer();
    sid = await s.login();
    const reg = await s.req('POST', '/ngp/appserver', {
      sid, body: { name: 'history-pg', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS },
    });
    expect(reg.status).toBe(201);
  });

  afterAll(async () => {
    for (const db of [keep, drop, added]) await admin?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
    await admin?.end();
    await s?.stop();
  });

  it('reports appeared, disappeared and changed objects, and keeps missing ones', async () => {
    const first = await runInventory();
    expect(first.status).toBe('COMPLETED');
    const firstChanges = await s.req('GET', `/api/endeavour/jobsession/${first.id}/change?pageSize=1000`, { sid });
    const appearedFirst = firstChanges.json.changes.filter((c: { change: string }) => c.change === 'appeared').map((c: { objectName: string }) => c.objectName);
    expect(appearedFirst).toEqual(expect.arrayContaining([keep, drop, `127.0.0.1:${port}`]));

    await admin.query(`DROP DATABASE ${drop} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${added}`);
    const grow = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: keep });
    await grow.connect();
    await grow.query(`CREATE TABLE filler AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 20000)`); // ~20 MiB
    await grow.end();

    const second = await runInventory();
    expect(second.status).toBe('COMPLETED');
    const changes = (await s.req('GET', `/api/endeavour/jobsession/${second.id}/change?pageSize=1000`, { sid })).json.changes as {
      objectName: string; change: string; field: string | null; oldValue: string | null; newValue: string | null; objectType: string;
    }[];
    const mine = changes.filter((c) => [keep, drop, added].includes(c.objectName));
    expect(mine).toEqual(expect.arrayContaining([
      expect.objectContaining({ objectType: 'database', objectName: drop, change: 'disappeared' }),
      expect.objectContaining({ objectType: 'database', objectName: added, change: 'appeared' }),
      expect.objectContaining({ objectType: 'database', objectName: keep, change: 'changed', field: 'sizeBytes' }),
    ]));
    const sizeChange = mine.find((c) => c.field === 'sizeBytes')!;
    expect(Number(sizeChange.newValue) - Number(sizeChange.oldValue)).toBeGreaterThan(15 * 1024 * 1024);

    const stats = second.properties.statistics as { resourceType: string; appeared?: number; disappeared?: number; changed?: number }[];
    const dbStats = stats.find((x) => x.resourceType === 'database')!;
    expect(dbStats.appeared).toBeGreaterThanOrEqual(1);
    expect(dbStats.disappeared).toBeGreaterThanOrEqual(1);
    expect(dbStats.changed).toBeGreaterThanOrEqual(1);

    const filter = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: second.id }, { property: 'type', value: 'SUMMARY' }]));
    const summary = (await s.req('GET', `/api/endeavour/log/job?filter=${filter}`, { sid })).json.logs.map((l: { message: string }) => l.message).join('\n');
    expect(summary).toMatch(new RegExp(`database(s)? appeared \\([^)]*${added}`));
    expect(summary).toMatch(new RegExp(`database(s)? disappeared \\([^)]*${drop}`));
    expect(summary).toContain(`${keep}: size`);

    // The dropped database is kept, marked missing, and has its own history.
    const instance = (await s.req('GET', '/api/application/postgresql/instance', { sid })).json.instances[0];
    const f = encodeURIComponent(JSON.stringify([{ property: 'name', value: drop }]));
    const gone = (await s.req('GET', `/api/application/postgresql/instance/${instance.id}/database?filter=${f}`, { sid })).json.databases[0];
    expect(gone).toMatchObject({ name: drop, missing: true });
    expect(gone.lastSeen).toBeLessThan(second.start); // last seen by the first run
    expect(gone.firstSeen).toBe(gone.lastSeen);
    const history = (await s.req('GET', gone.links.history.href, { sid })).json;
    expect(history.changes.map((c: { change: string; jobsessionId: string }) => [c.change, c.jobsessionId])).toEqual([
      ['appeared', first.id],
      ['disappeared', second.id],
    ]);
    const missingFilter = encodeURIComponent(JSON.stringify([{ property: 'missing', value: 'true' }]));
    const missing = (await s.req('GET', `/api/application/postgresql/instance/${instance.id}/database?filter=${missingFilter}`, { sid })).json;
    expect(missing.databases.map((d: { name: string }) => d.name)).toContain(drop);
    expect(missing.databases.every((d: { missing: boolean }) => d.missing)).toBe(true);
  });

  it('records a third run without changes as no changes for these objects', async () => {
    const third = await runInventory();
    const changes = (await s.req('GET', `/api/endeavour/jobsession/${third.id}/change?pageSize=1000`, { sid })).json.changes as { objectName: string }[];
    expect(changes.filter((c) => [keep, drop, added].includes(c.objectName))).toEqual([]);
  });
});
