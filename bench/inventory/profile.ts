/**
 * Where does one Census collection spend its time? Calls the PostgreSQL and MySQL collectors
 * directly (no engine, no store) for one bench login each, first one at a time, then `P` at once
 * (as the engine does with concurrency P), and times every pg connect/query/end call and the
 * MariaDB statements the collector sends.
 *
 *   node --import tsx bench/inventory/profile.ts            # P = 16, 10 rounds
 *   BENCH_CONCURRENCY=8 BENCH_ROUNDS=20 node --import tsx bench/inventory/profile.ts
 *
 * Then measures what single operations cost the database servers in CPU (from /proc, see
 * server-cpu.ts), sequentially: a bare login, each size function, a whole collect().
 *
 * Creates census_bench_1 (PostgreSQL, + pg_monitor) and census_bench_2 (MariaDB) like run.ts
 * does, and drops them at the end.
 */
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import mysqlCb from 'mysql2';
import pg from 'pg';
import { mysqlCollector } from '../../src/collectors/mysql/index.ts';
import { postgresqlCollector } from '../../src/collectors/postgresql/index.ts';
import type { Collector, CollectTarget } from '../../src/collectors/types.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CollectResult } from '../../src/collectors/types.ts';
import { systemClock } from '../../src/core/clock.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { Engine } from '../../src/engine/engine.ts';
import { InProcessQueue } from '../../src/engine/queue.ts';
import { Store } from '../../src/store/index.ts';
import { ServerCpuMeter } from './server-cpu.ts';

const P = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const PG_USER = 'census_bench_1';
const MY_USER = 'census_bench_2';
const PASSWORD = 'bench-profile-password';

// ---- instrumentation -------------------------------------------------------------------------------

const samples = new Map<string, number[]>();
const record = (label: string, ms: number) => {
  const list = samples.get(label) ?? [];
  list.push(ms);
  samples.set(label, list);
};
let recording = false;

function wrap<T extends object>(proto: T, method: keyof T, label: (self: any, args: unknown[]) => string): void {
  const original = proto[method] as unknown as (...args: unknown[]) => unknown;
  (proto as Record<string, unknown>)[method as string] = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const result = original.apply(this, args);
    if (recording && result && typeof (result as Promise<unknown>).then === 'function') {
      const name = label(this, args);
      (result as Promise<unknown>).then(() => record(name, performance.now() - t0), () => record(`${name} (error)`, performance.now() - t0));
    }
    return result;
  };
}

const sqlLabel = (sql: unknown): string => {
  const text = typeof sql === 'string' ? sql : (sql as { text?: string; sql?: string })?.text ?? (sql as { sql?: string })?.sql ?? '?';
  return text.replace(/\s+/g, ' ').trim().replace(/statement_timeout = \d+/, 'statement_timeout = N').slice(0, 70);
};
wrap(pg.Client.prototype, 'connect', (self: pg.Client) => `pg connect (db ${self.database})`);
wrap(pg.Client.prototype, 'query', (_self, args) => `pg query: ${sqlLabel(args[0])}`);
wrap(pg.Client.prototype, 'end', () => 'pg end (logout)');

/**
 * What-if switches, to estimate what a change to the PostgreSQL collector would save without
 * touching it: `otherDatabases` off makes every login to a database other than "postgres" fail
 * at once as if the database had just been dropped (3D000; the collector then skips its
 * extensions with a warning), `tablespaceSizes` off answers pg_tablespace_size queries with no
 * rows (sizes left null).
 */
const whatIf = { otherDatabases: true, tablespaceSizes: true };
{
  const proto = pg.Client.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const connect = proto.connect!;
  proto.connect = function (this: pg.Client, ...args: unknown[]) {
    if (!whatIf.otherDatabases && this.database !== 'postgres') {
      return Promise.reject(Object.assign(new Error(`what-if: no login to database "${this.database}"`), { code: '3D000' }));
    }
    return connect.apply(this, args);
  };
  const query = proto.query!;
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    if (!whatIf.tablespaceSizes && sqlLabel(args[0]).includes('pg_tablespace_size')) return Promise.resolve({ rows: [], rowCount: 0 });
    return query.apply(this, args);
  };
}

