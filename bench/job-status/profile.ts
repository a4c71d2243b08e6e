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
    console.log(`\nmain-thread CPU per request: census ${census1.toFixed(1)} µs, bare ${bare1.toFixed(1)} µs; bare/census = ${(bare1 / census1).toFixed(2)}`);
  } finally {
    await census.stop().catch(() => {});
    if (schema) {
      await onPg(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await onPg(`DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`).catch(() => {});
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Loads `url`, profiling this thread over the loaded seconds; prints the breakdown when `report`; returns busy µs per request. */
async function profileTarget(url: string, headers: Record<string, string>, report: boolean): Promise<number> {
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
    const result = await run(SECONDS);
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
      const fn = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
      byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    }
    const busy = total - (byPart.get('idle') ?? 0) - (byPart.get('excluded') ?? 0);
    const requests = result.requests.average * SECONDS;
    if (!report) return busy / requests;
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
    return busy / requests;
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error('job-status profile failed:', err);
  process.exit(1);
});
