/**
 * SPP's wire conventions (spec §1, checklist §9): the collection envelope, paging and its links,
 * the filter and sort language with its loose typing, path hygiene, tolerated bodies and
 * parameters, and the unauthenticated calls.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestServer, waitFor, type Reply, type TestServer } from './support/server.ts';
import { PG_URL } from './support/stores.ts';

let srv: TestServer;
let sid = '';
let blackHole: net.Server | undefined;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  srv = await startTestServer({ taskTimeoutMs: 8000 });
  sid = await srv.login();
});

afterAll(async () => {
  await srv?.stop();
  for (const s of sockets) s.destroy();
  if (blackHole) await new Promise<void>((resolve) => blackHole!.close(() => resolve()));
});

const q = (v: unknown) => encodeURIComponent(JSON.stringify(v));
const get = (path: string, headers?: Record<string, string>) => srv.req('GET', path, { sid, ...(headers ? { headers } : {}) });

async function getOk(path: string, headers?: Record<string, string>): Promise<Reply> {
  const r = await get(path, headers);
  expect(r.status, `${path}: ${r.text}`).toBe(200);
  return r;
}

const ids = (r: Reply, key: string) => (r.json[key] as { id: string }[]).map((x) => x.id);
const names = (r: Reply, key: string) => (r.json[key] as { name: string }[]).map((x) => x.name);

function expectEnvelope(r: Reply, key: string) {
  expect(Object.keys(r.json)).toEqual(expect.arrayContaining(['links', 'total', 'page', key]));
  expect(Array.isArray(r.json[key])).toBe(true);
  expect(Number.isInteger(r.json.total)).toBe(true);
  expect(Number.isInteger(r.json.page)).toBe(true);
  expect(r.json.links.self.href).toMatch(/^https:\/\//);
  expect(r.json.links.up.href).toMatch(/^https:\/\//);
}

describe('collection envelope (spec §1.5)', () => {
  it('has the array key even when there is nothing: /api/appserver before any registration', async () => {
    const r = await getOk('/api/appserver');
    expectEnvelope(r, 'appservers');
    expect(r.json.appservers).toEqual([]);
    expect(r.json.total).toBe(0);
    expect(r.json.page).toBe(1);
    expect(r.json.links.nextPage).toBeUndefined();
    expect(r.json.links.lastPage).toBeUndefined();
    expect(r.json.links.create.href).toBe(`${srv.url}/api/appserver`);
  });

  it('/api/identity/user with no identities', async () => {
    const r = await getOk('/api/identity/user');
    expectEnvelope(r, 'users');
    expect(r.json.users).toEqual([]);
    expect(r.json.total).toBe(0);
  });

  it('a filter that matches nothing still answers with the array', async () => {
    const nothing = q([{ property: 'name', value: 'no such thing', op: '=' }]);
    for (const [path, key] of [
      [`/api/endeavour/job?filter=${nothing}`, 'jobs'],
      [`/api/endeavour/jobsession?filter=${q([{ property: 'jobName', value: 'no such job' }])}`, 'sessions'],
      [`/api/endeavour/log/job?filter=${q([{ property: 'jobsessionId', value: '12345' }])}`, 'logs'],
      [`/api/application/postgresql/instance?filter=${nothing}`, 'instances'],
    ] as const) {
      const r = await getOk(path);
      expectEnvelope(r, key);
      expect(r.json[key], path).toEqual([]);
      expect(r.json.total, path).toBe(0);
    }
  });

  it('a page past the end is empty but keeps the real total', async () => {
    const r = await getOk('/api/endeavour/job?pageSize=10&pageStartIndex=50');
    expect(r.json.jobs).toEqual([]);
    expect(r.json.total).toBe(4); // 1001, 1004, 1005 and 1006
    expect(r.json.page).toBe(6);
    expect(r.json.links.nextPage).toBeUndefined();
  });

  it('ids are numeric strings, times are ms numbers, tenantId is 1000 (spec §1.4)', async () => {
    const jobs = await getOk('/api/endeavour/job');
    for (const j of jobs.json.jobs) {
      expect(j.id).toMatch(/^\d+$/);
      expect(j.policyId).toMatch(/^\d+$/);
      expect(j.tenantId).toBe(1000);
      expect(typeof j.lastRunTime).toBe('number');
      expect(j.lastRunTime).toBeGreaterThan(1_500_000_000_000);
      expect(j.lastrun.sessionId).toMatch(/^\d+$/);
    }
    const sessions = await getOk('/api/endeavour/jobsession');
    for (const s of sessions.json.sessions) {
      expect(s.id).toMatch(/^\d+$/);
      expect(s.jobId).toMatch(/^\d+$/);
      expect(s.start).toBeGreaterThan(1_500_000_000_000);
      expect(typeof s.duration).toBe('number');
    }
  });
});

describe('paging (spec §1.6)', () => {
  const identityNames = ['id-a', 'id-b', 'id-c', 'id-d', 'id-e', 'id-f', 'id-g'];

  beforeAll(async () => {
    for (const [i, name] of identityNames.entries()) {
      const r = await srv.req('POST', '/api/identity/user', {
        sid, body: { name, username: `user-${String.fromCharCode(97 + i)}`, password: `pw-${i}`, ostype: i % 2 ? 'linux' : 'windows' },
      });
      expect(r.status).toBe(201);
    }
  });

  it('defaults to 100 records from index 0', async () => {
    const r = await getOk('/api/identity/user');
    expect(r.json.total).toBe(7);
    expect(r.json.page).toBe(1);
    expect(names(r, 'users')).toEqual(identityNames);
    expect(r.json.links.nextPage).toBeUndefined();
  });

  it('counts pages from 1 and pageStartIndex from 0, with nextPage/lastPage only while there is more', async () => {
    const p1 = await getOk('/api/identity/user?pageSize=3');
    expect(p1.json.total).toBe(7);
    expect(p1.json.page).toBe(1);
    expect(names(p1, 'users')).toEqual(['id-a', 'id-b', 'id-c']);
    const next = new URL(p1.json.links.nextPage.href);
    expect(p1.json.links.nextPage.rel).toBe('next');
    expect(next.searchParams.get('pageStartIndex')).toBe('3');
    expect(next.searchParams.get('pageSize')).toBe('3');
    const last = new URL(p1.json.links.lastPage.href);
    expect(p1.json.links.lastPage.rel).toBe('last');
    expect(last.searchParams.get('pageStartIndex')).toBe('6');

    const p2 = await getOk(next.pathname + next.search);
    expect(p2.json.page).toBe(2);
    expect(names(p2, 'users')).toEqual(['id-d', 'id-e', 'id-f']);
    expect(new URL(p2.json.links.nextPage.href).searchParams.get('pageStartIndex')).toBe('6');

    const p3 = await getOk(last.pathname + last.search);
    expect(p3.json.page).toBe(3);
    expect(names(p3, 'users')).toEqual(['id-g']);
    expect(p3.json.links.nextPage).toBeUndefined();
    expect(p3.json.links.lastPage).toBeUndefined();
  });

  it('an exact multiple of pageSize has no empty trailing page', async () => {
    const r = await getOk('/api/endeavour/job?pageSize=4');
    expect(r.json.jobs).toHaveLength(4);
    expect(r.json.links.nextPage).toBeUndefined();
    const p = await getOk('/api/endeavour/job?pageSize=1&pageStartIndex=3');
    expect(p.json.page).toBe(4);
    expect(p.json.links.nextPage).toBeUndefined();
  });

  it('a start index between pages counts as the page it falls in', async () => {
    const r = await getOk('/api/identity/user?pageSize=3&pageStartIndex=4');
    expect(r.json.page).toBe(2);
    expect(names(r, 'users')).toEqual(['id-e', 'id-f', 'id-g']);
    expect(r.json.links.nextPage).toBeUndefined();
  });

  it('builds hrefs from the request Host header (when it names this server) and keeps filter and sort in nextPage', async () => {
    const filter = q([{ property: 'name', value: 'id-*' }]);
    const sort = q([{ property: 'name', direction: 'DESC' }]);
    // Another name for the address the server listens on is followed; a foreign one is not (issue 9).
    const port = new URL(srv.url).port;
    const foreign = await getOk('/api/identity/user', { Host: 'census.example:9999' });
    expect(foreign.json.links.self.href).toBe(`https://127.0.0.1:${port}/api/identity/user`);
    const host = `localhost:${port}`;
    const r = await getOk(`/api/identity/user?pageSize=2&filter=${filter}&sort=${sort}`, { Host: host });
    const base = `https://${host}`;
    expect(r.json.links.self.href.startsWith(base)).toBe(true);
    expect(r.json.links.up.href.startsWith(base)).toBe(true);
    expect(r.json.links.nextPage.href.startsWith(`${base}/api/identity/user?`)).toBe(true);
    expect(r.json.links.lastPage.href.startsWith(base)).toBe(true);
    for (const u of r.json.users) expect(u.links.self.href).toBe(`${base}/api/identity/user/${u.id}`);
    const next = new URL(r.json.links.nextPage.href);
    expect(JSON.parse(next.searchParams.get('filter')!)).toEqual([{ property: 'name', value: 'id-*' }]);
    expect(JSON.parse(next.searchParams.get('sort')!)).toEqual([{ property: 'name', direction: 'DESC' }]);
    // Following it (against the real address) gives the next records in the same order.
    const p2 = await getOk(next.pathname + next.search);
    expect(names(r, 'users')).toEqual(['id-g', 'id-f']);
    expect(names(p2, 'users')).toEqual(['id-e', 'id-d']);
    // Job links too.
    const job = await getOk('/api/endeavour/job/1004', { Host: host });
    expect(job.json.links.self.href).toBe(`${base}/api/endeavour/job/1004`);
    expect(job.json.links.start.href.startsWith(base)).toBe(true);
  });
});

describe('filter (spec §1.7)', () => {
  it('defaults a missing op to =', async () => {
    const r = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: 'id-c' }])}`);
    expect(names(r, 'users')).toEqual(['id-c']);
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'serviceId', value: 'serviceprovider.catalog.application' }])}`);
    expect(ids(j, 'jobs')).toEqual(['1004']);
  });

  it('compares numbers loosely: "1004" and 1004 are the same', async () => {
    for (const value of ['1004', 1004, ' 1004 ']) {
      const r = await getOk(`/api/endeavour/job?filter=${q([{ property: 'id', value, op: '=' }])}`);
      expect(ids(r, 'jobs'), JSON.stringify(value)).toEqual(['1004']);
    }
    for (const value of ['1001', 1001]) {
      const r = await getOk(`/api/endeavour/jobsession?filter=${q([{ property: 'jobId', value }])}`);
      expect(r.json.total).toBeGreaterThanOrEqual(1);
      for (const s of r.json.sessions) expect(s.jobId).toBe('1001');
    }
    const i = await getOk(`/api/identity/user?filter=${q([{ property: 'id', value: 2000000, op: '<' }])}`);
    expect(i.json.total).toBe(7);
  });

  it('matches * wildcards case-insensitively (in memory and in SQL)', async () => {
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'name', value: '*SERVER INVENTORY*', op: '=' }])}`);
    expect(ids(j, 'jobs')).toEqual(['1004']);
    const j2 = await getOk(`/api/endeavour/job?filter=${q([{ property: 'name', value: 'maint*' }])}`);
    expect(ids(j2, 'jobs')).toEqual(['1001']);
    const u = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: 'ID-*' }])}`);
    expect(u.json.total).toBe(7);
    const u2 = await getOk(`/api/identity/user?filter=${q([{ property: 'username', value: '*-C' }])}`);
    expect(names(u2, 'users')).toEqual(['id-c']);
    // A literal % or _ is not a wildcard.
    const u3 = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: 'id_*' }])}`);
    expect(u3.json.total).toBe(0);
    const s = await getOk(`/api/endeavour/jobsession?filter=${q([{ property: 'jobName', value: 'APPLICATION*' }])}`);
    expect(s.json.total).toBeGreaterThanOrEqual(1);
    for (const x of s.json.sessions) expect(x.jobId).toBe('1004');
  });

  it('supports IN with strings and numbers', async () => {
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'id', value: ['1001', 1004, '9999'], op: 'IN' }])}`);
    expect(ids(j, 'jobs')).toEqual(['1001', '1004']);
    const u = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: ['id-b', 'id-f', 'nope'], op: 'IN' }])}`);
    expect(names(u, 'users')).toEqual(['id-b', 'id-f']);
    const none = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: [], op: 'IN' }])}`);
    expect(none.json.total).toBe(0);
  });

  it('supports <> with a wildcard', async () => {
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'name', value: 'maint*', op: '<>' }])}`);
    expect(ids(j, 'jobs')).toEqual(['1004', '1005', '1006']);
    const u = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: '*-[ab]', op: '<>' }])}`);
    expect(u.json.total).toBe(7); // [ab] is not a pattern
    const u2 = await getOk(`/api/identity/user?filter=${q([{ property: 'username', value: 'USER-A*', op: '<>' }])}`);
    expect(u2.json.total).toBe(6);
    expect(names(u2, 'users')).not.toContain('id-a');
  });

  it('combines criteria with AND', async () => {
    const u = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: 'id-*' }, { property: 'username', value: 'user-b' }])}`);
    expect(names(u, 'users')).toEqual(['id-b']);
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'type', value: 'catalog' }, { property: 'name', value: 'Maintenance' }])}`);
    expect(j.json.jobs).toEqual([]);
    const j2 = await getOk(`/api/endeavour/job?filter=${q([{ property: 'type', value: 'catalog' }, { property: 'subType', value: 'application', op: '=' }])}`);
    expect(ids(j2, 'jobs')).toEqual(['1004']);
  });

  it('supports EXISTS / NOT EXISTS, which take no value', async () => {
    const all = (await getOk('/api/endeavour/jobsession')).json.total;
    expect(all).toBeGreaterThan(0);
    const f = (property: string, op: string) => `/api/endeavour/jobsession?filter=${q([{ property, op }])}`;
    expect((await getOk(f('status', 'EXISTS'))).json.total).toBe(all);
    expect((await getOk(f('status', 'NOT EXISTS'))).json.total).toBe(0);
    expect((await getOk(f('end', 'EXISTS'))).json.total).toBe(all); // nothing runs now
    expect((await getOk(f('end', 'NOT EXISTS'))).json.total).toBe(0);
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'lastRunTime', op: 'NOT EXISTS' }])}`);
    expect(j.json.jobs).toEqual([]);
  });

  it('ignores properties it does not know', async () => {
    const j = await getOk(`/api/endeavour/job?filter=${q([{ property: 'frobnicate', value: 'x' }])}`);
    expect(j.json.total).toBe(4);
    const j2 = await getOk(`/api/endeavour/job?filter=${q([{ property: 'frobnicate', value: 'x' }, { property: 'id', value: '1001' }])}`);
    expect(ids(j2, 'jobs')).toEqual(['1001']);
    const u = await getOk(`/api/identity/user?filter=${q([{ property: 'password', value: 'pw-1' }])}`);
    expect(u.json.total).toBe(7);
  });

  it('tolerates whitespace in the JSON and a spaced-out operator', async () => {
    const raw = encodeURIComponent('[ { "property" : "id" , "value" : "1001" , "op" : " = " } ]');
    expect(ids(await getOk(`/api/endeavour/job?filter=${raw}`), 'jobs')).toEqual(['1001']);
    const notIn = q([{ property: 'id', value: ['1001'], op: 'not  in' }]);
    expect(ids(await getOk(`/api/endeavour/job?filter=${notIn}`), 'jobs')).toEqual(['1004', '1005', '1006']);
  });

  it('takes booleans as "true"/"false" strings (inventory instance `missing`)', async () => {
    const pg = new URL(PG_URL);
    const idn = await srv.req('POST', '/api/identity/user', { sid, body: { name: 'pg', username: decodeURIComponent(pg.username || 'postgres'), password: pg.password || 'unused' } });
    expect(idn.status).toBe(201);
    const as = await srv.req('POST', '/api/appserver', {
      sid, body: { hostAddress: pg.hostname, portNumber: Number(pg.port || 5432), applicationType: 'postgresql', osuser: { href: idn.json.links.self.href } },
    });
    expect(as.status).toBe(201);
    const inv = await srv.req('POST', `/api/appserver/${as.json.id}?action=inventory&actionname=start`, { sid });
    expect(inv.status).toBe(200);
    const s = await waitFor(async () => {
      const r = await get(`/api/endeavour/jobsession/${inv.json.sessionId}`);
      return r.json.status !== 'RUNNING' ? r.json : undefined;
    }, 'the PostgreSQL inventory');
    expect(s.status, 'inventory of the test PostgreSQL server (CENSUS_TEST_PG)').toBe('COMPLETED');
    const all = await getOk('/api/application/postgresql/instance');
    expect(all.json.total).toBeGreaterThanOrEqual(1);
    for (const value of ['false', false, 'FALSE']) {
      const r = await getOk(`/api/application/postgresql/instance?filter=${q([{ property: 'missing', value }])}`);
      expect(r.json.total, JSON.stringify(value)).toBe(all.json.total);
    }
    for (const value of ['true', true]) {
      const r = await getOk(`/api/application/postgresql/instance?filter=${q([{ property: 'missing', value }])}`);
      expect(r.json.total, JSON.stringify(value)).toBe(0);
    }
    // hasCatalog is not a property Census knows: ignored, not an error.
    const h = await getOk(`/api/endeavour/jobsession?filter=${q([{ property: 'hasCatalog', value: 'true' }])}`);
    expect(h.json.total).toBeGreaterThan(0);
  });

  it('understands the pseudo statuses live/history and both spellings of CANCELLED', async () => {
    blackHole = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => blackHole!.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as net.AddressInfo).port;
    const identity = (await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: 'id-a' }])}`)).json.users[0];
    const as = await srv.req('POST', '/api/appserver', {
      sid, body: { name: 'silent', hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', osuser: { href: identity.links.self.href } },
    });
    expect(as.status).toBe(201);
    const start = await srv.req('POST', `/api/appserver/${as.json.id}?action=inventory&actionname=start`, { sid });
    expect(start.status).toBe(200);
    const running: string = start.json.sessionId;

    const statusFilter = (value: unknown, op = '=') => `/api/endeavour/jobsession?filter=${q([{ property: 'status', op, value }])}`;
    expect(ids(await getOk(statusFilter('live')), 'sessions')).toEqual([running]);
    expect(ids(await getOk(statusFilter('RUNNING')), 'sessions')).toEqual([running]);
    const history = await getOk(statusFilter('history'));
    expect(history.json.total).toBeGreaterThanOrEqual(3);
    expect(ids(history, 'sessions')).not.toContain(running);
    const all = await getOk('/api/endeavour/jobsession');
    expect(history.json.total + 1).toBe(all.json.total);
    // The job's own livejobsessions link says the same.
    const job = await getOk('/api/endeavour/job/1004');
    const live = new URL(job.json.links.livejobsessions.href);
    expect(ids(await getOk(live.pathname + live.search), 'sessions')).toEqual([running]);

    const cancel = await srv.req('POST', `/api/endeavour/jobsession/${running}?action=cancel`, { sid, body: { catalogCompletedObjects: true } });
    expect(cancel.status).toBe(201);
    expect(['CANCELLING', 'CANCELLED']).toContain(cancel.json.status);
    await waitFor(async () => ((await get('/api/endeavour/job/1004')).json.status === 'IDLE' ? true : undefined), 'the cancelled job to be idle');

    expect((await getOk(`/api/endeavour/jobsession/${running}`)).json.status).toBe('CANCELLED');
    for (const [value, op] of [['CANCELED', '='], ['CANCELLED', '='], ['canceled', '='], [['canceled', 'FAILED'], 'IN']] as const) {
      const r = await getOk(statusFilter(value, op));
      expect(ids(r, 'sessions'), JSON.stringify(value)).toContain(running);
      for (const s of r.json.sessions) expect(['CANCELLED', 'FAILED']).toContain(s.status);
    }
    expect(ids(await getOk(statusFilter('CANCELED', '<>')), 'sessions')).not.toContain(running);
    expect(await getOk(statusFilter('live')).then((r) => r.json.sessions)).toEqual([]);
    expect(ids(await getOk(statusFilter('history')), 'sessions')).toContain(running);
  });
});

describe('sort (spec §1.8)', () => {
  it('sorts ASC and DESC, in memory (jobs) and in SQL (sessions, identities)', async () => {
    const asc = await getOk(`/api/endeavour/job?sort=${q([{ property: 'name', direction: 'ASC' }])}`);
    expect(names(asc, 'jobs')).toEqual(['Application Server Inventory', 'Hypervisor Inventory', 'Maintenance', 'Notification Delivery']);
    const desc = await getOk(`/api/endeavour/job?sort=${q([{ property: 'name', direction: 'DESC' }])}`);
    expect(names(desc, 'jobs')).toEqual(['Notification Delivery', 'Maintenance', 'Hypervisor Inventory', 'Application Server Inventory']);
    const lower = await getOk(`/api/endeavour/job?sort=${q([{ property: 'id', direction: 'desc' }])}`);
    expect(ids(lower, 'jobs')).toEqual(['1006', '1005', '1004', '1001']);

    const sAsc = (await getOk(`/api/endeavour/jobsession?sort=${q([{ property: 'start', direction: 'ASC' }])}`)).json.sessions as { start: number }[];
    const sDesc = (await getOk(`/api/endeavour/jobsession?sort=${q([{ property: 'start', direction: 'DESC' }])}`)).json.sessions as { start: number }[];
    expect(sAsc.length).toBeGreaterThan(2);
    for (let i = 1; i < sAsc.length; i++) expect(sAsc[i]!.start).toBeGreaterThanOrEqual(sAsc[i - 1]!.start);
    expect(sDesc.map((s) => s.start)).toEqual(sAsc.map((s) => s.start).reverse());
    // Default order of sessions is start ascending.
    const def = (await getOk('/api/endeavour/jobsession')).json.sessions as { start: number }[];
    expect(def.map((s) => s.start)).toEqual(sAsc.map((s) => s.start));

    const u = await getOk(`/api/identity/user?filter=${q([{ property: 'name', value: 'id-*' }])}&sort=${q([{ property: 'username', direction: 'DESC' }])}`);
    expect(names(u, 'users')).toEqual(['id-g', 'id-f', 'id-e', 'id-d', 'id-c', 'id-b', 'id-a']);
  });
});

describe('paths, parameters and bodies (spec §1.3, §1.8)', () => {
  it('collapses doubled slashes and drops a trailing slash', async () => {
    const r = await getOk('//api//endeavour/job/');
    expect(r.json.total).toBe(4);
    expect(r.json.jobs).toHaveLength(4);
    expect((await getOk('/api/endeavour/job/1001/')).json.id).toBe('1001');
    expect((await getOk('/api//endeavour///job/1004')).json.id).toBe('1004');
    const f = await getOk(`//api/endeavour/job/?filter=${q([{ property: 'id', value: '1004' }])}`);
    expect(ids(f, 'jobs')).toEqual(['1004']);
  });

  it('ignores query parameters it does not use', async () => {
    const r = await getOk('/api/endeavour/job?excludeMarkDeleted=true&view=summary&resourceType=job&from=hlo&foo=bar');
    expect(r.json.total).toBe(4);
    const one = await getOk('/api/endeavour/job/1001?embed=(children(properties))&pageSize=50');
    expect(one.json.id).toBe('1001');
    const login = await srv.req('POST', '/api/endeavour/session?screenInfo=1&pageSize=50', { auth: { user: 'admin', password: ADMIN_PASSWORD } });
    expect(login.status).toBe(200);
    const ping = await srv.req('GET', '/api/lifecycle/ping?pageSize=50&whatever=1');
    expect(ping.status).toBe(200);
  });

  it('accepts an empty body with Content-Type: application/json on POST and DELETE, and {} too', async () => {
    for (const raw of ['', '{}', '  ']) {
      const r = await srv.req('POST', '/api/endeavour/job/1001?action=start', { sid, raw });
      expect(r.status, JSON.stringify(raw)).toBe(200);
      await waitFor(async () => ((await get('/api/endeavour/job/1001')).json.status === 'IDLE' ? true : undefined), 'maintenance');
    }
    const idn = await srv.req('POST', '/api/identity/user', { sid, body: { name: 'temp', username: 'temp', password: 'temp-pw' } });
    expect(idn.status).toBe(201);
    const del = await srv.req('DELETE', `/api/identity/user/${idn.json.id}`, { sid, raw: '' });
    expect(del.status).toBe(204);
    expect((await get(`/api/identity/user/${idn.json.id}`)).status).toBe(404);

    const other = await srv.login();
    const out = await srv.req('DELETE', '/api/endeavour/session/', { sid: other, raw: '' });
    expect(out.status).toBe(204);
    expect((await srv.req('GET', '/api/endeavour/job', { sid: other })).status).toBe(401);
  });
});

describe('authentication edges (spec §2, §9.1)', () => {
  it('answers 401 XSBMissingSessionidException without the session header', async () => {
    for (const [method, path] of [
      ['GET', '/api/endeavour/job'],
      ['GET', '/api/endeavour/job/1004'],
      ['POST', '/api/endeavour/job/1004?action=start'],
      ['GET', '/api/appserver'],
      ['GET', '/api/identity/user'],
      ['GET', '/api/endeavour/jobsession'],
      ['GET', '/api/endeavour/log/job'],
      ['DELETE', '/api/endeavour/session'],
      ['GET', '/ngp/appserver'],
    ] as const) {
      const r = await srv.req(method, path);
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.json.id, `${method} ${path}`).toBe('XSBMissingSessionidException');
      expect(typeof r.json.description).toBe('string');
    }
    // The missing-session check is not fooled by an empty header.
    const empty = await srv.req('GET', '/api/endeavour/job', { headers: { 'X-Endeavour-Sessionid': '' } });
    expect(empty.status).toBe(401);
  });

  it('answers OPTIONS /api/endeavour/session with 200 and no session', async () => {
    const r = await srv.req('OPTIONS', '/api/endeavour/session');
    expect(r.status).toBe(200);
  });

  it('the public probes need no session; login with the session header is still Basic', async () => {
    expect((await srv.req('GET', '/api/lifecycle/ping')).status).toBe(200);
    expect((await srv.req('GET', '/ngp/version')).status).toBe(200);
    const r = await srv.req('POST', '/api/endeavour/session', { sid });
    expect(r.status).toBe(401);
    expect(r.json.id).toBe('XSBAuthenticationException');
  });
});