// mysql2's promise wrapper calls the callback connection's query(); time it through the callback.
const cbProto = (mysqlCb as unknown as { Connection: { prototype: Record<string, unknown> } }).Connection.prototype;
const cbQuery = cbProto.query as (...args: unknown[]) => unknown;
cbProto.query = function (this: unknown, ...args: unknown[]) {
  if (!recording) return cbQuery.apply(this, args);
  const t0 = performance.now();
  const label = `my query: ${sqlLabel(args[0]).replace(/SET STATEMENT max_statement_time=[\d.]+ FOR /, 'SET STATEMENT ... FOR ')}`;
  const cbIndex = args.findIndex((a) => typeof a === 'function');
  if (cbIndex >= 0) {
    const cb = args[cbIndex] as (...r: unknown[]) => void;
    args[cbIndex] = (...r: unknown[]) => {
      record(label, performance.now() - t0);
      cb(...r);
    };
  }
  return cbQuery.apply(this, args);
};

// ---- helpers ---------------------------------------------------------------------------------------

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1] ?? NaN;
}

function report(title: string, wallMs: number, collects: number): void {
  console.log(`\n${title}: ${collects} collections in ${wallMs.toFixed(0)} ms`);
  const rows = [...samples].sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0));
  console.log(`  ${'call'.padEnd(84)} ${'n'.padStart(5)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)} ${'sum ms'.padStart(8)} ${'per coll.'.padStart(9)}`);
  for (const [label, xs] of rows) {
    const sum = xs.reduce((a, b) => a + b, 0);
    console.log(`  ${label.padEnd(84)} ${String(xs.length).padStart(5)} ${pct(xs, 50).toFixed(1).padStart(7)} ${pct(xs, 95).toFixed(1).padStart(7)} ${Math.max(...xs).toFixed(1).padStart(7)} ${sum.toFixed(0).padStart(8)} ${(sum / collects).toFixed(1).padStart(9)}`);
  }
  samples.clear();
}

