/**
 * Benchmark: one inventory of N application servers on a PostgreSQL-backed cluster — one API
 * server process and 1, 2, then 4 `census worker` processes — printing the time of each run and
 * its speed-up over one worker.
 *
 *   node --import tsx bench/scale/run.ts
 *   BENCH_N=200 BENCH_WORKER_CONCURRENCY=4 node --import tsx bench/scale/run.ts
 *   BENCH_WORKER_ARGS="--estate-concurrency 4" node --import tsx bench/scale/run.ts
 *   BENCH_IDLE_SECONDS=10 node --import tsx bench/scale/run.ts   (also the CPU of the workers idle after each timed run)
 *   BENCH_ROUNDS=3 node --import tsx bench/scale/run.ts   (each set of workers three times, taking turns; medians compared)
 *
 * The N servers are logins to the machine's PostgreSQL (127.0.0.1:5432, trust auth), registered
 * straight into the store: the API refuses the same host:port twice, and this benchmark wants many
 * registrations of one real server.
 *
 * The census program is bin/census.js when the project is built, else src/cli/main.ts through tsx
 * (BENCH_CENSUS=bin|src chooses; bench/support/processes.ts).
 *
 * Census's store is a PostgreSQL cluster of the run's own (BENCH_STORE=own, the default), as a
 * deployment has it: were it a database on the inventoried server, it would be one of the
 * databases every task reads, changed all the time, so each task would log in to it as well.
 * BENCH_STORE=shared puts it on BENCH_PG_URL's server instead. Either way it is removed at the end.
 *
 * Every timed run does the same work, with workers that have run sessions before, as a
 * deployment's long-running workers have: each set of workers first runs untimed sessions (the
 * very first of them records the estate), then the timed one, an incremental run over the
 * recorded estate. By default a set of W workers runs W untimed sessions, so that each of its
 * workers has run about N tasks before it is timed, as the one worker has: a process that has
 * run few tasks runs them on code V8 has not optimised yet (measured: four workers warmed by one
 * session spent 2.95 CPU-s on the timed run, warmed by four 1.99, one worker 1.42-1.48).
 * BENCH_WARMUP=1 gives each set one untimed session (how the earlier figures of 2026-12-04 were
 * measured); BENCH_WARMUP=0 none, so the first run is the full reading (how the figures before
 * 2026-12-04 were: the speed-up then counted incremental inventory's gain as well as the workers').
 */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { SecretBox } from '../../src/core/secret-box.ts';
import { startCluster, type AuthCluster } from '../../test/support/pg-auth-cluster.ts';
import { Store } from '../../src/store/index.ts';
import { loadOrCreateKey } from '../../src/store/keyfile.ts';
import { median } from '../support/median.ts';
import { censusProgram, Children } from '../support/processes.ts';
import { cpuSeconds, cpuSecondsOf, listenerPid, machineBusySeconds, pgLoginRate, serverCpuSeconds } from '../inventory/server-cpu.ts';

const N = Number(process.env.BENCH_N ?? 120);
/** Milliseconds added each way between Census and the servers (0: the local server as it is). */
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 0);
const PER_WORKER = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 4);
/** Seconds to go on measuring CPU after each timed session, the workers idle (0: not). */
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 0);
/** More options for every `census worker` (e.g. "--estate-concurrency 4"), split at spaces. */
const WORKER_ARGS = (process.env.BENCH_WORKER_ARGS ?? '').split(' ').filter(Boolean);
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
/**
 * How many times each set of workers runs, the sets taking turns, every other round in reverse
 * (1, 2, 4, 4, 2, 1, 1, 2, 4 …): this kind of VM drifts by 10–20 % over minutes, and each session
 * leaves the store a little larger, so a set always measured after another would carry both; the
 * speed-ups compare the medians.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Where Census's store lives: "own", a cluster of the run's own (default); "shared", PG_URL's server. */
