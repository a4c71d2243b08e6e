/**
 * Chaos: kills Census (SIGKILL) at random moments of an inventory of slow servers, starts it
 * again, and checks that nothing was lost or done twice. On SQLite the one server process is the
 * victim; on PostgreSQL an API server that also runs tasks (`--with-worker`) and two workers, any
 * of which may be the victim.
 *
 *   node --import tsx bench/chaos/run.ts                 (npm run bench:chaos)
 *   CHAOS_TRIALS=50 CHAOS_SEED=1234 CHAOS_BACKENDS=postgres node --import tsx bench/chaos/run.ts
 *
 * The slow servers are logins to the machine's PostgreSQL (127.0.0.1:5432, trust auth), each
 * behind its own latency proxy (bench/scale/latency-proxy.ts), so an inventory spends seconds
 * waiting on the network and a kill lands in the middle of it. While each inventory runs, a few
 * registrations are sent at random moments too; one whose answer the kill swallowed is sent again
 * after the restart, as a client would. After each restart the trial checks:
 *
 *   - the session ends COMPLETED with one COMPLETED task per server (COMPLETED count = servers);
 *   - each task recorded its result once (one "complete" log entry, one change summary), and ran
 *     more than once only if it was running when the process died (attempts);
 *   - one SUMMARY entry for the session, the job back to IDLE;
 *   - no inventory row doubled (instances per server, databases per instance, changes per session);
 *   - every registration answered 2xx is there, under the id it was given, exactly once; and a
 *     retried one got its server back rather than a 409;
 *   - on PostgreSQL, the tasks of the killed process were taken over within 5 s.
 *
 * Prints `trials passed / trials run` per backend and exits non-zero if any trial failed.
 * Everything runs in temp dirs and a database of its own, removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { spawnCensus, type CensusProcess } from '../../test/support/processes.ts';
import { request, type Reply } from '../../test/support/server.ts';

const TRIALS = Number(process.env.CHAOS_TRIALS ?? 20);
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BACKENDS = (process.env.CHAOS_BACKENDS ?? 'sqlite,postgres').split(',');
/** Slow servers in each inventory. */
const SERVERS = Number(process.env.CHAOS_SERVERS ?? 6);
/** Milliseconds each proxy holds every chunk, each way. */
const LATENCY = Number(process.env.CHAOS_LATENCY_MS ?? 60);
/** Registrations sent during each trial. */
const REGISTRATIONS = Number(process.env.CHAOS_REGISTRATIONS ?? 3);
const PG_URL = process.env.CHAOS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TAKEOVER_LIMIT_MS = 5_000;
const PASSWORD = 'Chaos-Admin-Pass-1';
const root = new URL('../..', import.meta.url).pathname;

