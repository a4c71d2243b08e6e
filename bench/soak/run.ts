/**
 * Soak: a real `census server` process (SQLite in a temp data dir, HTTPS) under a steady, modest
 * mix of the traffic it sees in production, for SOAK_MINUTES; every 10 s it samples the server's
 * RSS, heap, open fds and handles, event-loop delay and the p99 latency of the status GET. After
 * the warm-up it fits a least-squares line to each series and fails if memory, fds or latency
 * keep growing (bench/README.md, "soak"; docs/operations.md, "Soak").
 *
 *   npm run bench:soak                         # 10 minutes
 *   SOAK_MINUTES=60 npm run bench:soak         # a release
 *
 * The mix (all rates configurable, see SETTINGS):
 *   - status GETs: GET /api/endeavour/job and /api/endeavour/job/1004 alternately, open loop
 *     (sent on a fixed clock, whatever the answers take), SOAK_STATUS_RPS a second;
 *   - an inventory (job 1004) of SOAK_SERVERS servers every SOAK_INVENTORY_SECONDS: real logins to
 *     the machine's PostgreSQL (postgres, trust) and MariaDB (a soak user created for the run),
 *     each registered at a distinct loopback port of a TCP fan-out proxy (fanout-proxy.ts),
 *     since Census refuses the same host:port twice;
 *   - SOAK_SSE_CLIENTS event-stream clients that connect, read for 5-30 s and hang up, again and again;
 *   - logins, a GET with the new session and logouts, SOAK_LOGINS_PER_MIN a minute.
 *
 * SOAK_DATABASE=postgres://postgres@127.0.0.1:5432/postgres runs the server on a PostgreSQL
 * database of its own (dropped at the end) with SOAK_WORKERS `census worker` processes, whose
 * RSS and fds are sampled and judged too.
 *
 * Exit status 1 if any request failed (error, timeout or unexpected status), an inventory did
 * not end COMPLETED, the server did not stop cleanly, or a series keeps growing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { mariadbAccount } from '../support/mariadb.ts';
import { fitLine, growing, median, percentile } from './stats.ts';

// ---- settings ------------------------------------------------------------------------------------

const envNum = (name: string, fallback: number, min = 0): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, not ${JSON.stringify(raw)}`);
  return n;
};

const SETTINGS = {
  minutes: envNum('SOAK_MINUTES', 10, 0.5),
  /** Share of the run left out of the fits: start-up, first allocations, caches filling. */
  warmupShare: envNum('SOAK_WARMUP_SHARE', 0.2, 0),
  sampleSeconds: envNum('SOAK_SAMPLE_SECONDS', 10, 1),
  statusRps: envNum('SOAK_STATUS_RPS', 50, 1),
  servers: Math.round(envNum('SOAK_SERVERS', 50, 2)),
  inventorySeconds: envNum('SOAK_INVENTORY_SECONDS', 60, 5),
  sseClients: Math.round(envNum('SOAK_SSE_CLIENTS', 4, 0)),
  loginsPerMin: envNum('SOAK_LOGINS_PER_MIN', 30, 0),
  /** `--http` instead of the default HTTPS (see bench/README.md for why HTTPS is the default). */
  http: process.env.SOAK_HTTP === '1',
  /** `bin` (bin/census.js, needs `npm run build`) or `src` (src/cli/main.ts through tsx). */
  census: process.env.SOAK_CENSUS ?? (existsSync(new URL('../../dist/cli/main.js', import.meta.url)) ? 'bin' : 'src'),
  /**
   * A PostgreSQL admin URL (e.g. postgres://postgres@127.0.0.1:5432/postgres): the soak then
   * creates a database of its own there (dropped at the end) and runs the server on it with
   * SOAK_WORKERS `census worker` processes taking the tasks. Unset: SQLite, tasks in the server.
   */
  database: process.env.SOAK_DATABASE?.trim() || undefined,
  workers: Math.round(envNum('SOAK_WORKERS', 1, 1)),
};

