/**
 * Where Census's time goes on the job status GET: starts Census on the embedded default (SQLite,
 * HTTPS, as bench/job-status/run.ts does, or PostgreSQL with BENCH_DATABASE), loads
 * `GET /api/endeavour/job/1004` with autocannon in a worker thread for BENCH_SECONDS, and
 * profiles the main thread (Census alone: the load generator has its own thread) with the V8
 * profiler over exactly the loaded seconds. Prints self time by part (TLS, Node's HTTP, Fastify,
 * Census's hooks and route, the session check, prom-client, GC, idle) and the hottest functions,
 * and writes the .cpuprofile (open it in Chrome DevTools) next to the temp dir it names. Then
 * profiles the bare route of run.ts (same TLS material, same bytes) the same way and prints both
 * targets' main-thread CPU per request: on a busy machine a steadier comparison than req/s,
 * since other processes' load changes how fast each target is served far more than what each
 * request costs.
 *
 *   node --import tsx bench/job-status/profile.ts
 *   BENCH_SECONDS=10 BENCH_PATH=/api/endeavour/job/1004/status node --import tsx bench/job-status/profile.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { Session, type Profiler } from 'node:inspector';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startCensus } from '../../src/main.ts';
import { startBareRoute } from '../support/bare-route.ts';

type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: { requests: { average: number }; non2xx: number; errors: number }) => void) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SECONDS = Number(process.env.BENCH_SECONDS || 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 10);
const PATH = process.env.BENCH_PATH || '/api/endeavour/job/1004';
const DATABASE = process.env.BENCH_DATABASE || undefined;
const ADMIN_PASSWORD = 'bench-admin-password';

/**
 * The main thread's own CPU time (user + system, µs) as the kernel counts it. The profiler's
 * "busy" is wall time in the sampled frames: when other processes take the cores, a thread
 * waiting to run inside `writev` still counts as busy there, and the figure grows with the
 * machine's load. The kernel's count does not, so it is the one to compare between trees.
 */
const CLOCK_TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
function mainThreadCpuUs(): number {
  // Fields after the command name's closing parenthesis: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * CLOCK_TICK_US;
}

