/**
 * Benchmark: authenticated `GET /api/endeavour/job/1004` on Census's embedded default (SQLite,
 * HTTPS, in-process) versus a bare Fastify HTTPS route that replies the very same bytes, measured
 * in the same run on the same machine. Prints req/s and p50/p99 latency for each target and the
 * ratio census/bare.
 *
 *   npm run bench                       # 10 s per measured run
 *   BENCH_SECONDS=5 npm run bench       # shorter
 *   BENCH_WORKERS=0 npm run bench       # load generator on the servers' own thread
 *
 * Environment:
 *   BENCH_SECONDS      measured duration of each run, seconds (default 10)
 *   BENCH_WARMUP       warm-up per target before the measured runs, seconds (default 2)
 *   BENCH_CONNECTIONS  autocannon connections (default 10)
 *   BENCH_WORKERS      autocannon worker threads (default 1: the load generator runs on its own
 *                      thread, like a separate process would; 0 runs it on the main thread,
 *                      where it competes with both servers for the one event loop)
 *
 * Both servers live in this process (only one is under load at a time). Exit status 1 if any
 * response was not 2xx, a request errored or timed out, or the two targets' bodies differ.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { startCensus } from '../../src/main.ts';

// ---- autocannon (CommonJS, no bundled types): the few fields this script uses -------------------

interface Percentiles {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
  total: number;
}
interface AutocannonResult {
  url: string;
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  latency: Percentiles & { totalCount: number };
  requests: Percentiles & { sent: number };
  throughput: Percentiles;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  workers?: number;
  method?: string;
  headers?: Record<string, string>;
}
type Autocannon = (opts: AutocannonOptions, cb: (err: Error | null, result: AutocannonResult) => void) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

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
const ROUNDS = 2;
const PATH = '/api/endeavour/job/1004';
const ADMIN_PASSWORD = 'bench-admin-password';

// ---- helpers -------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTPS request, trusting exactly the given self-signed certificate. */
function fetchOnce(url: string, ca: string, method: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function load(url: string, headers: Record<string, string>, duration: number): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration,
        method: 'GET',
        headers,
        ...(WORKERS > 0 ? { workers: WORKERS } : {}),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** Everything but 2xx, plus transport errors, fails the benchmark. */
function problems(label: string, r: AutocannonResult): string[] {
  const out: string[] = [];
  if (r.non2xx !== 0) out.push(`${label}: ${r.non2xx} non-2xx responses (status codes ${JSON.stringify(r.statusCodeStats)})`);
  if (r.errors !== 0) out.push(`${label}: ${r.errors} request errors (${r.timeouts} timeouts)`);
  if (r['2xx'] === 0) out.push(`${label}: no 2xx responses at all`);
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pad = (s: string, n: number) => s.padStart(n);

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'census-bench-'));
  let census: Awaited<ReturnType<typeof startCensus>> | undefined;
  let bare: { close(): PromiseLike<unknown> } | undefined;
  try {
    census = await startCensus({ dataDir, port: 0, http: false, scheduler: false, adminPassword: ADMIN_PASSWORD, quiet: true });
    const key = readFileSync(join(dataDir, 'tls', 'key.pem'), 'utf8');
    const cert = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');

    // Log in and capture the exact response bytes of the job.
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const login = await fetchOnce(`${census.url}/api/endeavour/session`, cert, 'POST', { authorization: basic });
    if (login.status !== 200) throw new Error(`login failed: HTTP ${login.status} ${login.body.toString('utf8')}`);
    const sessionid = (JSON.parse(login.body.toString('utf8')) as { sessionid?: string }).sessionid;
    if (!sessionid) throw new Error('login answered without a sessionid');
    const censusHeaders = { 'X-Endeavour-Sessionid': sessionid };

    const job = await fetchOnce(`${census.url}${PATH}`, cert, 'GET', censusHeaders);
    if (job.status !== 200) throw new Error(`GET ${PATH} failed: HTTP ${job.status} ${job.body.toString('utf8')}`);
    const bytes = job.body;

    // The baseline: same TLS material, same bytes, nothing else.
    const server = Fastify({ https: { key, cert } });
    bare = server;
    server.get(PATH, (_req, reply) => {
      reply.header('content-type', 'application/json').send(bytes);
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const addr = server.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('bare server has no address');
    const bareUrl = `https://127.0.0.1:${addr.port}`;

    const check = await fetchOnce(`${bareUrl}${PATH}`, cert, 'GET', {});
    if (check.status !== 200 || !check.body.equals(bytes)) throw new Error('the bare route does not answer the captured bytes');

    const targets = [
      { name: 'bare', url: `${bareUrl}${PATH}`, headers: {} as Record<string, string> },
      { name: 'census', url: `${census.url}${PATH}`, headers: censusHeaders },
    ] as const;

    console.log(`job-status benchmark: GET ${PATH}, ${bytes.length} bytes, HTTPS, ${CONNECTIONS} connections, ` +
      `${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds, ` +
      `load generator ${WORKERS > 0 ? `in ${WORKERS} worker thread(s)` : 'on the main thread'}, node ${process.version}`);

    const failures: string[] = [];
    if (WARMUP_SECONDS > 0) {
      for (const t of targets) failures.push(...problems(`${t.name} warm-up`, await load(t.url, t.headers, WARMUP_SECONDS)));
    }

    const results: Record<'bare' | 'census', AutocannonResult[]> = { bare: [], census: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
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
    const summary = (name: 'bare' | 'census') => {
      const rs = results[name];
      return {
        rps: median(rs.map((r) => r.requests.average)),
        p50: mean(rs.map((r) => r.latency.p50)),
        p99: mean(rs.map((r) => r.latency.p99)),
      };
    };
    const b = summary('bare');
    const c = summary('census');
    console.log(`${'-'.repeat(8)} ${'-'.repeat(5)} ${'-'.repeat(10)} ${'-'.repeat(7)} ${'-'.repeat(7)} ${'-'.repeat(8)}`);
    for (const [name, s] of [['bare', b], ['census', c]] as const) {
      console.log(`${name.padEnd(8)} ${pad('all', 5)} ${pad(fmt(s.rps), 10)} ${pad(fmt(s.p50, 1), 7)} ${pad(fmt(s.p99, 1), 7)} ${pad(fmt(littleMs(s.rps), 3), 8)}`);
    }
    console.log('(req/s: median of the rounds' + (ROUNDS === 2 ? ', i.e. their mean' : '') + '; p50/p99: mean of the rounds\' percentiles, ' +
      'whole ms as autocannon records them; mean ms: connections / req/s)');
    console.log('');

    if (failures.length > 0) {
      for (const f of failures) console.error(`FAIL ${f}`);
      return 1;
    }
    console.log(`job-status: census/bare = ${(c.rps / b.rps).toFixed(2)} (census ${Math.round(c.rps)} req/s, bare ${Math.round(b.rps)} req/s)`);
    return 0;
  } finally {
    await Promise.resolve(bare?.close()).catch(() => {});
    await census?.stop().catch(() => {});
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