/** "Keeps growing" thresholds, extrapolated to one hour (bench/README.md explains the choice). */
const LIMITS = {
  rss: envNum('SOAK_MAX_RSS_MB_PER_HOUR', 30),
  heap: envNum('SOAK_MAX_HEAP_MB_PER_HOUR', 20),
  fds: envNum('SOAK_MAX_FDS_PER_HOUR', 30),
  handles: envNum('SOAK_MAX_HANDLES_PER_HOUR', 30),
  p99: envNum('SOAK_MAX_P99_MS_PER_HOUR', 20),
  eld: envNum('SOAK_MAX_ELD_MS_PER_HOUR', 20),
  /** A slope must also be this many standard errors above flat. */
  minT: envNum('SOAK_MIN_T', 3),
};

const PG = { host: '127.0.0.1', port: 5432 };
const MY = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };
const ADMIN_PASSWORD = `Soak-${randomBytes(6).toString('hex')}`;
const MY_ACCOUNT = mariadbAccount('census_soak', MY);
const MY_USER = MY_ACCOUNT.user;
const MY_PASSWORD = MY_ACCOUNT.password;
const INVENTORY_JOB = 1004;
const STATUS_PATHS = ['/api/endeavour/job', `/api/endeavour/job/${INVENTORY_JOB}`];
/** Beyond this many status GETs waiting, the server is not keeping up: counted as an error. */
const MAX_IN_FLIGHT = 200;
const REQUEST_TIMEOUT_MS = 30_000;
const root = new URL('../..', import.meta.url).pathname;

const durationMs = SETTINGS.minutes * 60_000;
const warmupMs = durationMs * SETTINGS.warmupShare;

// ---- bookkeeping ---------------------------------------------------------------------------------

const counts = { answered: 0, status: 0, logins: 0, logouts: 0, sseStreams: 0, sseBytes: 0, metrics: 0, inventories: 0, other: 0 };
const errors: string[] = [];
let errorCount = 0;
function fail(what: string): void {
  errorCount++;
  if (errors.length < 20) errors.push(`${new Date().toISOString()} ${what}`);
}
/** Status GET latencies (ms) since the last sample. */
let windowLatencies: number[] = [];
const sessions = new Map<string, string>(); // inventory session id -> last status seen

// ---- HTTP ----------------------------------------------------------------------------------------

let base = '';
/** The server's own self-signed certificate, trusted exactly (HTTPS only). */
let ca: string | undefined;
const client = SETTINGS.http ? http : https;
const agent = new client.Agent({ keepAlive: true, maxSockets: 16 });

interface Reply { status: number; text: string }

/**
 * A keep-alive connection the server closes as idle can be picked for a request at the same
 * moment: the request meets a reset before any answer. Every HTTP client that keeps connections
 * alive sends such a request again on a new connection (Node's documentation says to, for
 * `req.reusedSocket`); the soak does the same, once, and counts it. Any other error is a failure.
 */
let resentOnReusedSocket = 0;

function request(method: string, path: string, headers: Record<string, string> = {}, body?: unknown, resent = false): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const all: Record<string, string> = { Accept: 'application/json', ...headers };
  if (payload !== undefined) all['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = client.request(new URL(base + path), { method, headers: all, agent, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        counts.answered++;
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!resent && req.reusedSocket && err.code === 'ECONNRESET') {
        resentOnReusedSocket++;
        request(method, path, headers, body, true).then(resolve, reject);
      } else reject(err);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const sidHeader = (sid: string) => ({ 'X-Endeavour-Sessionid': sid });

/** A request that must answer `expect`; anything else is a soak failure. Returns the body or undefined. */
async function expectOk(what: string, method: string, path: string, expect: number, headers: Record<string, string>, body?: unknown): Promise<any> {
  try {
    const r = await request(method, path, headers, body);
    if (r.status !== expect) {
      fail(`${what}: ${method} ${path} answered ${r.status} (expected ${expect}): ${r.text.slice(0, 200)}`);
      return undefined;
    }
    return r.text ? JSON.parse(r.text) : {};
  } catch (err) {
    fail(`${what}: ${method} ${path}: ${(err as Error).message}`);
    return undefined;
  }
}

// ---- processes -----------------------------------------------------------------------------------

const children: ChildProcess[] = [];
/** The server's last output lines, shown if something goes wrong (never kept in full: a soak is long). */
const serverTail: string[] = [];