const STORE = process.env.BENCH_STORE ?? 'own';
if (STORE !== 'own' && STORE !== 'shared') throw new Error('BENCH_STORE is "own" or "shared"');
/** Untimed sessions before each timed one: 'workers' (one per worker, the default), or a number. */
const WARMUP = process.env.BENCH_WARMUP ?? 'workers';
if (WARMUP !== 'workers' && !/^\d+$/.test(WARMUP)) throw new Error('BENCH_WARMUP is "workers" or a number of sessions');
const warmUpsFor = (workers: number) => (WARMUP === 'workers' ? workers : Number(WARMUP));
/** With a store of its own: print this many of the store's statements by time over each timed run (pg_stat_statements). */
const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 0);
const PASSWORD = 'Bench-Admin-Pass-1';

const dbName = `census_scale_${Math.random().toString(36).slice(2, 8)}`;
const dataDir = mkdtempSync(join(tmpdir(), 'census-scale-'));
const children = new Children();

/** The census program (built, or through tsx; bench/support/processes.ts) with the run's admin password. */
const spawnCensus = (command: string, args: string[], ready: RegExp) =>
  children.start([censusProgram(), command, ...args], ready, { ...process.env, CENSUS_ADMIN_PASSWORD: PASSWORD });

function call(base: string, method: string, path: string, sid?: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (sid) headers['X-Endeavour-Sessionid'] = sid;
    else headers.Authorization = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
    const req = https.request(new URL(base + path), { method, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode! < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The processes whose CPU a timed session reports, by what they are. */
interface Meters { server: number; workers: number[]; proxy: number | null; store: number | null; inventoried: number | null }

/** CPU seconds of each kind of process, and of the whole machine. */
function cpuNow(m: Meters): Record<string, number | null> {
  const self = process.cpuUsage();
  return {
    workers: cpuSecondsOf(m.workers), 'API server': cpuSeconds(m.server), store: serverCpuSeconds(m.store), 'inventoried PostgreSQL': serverCpuSeconds(m.inventoried),
    ...(m.proxy === null ? {} : { 'latency proxy': cpuSeconds(m.proxy) }), bench: (self.user + self.system) / 1e6, machine: machineBusySeconds(),
  };
}

/** What each kind of process spent between two readings, and the machine's share of its cores. */
function cpuLine(a: Record<string, number | null>, b: Record<string, number | null>, seconds: number): string {
  const d = (k: string) => (a[k] == null || b[k] == null ? null : b[k]! - a[k]!);
  const parts = Object.keys(a).filter((k) => k !== 'machine').map((k) => `${k} ${d(k)?.toFixed(2) ?? '?'}`);
  const busy = d('machine');
  const share = busy === null ? '' : `; the machine ${busy.toFixed(2)} of ${(seconds * availableParallelism()).toFixed(2)} core-s (${((100 * busy) / (seconds * availableParallelism())).toFixed(0)} %)`;
  return `CPU s: ${parts.join(', ')}${share}`;
}

/** One inventory session of the N servers, from the start call to its end: seconds. */
async function session(url: string, sid: string): Promise<number> {
  return (await timedSession(url, sid)).seconds;
}

/** A session's seconds, its id, and the wall clock at the start call and when its end was seen. */
async function timedSession(url: string, sid: string): Promise<{ seconds: number; id: string; calledAt: number; seenAt: number }> {
  const calledAt = Date.now();
  const t0 = performance.now();
  const started = await call(url, 'POST', '/api/endeavour/job/1004?action=start', sid);
  const id = started.lastrun.sessionId as string;
  let state: any;
  for (;;) {
    state = await call(url, 'GET', `/api/endeavour/jobsession/${id}`, sid);
    if (state.status !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  const seenAt = Date.now();
  if (state.status !== 'COMPLETED' || state.numTasks !== N) throw new Error(`session ${id} ended ${state.status} with ${state.numTasks} tasks`);
  return { seconds, id, calledAt, seenAt };
}

/** Runs `fn` on a connection of its own to the run's store. */
async function onStore<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Before a timed run (BENCH_STATEMENTS): the store's statement counts start from zero. */
const resetStatements = () => onStore(async (c) => {
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await c.query('SELECT pg_stat_statements_reset()');
});

/** After it: the store's statements (pg_stat_statements) in all, and the top ones by time and by calls. */
const topStatements = () => onStore(async (c) => {
  const mine = 'FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())';
  const { rows: [all] } = await c.query(`SELECT coalesce(sum(calls), 0)::int AS calls, coalesce(sum(total_exec_time), 0)::float8 AS total ${mine}`);
  const top = async (order: string) => (await c.query(
    `SELECT calls::int, total_exec_time::float8 AS total, regexp_replace(left(query, 110), '\\s+', ' ', 'g') AS query ${mine} ORDER BY ${order} DESC LIMIT $1`, [STATEMENTS])).rows
    .map((r) => `      ${r.total.toFixed(0).padStart(6)} ms ${String(r.calls).padStart(6)} calls  ${r.query}`).join('\n');
  return `    the store's statements: ${all.calls} calls, ${all.total.toFixed(0)} ms executing (lock waits included); by time:\n${await top('total_exec_time')}\n    by calls:\n${await top('calls')}`;
});

/**
 * Where a session's time went, from the store's own timestamps (ms): the start call to the
 * session's start, to its first task's start, the tasks' window, the last task's end to the
 * session's end, and that to the bench seeing it; the mean task, and how full the slots were
 * over the window (the tasks' summed time over slots × window). Then where the slots' idle time
 * went: each task start is matched with the slot that freed first (or, for the first `slots`
 * tasks, with the session's start), so a slot's idle time splits into the ramp (session start to
 * its first task), the gaps between one task's end and the next start, and the tail (its last
 * end to the session's last end).
 */
function timeline(run: { id: string; calledAt: number; seenAt: number }, slots: number): Promise<string> {
  return onStore(async (c) => {
    const { rows } = await c.query(
      `SELECT s.start::float8 AS "start", s."end"::float8 AS "end", min(t.start)::float8 AS first, max(t."end")::float8 AS last,
              avg(t."end" - t.start)::float8 AS mean, sum(t."end" - t.start)::float8 AS busy
         FROM job_sessions s JOIN tasks t ON t.session_id = s.id WHERE s.id = $1 GROUP BY s.id`, [Number(run.id)]);
    const r = rows[0];
    const window = r.last - r.first;
    const tasks = (await c.query('SELECT start::float8 AS start, "end"::float8 AS "end" FROM tasks WHERE session_id = $1', [Number(run.id)])).rows as { start: number; end: number }[];
    const idle = slotIdle(tasks, slots, r.start, r.last);
    return `timeline ms: start call → session ${r.start - run.calledAt}, → first task ${r.first - r.start}, tasks' window ${window}` +
      ` (a task ${r.mean.toFixed(0)} on average, ${slots} slots ${((100 * r.busy) / (slots * window)).toFixed(0)} % busy),` +
      ` last task → session end ${r.end - r.last}, → seen ${run.seenAt - r.end}\n` +
      `    slots idle ms: ramp ${idle.ramp.toFixed(0)} a slot, between tasks ${idle.gapMean.toFixed(1)} a task (median ${idle.gapMedian.toFixed(1)}, p90 ${idle.gapP90.toFixed(1)}), tail ${idle.tail.toFixed(0)} a slot`;
  });
}

/** The slots' idle time of one session's tasks (see timeline()). */
function slotIdle(tasks: { start: number; end: number }[], slots: number, sessionStart: number, lastEnd: number) {
  const edges = [...tasks.map((t) => ({ at: t.start, start: true })), ...tasks.map((t) => ({ at: t.end, start: false }))]
    .sort((a, b) => a.at - b.at || (a.start ? 1 : -1));
  const free: number[] = [];
  const ramps: number[] = [];
  const gaps: number[] = [];
  for (const e of edges) {
    if (!e.start) free.push(e.at);
    else if (ramps.length < slots && !free.length) ramps.push(e.at - sessionStart);
    else gaps.push(e.at - (free.shift() ?? e.at));
  }
  const sorted = [...gaps].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    ramp: sum(ramps) / slots, gapMean: gaps.length ? sum(gaps) / gaps.length : 0, gapMedian: at(0.5), gapP90: at(0.9),
    tail: sum(free.map((f) => lastEnd - f)) / slots,
  };
}

let dbUrl = '';

/**
 * One set of W workers: started, warmed by untimed sessions, then one timed session, what each
 * kind of process spent on it (and each worker, for more than one: a worker started after
 * another on the machine takes tasks only while the CPUs have room, `--shared-cpu`), then stopped.
 */
async function runSet(url: string, sid: string, w: number, proxyPid: number | null, storePid: number | null, serverPid: number): Promise<number> {
  const workers = await Promise.all(Array.from({ length: w }, () =>
    spawnCensus('worker', ['--database', dbUrl, '--data-dir', dataDir, '--concurrency', String(PER_WORKER), ...WORKER_ARGS], /is taking tasks/).then((x) => x.child)));
  const untimed: number[] = [];
  for (let k = 0; k < warmUpsFor(w); k++) untimed.push(await session(url, sid));
  const warmUp = untimed.length ? ` (after ${untimed.length} untimed session(s): ${untimed.map((x) => x.toFixed(2)).join(', ')} s)` : '';
  const meters: Meters = { server: serverPid, workers: workers.map((c) => c.pid!), proxy: proxyPid, store: storePid, inventoried: listenerPid(5432) };
  if (STATEMENTS) await resetStatements();
  const cpu0 = cpuNow(meters);
  const each0 = meters.workers.map((p) => cpuSeconds(p));
  const run = await timedSession(url, sid);
  const { seconds } = run;
  const cpu1 = cpuNow(meters);
  const each = meters.workers.map((p, i) => {
    const a = each0[i], b = cpuSeconds(p);
    return a == null || b == null ? '?' : (b - a).toFixed(2);
  });
  const statements = STATEMENTS ? await topStatements() : undefined;
  // What the idle workers cost, their slots as the session left them (BENCH_IDLE_SECONDS), and
  // with BENCH_STATEMENTS what they sent the store meanwhile.
  if (STATEMENTS && IDLE_SECONDS > 0) await resetStatements();
  const idle = IDLE_SECONDS > 0 ? await new Promise<Record<string, number | null>>((r) => setTimeout(() => r(cpuNow(meters)), IDLE_SECONDS * 1000)) : undefined;
  const idleStatements = STATEMENTS && idle ? await topStatements() : undefined;
  await children.stopAll(workers);
  console.log(`  ${w} worker(s) × ${PER_WORKER}: ${seconds.toFixed(2)} s${warmUp}`);
  console.log(`    ${cpuLine(cpu0, cpu1, seconds)}${w > 1 ? ` (each worker: ${each.join(', ')})` : ''}`);
  console.log(`    ${await timeline(run, w * PER_WORKER)}`);
  if (statements) console.log(statements);
  if (idle) console.log(`    idle for ${IDLE_SECONDS} s after it: ${cpuLine(cpu1, idle, IDLE_SECONDS)}`);
  if (idleStatements) console.log(idleStatements.replace('the store\'s statements', 'the store\'s statements while idle'));
  return seconds;
}

async function main() {
  if (STORE === 'shared') return measure(PG_URL, null);
  // fsync on, as a deployment's store would have it.
  const storeCluster: AuthCluster = await startCluster({ auth: 'trust', fsync: true, ...(STATEMENTS ? { settings: { shared_preload_libraries: 'pg_stat_statements' } } : {}) });
  try {
    await measure(`postgres://postgres@127.0.0.1:${storeCluster.port}/postgres`, listenerPid(storeCluster.port));
  } finally {
    storeCluster.stop();
  }
}

async function measure(adminUrl: string, storePid: number | null) {
  dbUrl = adminUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  try {
    const server = await spawnCensus('server', ['--database', dbUrl, '--data-dir', dataDir, '--port', '0'], /listening on (\S+)/);
    const url = server.match;
    const sid = (await call(url, 'POST', '/api/endeavour/session')).sessionid as string;

    let targetPort = 5432;
    let proxyPid: number | null = null;
    if (LATENCY > 0) {
      const proxy = await children.start(['bench/scale/latency-proxy.ts', '0', '127.0.0.1', '5432', String(LATENCY)], /proxy listening on (\d+)/);
      targetPort = Number(proxy.match);
      proxyPid = proxy.child.pid ?? null;
    }

    // Registration shortcut: straight into the store, sealed with the cluster's key.
    const store = await Store.open({ url: dbUrl });
    const secrets = SecretBox.fromKey(loadOrCreateKey(dataDir));
    for (let i = 0; i < N; i++) {
      const ident = await store.identities.create({
        name: `bench ${i}`, username: 'postgres', kind: 'password', secret: secrets.seal('unused-trust-auth'), type: 'system', ostype: 'LINUX', comment: null, createdAt: Date.now(),
      });
      await store.appservers.create({
        name: `bench-pg-${i}`, hostAddress: '127.0.0.1', portNumber: targetPort, applicationType: 'postgresql', osType: 'linux',
        identityId: ident.id, comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: Date.now(),
      });
    }
    await store.close();

    // What a login costs the inventoried server here, before anything else runs: each task logs in once.
    const logins = await pgLoginRate({ connectionString: PG_URL }, 16, 320, () => serverCpuSeconds(listenerPid(5432)));

    const rows: { workers: number; seconds: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) console.log(`round ${round} of ${ROUNDS}`);
      for (const w of round % 2 ? WORKERS : [...WORKERS].reverse()) rows.push({ workers: w, seconds: await runSet(url, sid, w, proxyPid, storePid, server.child.pid!) });
    }
    const sets = WORKERS.map((w) => { const runs = rows.filter((r) => r.workers === w).map((r) => r.seconds); return { workers: w, runs, seconds: median(runs) }; });
    const base = sets[0]!.seconds;
    console.log(`\nN=${N} servers, ${PER_WORKER} tasks per worker${WORKER_ARGS.length ? ` (${WORKER_ARGS.join(' ')})` : ''}, ${availableParallelism()} cores, ${LATENCY} ms added latency each way;` +
      ` store on ${STORE === 'own' ? 'a cluster of its own' : 'the inventoried server'}; ${WARMUP === '0' ? 'no untimed sessions: the first run a full reading' : `every timed run incremental, after ${WARMUP === 'workers' ? 'one untimed session per worker' : `${WARMUP} untimed session(s)`} of its set`}`);
    console.log(ROUNDS > 1 ? `workers  seconds (median of ${ROUNDS} rounds: each)  speed-up` : 'workers  seconds  speed-up');
    for (const r of sets) console.log(`${String(r.workers).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}${ROUNDS > 1 ? ` (${r.runs.map((x) => x.toFixed(2)).join(', ')})` : ''}  ${(base / r.seconds).toFixed(2).padStart(8)}`);
    if (logins.cpuMs !== null) {
      const need = (N * logins.cpuMs) / 1000;
      console.log(`the inventoried PostgreSQL takes ${logins.perSecond.toFixed(0)} bare logins/s 16 at once here, ${logins.cpuMs.toFixed(1)} ms of its CPU each:` +
        ` a session's ${N} logins alone need ${need.toFixed(2)} CPU-s, ${(need / availableParallelism()).toFixed(2)} s of the machine's ${availableParallelism()} cores`);
    }
    const last = sets.at(-1)!;
    console.log(`\nscale: ${last.workers} workers = ${(base / last.seconds).toFixed(2)}x one worker (${sets.map((r) => `${r.workers}w ${r.seconds.toFixed(1)} s`).join(', ')}${ROUNDS > 1 ? `; medians of ${ROUNDS} rounds` : ''})`);
  } finally {
    await children.stopAll();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
