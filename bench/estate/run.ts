/**
 * Benchmark: one inventory session over an estate of N application servers (default 1,000),
 * end to end, as an operator would run it: a real `census server` process (and, on PostgreSQL,
 * `census worker` processes), the servers registered through the API, the session started with
 * SPP's start call and timed until the job's status GET says IDLE. Run twice: cold (the first
 * inventory) and warm (the same estate again, unchanged).
 *
 *   node --import tsx bench/estate/run.ts                                   # 1,000 servers, SQLite
 *   ESTATE_DATABASE=postgres://postgres@127.0.0.1:5432/postgres ESTATE_WORKERS=2 node --import tsx bench/estate/run.ts
 *   ESTATE_DATABASE=own ESTATE_WORKERS=1 node --import tsx bench/estate/run.ts   # the store on a cluster of its own
 *   ESTATE_N=10000 node --import tsx bench/estate/run.ts                     # 10,000 (cold only: ESTATE_WARM=0)
 *   ESTATE_WORKERS=2 ESTATE_WORKER_ARGS="--shared-cpu 100" …                  # more options for every worker
 *
 * The N servers are distinct host:port pairs on loopback, a third each in front of the machine's
 * PostgreSQL, MariaDB and Redis (bench/soak/fanout-proxy.ts, in a process of its own). The floor
 * it is compared with is the least any inventory must do: one login per server and one question
 * (PostgreSQL: version and the database list; MariaDB: the same; Redis: INFO), from this process
 * with the same parallelism. Prints seconds, tasks per second, the ratio to the floor, Census's
 * peak RSS (server and workers) and the database servers' CPU share of the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startCluster, type AuthCluster } from '../../test/support/pg-auth-cluster.ts';
import { startRedis, type RedisProcess } from '../../test/support/redis-server.ts';
import { cpuSeconds, listenerPid, liveChildrenCpu, machineBusySeconds, serverCpuSeconds } from '../inventory/server-cpu.ts';
import { mariadbAccount } from '../support/mariadb.ts';
import { Api, censusProgram, Children, PeakRss } from '../support/processes.ts';

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number`);
  return v;
};

const N = Math.round(num('ESTATE_N', 1000));
const CONCURRENCY = Math.round(num('ESTATE_CONCURRENCY', 16));
const WORKERS = Math.round(num('ESTATE_WORKERS', 1));
/**
 * Census's store: unset, the embedded SQLite; an admin URL, a database made on that server; "own",
 * a PostgreSQL cluster the run starts for it alone, so the inventoried cluster holds only the
 * estate's databases (on the estate's own server, Census's busy database is one of them, changed
 * at every run, and each warm task logs in to it again).
 */
const STORE = process.env.ESTATE_DATABASE?.trim() || undefined;
let DATABASE = STORE === 'own' ? undefined : STORE;
/** The store's own cluster's postmaster (ESTATE_DATABASE=own). */
let storePid: number | null = null;
const WARM = process.env.ESTATE_WARM !== '0';
/** More options for every `census worker`, split at spaces (e.g. "--shared-cpu 100"). */
const WORKER_ARGS = (process.env.ESTATE_WORKER_ARGS ?? '').split(' ').filter(Boolean);
/**
 * ESTATE_STATEMENTS=1 (with ESTATE_DATABASE=own): the store's cluster runs pg_stat_statements, and
 * each run prints the statements Census sent it, per task, the most frequent first.
 */
const STATEMENTS = process.env.ESTATE_STATEMENTS === '1';
if (STATEMENTS && STORE !== 'own') throw new Error('ESTATE_STATEMENTS=1 needs ESTATE_DATABASE=own');
/** A connection to Census's database on its own cluster, for pg_stat_statements (ESTATE_STATEMENTS). */
let statementsClient: pg.Client | undefined;
/** Peak RSS limits of the issue (MB), on SQLite: 300 for 1,000 servers, 500 for 10,000. */
const RSS_LIMIT = N > 1000 ? 500 : 300;
const PG = { host: '127.0.0.1', port: 5432 };
const MY = { host: '127.0.0.1', port: 3306 };
/** A redis-server of the run's own (the machine's has no password, and Census logs in with one). */
const REDIS = { host: '127.0.0.1', port: 0 };
const REDIS_PASSWORD = randomBytes(12).toString('hex');
let redis: RedisProcess | undefined;
const ADMIN_PASSWORD = `Estate-${randomBytes(6).toString('hex')}`;
const MY_ACCOUNT = mariadbAccount('census_estate');
const MY_USER = MY_ACCOUNT.user;
const MY_PASSWORD = MY_ACCOUNT.password;
const JOB = 1004;