/** mulberry32: a small seeded generator, so a failing run can be repeated with CHAOS_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Read access to Census's own tables, whichever the backend (SQL written with `?` placeholders). */
interface Db {
  all<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

function sqliteDb(file: string): Db {
  // A connection per query: the database may belong to a process that is about to be killed.
  return {
    async all<T>(text: string, params: unknown[] = []) {
      const db = new SQLite(file, { fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        return db.prepare(text).all(...params) as T[];
      } finally {
        db.close();
      }
    },
    async close() {},
  };
}

function pgDb(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  return {
    async all<T>(text: string, params: unknown[] = []) {
      let i = 0;
      return (await pool.query(text.replace(/\?/g, () => `$${++i}`), params)).rows as T[];
    },
    close: () => pool.end(),
  };
}

/** Starts a latency proxy in front of the machine's PostgreSQL; resolves with its port. */
function startProxy(children: ChildProcess[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/scale/latency-proxy.ts', '0', '127.0.0.1', '5432', String(LATENCY)], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /proxy listening on (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`latency proxy exited ${code}`)));
  });
}

interface Registration {
  name: string;
  body: Record<string, unknown>;
  /** The id of a 2xx answer (from the first attempt or a retry). */
  acknowledged?: string;
  /** Answers after the first attempt got none. */
  retries: number[];
  /** The first attempt was saved although its answer never came (the case a retry must survive). */
  savedUnanswered?: boolean;
  firstError?: string;
}

interface Cluster {
  backend: 'sqlite' | 'postgres';
  db: Db;
  url: string;
  sid: string;
  server: CensusProcess;
  workers: CensusProcess[];
  restartServer(): Promise<void>;
  restartWorker(i: number): Promise<void>;
  stop(): Promise<void>;
}

async function openCluster(backend: 'sqlite' | 'postgres', children: ChildProcess[]): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), `census-chaos-${backend}-`));
  let dbName: string | undefined;
  let dbUrl: string | undefined;
  if (backend === 'postgres') {
    dbName = `census_chaos_${Math.random().toString(36).slice(2, 8)}`;
    dbUrl = PG_URL.replace(/\/[^/]*$/, `/${dbName}`);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
  }
  const env = { CENSUS_ADMIN_PASSWORD: PASSWORD };
  const common = ['--data-dir', dataDir, '--concurrency', '2', ...(dbUrl ? ['--database', dbUrl] : [])];
  const startServer = async () => {
    const p = spawnCensus('server', [...common, '--port', '0', ...(dbUrl ? ['--with-worker'] : [])], env);
    return { p, url: await p.started };
  };
  const startWorker = async () => {
    const p = spawnCensus('worker', common, env);
    await p.started;
    return p;
  };
  const login = async (base: string) => {
    const r = await request(base, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password: PASSWORD } });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    return r.json.sessionid as string;
  };
  const first = await startServer();
  const c: Cluster = {
    backend,
    db: dbUrl ? pgDb(dbUrl) : sqliteDb(join(dataDir, 'census.db')),
    url: first.url,
    sid: await login(first.url),
    server: first.p,
    workers: dbUrl ? await Promise.all([startWorker(), startWorker()]) : [],
    async restartServer() {
      const s = await startServer();
      c.server = s.p;
      c.url = s.url;
      c.sid = await login(s.url);
    },
    async restartWorker(i: number) {
      c.workers[i] = await startWorker();
    },
    async stop() {
      await Promise.all([c.server, ...c.workers].map((p) => p.kill('SIGKILL')));
      await c.db.close();
      if (dbName) {
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        await admin.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  // The slow servers, each behind a proxy of its own (the API refuses one host:port twice).
  const ports = await Promise.all(Array.from({ length: SERVERS }, () => startProxy(children)));
  const body = ports.map((port, i) => ({
    name: `slow-${i + 1}`, hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', username: 'postgres', password: 'trust-auth-ignores-it',
  }));
  const reg = await request(c.url, 'POST', '/api/appserver?inventory=false', { sid: c.sid, body });
  if (reg.status !== 201) throw new Error(`registering the slow servers failed: ${reg.status} ${reg.text}`);
  return c;
}

function call(base: string, method: string, path: string, sid: string, body?: unknown): Promise<Reply> {
  return request(base, method, path, { sid, ...(body === undefined ? {} : { body }) });
}

interface TrialResult {
  ok: boolean;
  problems: string[];
  note: string;
  takeoverMs?: number;
}

async function sessionOf(c: Cluster): Promise<number> {
  const r = await call(c.url, 'POST', '/api/endeavour/job/1004?action=start', c.sid);
  if (r.status !== 200) throw new Error(`starting the inventory failed: ${r.status} ${r.text}`);
  return Number(r.json.lastrun.sessionId);
}

async function sessionEnded(c: Cluster, id: number, timeoutMs: number) {
  return until(async () => {
    const [s] = await c.db.all<{ status: string }>('SELECT status FROM job_sessions WHERE id = ?', [id]);
    return s && s.status !== 'RUNNING' && s.status !== 'CANCELLING' ? s.status : undefined;
  }, `session ${id} to end`, timeoutMs, 100);
}

/** Sends one registration; on no answer (the server died under it) leaves it for a retry. */
async function register(c: () => Cluster, r: Registration): Promise<void> {
  const cl = c();
  try {
    const a = await call(cl.url, 'POST', '/ngp/appserver', cl.sid, r.body);
    if (a.status === 201) r.acknowledged = String(a.json.response.id);
    else r.firstError = `answered ${a.status}: ${a.text.slice(0, 200)}`;
  } catch (err) {
    r.firstError = (err as Error).message;
  }
}

async function trial(c: Cluster, n: number, random: () => number, durationMs: number): Promise<TrialResult> {
  const problems: string[] = [];
  const sessionId = await sessionOf(c);
  const t0 = Date.now();
  const killAt = Math.round(durationMs * (0.05 + random() * 1.0));
  // The victim: on SQLite the server; on PostgreSQL the server (which runs tasks too) or a worker.
  const victimIndex = c.backend === 'sqlite' ? -1 : Math.floor(random() * (c.workers.length + 1)) - 1;
  const victim = victimIndex < 0 ? c.server : c.workers[victimIndex]!;
  const regs: Registration[] = Array.from({ length: REGISTRATIONS }, (_, j) => ({
    name: `chaos-reg-${n}-${j}`,
    // Never inventoried (removed before the next inventory), so any port will do.
    body: { name: `chaos-reg-${n}-${j}`, hostAddress: '127.0.0.1', portNumber: 20_000 + n * 10 + j, applicationType: 'postgresql', username: 'postgres', password: `pw-${n}-${j}` },
    retries: [],
  }));
  const regDelays = regs.map(() => Math.round(random() * killAt * 1.2));
  const sent = regs.map((r, j) => sleep(regDelays[j]!).then(() => register(() => c, r)));

  await sleep(Math.max(0, killAt - (Date.now() - t0)));
  const running = async () => (await c.db.all<{ id: number; owner: string | null }>("SELECT id, owner FROM tasks WHERE session_id = ? AND status = 'RUNNING'", [sessionId]));
  const before = await running();
  const pid = victim.child.pid!;
  const killedAt = Date.now();
  await victim.kill('SIGKILL');
  const mine = (owner: string | null) => owner !== null && owner.includes(`@${hostname()}:${pid}#`);
  const after = await running();
  const runningAtKill = new Set([...before, ...after].map((t) => t.id));
  const victimHeld = after.filter((t) => mine(t.owner)).map((t) => t.id);
  let takeoverMs: number | undefined;
  const restart = victimIndex < 0 ? c.restartServer() : c.restartWorker(victimIndex);
  if (c.backend === 'postgres' && victimHeld.length) {
    // Taken over: each of the victim's tasks runs again in another process (or has ended there).
    takeoverMs = await until(async () => {
      const rows = await c.db.all<{ owner: string | null; status: string }>(`SELECT owner, status FROM tasks WHERE id IN (${victimHeld.map(() => '?').join(',')})`, victimHeld);
      return rows.every((r) => (r.status === 'RUNNING' && !mine(r.owner)) || r.status === 'COMPLETED' || r.status === 'FAILED') ? Date.now() - killedAt : undefined;
    }, 'the killed process\'s tasks to be taken over', 60_000, 20);
    if (takeoverMs >= TAKEOVER_LIMIT_MS) problems.push(`the killed process's ${victimHeld.length} task(s) were taken over after ${takeoverMs} ms (limit ${TAKEOVER_LIMIT_MS})`);
  }
  await restart;
  await Promise.all(sent);
  // A client that got no answer sends the same registration again.
  for (const r of regs) {
    if (r.acknowledged || !r.firstError || /answered 4\d\d/.test(r.firstError)) continue;
    r.savedUnanswered = (await c.db.all('SELECT id FROM appservers WHERE name = ?', [r.name])).length > 0;
    const a = await call(c.url, 'POST', '/ngp/appserver', c.sid, r.body);
    r.retries.push(a.status);
    if (a.status === 201) r.acknowledged = String(a.json.response.id);
    else problems.push(`registration ${r.name} retried after the kill answered ${a.status}: ${a.text.slice(0, 200)}`);
  }
  for (const r of regs) if (r.firstError && /answered/.test(r.firstError)) problems.push(`registration ${r.name} ${r.firstError}`);

  const status = await sessionEnded(c, sessionId, 180_000);
  if (status !== 'COMPLETED') problems.push(`session ended ${status}`);
  const tasks = await c.db.all<{ id: number; name: string; status: string; attempts: number }>('SELECT id, name, status, attempts FROM tasks WHERE session_id = ? ORDER BY id', [sessionId]);
  const completed = tasks.filter((t) => t.status === 'COMPLETED').length;
  if (tasks.length !== SERVERS || completed !== SERVERS) problems.push(`${completed} of ${tasks.length} task(s) COMPLETED, expected ${SERVERS} of ${SERVERS}`);
  const logs = await c.db.all<{ task_id: number | null; message_id: string }>('SELECT task_id, message_id FROM logs WHERE session_id = ?', [sessionId]);
  const count = (taskId: number | null, id: string) => logs.filter((l) => l.task_id === taskId && l.message_id === id).length;
  let reran = 0;
  for (const t of tasks) {
    for (const id of ['CNSI0101', 'CNSI0108']) {
      if (count(t.id, id) !== 1) problems.push(`task ${t.name}: ${count(t.id, id)} ${id} log entries, expected 1`);
    }
    const attempts = Number(t.attempts);
    if (attempts > 1) reran++;
    if (attempts > 2 || (attempts > 1 && !runningAtKill.has(t.id))) {
      problems.push(`task ${t.name} ran ${attempts} times but ${runningAtKill.has(t.id) ? 'one kill can cost only one' : 'was not running when the process was killed'}`);
    }
  }
  if (count(null, 'CNSJ0010') !== 1) problems.push(`${count(null, 'CNSJ0010')} SUMMARY (CNSJ0010) entries, expected 1`);
  const [job] = await c.db.all<{ running_session_id: number | null }>('SELECT running_session_id FROM jobs WHERE id = 1004');
  if (job?.running_session_id != null) problems.push('job 1004 is still running');

  const dup = async (what: string, q: string, params: unknown[] = []) => {
    const rows = await c.db.all(q, params);
    if (rows.length) problems.push(`${what} doubled: ${JSON.stringify(rows.slice(0, 3))}`);
  };
  await dup('instance', 'SELECT appserver_id, name, COUNT(*) AS n FROM instances GROUP BY appserver_id, name HAVING COUNT(*) > 1');
  await dup('instance per server', 'SELECT appserver_id, COUNT(*) AS n FROM instances GROUP BY appserver_id HAVING COUNT(*) > 1');
  await dup('database', 'SELECT instance_id, name, COUNT(*) AS n FROM databases GROUP BY instance_id, name HAVING COUNT(*) > 1');
  await dup('change record', `SELECT appserver_id, object_type, object_name, change, field, COUNT(*) AS n FROM inventory_changes
    WHERE session_id = ? GROUP BY appserver_id, object_type, object_name, change, field HAVING COUNT(*) > 1`, [sessionId]);

  const servers = await c.db.all<{ id: number; name: string }>("SELECT id, name FROM appservers WHERE name LIKE 'chaos-reg-%'");
  for (const r of regs) {
    const found = servers.filter((s) => s.name === r.name);
    if (found.length > 1) problems.push(`registration ${r.name} saved ${found.length} times`);
    if (r.acknowledged && !found.some((s) => String(s.id) === r.acknowledged)) problems.push(`registration ${r.name} was acknowledged (id ${r.acknowledged}) but is gone`);
  }
  // Clear the way for the next trial: its inventory covers the slow servers only.
  for (const s of servers) {
    const d = await call(c.url, 'DELETE', `/api/appserver/${s.id}`, c.sid);
    if (d.status !== 204) throw new Error(`cannot remove ${s.name}: ${d.status} ${d.text}`);
  }

  const who = victimIndex < 0 ? 'server' : `worker ${victimIndex + 1}`;
  const retried = regs.filter((r) => r.retries.length).length;
  const saved = regs.filter((r) => r.savedUnanswered).length;
  const note = `killed ${who} at ${(killAt / 1000).toFixed(2)} s with ${victimHeld.length || (victimIndex < 0 && c.backend === 'sqlite' ? before.length : 0)} task(s) running` +
    `${takeoverMs !== undefined ? `, taken over in ${takeoverMs} ms` : ''}; ${reran} task(s) ran again; ` +
    `${regs.filter((r) => r.acknowledged).length}/${regs.length} registrations acknowledged (${retried} after a retry, ${saved} of them saved before the kill)`;
  return { ok: problems.length === 0, problems, note, ...(takeoverMs !== undefined ? { takeoverMs } : {}) };
}

async function runBackend(backend: 'sqlite' | 'postgres', seed: number): Promise<{ passed: number; run: number; takeovers: number[] }> {
  const children: ChildProcess[] = [];
  const random = rng(seed);
  const c = await openCluster(backend, children);
  try {
    // A run with no kill tells how long an inventory takes, so kills land inside one.
    const t0 = Date.now();
    const warm = await sessionOf(c);
    const warmStatus = await sessionEnded(c, warm, 180_000);
    const durationMs = Date.now() - t0;
    if (warmStatus !== 'COMPLETED') throw new Error(`the warm-up inventory ended ${warmStatus}`);
    console.log(`${backend}: ${SERVERS} slow servers (${LATENCY} ms each way), an undisturbed inventory takes ${(durationMs / 1000).toFixed(1)} s`);
    let passed = 0;
    const takeovers: number[] = [];
    for (let n = 1; n <= TRIALS; n++) {
      let r: TrialResult;
      try {
        r = await trial(c, n, random, durationMs);
      } catch (err) {
        r = { ok: false, problems: [(err as Error).message], note: 'trial could not finish' };
      }
      if (r.ok) passed++;
      if (r.takeoverMs !== undefined) takeovers.push(r.takeoverMs);
      console.log(`  ${backend} trial ${String(n).padStart(2)}: ${r.ok ? 'ok  ' : 'FAIL'} ${r.note}`);
      for (const p of r.problems) console.log(`      - ${p}`);
    }
    return { passed, run: TRIALS, takeovers };
  } finally {
    await c.stop();
    for (const ch of children) ch.kill('SIGKILL');
  }
}

async function main() {
  console.log(`chaos: seed ${SEED} (repeat with CHAOS_SEED=${SEED}), ${TRIALS} trial(s) per backend`);
  let failed = false;
  const lines: string[] = [];
  for (const [i, backend] of BACKENDS.entries()) {
    if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`unknown backend ${backend}`);
    const r = await runBackend(backend, SEED + i);
    if (r.passed !== r.run) failed = true;
    const t = [...r.takeovers].sort((a, b) => a - b);
    const takeover = t.length ? `; takeover after a kill: median ${t[Math.floor(t.length / 2)]} ms, max ${t.at(-1)} ms over ${t.length} kill(s)` : '';
    lines.push(`${backend}: ${r.passed} / ${r.run} trials passed${takeover}`);
  }
  console.log('');
  for (const l of lines) console.log(l);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