/** Which part of the server a profile frame belongs to, by its script and name. */
function partOf(f: Profiler.ProfileNode['callFrame']): string {
  const u = f.url;
  // Not Census: the profiler's own stop, and autocannon's result handling on this thread.
  if (/node:inspector|bench\/job-status\/profile/.test(u) || f.functionName === 'dispatch') return 'excluded';
  if (/autocannon|hdr-histogram|^wasm:/.test(u)) return 'excluded';
  if (f.functionName === '(garbage collector)') return 'GC';
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(program)') return 'V8/native (program)';
  if (/tls|crypto/.test(u) || /^(TLSWrap|TLSSocket)/.test(f.functionName)) return 'TLS (node:tls)';
  if (/_http_|node:http|internal\/http/.test(u)) return 'Node HTTP';
  if (/node:net|internal\/stream|node:stream|internal\/streams|node:events|internal\/timers|internal\/process|internal\/async_hooks/.test(u)) return 'Node net/streams/events';
  if (/prom-client/.test(u)) return 'metrics (prom-client)';
  if (/find-my-way/.test(u)) return 'Fastify router';
  if (/fast-json-stringify|fast-uri|ajv/.test(u)) return 'Fastify serialize/validate';
  if (/fastify|avvio|light-my-request|fastq|toad-cache|process-warning|abstract-logging|pino/.test(u)) return 'Fastify core';
  if (/src\/services\/auth|src\/services\/access|src\/core\/permissions|src\/api\/auth/.test(u)) return 'session check';
  if (/src\/api\/access|src\/api\/audit/.test(u)) return 'Census hooks (access, audit)';
  if (/src\/api\/paths/.test(u)) return 'Census URL normalisation';
  if (/src\/api\/links|src\/api\/jobs|src\/services\/jobs|src\/api\/context/.test(u)) return 'Census route';
  if (/src\/api\/server|src\/api\/http-limits|src\/api\/events/.test(u)) return 'Census server hooks';
  if (/src\/api\/metrics/.test(u)) return 'metrics (census)';
  if (/src\/store|kysely|better-sqlite3|node_modules\/pg/.test(u)) return 'store';
  if (/src\//.test(u)) return `Census other (${u.replace(/^.*src\//, 'src/')})`;
  if (u === '') return 'native/builtin';
  return `other (${u.replace(/^.*node_modules\//, '').split('/')[0]})`;
}

function fetchOnce(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-profile-'));
  const schema = DATABASE ? `census_prof_${randomBytes(4).toString('hex')}` : undefined;
  const onPg = async (statement: string) => {
    const c = new pg.Client({ connectionString: DATABASE });
    await c.connect();
    await c.query(statement).finally(() => c.end());
  };
  if (schema) await onPg(`CREATE SCHEMA ${schema}`);
  const census = await startCensus({
    dataDir, port: 0, http: false, scheduler: false, adminPassword: ADMIN_PASSWORD, quiet: true,
    ...(DATABASE && schema ? { database: DATABASE, schema, withWorker: true } : {}),
  });
  try {
    const login = await fetchOnce(`${census.url}/api/endeavour/session`, 'POST', { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` });
    const sid = (JSON.parse(login.body) as { sessionid: string }).sessionid;
    const headers = { 'X-Endeavour-Sessionid': sid };
    const census1 = await profileTarget(`${census.url}${PATH}`, headers, true);
    const bytes = Buffer.from((await fetchOnce(`${census.url}${PATH}`, 'GET', headers)).body, 'utf8');
    const bare = await startBareRoute({
      key: readFileSync(join(dataDir, 'tls', 'key.pem'), 'utf8'), cert: readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8'), path: PATH, bytes,
    });
    const bare1 = await profileTarget(bare.url, {}, false).finally(() => bare.close());
    // Side by side, per request: what Census spends beyond the bare route, part by part and in
    // the functions whose time differs most (Node's and Fastify's own work included: hooks and
    // headers cost there, not in Census's files).
    console.log(`\n${'part (µs/req, profiler)'.padEnd(40)} ${'census'.padStart(7)} ${'bare'.padStart(7)} ${'diff'.padStart(7)}`);
    const parts = new Set([...census1.parts.keys(), ...bare1.parts.keys()]);
    for (const part of [...parts].sort((x, y) => (census1.parts.get(y) ?? 0) - (census1.parts.get(x) ?? 0))) {
      const c = census1.parts.get(part) ?? 0;
      const b = bare1.parts.get(part) ?? 0;
      if (c < 0.05 && b < 0.05) continue;
      console.log(`${part.slice(0, 40).padEnd(40)} ${c.toFixed(1).padStart(7)} ${b.toFixed(1).padStart(7)} ${(c - b).toFixed(1).padStart(7)}`);
    }
    console.log(`\nfunctions whose self time differs most (µs/req, census − bare):`);
    const fns = new Set([...census1.fns.keys(), ...bare1.fns.keys()]);
    const diffs = [...fns].map((fn) => [fn, (census1.fns.get(fn) ?? 0) - (bare1.fns.get(fn) ?? 0)] as const);
    for (const [fn, d] of diffs.sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 25)) {
      console.log(`${d.toFixed(2).padStart(7)}  ${fn}`);
    }
    console.log(`\nmain-thread busy per request (profiler): census ${census1.busy.toFixed(1)} µs, bare ${bare1.busy.toFixed(1)} µs; bare/census = ${(bare1.busy / census1.busy).toFixed(2)}`);
    console.log(`main-thread CPU per request (kernel, user+sys): census ${census1.cpu.toFixed(1)} µs, bare ${bare1.cpu.toFixed(1)} µs; bare/census = ${(bare1.cpu / census1.cpu).toFixed(2)}`);
  } finally {
    await census.stop().catch(() => {});
    if (schema) {
      await onPg(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await onPg(`DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`).catch(() => {});
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Main-thread time per request: the profiler's busy time, the kernel's CPU time, and the busy time by part and by function (excluding idle and the load generator). */
interface PerRequest {
  busy: number;
  cpu: number;
  parts: Map<string, number>;
  fns: Map<string, number>;
}

/**
 * Loads `url`, profiling this thread over the loaded seconds; prints the breakdown when `report`;
 * returns the profiler's busy µs and the kernel's CPU µs per request.
 */
async function profileTarget(url: string, headers: Record<string, string>, report: boolean): Promise<PerRequest> {
  {
    const run = (duration: number) => new Promise<{ requests: { average: number }; non2xx: number; errors: number }>((resolve, reject) =>
      autocannon({ url, connections: CONNECTIONS, duration, method: 'GET', headers, workers: 1 }, (err, r) => (err ? reject(err) : resolve(r))));
    await run(2); // warm-up, unprofiled

    const session = new Session();
    session.connect();
    const post = <T>(method: string, params?: object) => new Promise<T>((resolve, reject) =>
      session.post(method, params ?? {}, (err, r) => (err ? reject(err) : resolve(r as T))));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
    const cpuBefore = mainThreadCpuUs();
    const result = await run(SECONDS);
    const cpuUs = mainThreadCpuUs() - cpuBefore;
    const { profile } = await post<{ profile: Profiler.Profile }>('Profiler.stop');
    session.disconnect();

    // Self time per node, from the samples and their time deltas.
    const selfUs = new Map<number, number>();
    profile.samples!.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas![i] ?? 0)));
    const byPart = new Map<string, number>();
    const byFn = new Map<string, number>();
    let total = 0;
    for (const n of profile.nodes) {
      const t = selfUs.get(n.id) ?? 0;
      if (!t) continue;
      total += t;
      const part = partOf(n.callFrame);
      byPart.set(part, (byPart.get(part) ?? 0) + t);
      if (part === 'idle' || part === 'excluded') continue;
      const fn = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
      byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    }
    const busy = total - (byPart.get('idle') ?? 0) - (byPart.get('excluded') ?? 0);
    const requests = result.requests.average * SECONDS;
    const perReq = (m: Map<string, number>) => new Map([...m].filter(([k]) => k !== 'idle' && k !== 'excluded').map(([k, t]) => [k, t / requests]));
    const perRequest: PerRequest = { busy: busy / requests, cpu: cpuUs / requests, parts: perReq(byPart), fns: perReq(byFn) };
    if (!report) return perRequest;
    const out = join(tmpdir(), `census-job-status-${Date.now()}.cpuprofile`);
    writeFileSync(out, JSON.stringify(profile));
    console.log(`profile of GET ${PATH} on ${DATABASE ? 'PostgreSQL' : 'SQLite'}: ${Math.round(result.requests.average)} req/s over ${SECONDS} s, ` +
      `${result.non2xx} non-2xx, ${result.errors} errors; Census busy ${(busy / total * 100).toFixed(0)} % of the main thread; ${out}`);
    console.log(`\n${'part'.padEnd(40)} ${'% busy'.padStart(7)} ${'µs/req'.padStart(7)}`);
    for (const [part, t] of [...byPart].sort((x, y) => y[1] - x[1])) {
      if (part === 'idle' || part === 'excluded') continue;
      console.log(`${part.padEnd(40)} ${(t / busy * 100).toFixed(1).padStart(7)} ${(t / requests).toFixed(1).padStart(7)}`);
    }
    console.log(`\nhottest functions (self time, % of busy):`);
    for (const [fn, t] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, 25)) {
      if (fn.startsWith('(idle)') || fn.startsWith('dispatch ')) continue;
      console.log(`${(t / busy * 100).toFixed(1).padStart(6)}  ${fn}`);
    }
    return perRequest;
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error('job-status profile failed:', err);
  process.exit(1);
});