const children = new Children();

interface Target { type: 'postgresql' | 'mysql' | 'redis'; port: number }

/** What a script that only logs in and asks once would take: the floor under any inventory. */
async function floor(targets: Target[]): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const one = async (t: Target) => {
    if (t.type === 'postgresql') {
      const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: 'postgres', database: 'postgres' });
      await c.connect();
      await c.query('SELECT version(), (SELECT array_agg(datname) FROM pg_database)');
      await c.end();
    } else if (t.type === 'mysql') {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: t.port, user: MY_USER, password: MY_PASSWORD });
      await c.query('SELECT VERSION(), (SELECT GROUP_CONCAT(schema_name) FROM information_schema.schemata)');
      await c.end();
    } else {
      await redisInfo(t.port);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < targets.length) await one(targets[next++]!);
  }));
  return (performance.now() - t0) / 1000;
}

/** INFO over a plain socket (RESP): resolves when the whole bulk answer arrived. */
function redisInfo(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const auth = `*2\r\n$4\r\nAUTH\r\n$${REDIS_PASSWORD.length}\r\n${REDIS_PASSWORD}\r\n`;
    const s = net.connect(port, '127.0.0.1', () => s.write(`${auth}*1\r\n$4\r\nINFO\r\n`));
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.subarray(0, 5).toString() === '+OK\r\n') buf = buf.subarray(5);
      const head = buf.indexOf('\r\n');
      if (head > 0 && buf.length >= head + 2 + Number(buf.subarray(1, head).toString()) + 2) {
        s.end();
        resolve();
      }
    });
    s.on('error', reject);
  });
}

interface Run { storeCpu: number | null; pgLogins: number | null; dbEach: string; seconds: number; status: string; tasks: number; peakMb: number; dbCpu: number | null; censusCpu: number | null; proxyCpu: number | null; machine: number | null; perType: string }

/** Per application type: how many tasks and their p50/p95 time (end − start), from the session's task list. */
async function taskTimes(api: Api, sessionId: string | number): Promise<string> {
  const byType = new Map<string, number[]>();
  for (let start = 0; ; start += 1000) {
    const page = await api.expect(200, 'GET', `/api/endeavour/jobsession/${sessionId}/task?pageSize=1000&pageStartIndex=${start}`);
    for (const t of page.tasks ?? []) {
      const type = /^estate-([a-z]+)-/.exec(String(t.name))?.[1] ?? 'other';
      if (t.start && t.end) (byType.get(type) ?? byType.set(type, []).get(type)!).push(Number(t.end) - Number(t.start));
    }
    if (!page.tasks?.length || start + 1000 >= page.total) break;
  }
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  return [...byType].map(([type, xs]) => {
    xs.sort((a, b) => a - b);
    return `${type} ${xs.length} tasks p50 ${pct(xs, 0.5)} ms p95 ${pct(xs, 0.95)} ms`;
  }).join('; ');
}

const PG_ADMIN: pg.ClientConfig = { host: PG.host, port: PG.port, user: 'postgres', database: 'postgres', application_name: 'census-bench' };

/**
 * A question to the machine's PostgreSQL (or to `config`'s) on a connection of its own, closed again at once. A
 * connection kept open would be a backend that went idle moments before each run: the collector
 * must take such a backend for one that may hold writes not counted yet (docs/inventory.md,
 * "settled"), so every task of a warm run would read the cluster's catalog again. An estate is
 * unchanged only if nobody was writing; the benchmark's own readings must not look as if they were.
 */
async function askPg<T>(ask: (c: pg.Client) => Promise<T>, config: pg.ClientConfig = PG_ADMIN): Promise<T> {
  const c = new pg.Client(config);
  await c.connect();
  try {
    return await ask(c);
  } finally {
    await c.end();
  }
}

/**
 * Logins to the machine's PostgreSQL so far (pg_stat_database.sessions, PostgreSQL 14+). Each
 * reading is a login of its own, counted by the next reading: a difference of two holds one more
 * than the logins between them.
 */
async function pgLogins(): Promise<number | null> {
  try {
    const { rows } = await askPg((c) => c.query<{ n: string }>('SELECT sum(sessions)::text AS n FROM pg_stat_database'));
    return Number(rows[0]!.n);
  } catch {
    return null;
  }
}