function spawnNode(args: string[], ready: RegExp, env: NodeJS.ProcessEnv, keepTail: boolean): Promise<{ child: ChildProcess; match: string }> {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let found = false;
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      const text = d.toString();
      if (keepTail) {
        serverTail.push(...text.split('\n').filter(Boolean));
        serverTail.splice(0, Math.max(0, serverTail.length - 40));
      }
      if (found) return;
      out += text;
      const m = ready.exec(out);
      if (m) {
        found = true;
        out = '';
        resolve({ child, match: m[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      if (!found) reject(new Error(`${args.join(' ')} exited ${code ?? signal}:\n${out}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 15 s; resolves with how it ended. */
function stop(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(`already ended (${child.exitCode ?? child.signalCode})`);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code !== null ? `exit ${code}` : `signal ${signal}`);
    });
    child.kill('SIGTERM');
  });
}

// ---- the server's figures ------------------------------------------------------------------------

interface Sample {
  t: number; // seconds since the load started
  rssMb: number;
  heapMb: number;
  /** Shown, not judged: where RSS goes when heap used stays flat (V8 reserving, or native memory). */
  heapTotalMb: number;
  externalMb: number;
  fds: number;
  handles: number;
  eldP99Ms: number;
  p99Ms: number;
  requests: number;
  /** Summed over the `census worker` processes (NaN without workers). */
  workerRssMb: number;
  workerFds: number;
}

function procRssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const metricValue = (text: string, name: string): number => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

const sum = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) : NaN);

async function sample(pid: number, workerPids: number[], sid: string, t: number): Promise<Sample> {
  // prom-client's defaults (src/api/metrics.ts): heap from v8, handles from the loop, and the
  // event-loop delay histogram (perf_hooks.monitorEventLoopDelay), reset at every scrape, so its
  // p99 is this window's.
  let text = '';
  try {
    const r = await request('GET', '/metrics', sidHeader(sid));
    if (r.status !== 200) fail(`sampler: GET /metrics answered ${r.status}`);
    else text = r.text;
    counts.metrics++;
  } catch (err) {
    fail(`sampler: GET /metrics: ${(err as Error).message}`);
  }
  const lat = windowLatencies;
  windowLatencies = [];
  return {
    t,
    rssMb: procRssMb(pid),
    heapMb: metricValue(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
    heapTotalMb: metricValue(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
    externalMb: metricValue(text, 'nodejs_external_memory_bytes') / 2 ** 20,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    handles: metricValue(text, 'nodejs_active_handles_total'),
    eldP99Ms: metricValue(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    p99Ms: percentile(lat, 99),
    requests: lat.length,
    workerRssMb: sum(workerPids.map(procRssMb)),
    workerFds: sum(workerPids.map((w) => readdirSync(`/proc/${w}/fd`).length)),
  };
}

// ---- the load ------------------------------------------------------------------------------------

const sleep = (ms: number, until: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, Math.min(ms, until - Date.now()))));

/**
 * Open loop: status GETs on a fixed clock, whatever the earlier ones are doing. Each tick sends
 * what the clock says is due, so late timers (a busy shared machine) do not lower the rate.
 */
function statusLoad(sid: string, until: number): Promise<void> {
  let inFlight = 0;
  let sent = 0;
  const start = Date.now();
  const send = () => {
    if (inFlight >= MAX_IN_FLIGHT) return fail(`status: ${inFlight} GETs waiting, the server is not keeping up`);
    const path = STATUS_PATHS[sent++ % STATUS_PATHS.length]!;
    inFlight++;
    const t0 = performance.now();
    request('GET', path, sidHeader(sid)).then(
      (r) => {
        if (r.status === 200) windowLatencies.push(performance.now() - t0);
        else fail(`status: GET ${path} answered ${r.status}: ${r.text.slice(0, 200)}`);
        counts.status++;
      },
      (err: Error) => fail(`status: GET ${path}: ${err.message}`),
    ).finally(() => inFlight--);
  };
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = Math.min(Date.now(), until);
      const due = Math.floor(((now - start) / 1000) * SETTINGS.statusRps);
      while (sent < due && inFlight < MAX_IN_FLIGHT) send();
      if (sent < due) send(); // over the cap: counted as an error, not sent
      if (now >= until) {
        clearInterval(timer);
        const drain = setInterval(() => inFlight === 0 && (clearInterval(drain), resolve()), 20);
      }
    }, Math.max(5, 1000 / SETTINGS.statusRps));
  });
}

/** Starts an inventory every period; checks that the previous one ended COMPLETED with every server. */
async function inventoryLoad(sid: string, until: number): Promise<void> {
  while (Date.now() < until) {
    const t0 = Date.now();
    const job = await expectOk('inventory', 'POST', `/api/endeavour/job/${INVENTORY_JOB}?action=start`, 200, sidHeader(sid), {});
    const id = job?.lastrun?.sessionId as string | undefined;
    if (id) {
      counts.inventories++;
      // Follow it to its end (or to the end of the soak), once a second.
      for (;;) {
        const s = await expectOk('inventory', 'GET', `/api/endeavour/jobsession/${id}`, 200, sidHeader(sid));
        if (!s) break;
        sessions.set(id, s.status);
        if (s.status !== 'RUNNING' && s.status !== 'PENDING') {
          if (s.status !== 'COMPLETED') fail(`inventory: session ${id} ended ${s.status}`);
          else if (s.numTasks !== SETTINGS.servers) fail(`inventory: session ${id} had ${s.numTasks} tasks, not ${SETTINGS.servers}`);
          break;
        }
        if (Date.now() >= until) break;
        await sleep(1000, until);
      }
    }
    await sleep(SETTINGS.inventorySeconds * 1000 - (Date.now() - t0), until);
  }
}

/** One event-stream client slot: connect, read for 5-30 s, hang up, and again, until the end. */
async function sseLoad(sid: string, until: number): Promise<void> {
  while (Date.now() < until) {
    const readMs = Math.min(5_000 + Math.random() * 25_000, until - Date.now());
    await new Promise<void>((resolve) => {
      const url = new URL(`${base}/api/endeavour/events`);
      let hungUp = false;
      // A connection of its own (no keep-alive agent): hanging up destroys it.
      const req = client.request(url, { method: 'GET', headers: { Accept: 'text/event-stream', ...sidHeader(sid) }, agent: false, ca }, (res) => {
        if (res.statusCode !== 200) fail(`sse: GET /api/endeavour/events answered ${res.statusCode}`);
        else counts.sseStreams++;
        res.on('data', (c: Buffer) => (counts.sseBytes += c.length));
        res.on('error', () => {}); // our own hang-up
        res.on('end', () => {
          if (!hungUp) fail('sse: the server ended an event stream');
        });
      });
      req.on('error', (err) => {
        if (!hungUp) fail(`sse: ${err.message}`);
      });
      req.end();
      setTimeout(() => {
        hungUp = true;
        req.destroy();
        resolve();
      }, readMs);
    });
    await sleep(1000, until);
  }
}

/** Logins at a steady rate: log in (Basic), one GET with the new session, log out. */
async function loginLoad(until: number): Promise<void> {
  if (SETTINGS.loginsPerMin <= 0) return;
  const period = 60_000 / SETTINGS.loginsPerMin;
  while (Date.now() < until) {
    const t0 = Date.now();
    const login = await expectOk('login', 'POST', '/api/endeavour/session', 200, basic('admin', ADMIN_PASSWORD));
    if (login?.sessionid) {
      counts.logins++;
      if (await expectOk('login', 'GET', `/api/endeavour/job/${INVENTORY_JOB}`, 200, sidHeader(login.sessionid))) counts.other++;
      if (await expectOk('logout', 'DELETE', '/api/endeavour/session', 204, sidHeader(login.sessionid))) counts.logouts++;
    }
    await sleep(period - (Date.now() - t0), until);
  }
}

// ---- set-up: the MariaDB login, the proxy, the server, the registrations ------------------------

async function register(sid: string, ports: Record<string, number[]>): Promise<void> {
  const pgId = (await expectOk('setup', 'POST', '/api/identity/user', 201, sidHeader(sid), { name: 'soak postgres', username: 'postgres', password: 'unused-trust-auth' }))?.id;
  const myId = (await expectOk('setup', 'POST', '/api/identity/user', 201, sidHeader(sid), { name: 'soak mariadb', username: MY_USER, password: MY_PASSWORD }))?.id;
  if (!pgId || !myId) throw new Error(`could not create the identities: ${errors.join('; ')}`);
  const targets = [
    ...ports[`${PG.host}:${PG.port}`]!.map((p) => ({ p, type: 'postgresql', identity: pgId })),
    ...ports[`${MY.host}:${MY.port}`]!.map((p) => ({ p, type: 'mysql', identity: myId })),
  ];
  for (const [i, t] of targets.entries()) {
    const ok = await expectOk('setup', 'POST', '/api/appserver', 201, sidHeader(sid), {
      name: `soak-${t.type}-${i}`, hostAddress: '127.0.0.1', portNumber: t.p, applicationType: t.type,
      osuser: { href: `${base}/api/identity/user/${t.identity}` },
    });
    if (!ok) throw new Error(`could not register server ${i}: ${errors.join('; ')}`);
  }
}

// ---- report --------------------------------------------------------------------------------------

const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');

function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((v, c) => v.padStart(widths[c]!)).join('  ')).join('\n');
}

const withWorkers = SETTINGS.database !== undefined;
const sampleRow = (s: Sample) => [s.t.toFixed(0), f(s.rssMb), f(s.heapMb), f(s.heapTotalMb), f(s.externalMb), s.fds, f(s.handles, 0), f(s.eldP99Ms), f(s.p99Ms), s.requests,
  ...(withWorkers ? [f(s.workerRssMb), f(s.workerFds, 0)] : [])];
const SAMPLE_HEAD = ['t s', 'rss MB', 'heap MB', 'heap total', 'external', 'fds', 'handles', 'loop p99 ms', 'GET p99 ms', 'GETs', ...(withWorkers ? ['workers rss MB', 'workers fds'] : [])];

interface Series { key: keyof Sample; label: string; unit: string; limit: number }
const SERIES: Series[] = [
  { key: 'rssMb', label: 'rss', unit: 'MB', limit: LIMITS.rss },
  { key: 'heapMb', label: 'heap used', unit: 'MB', limit: LIMITS.heap },
  { key: 'fds', label: 'open fds', unit: '', limit: LIMITS.fds },
  { key: 'handles', label: 'handles', unit: '', limit: LIMITS.handles },
  { key: 'eldP99Ms', label: 'loop delay p99', unit: 'ms', limit: LIMITS.eld },
  { key: 'p99Ms', label: 'GET p99', unit: 'ms', limit: LIMITS.p99 },
  ...(withWorkers ? [
    { key: 'workerRssMb', label: 'workers rss', unit: 'MB', limit: LIMITS.rss * SETTINGS.workers },
    { key: 'workerFds', label: 'workers fds', unit: '', limit: LIMITS.fds * SETTINGS.workers },
  ] satisfies Series[] : []),
];

/** Judges the samples after the warm-up; returns the names of the series that keep growing. */
function judge(samples: Sample[]): string[] | undefined {
  const after = samples.filter((s) => s.t * 1000 >= warmupMs);
  console.log(`\nAfter the warm-up (${f(warmupMs / 60_000)} min): ${after.length} samples, ${after.length ? `${after[0]!.t.toFixed(0)}-${after.at(-1)!.t.toFixed(0)} s` : 'none'}`);
  if (after.length < 6) {
    console.log('Too few samples after the warm-up to fit a slope (need 6): growth not judged. Run longer.');
    return undefined;
  }
  // Baseline and end: the median of the first and of the last three windows, so one odd window decides nothing.
  const k = Math.min(3, Math.floor(after.length / 2));
  const growingOnes: string[] = [];
  const rows: (string | number)[][] = [['series', 'start', 'end', 'end/start', 'slope /h', 'limit /h', 't', 'verdict']];
  for (const s of SERIES) {
    const pts = after.filter((x) => Number.isFinite(x[s.key] as number));
    if (pts.length < 6) {
      rows.push([s.label, '-', '-', '-', '-', f(s.limit), '-', 'no data']);
      continue;
    }
    const fit = fitLine(pts.map((x) => x.t / 3600), pts.map((x) => x[s.key] as number));
    const start = median(pts.slice(0, k).map((x) => x[s.key] as number));
    const end = median(pts.slice(-k).map((x) => x[s.key] as number));
    const bad = growing(fit, fit.slope, s.limit, LIMITS.minT);
    if (bad) growingOnes.push(s.label);
    rows.push([s.label + (s.unit ? ` ${s.unit}` : ''), f(start), f(end), f(end / start, 2), f(fit.slope), f(s.limit), f(fit.t), bad ? 'GROWING' : 'ok']);
  }
  console.log(table(rows));
  for (const r of rows.slice(1)) {
    console.log(`soak: ${r[0]} end/start = ${r[3]} (start ${r[1]}, end ${r[2]}; slope ${r[4]}/h, limit ${r[5]}/h, t ${r[6]}) ${r[7]}`);
  }
  return growingOnes;
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-soak-'));
  let myUserMade = false;
  const dbName = `census_soak_${randomBytes(4).toString('hex')}`;
  let pgAdmin: pg.Client | undefined;
  const workerPids: number[] = [];
  let server: ChildProcess | undefined;
  const samples: Sample[] = [];
  let stopped = '';
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await MY_ACCOUNT.create();
    myUserMade = true;

    const half = Math.floor(SETTINGS.servers / 2);
    const proxy = await spawnNode(['--import', 'tsx', 'bench/soak/fanout-proxy.ts', `${PG.host}:${PG.port}x${SETTINGS.servers - half}`, `${MY.host}:${MY.port}x${half}`],
      /^ports (.+)$/m, process.env, false);
    const ports = JSON.parse(proxy.match) as Record<string, number[]>;

    const cli = SETTINGS.census === 'bin' ? ['bin/census.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
    const env = { ...process.env, CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD };
    const db: string[] = [];
    if (SETTINGS.database) {
      pgAdmin = new pg.Client({ connectionString: SETTINGS.database });
      await pgAdmin.connect();
      await pgAdmin.query(`CREATE DATABASE ${dbName}`);
      db.push('--database', SETTINGS.database.replace(/\/[^/?]*(\?.*)?$/, `/${dbName}$1`));
    }
    const args = [...cli, 'server', ...db, '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1', ...(SETTINGS.http ? ['--http'] : [])];
    const started = await spawnNode(args, /listening on (\S+)/, env, true);
    // Workers share the data dir, hence the key that seals the credentials.
    for (let w = 0; w < (SETTINGS.database ? SETTINGS.workers : 0); w++) {
      const worker = await spawnNode([...cli, 'worker', ...db, '--data-dir', dataDir], /(is taking tasks)/, env, true);
      workerPids.push(worker.child.pid!);
    }
    server = started.child;
    base = started.match;
    if (!SETTINGS.http) ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
    const pid = server.pid!;

    const sid = (await expectOk('setup', 'POST', '/api/endeavour/session', 200, basic('admin', ADMIN_PASSWORD)))?.sessionid as string | undefined;
    if (!sid) throw new Error(`could not log in: ${errors.join('; ')}`);
    await register(sid, ports);

    console.log(`Soak: ${SETTINGS.minutes} min (warm-up ${f(warmupMs / 60_000)} min), census server ${SETTINGS.census === 'bin' ? 'bin/census.js' : 'src/cli/main.ts via tsx'} pid ${pid} on ${base}, ` +
      `${SETTINGS.database ? `PostgreSQL database ${dbName} with ${SETTINGS.workers} worker(s)` : 'SQLite'} in ${dataDir}`);
    console.log(`Load: ${SETTINGS.statusRps} status GETs/s, inventory of ${SETTINGS.servers} servers (${SETTINGS.servers - half} PostgreSQL, ${half} MariaDB via fan-out ports) every ${SETTINGS.inventorySeconds} s, ` +
      `${SETTINGS.sseClients} SSE clients, ${SETTINGS.loginsPerMin} logins/min; ${availableParallelism()} cores (shared)`);
    console.log(`Limits per hour: rss ${LIMITS.rss} MB, heap ${LIMITS.heap} MB, fds ${LIMITS.fds}, handles ${LIMITS.handles}, loop p99 ${LIMITS.eld} ms, GET p99 ${LIMITS.p99} ms; and t > ${LIMITS.minT}\n`);
    console.log(table([SAMPLE_HEAD]));

    const t0 = Date.now();
    const until = t0 + durationMs;
    const loads = Promise.all([
      statusLoad(sid, until),
      inventoryLoad(sid, until),
      loginLoad(until),
      ...Array.from({ length: SETTINGS.sseClients }, () => sseLoad(sid, until)),
    ]);
    let next = t0 + SETTINGS.sampleSeconds * 1000;
    let broken = false;
    while (Date.now() < until && !interrupted) {
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next, until) - Date.now())));
      if (interrupted) break;
      if (server.exitCode !== null || server.signalCode !== null) {
        fail(`the server exited (${server.exitCode ?? server.signalCode}) during the soak`);
        broken = true;
        break;
      }
      const deadWorker = children.find((c) => workerPids.includes(c.pid!) && (c.exitCode !== null || c.signalCode !== null));
      if (deadWorker) {
        fail(`worker ${deadWorker.pid} exited (${deadWorker.exitCode ?? deadWorker.signalCode}) during the soak`);
        broken = true;
        break;
      }
      if (Date.now() < next) continue;
      const s = await sample(pid, workerPids, sid, (Date.now() - t0) / 1000);
      samples.push(s);
      console.log(table([SAMPLE_HEAD.map((h) => ' '.repeat(h.length)), sampleRow(s)]).split('\n')[1]);
      next += SETTINGS.sampleSeconds * 1000;
    }
    // Every loop stops by itself at `until`; after an interruption or a dead server, don't wait for them.
    if (!interrupted && !broken) await loads;

    const growingOnes = judge(samples);
    const statuses = [...sessions.values()];
    const by = (st: string) => statuses.filter((x) => x === st).length;
    console.log(`\nRequests answered: ${counts.answered + counts.sseStreams} in all; ${counts.status} status GETs, ${counts.logins} logins / ${counts.logouts} logouts, ${counts.sseStreams} event streams (${f(counts.sseBytes / 1024, 0)} kB read), ` +
      `${counts.inventories} inventories (${by('COMPLETED')} COMPLETED, ${statuses.length - by('COMPLETED')} other), ${counts.metrics} metric scrapes; ` +
      `${resentOnReusedSocket} sent again after an idle keep-alive connection closed under them`);
    stopped = await stop(server);
    if (stopped !== 'exit 0') fail(`the server stopped with ${stopped} on SIGTERM`);
    console.log(`Server stopped: ${stopped}`);
    for (const w of children.filter((c) => workerPids.includes(c.pid!))) {
      const how = await stop(w);
      if (how !== 'exit 0') fail(`worker ${w.pid} stopped with ${how} on SIGTERM`);
    }
    console.log(`Errors: ${errorCount}${errors.length ? `\n  ${errors.join('\n  ')}` : ''}`);
    if (errorCount && serverTail.length) console.log(`Server's last output:\n  ${serverTail.join('\n  ')}`);
    const growth = growingOnes ?? [];
    const pass = !interrupted && errorCount === 0 && growth.length === 0;
    console.log(`\nsoak: ${pass ? 'PASS' : 'FAIL'} (${f(SETTINGS.minutes)} min, ${samples.length} samples, ${counts.answered + counts.sseStreams} requests answered, ` +
      `${errorCount} errors${growth.length ? `, growing: ${growth.join(', ')}` : ''}${growingOnes ? '' : ', growth not judged: too short'}${interrupted ? ', interrupted' : ''})`);
    return pass ? 0 : 1;
  } finally {
    for (const c of children) await stop(c);
    agent.destroy();
    if (myUserMade) await MY_ACCOUNT.drop();
    if (pgAdmin) {
      await pgAdmin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err: Error) => console.error(`could not drop ${dbName}: ${err.message}`));
      await pgAdmin.end();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    if (serverTail.length) console.error(`Server's last output:\n  ${serverTail.join('\n  ')}`);
    process.exit(1);
  },
);