async function collectTimed(collector: Collector, target: CollectTarget): Promise<number> {
  const t0 = performance.now();
  const result = await collector.collect(target, { signal: new AbortController().signal, timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  record(`== ${collector.applicationType} collect() total`, ms);
  if (!result.instances.length) throw new Error('no instance collected');
  return ms;
}

async function profile(collector: Collector, target: CollectTarget): Promise<void> {
  // warm-up (JIT, module loading, first connections)
  for (let i = 0; i < 3; i++) await collectTimed(collector, target);
  samples.clear();
  recording = true;
  let t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await collectTimed(collector, target);
  report(`${collector.applicationType}, one at a time`, performance.now() - t0, ROUNDS);
  t0 = performance.now();
  const total = P * Math.max(1, Math.round(ROUNDS / 2));
  let next = 0;
  await Promise.all(Array.from({ length: P }, async () => {
    while (next < total) {
      next++;
      await collectTimed(collector, target);
    }
  }));
  report(`${collector.applicationType}, ${P} at once`, performance.now() - t0, total);
  recording = false;
}

// ---- server CPU per operation -----------------------------------------------------------------------

const meter = new ServerCpuMeter(5432, 3306);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `op` `n` times one after the other; prints wall, Node CPU and server CPU per call. With
 * `open`, the calls share one connection opened and closed inside the measured window: a
 * backend's CPU shows in /proc only once it has exited (the postmaster reaps it). The one login
 * and logout is then included (about 1/n of a login per call).
 */
async function cost<C>(label: string, n: number, op: (conn: C) => Promise<unknown>, open: () => Promise<C>, close: (conn: C) => Promise<unknown>): Promise<void> {
  const warm = await open();
  await op(warm);
  await close(warm);
  await sleep(200);
  const s0 = meter.read();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const conn = await open();
  for (let i = 0; i < n; i++) await op(conn);
  await close(conn);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await sleep(300);
  const d = ServerCpuMeter.delta(s0, meter.read());
  const per = (x: number | null) => (x === null ? '    ?' : ((x * 1000) / n).toFixed(2).padStart(6));
  console.log(`  ${label.padEnd(72)} ${(wall / n).toFixed(2).padStart(7)} ${(((c.user + c.system) / 1000) / n).toFixed(2).padStart(7)} ${per(d.pg)} ${per(d.my)}`);
}

const none = async () => null;

async function operationCosts(pgTarget: CollectTarget, myTarget: CollectTarget): Promise<void> {
  const n = 100;
  console.log(`\nCost per call, ${n} calls one after the other (ms; server CPU from /proc, other clients of the servers included)`);
  console.log(`  ${'operation'.padEnd(72)} ${'wall'.padStart(7)} ${'node'.padStart(7)} ${'pg cpu'.padStart(6)} ${'my cpu'.padStart(6)}`);
  const pgOpen = async (database = 'postgres') => {
    const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: pgTarget.username, password: pgTarget.password ?? '', database });
    await c.connect();
    return c;
  };
  const pgClose = (c: pg.Client) => c.end();
  await cost('pg: log in to "postgres" + SELECT 1 + log out', n, async () => {
    const c = await pgOpen();
    await c.query('SELECT 1');
    await c.end();
  }, none, none);
  await cost('pg: SELECT 1 on one open connection', n, (c) => c.query('SELECT 1'), pgOpen, pgClose);
  await cost('pg: SET statement_timeout = 47000 on one open connection', n, (c) => c.query('SET statement_timeout = 47000'), pgOpen, pgClose);
  await cost('pg: pg_database_size of every connectable database (1 query)', n, (c) =>
    c.query("SELECT sum(pg_database_size(oid)) FROM pg_database WHERE NOT datistemplate AND has_database_privilege(oid, 'CONNECT')"), pgOpen, pgClose);
  await cost('pg: pg_tablespace_size of pg_default + pg_global (1 query)', n, (c) => c.query('SELECT sum(pg_tablespace_size(oid)) FROM pg_tablespace'), pgOpen, pgClose);
  await cost('pg: pg_tablespace_size of pg_global only', n, (c) => c.query("SELECT pg_tablespace_size('pg_global')"), pgOpen, pgClose);
  await cost('pg: pg_settings for 10 names', n, (c) => c.query("SELECT name, setting, reset_val FROM pg_settings WHERE name = ANY($1)",
    [['server_version', 'server_version_num', 'port', 'max_connections', 'TimeZone', 'wal_level', 'archive_mode', 'archive_command', 'archive_library', 'data_directory']]), pgOpen, pgClose);
  await cost('pg: log in to each of the other databases + pg_extension + log out', n, async () => {
    const { rows } = await (async () => {
      const c = await pgOpen();
      try {
        return await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres'");
      } finally {
        await c.end();
      }
    })();
    for (const { datname } of rows) {
      const c = await pgOpen(datname);
      await c.query('SELECT extname, extversion FROM pg_extension ORDER BY extname');
      await c.end();
    }
  }, none, none);
  await cost('pg: Census collect() (whole)', n, () => postgresqlCollector.collect(pgTarget, { signal: new AbortController().signal, timeoutMs: 60_000 }), none, none);

  const myOpen = () => mysql.createConnection({ host: '127.0.0.1', port: 3306, user: myTarget.username, password: myTarget.password ?? '' });
  const myClose = (c: mysql.Connection) => c.end();
  await cost('my: log in + SELECT 1 + log out', n, async () => {
    const c = await myOpen();
    await c.query('SELECT 1');
    await c.end();
  }, none, none);
  await cost("my: information_schema.TABLES sizes by schema/engine (Census's query)", n, (m) => m.query(
    `SELECT TABLE_SCHEMA, ENGINE, COUNT(*), SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES
      WHERE TABLE_TYPE <> 'VIEW' AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys', 'mysql') GROUP BY TABLE_SCHEMA, ENGINE`), myOpen, myClose);
  await cost("my: information_schema.TABLES sizes, all schemas (mysql_info's query)", n, (m) => m.query(
    'SELECT table_schema AS "name", SUM(data_length + index_length) AS "size" FROM information_schema.TABLES GROUP BY table_schema'), myOpen, myClose);
  await cost('my: Census collect() (whole)', n, () => mysqlCollector.collect(myTarget, { signal: new AbortController().signal, timeoutMs: 60_000 }), none, none);
}

