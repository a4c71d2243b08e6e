/**
 * GET /metrics over real HTTPS: the output parses as Prometheus text format 0.0.4, needs no login,
 * and its values move when things happen (a job run, requests, a failed login). Then the store's
 * aggregates on both dialects, including counts that survive maintenance removing sessions.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { JobSession } from '../src/core/types.ts';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';
import { DIALECTS } from './support/stores.ts';

interface Scrape {
  /** `name{a="x",b="y"}` (labels sorted) → value. */
  values: Map<string, number>;
  types: Map<string, string>;
  get(name: string, labels?: Record<string, string>): number | undefined;
}

const seriesKey = (name: string, labels: Record<string, string>) => {
  const l = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
  return `${name}{${l}}`;
};

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (\\S+)(?: (-?\\d+))?$`);
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]Inf|NaN)$/;

/** Parses and checks the text format: every sample `name{labels} value`, each family with HELP and TYPE first. */
function parse(text: string): Scrape {
  expect(text.endsWith('\n')).toBe(true);
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const m = new RegExp(`^# HELP (${NAME}) .*$`).exec(line);
      expect(m, line).not.toBeNull();
      helps.add(m![1]!);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      expect(m, line).not.toBeNull();
      expect(types.has(m![1]!), `TYPE twice for ${m![1]}`).toBe(false);
      types.set(m![1]!, m![2]!);
      continue;
    }
    expect(line.startsWith('#'), line).toBe(false);
    const m = SAMPLE.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labelText, value] = m!;
    expect(VALUE.test(value!), `value of ${line}`).toBe(true);
    const family = [name!, name!.replace(/_(bucket|sum|count)$/, '')].find((n) => types.has(n));
    expect(family, `no TYPE before ${name}`).toBeDefined();
    expect(helps.has(family!), `no HELP for ${family}`).toBe(true);
    const labels: Record<string, string> = {};
    for (const lm of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const key = seriesKey(name!, labels);
    expect(values.has(key), `sample twice: ${key}`).toBe(false);
    values.set(key, value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value));
  }
  // Histograms: buckets cumulative, +Inf equal to _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, { le: number; v: number }[]>();
    for (const [key, v] of values) {
      if (!key.startsWith(`${family}_bucket{`)) continue;
      const le = /le="([^"]+)"/.exec(key)![1]!;
      const rest = key.replace(/,?le="[^"]+"/, '').replace('{,', '{').replace(`${family}_bucket`, '');
      series.set(rest, [...(series.get(rest) ?? []), { le: le === '+Inf' ? Infinity : Number(le), v }]);
    }
    for (const [rest, buckets] of series) {
      buckets.sort((a, b) => a.le - b.le);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.v).toBeGreaterThanOrEqual(buckets[i - 1]!.v);
      expect(buckets.at(-1)!.le).toBe(Infinity);
      expect(values.get(`${family}_count${rest}`)).toBe(buckets.at(-1)!.v);
    }
  }
  return { values, types, get: (name, labels = {}) => values.get(seriesKey(name, labels)) };
}

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

