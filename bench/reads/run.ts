/**
 * Benchmark: the reads monitoring clients and the web UI make, on an estate of 10,000 registered
 * application servers with a year of daily inventory sessions kept. Each read's p50/p99 latency
 * is printed with its p99 as a ratio to the bare route's p99 measured the same way in the same
 * run (bench/support/bare-route.ts); then the job status GET under load while a 10,000-task
 * session runs, against the bare route under the same load measured before the session starts
 * and again after it ended (the bare route shares this process with Census, so during the session
 * it would be starved alongside it). BENCH_PROFILE=FILE writes a CPU profile of the loaded session window.
 *
 *   node --import tsx bench/reads/run.ts
 *   BENCH_SERVERS=2000 BENCH_DAYS=60 node --import tsx bench/reads/run.ts      # smaller, faster
 *   BENCH_DATABASE=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/reads/run.ts
 *
 * Environment:
 *   BENCH_SERVERS    application servers (default 10000), one instance and 3 databases each
 *   BENCH_DAYS       daily sessions of job 1004 kept, one task per server each (default 365)
 *   BENCH_LOG_DAYS   newest sessions that keep their log entries (default 30: Census's default retention)
 *   BENCH_REQUESTS   requests per read (default 200)
 *   BENCH_SECONDS    duration of each load run of the status GET (default 5)
 *   BENCH_TASK_MS    how long each task of the running session takes (default 250: 10,000 tasks at
 *                    16 at a time outlast the measurement)
 *   BENCH_DATABASE   a postgres:// URL (ESTATE_DATABASE is read too): run on PostgreSQL, in a
 *                    schema of the run's own (dropped at the end), instead of SQLite
 *
 * Exit status 1 if any request failed or answered other than 200.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { collectorRegistry } from '../../src/collectors/registry.ts';
import type { Collector, CollectOptions, CollectTarget } from '../../src/collectors/types.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { startCensus } from '../../src/main.ts';
import { Store } from '../../src/store/index.ts';
import { loadOrCreateKey } from '../../src/store/keyfile.ts';
import { fetchOnce, load, type BareRoute, loginHeaders, problems, startBareRoute } from '../support/bare-route.ts';
import { generateEstate } from '../support/estate-data.ts';

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, not ${JSON.stringify(raw)}`);
  return n;
};

const SERVERS = Math.round(envNumber('BENCH_SERVERS', 10_000));
const DAYS = Math.round(envNumber('BENCH_DAYS', 365));
const LOG_DAYS = Math.round(envNumber('BENCH_LOG_DAYS', 30));
const REQUESTS = Math.max(100, Math.round(envNumber('BENCH_REQUESTS', 200)));
const SECONDS = envNumber('BENCH_SECONDS', 5);
const TASK_MS = envNumber('BENCH_TASK_MS', 250);
const DATABASE = (process.env.BENCH_DATABASE ?? process.env.ESTATE_DATABASE)?.trim() || undefined;
const ADMIN_PASSWORD = 'bench-admin-password';
const LIMIT_MS = 50;

/**
 * Stand-ins for the two database collectors (the estate's addresses are not real): each task
 * takes TASK_MS and finds what the generator wrote, so the running session does the engine's and
 * the store's real work (claims, inventory records, logs, progress) without a network.
 */
function standIns(): Collector[] {
  const real = collectorRegistry();
  return (['postgresql', 'mysql'] as const).map((type) => ({
    ...real.get(type)!,
    applicationType: type,
    info: real.get(type)!.info,
    async collect(target: CollectTarget, o: CollectOptions) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, TASK_MS);
        o.signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('cancelled')); }, { once: true });
      });
      return {
        instances: [{
          name: `${target.host}:${target.port}`, host: target.host, port: target.port, version: type === 'postgresql' ? '16.4' : '10.11.6', properties: {},
          databases: [0, 1, 2].map((i) => ({ name: `db${i}`, sizeBytes: 8_000_000 + i, owner: 'census', encoding: 'UTF8', properties: {} })),
        }],
        warnings: [],
      };
    },
    async test() {
      return [];
    },
  }));
}

/**
 * BENCH_PROFILE=FILE: a CPU profile of this process (Census included) while the status GET is
 * loaded during the session, written to FILE (.cpuprofile, for Chrome's DevTools or speedscope).
 */
