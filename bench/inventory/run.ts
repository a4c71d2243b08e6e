/**
 * Benchmark: one inventory of N database servers by Census (job 1004, in-process, SQLite) versus
 * Ansible's own inventory modules (community.postgresql.postgresql_info and
 * community.mysql.mysql_info) over the very same N logins, on the same machine, with the same
 * parallelism (Census's task concurrency = Ansible's forks). Prints both wall-clock times, the
 * ratio ansible/census, Census's per-task timings and where the time goes on each side.
 *
 *   node --import tsx bench/inventory/run.ts
 *   BENCH_N=50 BENCH_CONCURRENCY=8 node --import tsx bench/inventory/run.ts
 *
 * Environment:
 *   BENCH_N                      application servers (logins) to inventory, half PostgreSQL,
 *                                half MariaDB/MySQL (default 200)
 *   BENCH_CONCURRENCY            Census's parallel tasks and Ansible's forks (default 16)
 *   BENCH_ROUNDS                 rounds of Census cold + warm session and one Ansible run (default 3)
 *   BENCH_ANSIBLE_PIPELINING     1: run Ansible with pipelining on (default: Ansible's default, off)
 *   BENCH_PG_HOST/PORT/USER/DB   the PostgreSQL admin login (default 127.0.0.1:5432, postgres,
 *                                database postgres; trust auth, so no password)
 *   BENCH_MY_HOST/PORT/USER/PASSWORD  the MariaDB/MySQL admin login (default 127.0.0.1:3306, root, '')
 *
 * Needs root when Ansible is missing: it is then installed with apt-get (ansible,
 * python3-psycopg2, python3-pymysql), and the time that took is printed.
 *
 * Every login is its own role/user, `census_bench_<i>`: created at the start (after dropping any
 * left over from an interrupted run) and dropped at the end, also on failure. Exit status 1 if
 * Census's session did not end COMPLETED with N completed tasks, or Ansible failed on any host.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { Session as Inspector } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Task } from '../../src/core/types.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { COLLECTORS, startCensus, type Census } from '../../src/main.ts';
import { loadOrCreateKey } from '../../src/store/keyfile.ts';
import { fmtCpu, machineBusySeconds, pgLoginRate, ServerCpuMeter, type ServerCpu } from './server-cpu.ts';

// ---- settings ------------------------------------------------------------------------------------

const envInt = (name: string, fallback: number, min: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, not ${JSON.stringify(raw)}`);
  return n;
};
const envStr = (name: string, fallback: string): string => process.env[name] ?? fallback;

const N = envInt('BENCH_N', 200, 1);
const C = envInt('BENCH_CONCURRENCY', 16, 1);
const PIPELINING = process.env.BENCH_ANSIBLE_PIPELINING === '1';
/** Rounds of (cold Census session, warm Census session, Ansible run); the ratios printed are their medians. */
const ROUNDS = envInt('BENCH_ROUNDS', 3, 1);
/** A file for the CPU profile of the first round's warm session (Census's process, main thread). */
const PROFILE = process.env.BENCH_PROFILE;
const INVENTORY_JOB_ID = 1004;

const PG_ADMIN = {
  host: envStr('BENCH_PG_HOST', '127.0.0.1'),
  port: envInt('BENCH_PG_PORT', 5432, 1),
  user: envStr('BENCH_PG_USER', 'postgres'),
  database: envStr('BENCH_PG_DB', 'postgres'),
};
const MY_ADMIN = {
  host: envStr('BENCH_MY_HOST', '127.0.0.1'),
  port: envInt('BENCH_MY_PORT', 3306, 1),
  user: envStr('BENCH_MY_USER', 'root'),
  password: envStr('BENCH_MY_PASSWORD', ''),
};

/** Every login this benchmark creates is called PREFIX<i>; leftovers are found by this pattern. */
const PREFIX = 'census_bench_';
const LEFTOVER_PG = `^${PREFIX}[0-9]+$`;
const LEFTOVER_MY = `${PREFIX.replace(/_/g, '\\_')}%`;

type Kind = 'postgresql' | 'mysql';
interface Login {
  i: number;
  kind: Kind;
  user: string;
  password: string;
  /** Ansible host alias, pg_<i> / my_<i>. */
  alias: string;
}

const half = Math.ceil(N / 2);
const LOGINS: Login[] = Array.from({ length: N }, (_, k) => {
  const i = k + 1;
  const kind: Kind = i <= half ? 'postgresql' : 'mysql';
  return { i, kind, user: `${PREFIX}${i}`, password: randomBytes(12).toString('hex'), alias: `${kind === 'postgresql' ? 'pg' : 'my'}_${i}` };
});
const PG_LOGINS = LOGINS.filter((l) => l.kind === 'postgresql');
const MY_LOGINS = LOGINS.filter((l) => l.kind === 'mysql');