/** Census's own database, when it is on the estate's PostgreSQL server (its backends are then that server's children). */
let storeDb: string | undefined;

/** CPU seconds of these processes since `before` (null if one could not be read). */
const cpuOf = (pids: number[]) => pids.map(cpuSeconds);
const spent = (before: (number | null)[], after: (number | null)[]) =>
  before.every((c) => c !== null) && after.every((c) => c !== null) ? after.reduce((a, c, i) => a! + c! - before[i]!, 0)! : null;

/**
 * The database servers' CPU: PostgreSQL's with its live backends (Census's store pool among them
 * when it is on that server), MariaDB's and Redis's own.
 */
const dbCpuOf = (dbPids: (number | null)[]) => dbPids.map((pid, i) => (i === 0 ? serverCpuSeconds(pid) : cpuSeconds(pid)));

/** Backends connected to Census's own database (ESTATE_DATABASE): its store's and its queue's pools. */
async function storeBackends(): Promise<number[]> {
  if (!storeDb) return [];
  const { rows } = await askPg((c) => c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [storeDb]));
  return rows.map((r) => r.pid);
}

/** The statements the store ran since the last call, per task, the most frequent first (ESTATE_STATEMENTS). */
async function storeStatements(tasks: number): Promise<string> {
  if (!statementsClient) return '';
  const { rows } = await statementsClient.query<{ calls: string; ms: number; query: string }>(
    `SELECT calls, total_exec_time AS ms, query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY calls DESC`);
  await statementsClient.query('SELECT pg_stat_statements_reset()');
  if (!tasks) return '';
  const all = rows.reduce((n, r) => n + Number(r.calls), 0);
  const lines = rows.slice(0, 30).map((r) => `  ${(Number(r.calls) / tasks).toFixed(2).padStart(6)} ${(r.ms / Number(r.calls)).toFixed(3).padStart(7)} ms  ${r.query.replace(/\s+/g, ' ').slice(0, 150)}`);
  return `${(all / tasks).toFixed(1)} statements per task on the store (calls/task, mean ms, statement):\n${lines.join('\n')}`;
}