// ---- what-if ---------------------------------------------------------------------------------------

/** PostgreSQL collections, P at a time, as the engine runs them: throughput and CPU per collection. */
async function throughput(label: string, target: CollectTarget, total: number): Promise<void> {
  await postgresqlCollector.collect(target, { signal: new AbortController().signal, timeoutMs: 60_000 }); // warm
  await sleep(200);
  const s0 = meter.read();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  let warnings = 0;
  await Promise.all(Array.from({ length: P }, async () => {
    while (next < total) {
      next++;
      const result = await postgresqlCollector.collect(target, { signal: new AbortController().signal, timeoutMs: 60_000 });
      warnings += result.warnings.length; // (not `warnings += await ...`: that reads `warnings` before the await)
    }
  }));
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await sleep(300);
  const d = ServerCpuMeter.delta(s0, meter.read());
  console.log(`  ${label.padEnd(58)} ${(total / (wall / 1000)).toFixed(0).padStart(6)}/s ${(((c.user + c.system) / 1000) / total).toFixed(2).padStart(7)} ${d.pg === null ? '     ?' : ((d.pg * 1000) / total).toFixed(2).padStart(7)} ${String(warnings / total).padStart(9)}`);
}

async function whatIfs(target: CollectTarget): Promise<void> {
  const total = 200;
  console.log(`\nPostgreSQL what-if (collector unchanged; logins/queries suppressed from outside): ${total} collections, ${P} at a time`);
  console.log(`  ${'variant'.padEnd(58)} ${'coll/s'.padStart(8)} ${'node ms'.padStart(7)} ${'pg ms'.padStart(7)} ${'warnings'.padStart(9)}`);
  await throughput('as is', target, total);
  whatIf.tablespaceSizes = false;
  await throughput('without pg_tablespace_size', target, total);
  whatIf.tablespaceSizes = true;
  whatIf.otherDatabases = false;
  await throughput('without logins to the other databases (extensions)', target, total);
  whatIf.tablespaceSizes = false;
  await throughput('without both', target, total);
  whatIf.tablespaceSizes = true;
  whatIf.otherDatabases = true;
  await throughput('as is (again)', target, total);
}

// ---- the engine and store alone ---------------------------------------------------------------------

/**
 * One inventory session of `n` servers whose collectors answer at once with a canned result (a
 * real collection's, copied): what Census costs around the collectors — queue, task state,
 * log entries, recording the inventory in SQLite, closing the session.
 */