describe('GET /metrics', () => {
  let srv: TestServer;
  let sid = '';

  beforeAll(async () => {
    srv = await startTestServer({ metricsToken: METRICS_TOKEN });
    sid = await srv.login();
    const ident = await srv.req('POST', '/api/identity/user', { sid, body: { name: 'pg', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS } });
    expect(ident.status).toBe(201);
    const r = await srv.req('POST', '/api/appserver', {
      sid, body: { name: 'good', hostAddress: '127.0.0.1', portNumber: inject('pgAuthPort'), applicationType: 'postgresql', osuser: { href: ident.json.links.self.href } },
    });
    expect(r.status, r.text).toBe(201);
  });

  afterAll(async () => {
    await srv?.stop();
  });

  async function scrape(): Promise<Scrape> {
    const r = await srv.req('GET', '/metrics', { exactHeaders: true, headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parse(r.text);
  }

  it('answers with the metrics token or a login session, and to nobody else', async () => {
    // What it tells (routes, login failures, tasks) is for operators: never without credentials.
    expect((await srv.req('GET', '/metrics', { exactHeaders: true })).status).toBe(401);
    expect((await srv.req('GET', '/metrics', { exactHeaders: true, headers: { authorization: 'Bearer wrong-token-of-other-length' } })).status).toBe(401);
    expect((await srv.req('GET', '/metrics', { exactHeaders: true, headers: { authorization: `Bearer ${METRICS_TOKEN.replace(/.$/, 'x')}` } })).status).toBe(401);
    expect((await srv.req('GET', '/%6detrics', { exactHeaders: true })).status).toBe(401);
    const withSession = await srv.req('GET', '/metrics', { exactHeaders: true, sid });
    expect(withSession.status).toBe(200);
    expect(withSession.text).toContain('census_tasks');
  });

  it('answers the token in Prometheus text format, with every family documented', async () => {
    const m = await scrape();
    expect(m.types.get('census_job_sessions_total')).toBe('counter');
    expect(m.types.get('census_job_session_duration_seconds')).toBe('histogram');
    expect(m.types.get('census_task_duration_seconds')).toBe('histogram');
    expect(m.types.get('census_tasks')).toBe('gauge');
    expect(m.types.get('census_inventory_objects')).toBe('gauge');
    expect(m.types.get('census_http_requests_total')).toBe('counter');
    expect(m.types.get('census_http_request_duration_seconds')).toBe('histogram');
    expect(m.types.get('census_login_failures_total')).toBe('counter');
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect([...m.types.keys()].some((k) => k.startsWith('nodejs_'))).toBe(true);
    expect(m.get('census_tasks', { status: 'PENDING' })).toBe(0);
    expect(m.get('census_tasks', { status: 'RUNNING' })).toBe(0);
    // The first start ran both system jobs.
    expect(m.get('census_job_sessions_total', { job: 'Maintenance', status: 'COMPLETED' })).toBe(1);
  });

  it('moves when a job runs: sessions by job and result, task durations, inventory objects, HTTP requests', async () => {
    const before = await scrape();
    const job = { job: 'Application Server Inventory', status: 'COMPLETED' };
    const task = { application_type: 'postgresql', status: 'COMPLETED' };
    const start = { method: 'POST', route: '/api/endeavour/job/:id', status: '200' };

    const r = await srv.req('POST', '/api/endeavour/job/1004?action=start', { sid });
    expect(r.status).toBe(200);
    const sessionId = r.json.lastrun.sessionId as string;
    await waitFor(async () => {
      const s = await srv.req('GET', `/api/endeavour/jobsession/${sessionId}`, { sid });
      return s.json.status === 'COMPLETED' ? true : undefined;
    }, 'the inventory to complete');

    const after = await scrape();
    expect(after.get('census_job_sessions_total', job)).toBe((before.get('census_job_sessions_total', job) ?? 0) + 1);
    expect(after.get('census_task_duration_seconds_count', task)).toBe((before.get('census_task_duration_seconds_count', task) ?? 0) + 1);
    expect(after.get('census_task_duration_seconds_sum', task)).toBeGreaterThan(before.get('census_task_duration_seconds_sum', task) ?? 0);
    expect(after.get('census_task_duration_seconds_bucket', { ...task, le: '+Inf' })).toBe(after.get('census_task_duration_seconds_count', task));
    expect(after.get('census_job_session_duration_seconds_count', { job: job.job })).toBe((before.get('census_job_session_duration_seconds_count', { job: job.job }) ?? 0) + 1);
    expect(after.get('census_http_requests_total', start)).toBe((before.get('census_http_requests_total', start) ?? 0) + 1);
    expect(after.get('census_http_request_duration_seconds_count', { method: 'POST', route: '/api/endeavour/job/:id' })).toBeGreaterThanOrEqual(1);
    // The route pattern, never the URL: the session id in the path is not a label.
    const routes = [...after.values.keys()].filter((k) => k.startsWith('census_http_requests_total{'));
    expect(routes.some((k) => k.includes(sessionId))).toBe(false);
    expect(after.get('census_http_requests_total', { method: 'GET', route: '/api/endeavour/jobsession/:id', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(after.get('census_inventory_objects', { type: 'instance', application_type: 'postgresql', missing: 'false' })).toBe(1);
    expect(after.get('census_inventory_objects', { type: 'database', application_type: 'postgresql', missing: 'false' })).toBeGreaterThanOrEqual(1);
    expect(after.get('census_tasks', { status: 'RUNNING' })).toBe(0);
  });

  it('counts failed logins, and unknown routes as one "unmatched" route', async () => {
    const before = await scrape();
    const bad = await srv.req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: 'wrong' } });
    expect(bad.status).toBe(401);
    await srv.req('POST', '/no/such/thing/12345');
    await srv.req('DELETE', '/no/such/thing/67890');
    const after = await scrape();
    expect(after.get('census_login_failures_total')).toBe((before.get('census_login_failures_total') ?? 0) + 1);
    const failed = { method: 'POST', route: '/api/endeavour/session', status: '401' };
    expect(after.get('census_http_requests_total', failed)).toBe((before.get('census_http_requests_total', failed) ?? 0) + 1);
    expect(after.get('census_http_requests_total', { method: 'POST', route: 'unmatched', status: '404' })).toBe(1);
    expect(after.get('census_http_requests_total', { method: 'DELETE', route: 'unmatched', status: '404' })).toBe(1);
    // A good login is no failure.
    await srv.login();
    expect((await scrape()).get('census_login_failures_total')).toBe(after.get('census_login_failures_total'));
  });
});

const session = (id: number, over: Partial<JobSession> = {}): JobSession => ({
  id, jobId: 1004, jobName: 'Application Server Inventory', type: 'catalog', subType: 'application',
  serviceId: 'serviceprovider.catalog.application', status: 'COMPLETED', start: id, end: id + 2_500, lastUpdate: id + 2_500,
  numTasks: 1, percent: 100, results: 'COMPLETED', trigger: 'manual', cancelRequested: false, statistics: [], scope: [], ...over,
});

describe.each(DIALECTS)('metrics aggregates on %s', (_name, open) => {
  it('counts sessions, durations, live tasks and inventory objects, and keeps counting sessions maintenance removed', async () => {
    const t = await open();
    try {
      const { store } = t;
      await store.sessions.insert(session(1_000_000));
      await store.sessions.insert(session(2_000_000, { status: 'FAILED', end: 2_000_000 + 40_000 }));
      await store.sessions.insert(session(3_000_000, { jobName: 'Maintenance', jobId: 1001, end: 3_000_000 + 500 }));
      await store.sessions.insert(session(4_000_000, { status: 'RUNNING', end: null }));
      const server = await store.appservers.create({
        name: 'a', hostAddress: 'h', portNumber: 1, applicationType: 'mysql', osType: 'linux', identityId: null, comment: null,
        useKeyAuthentication: false, maxConcurrency: 1, createdAt: 1,
      });
      const pending = { name: 'x', start: null, end: null, attempts: 0, errorCode: null, message: null, owner: null, leaseExpires: null, queuedAt: null };
      await store.tasks.insertMany([
        { ...pending, sessionId: 1_000_000, appserverId: server.id, status: 'COMPLETED', start: 10, end: 310 },
        { ...pending, sessionId: 1_000_000, appserverId: server.id, status: 'COMPLETED', start: 10, end: 7_010 },
        { ...pending, sessionId: 2_000_000, appserverId: null, status: 'FAILED', start: 0, end: 50 },
        { ...pending, sessionId: 4_000_000, appserverId: server.id, status: 'RUNNING', start: 0 },
        { ...pending, sessionId: 4_000_000, appserverId: server.id, status: 'PENDING' },
        { ...pending, sessionId: 4_000_000, appserverId: server.id, status: 'PENDING' },
      ]);
      await store.inventory.record({ appserverId: server.id, applicationType: 'mysql', childType: 'database', sessionId: 1_000_000, now: 5 }, [
        { name: 'main', host: 'h', port: 1, version: '8', properties: {}, databases: [{ name: 'a', sizeBytes: 1, owner: null, encoding: null, properties: {} }, { name: 'b', sizeBytes: 1, owner: null, encoding: null, properties: {} }] },
      ]);

      const totals = await store.metrics.sessionTotals();
      const n = (job: string, status: string) => totals.find((x) => x.job === job && x.status === status)?.n;
      expect(n('Application Server Inventory', 'COMPLETED')).toBe(1);
      expect(n('Application Server Inventory', 'FAILED')).toBe(1);
      expect(n('Maintenance', 'COMPLETED')).toBe(1);
      expect(totals.some((x) => x.status === 'RUNNING')).toBe(false); // only ended sessions

      const bounds = [1, 5, 60];
      const sessions = await store.metrics.sessionDurations(bounds);
      const inv = sessions.find((h) => h.labels.job === 'Application Server Inventory')!;
      expect(inv).toEqual({ labels: { job: 'Application Server Inventory' }, buckets: [0, 1, 2], count: 2, sum: 42.5 });
      expect(sessions.find((h) => h.labels.job === 'Maintenance')).toMatchObject({ buckets: [1, 1, 1], count: 1, sum: 0.5 });

      const tasks = await store.metrics.taskDurations(bounds);
      expect(tasks.find((h) => h.labels.application_type === 'mysql' && h.labels.status === 'COMPLETED')).toEqual({
        labels: { application_type: 'mysql', status: 'COMPLETED' }, buckets: [1, 1, 2], count: 2, sum: 7.3,
      });
      expect(tasks.find((h) => h.labels.application_type === 'none')).toMatchObject({ labels: { status: 'FAILED' }, count: 1, sum: 0.05 });
      expect(tasks).toHaveLength(2); // running and pending tasks have no duration yet

      expect(await store.metrics.liveTasks()).toEqual({ PENDING: 2, RUNNING: 1 });
      const objects = await store.metrics.inventoryObjects();
      expect(objects).toEqual(expect.arrayContaining([
        { type: 'instance', applicationType: 'mysql', missing: false, n: 1 },
        { type: 'database', applicationType: 'mysql', missing: false, n: 2 },
      ]));

      // Maintenance removes two ended sessions: the counter does not go down.
      await store.transaction(async (r) => {
        await r.metrics.tallyRemoved([1_000_000, 2_000_000]);
        await r.sessions.deleteMany([1_000_000, 2_000_000]);
      });
      await store.sessions.insert(session(5_000_000));
      await store.transaction(async (r) => {
        await r.metrics.tallyRemoved([5_000_000]);
        await r.sessions.deleteMany([5_000_000]);
      });
      const later = await store.metrics.sessionTotals();
      const m = (job: string, status: string) => later.find((x) => x.job === job && x.status === status)?.n;
      expect(m('Application Server Inventory', 'COMPLETED')).toBe(2);
      expect(m('Application Server Inventory', 'FAILED')).toBe(1);
      expect(m('Maintenance', 'COMPLETED')).toBe(1);
      // Durations are over what the store still holds.
      expect((await store.metrics.sessionDurations(bounds)).find((h) => h.labels.job === 'Application Server Inventory')).toBeUndefined();
    } finally {
      await t.cleanup();
    }
  });
});