async function inventory(api: Api, pids: () => number[], dbPids: (number | null)[], proxyPid: number): Promise<Run> {
  await storeStatements(0);
  const cpu0 = dbCpuOf(dbPids);
  const store0 = dbPids[0] ? liveChildrenCpu(dbPids[0]) : new Map<number, number>();
  const ownStore0 = serverCpuSeconds(storePid);
  const census0 = cpuOf(pids());
  const logins0 = await pgLogins();
  const proxy0 = cpuOf([proxyPid]);
  const busy0 = machineBusySeconds();
  const rss = new PeakRss(pids);
  const t0 = performance.now();
  const started = await api.expect(200, 'POST', `/api/endeavour/job/${JOB}?action=start`, {});
  const sessionId = started.lastrun?.sessionId ?? null;
  let job: any;
  for (;;) {
    job = await api.expect(200, 'GET', `/api/endeavour/job/${JOB}`);
    if (job.status === 'IDLE' && (sessionId === null || job.lastrun?.sessionId === sessionId)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  const peakMb = rss.stop();
  const cpu1 = dbCpuOf(dbPids);
  const dbCpu = spent(cpu0, cpu1);
  // What Census's own store cost PostgreSQL: its pools' backends, which outlive the run.
  const store1 = dbPids[0] ? liveChildrenCpu(dbPids[0]) : new Map<number, number>();
  const ownStore1 = serverCpuSeconds(storePid);
  const storeCpu = ownStore0 !== null && ownStore1 !== null ? ownStore1 - ownStore0
    : storeDb ? (await storeBackends()).reduce((a, pid) => a + (store1.get(pid) ?? 0) - (store0.get(pid) ?? 0), 0) : null;
  const dbEach = cpu0.map((c, i) => (c === null || cpu1[i] === null ? '?' : (cpu1[i]! - c).toFixed(1))).join(' + ');
  const censusCpu = spent(census0, cpuOf(pids()));
  const proxyCpu = spent(proxy0, cpuOf([proxyPid]));
  // Sessions are counted as they end: wait for the run's to have ended.
  await new Promise((r) => setTimeout(r, 1000));
  const logins1 = await pgLogins();
  const busy1 = machineBusySeconds();
  const perType = await taskTimes(api, job.lastrun?.sessionId).catch((err: Error) => `task times unavailable: ${err.message}`);
  const statements = await storeStatements(job.lastrun?.numTasks ?? 0);
  if (statements) console.log(`${statements}\n`);
  return { storeCpu, pgLogins: logins0 !== null && logins1 !== null ? logins1 - logins0 - 1 : null, dbEach, seconds, status: job.lastrun?.status, tasks: job.lastrun?.numTasks ?? 0, peakMb, dbCpu, censusCpu, proxyCpu, machine: busy0 !== null && busy1 !== null ? busy1 - busy0 : null, perType };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-estate-'));
  const dbName = `census_estate_${randomBytes(3).toString('hex')}`;
  let made = false;
  // The admin login is not kept open through the runs (askPg says why): one to make the database, one to drop it.
  const asAdmin = (sql: string) => askPg((c) => c.query(sql), { connectionString: DATABASE });
  let storeCluster: AuthCluster | undefined;
  await MY_ACCOUNT.create();
  try {
    if (STORE === 'own') {
      storeCluster = await startCluster({ auth: 'trust', fsync: true, ...(STATEMENTS ? { settings: { shared_preload_libraries: 'pg_stat_statements' } } : {}) });
      DATABASE = `postgres://postgres@127.0.0.1:${storeCluster.port}/postgres`;
      storePid = listenerPid(storeCluster.port);
    }
    redis = await startRedis(['--requirepass', REDIS_PASSWORD]);
    REDIS.port = redis.port;
    const third = Math.floor(N / 3);
    const counts = { postgresql: N - 2 * third, mysql: third, redis: third };
    const proxy = await children.start(['bench/soak/fanout-proxy.ts', `${PG.host}:${PG.port}x${counts.postgresql}`, `${MY.host}:${MY.port}x${counts.mysql}`,
      `${REDIS.host}:${REDIS.port}x${counts.redis}`], /^ports (.+)$/m);
    const ports = JSON.parse(proxy.match) as Record<string, number[]>;
    const targets: Target[] = [
      ...ports[`${PG.host}:${PG.port}`]!.map((port) => ({ type: 'postgresql' as const, port })),
      ...ports[`${MY.host}:${MY.port}`]!.map((port) => ({ type: 'mysql' as const, port })),
      ...ports[`${REDIS.host}:${REDIS.port}`]!.map((port) => ({ type: 'redis' as const, port })),
    ];

    const env = { ...process.env, CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD };
    const db: string[] = [];
    if (DATABASE) {
      await asAdmin(`CREATE DATABASE ${dbName}`);
      made = true;
      const censusDb = DATABASE.replace(/\/[^/?]*(\?.*)?$/, `/${dbName}$1`);
      db.push('--database', censusDb);
      if (Number(new URL(DATABASE).port || 5432) === PG.port) storeDb = dbName;
      if (STATEMENTS) {
        statementsClient = new pg.Client({ connectionString: censusDb });
        await statementsClient.connect();
        await statementsClient.query('CREATE EXTENSION pg_stat_statements');
      }
    }
    const tasksHere = !DATABASE || WORKERS === 0;
    const server = await children.start([censusProgram(), 'server', ...db, '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1',
      '--concurrency', String(CONCURRENCY), ...(DATABASE && WORKERS === 0 ? ['--with-worker'] : [])], /listening on (\S+)/, env);
    const workerPids: number[] = [];
    if (!tasksHere) {
      for (let w = 0; w < WORKERS; w++) {
        const worker = await children.start([censusProgram(), 'worker', ...db, '--data-dir', dataDir, '--concurrency', String(Math.ceil(CONCURRENCY / WORKERS)), ...WORKER_ARGS],
          /(is taking tasks)/, env);
        workerPids.push(worker.child.pid!);
      }
    }
    const api = new Api(server.match);
    await api.login('admin', ADMIN_PASSWORD);
    // The first start runs every system job once: let those end before the measured runs.
    for (;;) {
      const jobs = await api.expect(200, 'GET', '/api/endeavour/job');
      if (jobs.jobs.every((j: any) => j.status === 'IDLE')) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const r0 = performance.now();
    const pgId = (await api.expect(201, 'POST', '/api/identity/user', { name: 'estate postgres', username: 'postgres', password: 'unused-trust-auth' })).id;
    const myId = (await api.expect(201, 'POST', '/api/identity/user', { name: 'estate mariadb', username: MY_USER, password: MY_PASSWORD })).id;
    const redisId = (await api.expect(201, 'POST', '/api/identity/user', { name: 'estate redis', username: 'default', password: REDIS_PASSWORD })).id;
    const identity = { postgresql: pgId, mysql: myId, redis: redisId } as Record<string, string>;
    for (let i = 0; i < targets.length; i += 500) {
      const slice = targets.slice(i, i + 500).map((t, j) => ({
        name: `estate-${t.type}-${i + j}`, hostAddress: '127.0.0.1', portNumber: t.port, applicationType: t.type, addToCatJob: false,
        ...(identity[t.type] ? { osuser: { href: `${api.base}/api/identity/user/${identity[t.type]}` } } : {}),
      }));
      const r = await api.request('POST', '/api/appserver?action=bulk&inventory=false', slice);
      if (r.status >= 300) throw new Error(`bulk registration answered ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
    }
    const registerS = (performance.now() - r0) / 1000;

    const pids = () => [server.child.pid!, ...workerPids];
    const dbPids = [listenerPid(PG.port), listenerPid(MY.port), listenerPid(REDIS.port)];
    const floorS = await floor(targets);
    const cold = await inventory(api, pids, dbPids, proxy.child.pid!);
    const warm = WARM ? await inventory(api, pids, dbPids, proxy.child.pid!) : undefined;
    api.close();

    const storeAt = storePid !== null ? 'a cluster of its own' : storeDb ? "the estate's PostgreSQL server" : 'another server';
    const where = DATABASE ? `PostgreSQL (${storeAt}), ${tasksHere ? 'tasks in the server' : `${WORKERS} worker(s)${WORKER_ARGS.length ? ` (${WORKER_ARGS.join(' ')})` : ''}`}` : 'SQLite (embedded default)';
    console.log(`\nEstate: ${N} servers, census ${censusProgram()} (${counts.postgresql} PostgreSQL, ${counts.mysql} MariaDB, ${counts.redis} Redis via fan-out ports), ${where}, concurrency ${CONCURRENCY}, ${availableParallelism()} cores`);
    console.log(`registered through the API in ${registerS.toFixed(1)} s; floor (one login and one question per server): ${floorS.toFixed(2)} s`);
    console.log('| run | seconds | tasks/s | census/floor | status | tasks | peak RSS MB | db servers CPU share | CPU s: census / db servers / fan-out |');
    console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
    for (const [name, r] of [['cold', cold], ['warm', warm]] as const) {
      if (!r) continue;
      const share = r.dbCpu !== null && r.machine ? `${((100 * r.dbCpu) / r.machine).toFixed(0)} % of busy CPU` : '?';
      console.log(`| ${name} | ${r.seconds.toFixed(2)} | ${(r.tasks / r.seconds).toFixed(0)} | ${(r.seconds / floorS).toFixed(2)} | ${r.status} | ${r.tasks} | ${r.peakMb.toFixed(0)} | ${share} | ${[r.censusCpu, r.dbCpu, r.proxyCpu].map((c) => (c === null ? '?' : c.toFixed(1))).join(' / ')} |`);
    }
    for (const [name, r] of [['cold', cold], ['warm', warm]] as const) {
      if (!r) continue;
      const store = r.storeCpu === null ? ''
        : storePid !== null ? `; Census's store, a PostgreSQL cluster of its own: ${r.storeCpu.toFixed(1)}`
        : ` (of which Census's store, its PostgreSQL backends: ${r.storeCpu.toFixed(1)})`;
      console.log(`${name} task times: ${r.perType}; db servers' CPU s (PostgreSQL + MariaDB + Redis): ${r.dbEach}${store}; PostgreSQL logins ${r.pgLogins ?? '?'}`);
    }
    const bad = [cold, warm].filter((r) => r && (r.status !== 'COMPLETED' || r.tasks !== N));
    const rssNote = DATABASE ? '' : `; peak RSS ${Math.max(cold.peakMb, warm?.peakMb ?? 0).toFixed(0)} MB (limit ${RSS_LIMIT})`;
    console.log(`estate: ${N} servers cold ${cold.seconds.toFixed(2)} s${warm ? `, warm ${warm.seconds.toFixed(2)} s` : ''}; cold/floor = ${(cold.seconds / floorS).toFixed(2)}${rssNote}`);
    if (bad.length) {
      console.error(`a run did not end COMPLETED with ${N} tasks: ${bad.map((r) => `${r!.status} ${r!.tasks}`).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await statementsClient?.end().catch(() => {});
    await children.stopAll();
    await redis?.stop();
    await MY_ACCOUNT.drop();
    if (made) await asAdmin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    storeCluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  console.error(err);
  await children.stopAll();
  await MY_ACCOUNT.drop();
  process.exit(1);
});