// ---- small helpers -------------------------------------------------------------------------------

const secs = (ms: number) => (ms / 1000).toFixed(2);
const say = (text: string) => console.log(text);

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? NaN, min: sorted[0] ?? NaN, mean: sum / (sorted.length || 1), sum };
}

function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')).join('\n');
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
}

function onPath(cmd: string): boolean {
  return run('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

// ---- 1. Ansible present? -------------------------------------------------------------------------

function ensureAnsible(): void {
  const pythonOk = () => run('/usr/bin/python3', ['-c', 'import psycopg2, pymysql']).status === 0;
  if (onPath('ansible-playbook') && pythonOk()) return;
  if (process.getuid?.() !== 0) {
    throw new Error('Ansible (or python3-psycopg2 / python3-pymysql) is missing; run as root, or: apt-get install -y ansible python3-psycopg2 python3-pymysql');
  }
  say('Ansible missing: installing ansible python3-psycopg2 python3-pymysql with apt-get ...');
  const t0 = performance.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = run('apt-get', ['update', '-qq'], { env });
  if (update.status !== 0) throw new Error(`apt-get update failed:\n${tail(update.stdout + update.stderr, 20)}`);
  const tUpdate = performance.now();
  const install = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible', 'python3-psycopg2', 'python3-pymysql'], { env });
  if (install.status !== 0) throw new Error(`apt-get install failed:\n${tail(install.stdout + install.stderr, 20)}`);
  const t1 = performance.now();
  if (!onPath('ansible-playbook') || !pythonOk()) throw new Error('apt-get install succeeded but ansible-playbook / psycopg2 / pymysql are still missing');
  say(`  installed in ${secs(t1 - t0)} s (apt-get update ${secs(tUpdate - t0)} s, install ${secs(t1 - tUpdate)} s)`);
}

function ansibleVersion(): string {
  const v = run('ansible-playbook', ['--version']);
  const core = /core ([\d.]+)/.exec(v.stdout)?.[1] ?? '?';
  const dpkg = run('dpkg-query', ['-W', '-f', '${Version}', 'ansible']);
  return `ansible-core ${core}${dpkg.status === 0 ? `, Debian package ansible ${dpkg.stdout.trim()}` : ''}`;
}

// ---- 2. the logins -------------------------------------------------------------------------------

async function pgAdmin(): Promise<pg.Client> {
  const client = new pg.Client({ ...PG_ADMIN, application_name: 'census-bench' });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function myAdmin(): Promise<mysql.Connection> {
  return mysql.createConnection({ ...MY_ADMIN, multipleStatements: false });
}

async function dropPgLogins(): Promise<number> {
  const client = await pgAdmin();
  try {
    const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname ~ $1', [LEFTOVER_PG]);
    for (const { rolname } of rows) await client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(rolname)}`);
    return rows.length;
  } finally {
    await client.end();
  }
}

async function dropMyLogins(): Promise<number> {
  const conn = await myAdmin();
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?', [LEFTOVER_MY]);
    for (const r of rows) await conn.query('DROP USER IF EXISTS ?@?', [String(r.user), String(r.host)]);
    return rows.length;
  } finally {
    await conn.end();
  }
}

/** Drops every census_bench_<i> login on both servers; says how many there were. */
async function dropLogins(): Promise<{ pg: number; my: number }> {
  const [pgN, myN] = await Promise.all([dropPgLogins(), dropMyLogins()]);
  return { pg: pgN, my: myN };
}

async function createPgLogins(): Promise<void> {
  if (!PG_LOGINS.length) return;
  const client = await pgAdmin();
  try {
    for (const l of PG_LOGINS) {
      const role = client.escapeIdentifier(l.user);
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${client.escapeLiteral(l.password)}`);
      // pg_monitor (pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables): what a
      // monitoring/inventory login is usually given; both tools read settings and statistics.
      await client.query(`GRANT pg_monitor TO ${role}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * One account per login at '%'. An anonymous account (''@localhost) would win over '%' for
 * connections from the machine itself, so the same account is then also created at localhost
 * and 127.0.0.1 (this machine has none; the check keeps the script right elsewhere).
 */
async function createMyLogins(): Promise<{ hosts: string[]; privileges: string }> {
  if (!MY_LOGINS.length) return { hosts: [], privileges: '' };
  const conn = await myAdmin();
  try {
    const [anon] = await conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = ''");
    const hosts = Number(anon[0]?.n ?? 0) > 0 ? ['%', 'localhost', '127.0.0.1'] : ['%'];
    // MariaDB 10.5+ split REPLICATION CLIENT up: SHOW [ALL] SLAVES STATUS needs SLAVE MONITOR
    // (10.5.9+; both tools read it) and SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN (10.5.2+;
    // mysql_info reads it by default and fails the host without it). Give them where they exist.
    let privileges = 'SELECT, SHOW VIEW, PROCESS, REPLICATION CLIENT';
    for (const extra of ['SLAVE MONITOR', 'REPLICATION MASTER ADMIN']) {
      try {
        await conn.query("CREATE USER IF NOT EXISTS 'census_bench_probe'@'%' IDENTIFIED BY 'x'");
        await conn.query(`GRANT ${extra} ON *.* TO 'census_bench_probe'@'%'`);
        privileges += `, ${extra}`;
      } catch {
        /* not on this server (MySQL, older MariaDB): REPLICATION CLIENT covers it there */
      } finally {
        await conn.query("DROP USER IF EXISTS 'census_bench_probe'@'%'");
      }
    }
    for (const l of MY_LOGINS) {
      for (const host of hosts) {
        await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [l.user, host, l.password]);
        await conn.query(`GRANT ${privileges} ON *.* TO ?@?`, [l.user, host]);
      }
    }
    return { hosts, privileges };
  } finally {
    await conn.end();
  }
}

/**
 * What there is to inventory: both tools' cost grows with it (PostgreSQL: one extra login per
 * connectable database; MariaDB: information_schema.TABLES over every table).
 */
async function describeServers(): Promise<string[]> {
  const out: string[] = [];
  const probe = PG_LOGINS[0];
  if (probe) {
    const client = await pgAdmin();
    try {
      const { rows } = await client.query<{ datname: string; allow: boolean; template: boolean; connect: boolean }>(
        `SELECT datname, datallowconn AS allow, datistemplate AS template, has_database_privilege($1, datname, 'CONNECT') AS connect
           FROM pg_database ORDER BY oid`, [probe.user]);
      const version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
      const listed = rows.filter((r) => r.datname !== 'template0');
      const closed = listed.filter((r) => !r.allow || !r.connect).map((r) => r.datname);
      out.push(`PostgreSQL ${version} at ${PG_ADMIN.host}:${PG_ADMIN.port}: ${rows.length} databases (${rows.filter((r) => !r.template).length} not templates)` +
        (closed.length ? `; ${closed.length} the bench login may not connect to: ${closed.join(', ')}` : ''));
    } finally {
      await client.end();
    }
  }
  if (MY_LOGINS.length) {
    const conn = await myAdmin();
    try {
      const [[v], [s], [t]] = await Promise.all([
        conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v'),
        conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA'),
        conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema')"),
      ]);
      out.push(`MariaDB/MySQL ${String(v[0]?.v)} at ${MY_ADMIN.host}:${MY_ADMIN.port}: ${String(s[0]?.n)} schemas, ${String(t[0]?.n)} tables outside information_schema/performance_schema`);
    } finally {
      await conn.end();
    }
  }
  return out;
}

// ---- floors: what one bare login costs -----------------------------------------------------------

/** Median ms of `rounds` sequential log in + SELECT 1 + log out, for one PostgreSQL and one MySQL login. */
async function bareLoginMs(rounds: number): Promise<{ pg: number | null; my: number | null }> {
  const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  const out: { pg: number | null; my: number | null } = { pg: null, my: null };
  const p = PG_LOGINS[0];
  if (p) {
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const c = new pg.Client({ host: PG_ADMIN.host, port: PG_ADMIN.port, user: p.user, password: p.password, database: 'postgres' });
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      times.push(performance.now() - t0);
    }
    out.pg = median(times);
  }
  const m = MY_LOGINS[0];
  if (m) {
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const c = await mysql.createConnection({ host: MY_ADMIN.host, port: MY_ADMIN.port, user: m.user, password: m.password });
      await c.query('SELECT 1');
      await c.end();
      times.push(performance.now() - t0);
    }
    out.my = median(times);
  }
  return out;
}

// ---- 3. Census ------------------------------------------------------------------------------------

interface CensusOutcome {
  wallMs: number;
  cpuMs: number;
  tasks: Task[];
  kindOf: Map<number, Kind>;
  startCall: number;
  sessionEnd: number;
  warnings: Map<string, number>;
  serverCpu: ServerCpu;
  /** CPU seconds the whole machine was busy during the session. */
  machineCpu: number | null;
}

/** Registers the N servers (see runCensus); returns each server's kind by id. */
async function registerServers(census: Census, dataDir: string): Promise<Map<number, Kind>> {
  // Benchmark shortcut: the API refuses a second registration of the same host:port:type (409,
  // src/api/appservers.ts checkDraft), and both servers listen on 127.0.0.1 only, so the N
  // registrations are written straight into the store, bypassing that duplicate check. Each
  // identity's password is sealed with the server's own key (the same dataDir's secret.key),
  // exactly as the API would seal it.
  const box = SecretBox.fromKey(loadOrCreateKey(dataDir));
  const kindOf = new Map<number, Kind>();
  await census.store.transaction(async (r) => {
    for (const l of LOGINS) {
      const now = Date.now();
      const identity = await r.identities.create({
        name: `${l.user} login`, username: l.user, kind: 'password', secret: box.seal(l.password),
        type: 'system', ostype: 'LINUX', comment: 'census inventory benchmark', createdAt: now,
      });
      const server = await r.appservers.create({
        name: `bench-${l.alias}`,
        hostAddress: l.kind === 'postgresql' ? PG_ADMIN.host : MY_ADMIN.host,
        portNumber: l.kind === 'postgresql' ? PG_ADMIN.port : MY_ADMIN.port,
        applicationType: l.kind, osType: 'linux', identityId: identity.id, comment: 'census inventory benchmark',
        useKeyAuthentication: false, maxConcurrency: 10, createdAt: now,
      });
      kindOf.set(server.id, l.kind);
    }
  });
  return kindOf;
}

/**
 * One inventory session over the registered servers. The first one of a Census is cold (nothing
 * recorded); a second one over the unchanged estate is warm: incremental (docs/inventory.md).
 */
async function runCensus(census: Census, kindOf: Map<number, Kind>, meter: ServerCpuMeter): Promise<CensusOutcome> {
  const server0 = meter.read();
  const busy0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const startCall = Date.now();
  const t0 = performance.now();
  const { session } = await census.engine.startJob(INVENTORY_JOB_ID, { by: 'bench', trigger: 'manual' });
  const ended = await census.engine.waitForSession(session.id, 600_000);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const busy1 = machineBusySeconds();
  // Let the servers reap the last connections' backends before reading their CPU.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const serverCpu = ServerCpuMeter.delta(server0, meter.read());
  const tasks = await census.store.tasks.bySession(session.id);

  const failed = tasks.filter((t) => t.status !== 'COMPLETED');
  if (ended.status !== 'COMPLETED' || tasks.length !== N || failed.length) {
    console.error(`Census: session ${session.id} ended ${ended.status} with ${tasks.length} task(s), ${failed.length} not COMPLETED (expected ${N} COMPLETED)`);
    for (const t of failed.slice(0, 30)) console.error(`  ${t.name}: ${t.status} ${t.errorCode ?? ''} ${t.message ?? ''}`);
    if (failed.length > 30) console.error(`  ... and ${failed.length - 30} more`);
    throw new BenchFailure('Census inventory did not complete');
  }

  // What Census said besides "done": WARN entries, grouped by message with server names removed.
  const logs = await census.store.logs.list({
    where: [{ column: 'sessionId', kind: 'cmp', op: '=', value: session.id }, { column: 'type', kind: 'in', values: ['WARN', 'ERROR'] }],
    order: [], limit: 1_000_000, offset: 0,
  });
  const warnings = new Map<string, number>();
  for (const e of logs.items) {
    const text = e.message.replace(/bench-(pg|my)_\d+/g, 'bench-$1_<i>').replace(/census_bench_\d+/g, 'census_bench_<i>');
    warnings.set(text, (warnings.get(text) ?? 0) + 1);
  }
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, tasks, kindOf, startCall, sessionEnd: ended.end ?? Date.now(), warnings, serverCpu,
    machineCpu: busy0 !== null && busy1 !== null ? busy1 - busy0 : null };
}

// ---- 4. Ansible -----------------------------------------------------------------------------------

interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface AnsibleRun {
  wallMs: number;
  /** CPU seconds of ansible-playbook and all its children (forks, modules), when /usr/bin/time is there. */
  cpuS: number | null;
  result: Finished;
  serverCpu: ServerCpu;
  machineCpu: number | null;
}

function writeAnsibleFiles(dir: string): { cfg: string; inventory: string; playbook: string; pingInventory: string; pingPlaybook: string } {
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'ansible.cfg');
  // Our own config, so a machine-wide /etc/ansible/ansible.cfg or ~/.ansible.cfg cannot change the run.
  writeFileSync(cfg, [
    '[defaults]',
    `forks = ${C}`,
    'host_key_checking = False',
    'retry_files_enabled = False',
    'nocolor = True',
    `local_tmp = ${join(dir, 'tmp-local')}`,
    `remote_tmp = ${join(dir, 'tmp-remote')}`,
    'interpreter_python = /usr/bin/python3',
    '',
    '[connection]',
    `pipelining = ${PIPELINING ? 'True' : 'False'}`,
    '',
  ].join('\n'));

  const hostLine = (l: Login) => `${l.alias} bench_user=${l.user} bench_password=${l.password}`;
  const inventory = join(dir, 'inventory.ini');
  writeFileSync(inventory, [
    '[pg]', ...PG_LOGINS.map(hostLine), '',
    '[my]', ...MY_LOGINS.map(hostLine), '',
    '[all:vars]', 'ansible_connection=local', 'ansible_python_interpreter=/usr/bin/python3', '',
  ].join('\n'), { mode: 0o600 });

  const playbook = join(dir, 'inventory.yml');
  writeFileSync(playbook, `- name: PostgreSQL inventory
  hosts: pg
  gather_facts: false
  tasks:
    - name: postgresql_info
      community.postgresql.postgresql_info:
        login_host: ${PG_ADMIN.host}
        login_port: ${PG_ADMIN.port}
        login_user: "{{ bench_user }}"
        login_password: "{{ bench_password }}"
        login_db: postgres

- name: MariaDB inventory
  hosts: my
  gather_facts: false
  tasks:
    - name: mysql_info
      community.mysql.mysql_info:
        login_host: ${MY_ADMIN.host}
        login_port: ${MY_ADMIN.port}
        login_user: "{{ bench_user }}"
        login_password: "{{ bench_password }}"
        return_empty_dbs: true
`);

  const pingInventory = join(dir, 'ping.ini');
  writeFileSync(pingInventory, 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  const pingPlaybook = join(dir, 'ping.yml');
  writeFileSync(pingPlaybook, `- name: start-up cost
  hosts: localhost
  gather_facts: false
  tasks:
    - name: ping
      ansible.builtin.ping:
`);
  return { cfg, inventory, playbook, pingInventory, pingPlaybook };
}

/** The ansible-playbook running now, so Ctrl-C can end it (see runChild). */
let child: ChildProcess | null = null;

/** Kills the running ansible-playbook (its whole process group). */
function killChild(): void {
  if (child?.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Runs a command to its end, like spawnSync, but asynchronously and in a process group of its
 * own: ansible-playbook 2.14 with forks often hangs for good on Ctrl-C (its workers exit, the
 * main process waits on them forever), so the terminal's SIGINT is kept away from it and our
 * SIGINT handler ends the group with SIGTERM instead. The start and end are timed the same way.
 */
function runChild(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = p;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', reject);
    p.on('close', (status, signal) => {
      child = null;
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

async function ansiblePlaybook(dir: string, cfg: string, inventory: string, playbook: string, forks: number, meter: ServerCpuMeter): Promise<AnsibleRun> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANSIBLE_CONFIG: cfg,
    ANSIBLE_HOME: join(dir, 'home'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_STDOUT_CALLBACK: 'default',
  };
  const args = ['-i', inventory, '--forks', String(forks), playbook];
  const timesFile = join(dir, 'time.out');
  const timed = existsSync('/usr/bin/time');
  const server0 = meter.read();
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const result = timed
    ? await runChild('/usr/bin/time', ['-f', '%e %U %S', '-o', timesFile, 'ansible-playbook', ...args], { env, cwd: dir })
    : await runChild('ansible-playbook', args, { env, cwd: dir });
  const wallMs = performance.now() - t0;
  const busy1 = machineBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const serverCpu = ServerCpuMeter.delta(server0, meter.read());
  let cpuS: number | null = null;
  if (timed && existsSync(timesFile)) {
    const parts = readFileSync(timesFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    if (parts.length === 3 && parts.every(Number.isFinite)) cpuS = parts[1]! + parts[2]!;
  }
  return { wallMs, cpuS, result, serverCpu, machineCpu: busy0 !== null && busy1 !== null ? busy1 - busy0 : null };
}

interface Recap {
  host: string;
  ok: number;
  unreachable: number;
  failed: number;
}

function parseRecap(stdout: string): Recap[] {
  const start = stdout.lastIndexOf('PLAY RECAP');
  if (start < 0) return [];
  const out: Recap[] = [];
  for (const m of stdout.slice(start).matchAll(/^(\S+)\s*:\s*ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    out.push({ host: m[1]!, ok: Number(m[2]), unreachable: Number(m[3]), failed: Number(m[4]) });
  }
  return out;
}

function checkAnsible(what: string, r: AnsibleRun, hosts: string[]): void {
  const recap = parseRecap(r.result.stdout);
  const byHost = new Map(recap.map((x) => [x.host, x]));
  const bad = hosts.filter((h) => {
    const x = byHost.get(h);
    return !x || x.ok < 1 || x.failed > 0 || x.unreachable > 0;
  });
  if (r.result.status !== 0 || bad.length) {
    console.error(`Ansible (${what}): exit status ${r.result.status ?? r.result.signal}, ${bad.length} of ${hosts.length} host(s) not ok: ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ', ...' : ''}`);
    const fatal = r.result.stdout.split('\n').filter((line) => /^(fatal|failed):/.test(line));
    for (const line of fatal.slice(0, 10)) console.error(`  ${line.slice(0, 600)}`);
    if (!fatal.length) console.error(tail(r.result.stdout, 40));
    if (fatal.some((line) => line.includes("'NoneType' object has no attribute"))) {
      console.error("  (postgresql_info 2.4.x fails like this when the LAST database it visits refuses the login's CONNECT\n" +
        '   or is gone: the failed reconnect leaves its cursor None. Did another client of the same server create\n' +
        '   a database without CONNECT for PUBLIC, or drop one, while Ansible ran? See the [WARNING] lines below.)');
    }
    if (r.result.stderr.trim()) console.error(tail(r.result.stderr, 20));
    throw new BenchFailure(`Ansible ${what} failed`);
  }
}

// ---- main -----------------------------------------------------------------------------------------

class BenchFailure extends Error {}

/** Runs `work`, writing its CPU profile (the main thread's) to `file` if one is given. */
async function profiled<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  if (!file) return work();
  const inspector = new Inspector();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await inspector.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    inspector.disconnect();
    say(`  CPU profile of the warm session written to ${file}`);
  }
}

async function main(): Promise<number> {
  const benchStart = performance.now();
  say(`inventory benchmark: ${N} servers (${PG_LOGINS.length} PostgreSQL, ${MY_LOGINS.length} MariaDB/MySQL), concurrency/forks ${C}`);

  ensureAnsible();
  say(`  ${ansibleVersion()}`);
  if (MY_LOGINS.length && !COLLECTORS.has('mysql')) {
    throw new Error('Census has no "mysql" collector (COLLECTORS in src/collectors/registry.ts): it cannot inventory the MariaDB half');
  }

  const dir = mkdtempSync(join(tmpdir(), 'census-bench-inventory-'));
  const meter = new ServerCpuMeter(PG_ADMIN.port, MY_ADMIN.port);
  let census: Census | undefined;
  // Ctrl-C: drop the logins and the temp dir before going (a kill -9 leaves them to the next run).
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => (cleaning ??= (async () => {
    if (census) await census.stop().catch(() => {});
    try {
      const dropped = await dropLogins();
      say(`  clean-up: dropped ${dropped.pg} PostgreSQL role(s) and ${dropped.my} MariaDB account(s)`);
    } catch (err) {
      console.error(`could not drop the benchmark logins (the next run drops them): ${(err as Error).message}`);
    }
    rmSync(dir, { recursive: true, force: true });
  })());
  process.once('SIGINT', () => {
    console.error('interrupted');
    killChild();
    void cleanUp().then(() => process.exit(130));
  });
  let finalLine = '';
  try {
    // ---- logins
    const left = await dropLogins();
    if (left.pg || left.my) say(`  dropped leftovers of an earlier run: ${left.pg} PostgreSQL role(s), ${left.my} MariaDB account(s)`);
    const t0 = performance.now();
    await createPgLogins();
    const my = await createMyLogins();
    say(`  created ${N} logins in ${secs(performance.now() - t0)} s (PostgreSQL: LOGIN + pg_monitor;` +
      ` MariaDB: at ${my.hosts.join(', ') || '-'} with ${my.privileges || '-'} ON *.*)`);

    for (const line of await describeServers()) say(`  ${line}`);
    const floor = await bareLoginMs(20);
    const loginRate = PG_LOGINS[0]
      ? await pgLoginRate({ host: PG_ADMIN.host, port: PG_ADMIN.port, user: PG_LOGINS[0].user, password: PG_LOGINS[0].password, database: 'postgres' },
        C, Math.max(4 * C, PG_LOGINS.length), () => meter.read().pg)
      : null;

    // ---- rounds: each a fresh Census (cold session, then warm session over the unchanged
    // estate) and one Ansible run; the ratios printed are the medians over the rounds.
    const files = writeAnsibleFiles(join(dir, 'ansible'));
    // Untimed warm-up: the first ansible-playbook of a boot reads ~100 MB of Python from disk.
    const warmUp = await ansiblePlaybook(join(dir, 'ansible'), files.cfg, files.pingInventory, files.pingPlaybook, 1, meter);
    checkAnsible('ping warm-up', warmUp, ['localhost']);
    const ping = await ansiblePlaybook(join(dir, 'ansible'), files.cfg, files.pingInventory, files.pingPlaybook, 1, meter);
    say(`  ansible ping: ${secs(ping.wallMs)} s`);
    checkAnsible('ping', ping, ['localhost']);
    const rounds: { cold: CensusOutcome; warm: CensusOutcome; ans: AnsibleRun }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const dataDir = join(dir, `census-${round}`);
      census = await startCensus({ dataDir, port: 0, http: true, scheduler: false, concurrency: C });
      const kindOf = await registerServers(census, dataDir);
      const cold = await runCensus(census, kindOf, meter);
      const warm = await profiled(round === 1 ? PROFILE : undefined, () => runCensus(census!, kindOf, meter));
      await census.stop();
      census = undefined;
      const ans = await ansiblePlaybook(join(dir, 'ansible'), files.cfg, files.inventory, files.playbook, C, meter);
      checkAnsible('inventory', ans, LOGINS.map((l) => l.alias));
      say(`  round ${round}: census cold ${secs(cold.wallMs)} s, warm ${secs(warm.wallMs)} s; ansible ${secs(ans.wallMs)} s` +
        ` -> cold ${(ans.wallMs / cold.wallMs).toFixed(1)}x, warm ${(ans.wallMs / warm.wallMs).toFixed(1)}x`);
      rounds.push({ cold, warm, ans });
    }
    const middle = <T,>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!;
    const coldRatio = middle(rounds.map((r) => r.ans.wallMs / r.cold.wallMs), (x) => x);
    const warmRatio = middle(rounds.map((r) => r.ans.wallMs / r.warm.wallMs), (x) => x);
    // The detailed report below is of the round with the median cold ratio.
    const { cold: c, warm: w, ans } = middle(rounds, (r) => r.ans.wallMs / r.cold.wallMs);

    // ---- report
    const censusS = c.wallMs / 1000;
    const ansibleS = ans.wallMs / 1000;
    const ratio = ansibleS / censusS;
    const durations = (kind?: Kind) =>
      c.tasks.filter((t) => !kind || c.kindOf.get(t.appserverId ?? -1) === kind).map((t) => (t.end ?? 0) - (t.start ?? 0));
    const all = summary(durations());
    const pgT = summary(durations('postgresql'));
    const myT = summary(durations('mysql'));
    const firstStart = Math.min(...c.tasks.map((t) => t.start ?? Infinity));
    const lastEnd = Math.max(...c.tasks.map((t) => t.end ?? 0));

    say('');
    say(table([
      ['N', 'concurrency', 'census cold s', 'census warm s', 'ansible s', 'cold ansible/census', 'warm ansible/census'],
      [N, C, censusS.toFixed(2), (w.wallMs / 1000).toFixed(2), ansibleS.toFixed(2), ratio.toFixed(1), (ansibleS / (w.wallMs / 1000)).toFixed(1)],
    ]));
    say(`  warm session CPU: Census process ${(w.cpuMs / 1000).toFixed(2)} s, PostgreSQL server ${fmtCpu(w.serverCpu.pg)}, MariaDB server ${fmtCpu(w.serverCpu.my)}` +
      ` (cold: ${(c.cpuMs / 1000).toFixed(2)} s, ${fmtCpu(c.serverCpu.pg)}, ${fmtCpu(c.serverCpu.my)})`);
    // What this machine allows the warm run: all its CPU spread perfectly over the cores, and the
    // PostgreSQL logins alone at the rate the server takes them.
    const warmCpu = w.cpuMs / 1000 + (w.serverCpu.pg ?? 0) + (w.serverCpu.my ?? 0);
    const cpuFloor = warmCpu / availableParallelism();
    say(`  warm floor on this machine: its CPU ${warmCpu.toFixed(2)} s / ${availableParallelism()} cores = ${cpuFloor.toFixed(2)} s,` +
      ` so at most ${(ansibleS / cpuFloor).toFixed(1)}x Ansible for this work`);
    if (loginRate) {
      const loginsS = PG_LOGINS.length / loginRate.perSecond;
      say(`  PostgreSQL takes ${loginRate.perSecond.toFixed(0)} bare logins/s with ${C} at once here` +
        `${loginRate.cpuMs === null ? '' : ` (${loginRate.cpuMs.toFixed(1)} ms of its CPU each)`}:` +
        ` the warm run's ${PG_LOGINS.length} logins alone take ${loginsS.toFixed(2)} s (${(ansibleS / loginsS).toFixed(1)}x Ansible)`);
    }
    say('');
    say('Census per-task time (task end - start, ms; one task = one server: log in, read, log out, record)');
    const row = (name: string, s: ReturnType<typeof summary>) => [name, s.n, s.p50, s.p95, s.max, s.mean.toFixed(1)];
    say(table([
      ['', 'tasks', 'p50', 'p95', 'max', 'mean'],
      row('all', all),
      ...(pgT.n ? [row('postgresql', pgT)] : []),
      ...(myT.n ? [row('mysql', myT)] : []),
    ]));
    say('');
    say('Where the time goes');
    const ideal = all.sum / C;
    say(`  census   wall ${secs(c.wallMs)} s = start call -> first task ${firstStart - c.startCall} ms` +
      ` + tasks running ${secs(lastEnd - firstStart)} s + last task -> session closed ${c.sessionEnd - lastEnd} ms`);
    say(`           sum of task times ${secs(all.sum)} s / ${C} slots = ${secs(ideal)} s if perfectly packed` +
      ` (slots busy ${((all.sum / (C * Math.max(1, lastEnd - firstStart))) * 100).toFixed(0)}% of the running phase)`);
    const cores = availableParallelism();
    const perServer = (cpu: number | null, n: number) => (cpu === null || !n ? '' : ` = ${((cpu * 1000) / n).toFixed(1)} ms per server`);
    const cpuLine = (who: string, own: number | null, server: ServerCpu, machine: number | null, wallMs: number) => {
      const total = (own ?? 0) + (server.pg ?? 0) + (server.my ?? 0);
      const capacity = (wallMs / 1000) * cores;
      say(`           CPU: ${who} ${fmtCpu(own)}, PostgreSQL server ${fmtCpu(server.pg)}${perServer(server.pg, PG_LOGINS.length)},` +
        ` MariaDB server ${fmtCpu(server.my)}${perServer(server.my, MY_LOGINS.length)}`);
      const other = machine === null ? null : Math.max(0, machine - total);
      say(`                together ${total.toFixed(2)} s of ${capacity.toFixed(2)} core-s (${cores} cores x wall)` +
        (other === null ? '' : `; everything else on the machine ${other.toFixed(2)} s`) +
        (other !== null && other > 0.1 * capacity ? '  << other load: this figure is disturbed, rerun when the machine is quiet' : ''));
    };
    cpuLine('Census process', c.cpuMs / 1000, c.serverCpu, c.machineCpu, c.wallMs);
    if (floor.pg !== null) say(`           bare PostgreSQL log in + SELECT 1 + log out (pg, sequential): ${floor.pg.toFixed(1)} ms; Census pg task p50 ${pgT.p50} ms`);
    if (floor.my !== null) say(`           bare MariaDB log in + SELECT 1 + log out (mysql2, sequential): ${floor.my.toFixed(1)} ms; Census mysql task p50 ${myT.p50} ms`);
    const startup = ping.wallMs;
    const perHost = ((ans.wallMs - startup) * C) / N;
    say(`  ansible  wall ${secs(ans.wallMs)} s = fixed start-up ~${secs(startup)} s (one ping on localhost, CPU ${fmtCpu(ping.cpuS)})` +
      ` + ${secs(ans.wallMs - startup)} s for ${N} hosts`);
    say(`           per-host module cost = (total - start-up) x forks / N = ${secs(perHost)} s` +
      ` (Census: ${all.mean.toFixed(0)} ms mean task)`);
    cpuLine('ansible-playbook + forks + modules', ans.cpuS, ans.serverCpu, ans.machineCpu, ans.wallMs);
    if (ans.cpuS !== null) say(`           Ansible's own CPU per host ${((ans.cpuS * 1000) / N).toFixed(0)} ms; Census's ${(c.cpuMs / N).toFixed(1)} ms`);
    if (c.warnings.size) {
      say('');
      say('Census warnings/findings in the session (count x message):');
      for (const [text, count] of [...c.warnings].sort((a, b) => b[1] - a[1]).slice(0, 12)) say(`  ${count} x ${text.slice(0, 220)}`);
    }
    say('');
    say(`bench wall time ${secs(performance.now() - benchStart)} s (set-up, Census, Ansible warm-up + ping + inventory)`);
    finalLine = `inventory: ansible/census cold = ${coldRatio.toFixed(1)}, warm = ${warmRatio.toFixed(1)} (median of ${ROUNDS} round(s); median round: census cold ${censusS.toFixed(2)} s, warm ${(w.wallMs / 1000).toFixed(2)} s, ansible ${ansibleS.toFixed(2)} s; ${N} servers, concurrency ${C})`;
    return 0;
  } catch (err) {
    if (err instanceof BenchFailure) {
      console.error(`inventory benchmark FAILED: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await cleanUp();
    if (finalLine) say(finalLine);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`inventory benchmark error: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
