/**
 * Benchmark: authenticated `GET /api/endeavour/job/1004` on Census's embedded default (SQLite,
 * HTTPS, in-process) versus a bare Fastify HTTPS route that replies the very same bytes, measured
 * in the same run on the same machine. Prints req/s and p50/p99 latency for each target and the
 * ratio census/bare (the median of paired rounds). A third target, `wire`, is the bare route
 * answering with Census's headers and asked with the session header: census/wire is what Census's
 * own work leaves, wire/bare what those bytes cost.
 *
 *   npm run bench                       # 10 s per measured run
 *   BENCH_SECONDS=5 npm run bench       # shorter
 *   BENCH_WORKERS=0 npm run bench       # load generator on the servers' own thread
 *   BENCH_DATABASE=postgres://postgres@127.0.0.1:5432/test npm run bench   # Census on PostgreSQL
 *
 * Environment:
 *   BENCH_SECONDS      measured duration of each run, seconds (default 10)
 *   BENCH_ROUNDS       paired rounds (bare and Census back to back, in turn in either order; default 6):
 *                      the figure is the median of the rounds' ratios
 *   BENCH_WARMUP       warm-up per target before the measured runs, seconds (default 2)
 *   BENCH_CONNECTIONS  autocannon connections (default 10)
 *   BENCH_WORKERS      autocannon worker threads (default 1: the load generator runs on its own
 *                      thread, like a separate process would; 0 runs it on the main thread,
 *                      where it competes with both servers for the one event loop)
 *   BENCH_DATABASE     postgres://… : Census on PostgreSQL (in a fresh schema of that database,
 *                      dropped at the end; the server runs the first-start tasks itself) instead
 *                      of the embedded SQLite default
 *   BENCH_PATH         the measured path (default /api/endeavour/job/1004; e.g.
 *                      /api/endeavour/job/1004/status)
 *
 * Both servers live in this process (only one is under load at a time). Exit status 1 if any
 * response was not 2xx, a request errored or timed out, or the two targets' bodies differ.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startCensus } from '../../src/main.ts';
// The bare-route method (fetch, baseline route, autocannon load) is shared with bench/reads.
import { fetchOnce, load as loadRoute, loginHeaders, problems, startBareRoute, type AutocannonResult } from '../support/bare-route.ts';
import { median } from '../support/median.ts';

// ---- settings ------------------------------------------------------------------------------------

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, not ${JSON.stringify(raw)}`);
  return n;
};

const SECONDS = envNumber('BENCH_SECONDS', 10);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP', 2);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 10);
const WORKERS = envNumber('BENCH_WORKERS', 1);
const ROUNDS = envNumber('BENCH_ROUNDS', 6);
const PATH = process.env.BENCH_PATH || '/api/endeavour/job/1004';
const DATABASE = process.env.BENCH_DATABASE || undefined;
if (DATABASE && !/^postgres(ql)?:\/\//.test(DATABASE)) throw new Error('BENCH_DATABASE must be a postgres:// URL');
const ADMIN_PASSWORD = 'bench-admin-password';

// ---- helpers -------------------------------------------------------------------------------------

const load = (url: string, headers: Record<string, string>, duration: number): Promise<AutocannonResult> =>
  loadRoute(url, headers, { connections: CONNECTIONS, duration, workers: WORKERS });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pad = (s: string, n: number) => s.padStart(n);

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-bench-'));
  let census: Awaited<ReturnType<typeof startCensus>> | undefined;
  let bare: { close(): PromiseLike<unknown> } | undefined;
  let wire: { close(): PromiseLike<unknown> } | undefined;
  // On PostgreSQL: a schema of its own (and pg-boss's beside it), dropped at the end.
  const schema = DATABASE ? `census_bench_${randomBytes(4).toString('hex')}` : undefined;
  const onPg = async (statement: string) => {
    const c = new pg.Client({ connectionString: DATABASE });
    await c.connect();
    try {
      await c.query(statement);
    } finally {
      await c.end();
    }
  };
  try {
    if (schema) await onPg(`CREATE SCHEMA ${schema}`);
    census = await startCensus({
      dataDir, port: 0, http: false, scheduler: false, adminPassword: ADMIN_PASSWORD, quiet: true,
      ...(DATABASE && schema ? { database: DATABASE, schema, withWorker: true } : {}),
    });
    const key = readFileSync(join(dataDir, 'tls', 'key.pem'), 'utf8');
    const cert = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');

    // Log in and capture the exact response bytes of the job.
    const censusHeaders = await loginHeaders(census.url, cert, 'admin', ADMIN_PASSWORD);

    const job = await fetchOnce(`${census.url}${PATH}`, cert, 'GET', censusHeaders);
    if (job.status !== 200) throw new Error(`GET ${PATH} failed: HTTP ${job.status} ${job.body.toString('utf8')}`);
    const bytes = job.body;

    // The baseline: same TLS material, same bytes, nothing else (checked to answer those bytes).
    const route = await startBareRoute({ key, cert, path: PATH, bytes });
    bare = route;
    const bareUrl = route.url.slice(0, -PATH.length);
    // The same bare route answering with Census's headers (its security headers, its content
    // type) and asked with the session header: the bytes on the wire as Census's, the work not.
    // census/wire is then what Census's own work leaves; wire/bare what those bytes cost.
    const NODE_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length']);
    const answerHeaders = Object.fromEntries(Object.entries(job.headers).filter(([k]) => !NODE_HEADERS.has(k)).map(([k, v]) => [k, String(v)]));
    const wireRoute = await startBareRoute({ key, cert, path: PATH, bytes, headers: answerHeaders });
    wire = wireRoute;

    const targets = [
      { name: 'bare', url: `${bareUrl}${PATH}`, headers: {} as Record<string, string> },
      { name: 'census', url: `${census.url}${PATH}`, headers: censusHeaders },
      { name: 'wire', url: wireRoute.url, headers: censusHeaders },
    ] as const;

    console.log(`job-status benchmark: GET ${PATH} on ${DATABASE ? `PostgreSQL (schema ${schema})` : 'SQLite'}, ${bytes.length} bytes, HTTPS, ${CONNECTIONS} connections, ` +
      `${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds, ` +
      `load generator ${WORKERS > 0 ? `in ${WORKERS} worker thread(s)` : 'on the main thread'}, node ${process.version}`);

    const failures: string[] = [];
    if (WARMUP_SECONDS > 0) {
      for (const t of targets) failures.push(...problems(`${t.name} warm-up`, await load(t.url, t.headers, WARMUP_SECONDS)));
    }

    const results: Record<'bare' | 'census' | 'wire', AutocannonResult[]> = { bare: [], census: [], wire: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      // Each round runs the targets back to back, in turn in either order, so that the host's
      // drifts (this VM's throughput moves by half within minutes) fall on both sides of its ratios.
      for (const t of round % 2 ? targets : [...targets].reverse()) {
        const r = await load(t.url, t.headers, SECONDS);
        failures.push(...problems(`${t.name} round ${round}`, r));
        results[t.name].push(r);
      }
    }

    // Census must still serve the same bytes after the load (nothing wrote in between).
    const after = await fetchOnce(`${census.url}${PATH}`, cert, 'GET', censusHeaders);
    if (after.status !== 200) failures.push(`census after load: HTTP ${after.status}`);

    console.log('');
    // autocannon's latency histogram has whole-millisecond buckets (sub-millisecond answers count
    // as 0 ms), so the mean latency is also given from Little's law: connections / throughput.
    const littleMs = (rps: number) => (rps > 0 ? (CONNECTIONS * 1000) / rps : NaN);
    console.log(`${'target'.padEnd(8)} ${pad('round', 5)} ${pad('req/s', 10)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} ${pad('mean ms', 8)} ${pad('requests', 10)} ${pad('non2xx', 7)}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const r = results[t.name][round]!;
        console.log(`${t.name.padEnd(8)} ${pad(String(round + 1), 5)} ${pad(fmt(r.requests.average), 10)} ${pad(fmt(r.latency.p50), 7)} ${pad(fmt(r.latency.p99), 7)} ${pad(fmt(littleMs(r.requests.average), 3), 8)} ${pad(fmt(r.latency.totalCount), 10)} ${pad(String(r.non2xx), 7)}`);
      }
    }
    const summary = (name: 'bare' | 'census' | 'wire') => {
      const rs = results[name];
      return {
        rps: median(rs.map((r) => r.requests.average)),
        p50: mean(rs.map((r) => r.latency.p50)),
        p99: mean(rs.map((r) => r.latency.p99)),
      };
    };
    const b = summary('bare');
    const c = summary('census');
    const w = summary('wire');
    console.log(`${'-'.repeat(8)} ${'-'.repeat(5)} ${'-'.repeat(10)} ${'-'.repeat(7)} ${'-'.repeat(7)} ${'-'.repeat(8)}`);
    for (const [name, s] of [['bare', b], ['census', c], ['wire', w]] as const) {
      console.log(`${name.padEnd(8)} ${pad('all', 5)} ${pad(fmt(s.rps), 10)} ${pad(fmt(s.p50, 1), 7)} ${pad(fmt(s.p99, 1), 7)} ${pad(fmt(littleMs(s.rps), 3), 8)}`);
    }
    console.log('(req/s: median of the rounds' + (ROUNDS === 2 ? ', i.e. their mean' : '') + '; p50/p99: mean of the rounds\' percentiles, ' +
      'whole ms as autocannon records them; mean ms: connections / req/s)');
    console.log('');

    if (failures.length > 0) {
      for (const f of failures) console.error(`FAIL ${f}`);
      return 1;
    }
    const ratios = results.census.map((r, i) => r.requests.average / results.bare[i]!.requests.average);
    const own = results.census.map((r, i) => r.requests.average / results.wire[i]!.requests.average);
    const bytesCost = results.wire.map((r, i) => r.requests.average / results.bare[i]!.requests.average);
    const range = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    console.log(`per-round census/bare: ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
    console.log(`where the rest goes: census/wire ${range(own)} is Census's own work; wire/bare ${range(bytesCost)} is its headers and the session header on the wire`);
    console.log(`job-status${DATABASE ? ' (PostgreSQL)' : ''}: census/bare = ${median(ratios).toFixed(2)} (median of ${ROUNDS} paired rounds, ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; census ${Math.round(c.rps)} req/s, bare ${Math.round(b.rps)} req/s)`);
    return 0;
  } finally {
    await Promise.resolve(bare?.close()).catch(() => {});
    await Promise.resolve(wire?.close()).catch(() => {});
    await census?.stop().catch(() => {});
    if (schema) {
      await onPg(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await onPg(`DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`).catch(() => {});
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('job-status benchmark failed:', err);
    process.exit(1);
  },
);
