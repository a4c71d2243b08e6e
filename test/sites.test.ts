/**
 * Sites and workers (docs/sites.md): /api/site with its guards, application servers in sites,
 * /api/vadp; and, on PostgreSQL with real worker processes in two sites, that each worker takes
 * only its own site's tasks, that a site with no worker has its tasks wait (the log says why)
 * until an administrator lets any worker take them, and that a killed worker shows as DEAD.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_HOSTS, AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { runCli } from './support/cli.ts';
import { spawnCensus, type CensusProcess } from './support/processes.ts';
import { ADMIN_PASSWORD, request, startTestServer, waitFor, type TestServer } from './support/server.ts';
import { scratchDatabase } from './support/stores.ts';

describe('sites and workers on the embedded default', () => {
  let s: TestServer;
  let sid: string;
  const port = inject('pgAuthPort');

  beforeAll(async () => {
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(async () => s?.stop());

  it('has the default site "Primary" from the first start, in SPP\'s shape', async () => {
    const r = await s.req('GET', '/api/site', { sid });
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(1);
    expect(r.json.sites).toEqual([expect.objectContaining({ id: '1000', name: 'Primary', defaultSite: true, throttles: [], allowAnyWorker: false })]);
    expect(r.json.sites[0].links.delete).toBeUndefined();
    expect(r.json.sites[0].description).toEqual(expect.any(String));
  });

  it('creates, lists with filter, sort and paging, changes and deletes sites', async () => {
    // What SPP's createsite.py sends.
    const made = await s.req('POST', '/api/site', { sid, body: { name: 'Frankfurt', description: 'DC 2', defaultSite: false } });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ name: 'Frankfurt', description: 'DC 2', defaultSite: false, throttles: [] });
    expect(made.headers.location).toMatch(new RegExp(`/api/site/${made.json.id}$`));
    const other = await s.req('POST', '/api/site', { sid, body: { name: 'Amsterdam' } });
    expect(other.status).toBe(201);

    const sorted = await s.req('GET', `/api/site?sort=${encodeURIComponent('[{"property":"name","direction":"ASC"}]')}&pageSize=2`, { sid });
    expect(sorted.json.total).toBe(3);
    expect(sorted.json.sites.map((x: { name: string }) => x.name)).toEqual(['Amsterdam', 'Frankfurt']);
    expect(sorted.json.links.nextPage.href).toContain('pageStartIndex=2');
    const filtered = await s.req('GET', `/api/site?filter=${encodeURIComponent('[{"property":"name","value":"Frank*"}]')}`, { sid });
    expect(filtered.json.sites.map((x: { id: string }) => x.id)).toEqual([made.json.id]);

    const renamed = await s.req('PUT', `/api/site/${made.json.id}`, { sid, body: { name: 'Frankfurt-1', allowAnyWorker: true } });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'Frankfurt-1', description: 'DC 2', allowAnyWorker: true });
    expect((await s.req('GET', `/api/site/${made.json.id}`, { sid })).json.name).toBe('Frankfurt-1');

    expect((await s.req('DELETE', `/api/site/${other.json.id}`, { sid })).status).toBe(204);
    expect((await s.req('GET', `/api/site/${other.json.id}`, { sid })).status).toBe(404);
    expect((await s.req('DELETE', `/api/site/${made.json.id}`, { sid })).status).toBe(204);
  });

  it('refuses duplicate names, a second default site, bad input and deleting Primary, in SPP\'s error shape', async () => {
    const dup = await s.req('POST', '/api/site', { sid, body: { name: 'primary' } });
    expect(dup.status).toBe(409);
    expect(dup.json.id).toBe('XSBConflictException');
    expect(dup.json.description).toContain('"Primary"');
    // createsite.py prints the error body's `response`.
    expect(dup.json.response).toMatchObject({ id: 'XSBConflictException', description: dup.json.description });

    expect((await s.req('POST', '/api/site', { sid, body: { name: 'Second', defaultSite: true } })).status).toBe(400);
    expect((await s.req('POST', '/api/site', { sid, body: { name: '' } })).status).toBe(400);
    expect((await s.req('POST', '/api/site', { sid, body: { name: 42 } })).status).toBe(400);
    expect((await s.req('POST', '/api/site', { sid, body: { description: 'no name' } })).status).toBe(400);
    expect((await s.req('PUT', '/api/site/1000', { sid, body: { defaultSite: false } })).status).toBe(400);
    const primary = await s.req('DELETE', '/api/site/1000', { sid });
    expect(primary.status).toBe(400);
    expect(primary.json.description).toContain('default site');
    expect((await s.req('GET', '/api/site/999999', { sid })).status).toBe(404);
    expect((await s.req('GET', '/api/site/abc', { sid })).status).toBe(400);

    const b = await s.req('POST', '/api/site', { sid, body: { name: 'Berlin' } });
    expect((await s.req('PUT', `/api/site/${b.json.id}`, { sid, body: { name: 'PRIMARY' } })).status).toBe(409);
    expect((await s.req('DELETE', `/api/site/${b.json.id}`, { sid })).status).toBe(204);
  });

  it('puts application servers in a site: siteId and siteName on the wire, unknown sites refused, busy sites kept', async () => {
    const site = (await s.req('POST', '/api/site', { sid, body: { name: 'Lab' } })).json;
    const base = { hostAddress: AUTH_HOSTS[2], portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS };

    const plain = await s.req('POST', '/ngp/appserver?inventory=false', { sid, body: { ...base, name: 'in-primary' } });
    expect(plain.status).toBe(201);
    expect(plain.json.response).toMatchObject({ siteId: '1000', siteName: 'Primary' });

    const unknown = await s.req('POST', '/ngp/appserver?inventory=false', { sid, body: { ...base, hostAddress: AUTH_HOSTS[3], name: 'x', siteId: '424242' } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json)).toContain('Site 424242 does not exist');
    expect((await s.req('POST', '/ngp/appserver?inventory=false', { sid, body: { ...base, hostAddress: AUTH_HOSTS[3], name: 'x', siteId: 'north' } })).status).toBe(400);

    // SPP clients send ids as strings.
    const inLab = await s.req('POST', '/ngp/appserver?inventory=false', { sid, body: { ...base, hostAddress: AUTH_HOSTS[3], name: 'in-lab', siteId: site.id } });
    expect(inLab.status).toBe(201);
    const id = inLab.json.response.id as string;
    const got = await s.req('GET', `/api/appserver/${id}`, { sid });
    expect(got.json).toMatchObject({ siteId: site.id, siteName: 'Lab' });
    const listed = (await s.req('GET', '/api/appserver', { sid })).json.appservers as { name: string; siteName: string }[];
    expect(listed.find((a) => a.name === 'in-lab')?.siteName).toBe('Lab');

    const busy = await s.req('DELETE', `/api/site/${site.id}`, { sid });
    expect(busy.status).toBe(409);
    expect(busy.json.description).toContain('in-lab');

    // Renaming the site shows in the server's record; moving the server frees the site.
    await s.req('PUT', `/api/site/${site.id}`, { sid, body: { name: 'Lab-2' } });
    expect((await s.req('GET', `/api/appserver/${id}`, { sid })).json.siteName).toBe('Lab-2');
    expect((await s.req('PUT', `/api/appserver/${id}`, { sid, body: { siteId: 99999 } })).status).toBe(400);
    const moved = await s.req('PUT', `/api/appserver/${id}`, { sid, body: { siteId: 1000 } });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ siteId: '1000', siteName: 'Primary' });
    expect((await s.req('DELETE', `/api/site/${site.id}`, { sid })).status).toBe(204);

    for (const a of [id, plain.json.response.id]) expect((await s.req('DELETE', `/api/appserver/${a}`, { sid })).status).toBe(204);
  });

  it('lists the server\'s own engine in /api/vadp, and lets a Monitor read sites and workers but not change them', async () => {
    const r = await s.req('GET', '/api/vadp', { sid });
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(1);
    const [w] = r.json.vadps;
    expect(w).toMatchObject({ siteId: '1000', siteName: 'Primary', state: 'ENABLED', role: 'server', pid: process.pid, version: expect.any(String) });
    // The embedded default's one process never holds back for another.
    expect(w).toMatchObject({ sharesMachineWith: null, sharedCpu: null });
    expect(w.displayName).toEqual(expect.any(String));
    expect((await s.req('GET', `/api/vadp/${w.id}`, { sid })).json.id).toBe(w.id);

    const user = await s.req('POST', '/api/security/user', { sid, body: { name: 'watcher', password: 'Watcher-Pass-1', permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
    expect(user.status).toBe(201);
    const login = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'watcher', password: 'Watcher-Pass-1' }, body: { newPassword: 'Watcher-Pass-2' } });
    expect(login.status).toBe(200);
    const msid = login.json.sessionid as string;
    expect((await s.req('GET', '/api/site', { sid: msid })).status).toBe(200);
    expect((await s.req('GET', '/api/vadp', { sid: msid })).status).toBe(200);
    expect((await s.req('POST', '/api/site', { sid: msid, body: { name: 'Nope' } })).status).toBe(403);
  });
});

describe('site-aware workers on PostgreSQL', () => {
  const database = scratchDatabase('census_sites');
  const procs: CensusProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'census-sites-'));
  const port = inject('pgAuthPort');
  const env = { CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const common = ['--database', database.url, '--data-dir', dataDir, '--lease', '2', '--task-timeout', '120'];
  let db: pg.Client;
  let blocker: pg.Client | undefined;
  let url: string;
  let sid: string;
  const sites: Record<string, string> = {};
  const owners: Record<string, string> = {};
  const workers: Record<string, CensusProcess> = {};

  const worker = (site: string, more: string[] = []) => {
    const p = spawnCensus('worker', [...common, '--concurrency', '4', '--site', site, ...more], env);
    procs.push(p);
    return p;
  };
  const tasks = async (sessionId: string) =>
    (await db.query('SELECT t.id, t.status, t.owner, a.name FROM tasks t JOIN appservers a ON a.id = t.appserver_id WHERE t.session_id = $1 ORDER BY t.id', [sessionId])).rows as
      { id: number; status: string; owner: string | null; name: string }[];
  /** Keeps every inventory connection waiting (each collector reads pg_database), so tasks stay RUNNING while we look. */
  const hold = async () => {
    const { AUTH_SUPERUSER: user, AUTH_SUPERPASS: password } = await import('./support/pg-auth-cluster.ts');
    blocker = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');
  };
  const release = async () => {
    await blocker?.query('COMMIT');
    await blocker?.end();
    blocker = undefined;
  };

  beforeAll(async () => {
    await database.create();
    db = new pg.Client({ connectionString: database.url });
    const server = spawnCensus('server', [...common, '--port', '0'], env);
    procs.push(server);
    url = await server.started;
    await db.connect();
    sid = (await request(url, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } })).json.sessionid as string;
    for (const name of ['East', 'West', 'North']) {
      const r = await request(url, 'POST', '/api/site', { sid, body: { name, description: `${name} site`, defaultSite: false } });
      expect(r.status).toBe(201);
      sites[name] = r.json.id as string;
    }
    workers.East = worker('East');
    workers.West = worker('West');
    owners.East = await workers.East.started;
    owners.West = await workers.West.started;
    // Two servers in East, two in West, one in North (which has no worker).
    const placed = [['East', 'e1'], ['East', 'e2'], ['West', 'w1'], ['West', 'w2'], ['North', 'n1']] as const;
    const body = placed.map(([site, name], i) => ({
      name, hostAddress: AUTH_HOSTS[i], portNumber: port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS, siteId: sites[site],
    }));
    const reg = await request(url, 'POST', '/api/appserver?inventory=false', { sid, body });
    expect(reg.status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await release().catch(() => {});
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await db?.end().catch(() => {});
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start a worker for a site that does not exist', async () => {
    const p = spawnCensus('worker', [...common, '--site', 'Atlantis'], env);
    expect(await p.exited).not.toBe(0);
    expect(p.output()).toContain('no site named "Atlantis"');
    expect(p.output()).toContain('"East"');
  }, 60_000);

  it('gives each worker only its own site\'s tasks; a site with no worker waits, logged once, until any worker is allowed', async () => {
    await hold();
    const start = await request(url, 'POST', '/api/endeavour/job/1004?action=start', { sid });
    const sessionId = start.json.lastrun.sessionId as string;
    const running = await waitFor(async () => {
      const rows = await tasks(sessionId);
      const r = rows.filter((t) => t.status === 'RUNNING');
      return r.length === 4 ? r : undefined;
    }, 'the four East and West tasks to run', 60_000);
    const ownerOf = Object.fromEntries(running.map((t) => [t.name, t.owner]));
    expect(ownerOf).toEqual({ e1: owners.East, e2: owners.East, w1: owners.West, w2: owners.West });
    await release();

    // East and West finish; North's task is still waiting, and the session with it.
    const rows = await waitFor(async () => {
      const r = await tasks(sessionId);
      return r.filter((t) => t.status === 'COMPLETED').length === 4 ? r : undefined;
    }, 'East and West tasks to complete', 60_000);
    expect(rows.find((t) => t.name === 'n1')).toMatchObject({ status: 'PENDING', owner: null });
    expect((await request(url, 'GET', `/api/endeavour/jobsession/${sessionId}`, { sid })).json.status).toBe('RUNNING');
    const filter = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: sessionId }, { property: 'type', value: 'WARN' }]));
    const warns = (await request(url, 'GET', `/api/endeavour/log/job?filter=${filter}`, { sid })).json.logs as { message: string; messageId: string }[];
    const why = warns.filter((l) => l.messageId === 'CNSJ0020');
    expect(why).toHaveLength(1);
    expect(why[0]!.message).toContain('site North');
    expect(why[0]!.message).toContain('n1');

    // An administrator lets any worker take North's tasks: the session ends at once, not at the sweeper's next pass.
    const allowed = await request(url, 'PUT', `/api/site/${sites.North}`, { sid, body: { allowAnyWorker: true } });
    expect(allowed.status).toBe(200);
    const done = await waitFor(async () => {
      const r = await request(url, 'GET', `/api/endeavour/jobsession/${sessionId}`, { sid });
      return r.json.status === 'RUNNING' ? undefined : r.json;
    }, 'the session to end', 60_000);
    expect(done.status).toBe('COMPLETED');
    expect((await tasks(sessionId)).every((t) => t.status === 'COMPLETED')).toBe(true);
  }, 180_000);

  it('shows both workers in /api/vadp with their sites, a later one on the same machine as sharing it, and a killed one as DEAD', async () => {
    type Listed = { id: string; displayName: string; siteId: string; siteName: string; state: string; pid: number; role: string; sharesMachineWith: string | null; sharedCpu: number | null };
    const list = async () => (await request(url, 'GET', '/api/vadp', { sid })).json.vadps as Listed[];
    // A second East worker on this machine, holding back at 60 % busy.
    const later = worker('East', ['--shared-cpu', '60']);
    await later.started;
    const now = await list();
    const east = now.find((w) => w.pid === workers.East!.child.pid)!;
    const west = now.find((w) => w.pid === workers.West!.child.pid)!;
    const second = now.find((w) => w.pid === later.child.pid)!;
    expect(east).toMatchObject({ siteId: sites.East, siteName: 'East', state: 'ENABLED', role: 'worker' });
    expect(west).toMatchObject({ siteId: sites.West, siteName: 'West', state: 'ENABLED', role: 'worker' });
    expect(east.displayName).toEqual(expect.any(String));
    // Each the first of its site on this machine, holding back at the default share when it is not.
    expect(east).toMatchObject({ sharesMachineWith: null, sharedCpu: 75 });
    expect(west).toMatchObject({ sharesMachineWith: null, sharedCpu: 75 });
    expect(second).toMatchObject({ siteId: sites.East, sharesMachineWith: east.id, sharedCpu: 60 });
    expect((await request(url, 'GET', `/api/vadp/${second.id}`, { sid })).json).toMatchObject({ sharesMachineWith: east.id, sharedCpu: 60 });
    // And `census worker list` says so on the later worker's line only.
    const home = mkdtempSync(join(tmpdir(), 'census-cli-'));
    const cli = await runCli(home, ['worker', 'list'], { env: { CENSUS_URL: url, CENSUS_USER: 'admin', CENSUS_PASSWORD: ADMIN_PASSWORD, CENSUS_INSECURE: '1' } });
    rmSync(home, { recursive: true, force: true });
    expect(cli.code).toBe(0);
    const lines = cli.stdout.split('\n');
    expect(lines[0]).toMatch(/SHARES MACHINE\s*$/);
    expect(lines.find((l) => new RegExp(`^\\s*${second.id}\\s`).test(l))).toMatch(new RegExp(`with ${east.id}, takes tasks under 60 % busy\\s*$`));
    expect(lines.find((l) => new RegExp(`^\\s*${east.id}\\s`).test(l))).not.toContain('with ');

    expect(await workers.West!.kill('SIGKILL')).toBe(-1);
    await waitFor(async () => ((await list()).find((w) => w.id === west.id)?.state === 'DEAD' ? true : undefined), 'the killed worker to show as DEAD', 30_000);
    expect((await list()).find((w) => w.id === east.id)?.state).toBe('ENABLED');

    // A worker stopped cleanly says so; the later one is the first on the machine now.
    expect(await workers.East!.kill('SIGTERM')).toBe(0);
    expect((await list()).find((w) => w.id === east.id)?.state).toBe('STOPPED');
    expect((await list()).find((w) => w.id === second.id)).toMatchObject({ state: 'ENABLED', sharesMachineWith: null });
    expect(await later.kill('SIGTERM')).toBe(0);
    // Now no live worker belongs to West: the site can go once its servers are elsewhere.
    const busy = await request(url, 'DELETE', `/api/site/${sites.West}`, { sid });
    expect(busy.status).toBe(409);
    expect(busy.json.description).toMatch(/w1, w2/);
  }, 120_000);
});