async function engineOverhead(results: Map<string, CollectResult>, n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'census-bench-engine-'));
  try {
    const store = await Store.open({ url: join(dir, 'census.db') });
    // The real collector's metadata, with a canned collect().
    const canned = (real: Collector): Collector => ({
      info: real.info,
      applicationType: real.info.type,
      collect: async () => structuredClone(results.get(real.info.type)!),
      test: async () => [],
    });
    const secrets = SecretBox.fromKey(Buffer.alloc(32, 7));
    const engine = new Engine({
      store, clock: systemClock, queue: new InProcessQueue(P), secrets,
      collectors: new Map([postgresqlCollector, mysqlCollector].map((c) => [c.info.type, canned(c)])),
    });
    await engine.init();
    engine.start();
    await store.transaction(async (r) => {
      for (let i = 0; i < n; i++) {
        const type = i % 2 ? 'mysql' : 'postgresql';
        const identity = await r.identities.create({ name: `i${i}`, username: `u${i}`, kind: 'password', secret: secrets.seal('x'), type: 'system', ostype: 'LINUX', comment: null, createdAt: Date.now() });
        await r.appservers.create({ name: `s${i}`, hostAddress: '127.0.0.1', portNumber: (type === 'mysql' ? mysqlCollector : postgresqlCollector).info.defaultPort, applicationType: type, osType: 'linux', identityId: identity.id, comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: Date.now() });
      }
    });
    const warm: number[] = [];
    for (let round = 1; round <= ENGINE_ROUNDS; round++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const { session } = await engine.startJob(1004, { by: 'profile', trigger: 'manual' });
      const ended = await engine.waitForSession(session.id, 600_000);
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const cpu = (c.user + c.system) / 1000;
      console.log(`  round ${round} (${round === 1 ? 'first inventory: every object new' : 'again: nothing changed'}): ${ended.status}, ${n} tasks in ${wall.toFixed(0)} ms, ` +
        `Node CPU ${cpu.toFixed(0)} ms = ${(cpu / n).toFixed(2)} ms per task`);
      if (round > 1) warm.push(cpu / n);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (warm.length > 1) console.log(`  unchanged rounds: median ${[...warm].sort((a, b) => a - b)[Math.floor((warm.length - 1) / 2)]!.toFixed(2)} ms of Node CPU per task (${warm.length} rounds)`);
    await engine.stop();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** BENCH_ENGINE_ROUNDS: rounds of the engine-alone measure (the first cold, the rest over the unchanged estate). */
const ENGINE_ROUNDS = Math.max(2, Number(process.env.BENCH_ENGINE_ROUNDS ?? 2));
/** BENCH_ENGINE_ONLY=1: only the engine-alone measure (still one real collection of each type, for its canned results). */
const ENGINE_ONLY = process.env.BENCH_ENGINE_ONLY === '1';

// ---- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  const my = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  try {
    await admin.query(`DROP ROLE IF EXISTS ${PG_USER}`);
    await admin.query(`CREATE ROLE ${PG_USER} LOGIN PASSWORD '${PASSWORD}'`);
    await admin.query(`GRANT pg_monitor TO ${PG_USER}`);
    await my.query('DROP USER IF EXISTS ?@?', [MY_USER, '%']);
    await my.query('CREATE USER ?@? IDENTIFIED BY ?', [MY_USER, '%', PASSWORD]);
    await my.query('GRANT SELECT, SHOW VIEW, PROCESS, REPLICATION CLIENT, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO ?@?', [MY_USER, '%']);

    const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_database WHERE datallowconn AND NOT datistemplate');
    console.log(`PostgreSQL: ${rows[0]?.n} connectable non-template databases (each one extra login for its extensions)`);

    const pgTarget: CollectTarget = { name: 'pg', host: '127.0.0.1', port: 5432, username: PG_USER, password: PASSWORD };
    const myTarget: CollectTarget = { name: 'my', host: '127.0.0.1', port: 3306, username: MY_USER, password: PASSWORD };
    if (!ENGINE_ONLY) {
      await profile(postgresqlCollector, pgTarget);
      await profile(mysqlCollector, myTarget);
      await operationCosts(pgTarget, myTarget);
      await whatIfs(pgTarget);
    }

    const signal = new AbortController().signal;
    const results = new Map<string, CollectResult>([
      ['postgresql', await postgresqlCollector.collect(pgTarget, { signal, timeoutMs: 60_000 })],
      ['mysql', await mysqlCollector.collect(myTarget, { signal, timeoutMs: 60_000 })],
    ]);
    const n = Number(process.env.BENCH_N ?? 200);
    console.log(`\nEngine + SQLite store alone: ${n} servers (half each type), collectors answer at once with a canned real result, concurrency ${P}`);
    await engineOverhead(results, n);
  } finally {
    await admin.query(`DROP ROLE IF EXISTS ${PG_USER}`).catch(() => {});
    await my.query('DROP USER IF EXISTS ?@?', [MY_USER, '%']).catch(() => {});
    await admin.end();
    await my.end();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error((err as Error).stack ?? String(err));
    process.exit(1);
  },
);