async function startProfile(): Promise<{ stop(): Promise<void> }> {
  const file = process.env.BENCH_PROFILE;
  if (!file) return { stop: async () => {} };
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const fmt = (n: number, d = 1) => n.toFixed(d);

interface Read {
  name: string;
  /** The i-th request's path. */
  path: (i: number) => string;
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-reads-'));
  const schema = DATABASE ? `census_reads_${Math.random().toString(36).slice(2, 8)}` : undefined;
  let census: Awaited<ReturnType<typeof startCensus>> | undefined;
  let bare: BareRoute | undefined;
  const failures: string[] = [];
  try {
    // ---- the estate, written before Census starts ------------------------------------------------
    if (DATABASE) {
      const c = new pg.Client({ connectionString: DATABASE });
      await c.connect();
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.end();
    }
    const url = DATABASE ?? join(dataDir, 'census.db');
    console.log(`reads benchmark: ${SERVERS} servers, ${DAYS} daily sessions (logs for the newest ${LOG_DAYS}), on ${DATABASE ? 'PostgreSQL' : 'SQLite'}, node ${process.version}`);
    console.log('generating the estate (bulk SQL, the product\'s migrations):');
    const store = await Store.open({ url, ...(schema ? { schema } : {}) });
    const estate = await generateEstate(store, {
      servers: SERVERS, days: DAYS, logDays: LOG_DAYS, changesPerDay: Math.max(1, Math.round(SERVERS / 200)),
      box: SecretBox.fromKey(loadOrCreateKey(dataDir)), log: (l) => console.log(l),
    });
    await store.close();

    census = await startCensus({
      dataDir, port: 0, http: false, scheduler: false, adminPassword: ADMIN_PASSWORD, quiet: true, concurrency: 16,
      ...(DATABASE ? { database: DATABASE, schema, withWorker: true } : {}),
      collectors: collectorRegistry(standIns()),
    } as Parameters<typeof startCensus>[0]);
    const cert = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
    const key = readFileSync(join(dataDir, 'tls', 'key.pem'), 'utf8');
    const headers = await loginHeaders(census.url, cert, 'admin', ADMIN_PASSWORD);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: cert });

    const get = async (path: string) => {
      const t = performance.now();
      const r = await fetchOnce(`${census!.url}${path}`, cert, 'GET', headers, agent);
      const ms = performance.now() - t;
      if (r.status !== 200) failures.push(`GET ${path}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
      return { ms, body: r.body };
    };

    // The bare route replies the bytes of the first page of servers (a typical list answer).
    const q = (o: Record<string, unknown>) => `?${new URLSearchParams(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])))}`;
    const firstPage = await get(`/api/appserver${q({ pageSize: '100' })}`);
    bare = await startBareRoute({ key, cert, path: '/bare', bytes: firstPage.body });
    const bareUrl = bare.url;

    const { sample, bigSessionId } = estate;
    const type = sample.applicationType;
    const sessions = estate.sessionIds;
    const pick = <T>(xs: readonly T[], i: number) => xs[(i * 7919) % xs.length]!;
    const pageOf = (i: number, total: number, size: number) => ((i * 7919) % Math.max(1, Math.ceil(total / size))) * size;
    const bigLogs = estate.logs > 0 ? SERVERS * 2 + 2 : 0;
    const instanceIds = { first: sample.instanceId - (sample.instanceId - 1000), count: estate.instances };

    const reads: Read[] = [
      { name: 'appservers: page', path: (i) => `/api/appserver${q({ sort: [{ property: 'name', direction: 'ASC' }], pageSize: '100', pageStartIndex: String(pageOf(i, SERVERS, 100)) })}` },
      { name: 'appservers: by type', path: (i) => `/api/appserver${q({ filter: [{ property: 'applicationType', value: i % 2 ? 'mysql' : 'postgresql' }], sort: [{ property: 'name', direction: 'ASC' }], pageSize: '100', pageStartIndex: String(pageOf(i, SERVERS / 2, 100)) })}` },
      { name: 'appservers: by name', path: (i) => `/api/appserver${q({ filter: [{ property: 'name', value: `*-${(i % 97) + 1}*` }], pageSize: '50' })}` },
      { name: 'instances: page', path: (i) => `/api/application/${i % 2 ? 'mysql' : 'postgresql'}/instance${q({ sort: [{ property: 'name', direction: 'ASC' }], pageSize: '100', pageStartIndex: String(pageOf(i, SERVERS / 2, 100)) })}` },
      { name: 'instance databases', path: (i) => {
        const id = instanceIds.first + ((i * 7919) % instanceIds.count);
        return `/api/application/${id % 2 === sample.instanceId % 2 ? type : type === 'postgresql' ? 'mysql' : 'postgresql'}/instance/${id}/database${q({ pageSize: '100' })}`;
      } },
      { name: 'sessions: job 1004', path: (i) => `/api/endeavour/jobsession${q({ filter: [{ property: 'jobId', value: 1004 }], sort: [{ property: 'start', direction: 'DESC' }], pageSize: '25', pageStartIndex: String(pageOf(i, DAYS, 25)) })}` },
      { name: 'sessions: history/jobid', path: (i) => `/api/endeavour/jobsession/history/jobid/1004${q({ pageSize: '50', pageStartIndex: String(pageOf(i, DAYS, 50)) })}` },
      { name: 'sessions: last 7 days', path: () => `/api/endeavour/jobsession${q({ filter: [{ property: 'rangeunit', value: 'day' }, { property: 'range', value: 7 }], pageSize: '100' })}` },
      ...(bigSessionId && bigLogs ? [
        { name: 'logs: 10k-task session', path: (i: number) => `/api/endeavour/log/job${q({ filter: [{ property: 'jobsessionId', value: bigSessionId }], pageSize: '100', pageStartIndex: String(pageOf(i, bigLogs, 100)) })}` },
        { name: 'logs: sppmon SUMMARY', path: (i: number) => `/api/endeavour/log/job${q({ filter: [{ property: 'jobsessionId', value: String(pick(sessions.slice(-LOG_DAYS), i)), op: '=' }, { property: 'type', value: ['SUMMARY'], op: 'IN' }], pageSize: '50' })}` },
        { name: 'session tasks', path: (i: number) => `/api/endeavour/jobsession/${bigSessionId}/task${q({ pageSize: '100', pageStartIndex: String(pageOf(i, SERVERS, 100)) })}` },
      ] : []),
      { name: 'history: database', path: () => `/api/application/${type}/instance/${sample.instanceId}/database/${sample.databaseId}/history${q({ pageSize: '100' })}` },
      { name: 'history: instance', path: () => `/api/application/${type}/instance/${sample.instanceId}/history${q({ pageSize: '100' })}` },
      ...(bigSessionId ? [{ name: 'changes: session by server', path: (i: number) => `/api/endeavour/jobsession/${pick(sessions, i)}/change${q({ filter: [{ property: 'appserverId', value: sample.appserverId }], pageSize: '100' })}` }] : []),
    ];

    // ---- latency of each read, one request at a time ---------------------------------------------
    const bareAgent = new Agent({ keepAlive: true, maxSockets: 1, ca: cert });
    const bareTimes: number[] = [];
    for (let i = 0; i < REQUESTS + 10; i++) {
      const t = performance.now();
      const r = await fetchOnce(bareUrl, cert, 'GET', {}, bareAgent);
      if (i >= 10) bareTimes.push(performance.now() - t);
      if (r.status !== 200) failures.push(`bare: HTTP ${r.status}`);
    }
    bareTimes.sort((a, b) => a - b);
    const bareP99 = pct(bareTimes, 99);

    console.log('');
    console.log(`${'read'.padEnd(28)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'p99/bare'.padStart(9)} ${'KB'.padStart(7)}`);
    console.log(`${'bare route'.padEnd(28)} ${fmt(pct(bareTimes, 50)).padStart(8)} ${fmt(bareP99).padStart(8)} ${fmt(bareTimes.at(-1)!).padStart(8)} ${'1.0'.padStart(9)} ${fmt(firstPage.body.length / 1024, 0).padStart(7)}`);
    const results: { name: string; p50: number; p99: number }[] = [];
    for (const read of reads) {
      await get(read.path(REQUESTS + 1)); // warm: the first request of a route compiles its serializer
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < REQUESTS; i++) {
        const r = await get(read.path(i));
        times.push(r.ms);
        bytes += r.body.length;
      }
      times.sort((a, b) => a - b);
      const p50 = pct(times, 50);
      const p99 = pct(times, 99);
      results.push({ name: read.name, p50, p99 });
      console.log(`${read.name.padEnd(28)} ${fmt(p50).padStart(8)} ${fmt(p99).padStart(8)} ${fmt(times.at(-1)!).padStart(8)} ${fmt(p99 / bareP99).padStart(9)} ${fmt(bytes / REQUESTS / 1024, 0).padStart(7)}`);
    }
    agent.destroy();
    bareAgent.destroy();

    // ---- the job status GET while a 10,000-task session runs --------------------------------------
    // The bare route lives in this process, like Census: measured before the session starts, it is
    // the ceiling for the answer; measured during it, it would only share Census's loaded event loop.
    const JOB_PATH = '/api/endeavour/job/1004';
    const idleJob = await fetchOnce(`${census.url}${JOB_PATH}`, cert, 'GET', headers);
    const jobBare = await startBareRoute({ key, cert, path: JOB_PATH, bytes: idleJob.body });
    const opts = { connections: 10, duration: SECONDS, workers: 1 };
    await load(jobBare.url, {}, { ...opts, duration: 2 });
    const b1 = await load(jobBare.url, {}, opts);
    const b2 = await load(jobBare.url, {}, opts);
    const start = await fetchOnce(`${census.url}/api/endeavour/job/1004?action=start&actionname=start`, cert, 'POST', { ...headers, 'content-type': 'application/json' }, undefined, '{}');
    let statusLine = '';
    if (start.status >= 300) {
      failures.push(`starting job 1004: HTTP ${start.status} ${start.body.toString('utf8').slice(0, 300)}`);
    } else {
      // Warm-up, not counted: the session's start (planning, queueing every task) is past, and
      // the route's first requests have run, before anything is measured.
      await load(`${census.url}${JOB_PATH}`, headers, { ...opts, duration: 2 });
      const profile = await startProfile();
      const c1 = await load(`${census.url}${JOB_PATH}`, headers, opts);
      const c2 = await load(`${census.url}${JOB_PATH}`, headers, opts);
      await profile.stop();
      for (const [label, r] of [['bare 1', b1], ['census 1', c1], ['bare 2', b2], ['census 2', c2]] as const) failures.push(...problems(`status GET ${label}`, r));
      const state = JSON.parse((await fetchOnce(`${census.url}${JOB_PATH}`, cert, 'GET', headers)).body.toString('utf8')) as { status?: string; lastrun?: { sessionId?: string; percent?: number } };
      const sess = state.lastrun?.sessionId;
      const tasks = sess ? JSON.parse((await fetchOnce(`${census.url}/api/endeavour/jobsession/${sess}/task?pageSize=1&filter=${encodeURIComponent(JSON.stringify([{ property: 'status', value: 'COMPLETED' }]))}`, cert, 'GET', headers)).body.toString('utf8')) as { total?: number } : {};
      if (state.status !== 'RUNNING') failures.push(`the session was no longer running at the end of the load (${state.status}): raise BENCH_TASK_MS`);
      // Stop the session (the rest of its tasks are of no interest), and once it has ended measure
      // the bare route again: the ceiling is the mean of before and after, so that this VM's drift
      // over the minute between them (its throughput moves by half within minutes) does not all
      // land on one side of the ratio.
      const cancelledAt = Date.now();
      if (sess) await fetchOnce(`${census.url}/api/endeavour/jobsession/${sess}?action=cancel`, cert, 'POST', { ...headers, 'content-type': 'application/json' }, undefined, '{}');
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const now = JSON.parse((await fetchOnce(`${census.url}${JOB_PATH}`, cert, 'GET', headers)).body.toString('utf8')) as { status?: string };
        if (now.status !== 'RUNNING') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // From the cancel's POST to the status GET no longer saying RUNNING (20 ms polls).
      const cancelSeconds = (Date.now() - cancelledAt) / 1000;
      const b3 = await load(jobBare.url, {}, opts);
      const b4 = await load(jobBare.url, {}, opts);
      for (const [label, r] of [['bare 3', b3], ['bare 4', b4]] as const) failures.push(...problems(`status GET ${label}`, r));
      const before = (b1.requests.average + b2.requests.average) / 2;
      const after = (b3.requests.average + b4.requests.average) / 2;
      const bareRps = (before + after) / 2;
      const censusRps = (c1.requests.average + c2.requests.average) / 2;
      console.log('');
      console.log(`status GET while the session runs: bare ${Math.round(before)} req/s before it, ${Math.round(after)} after (p99 ${b1.latency.p99}/${b2.latency.p99}/${b3.latency.p99}/${b4.latency.p99} ms), ` +
        `census ${Math.round(censusRps)} req/s (p99 ${c1.latency.p99}/${c2.latency.p99} ms); job ${state.status}, ${tasks.total ?? '?'} of ${SERVERS} tasks completed by the end; ` +
        `the cancel took ${cancelSeconds.toFixed(2)} s`);
      statusLine = `status-while-running: census/bare = ${(censusRps / bareRps).toFixed(2)} (bare: the mean of before and after the session)`;
    }

    await jobBare.close();
    console.log('');
    const worst = results.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    const over = results.filter((r) => r.p99 >= LIMIT_MS).map((r) => r.name);
    if (statusLine) console.log(statusLine);
    console.log(`reads: worst p99 ${fmt(worst.p99)} ms (${worst.name}; ${over.length ? `over ${LIMIT_MS} ms: ${over.join(', ')}` : `all under ${LIMIT_MS} ms`}; bare route p99 ${fmt(bareP99)} ms, worst/bare ${fmt(worst.p99 / bareP99)})`);
    if (failures.length) {
      for (const f of failures.slice(0, 20)) console.error(`FAIL ${f}`);
      return 1;
    }
    return 0;
  } finally {
    await bare?.close().catch(() => {});
    await census?.stop().catch(() => {});
    if (DATABASE && schema) {
      const c = new pg.Client({ connectionString: DATABASE });
      await c.connect().then(() => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => {});
      await c.end().catch(() => {});
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('reads benchmark failed:', err);
    process.exit(1);
  },
);
