/**
 * The bare-route method of bench/job-status, shared: a plain Fastify HTTPS route on the same
 * certificate that replies the very bytes Census replied (the ceiling of this machine for that
 * answer: Node + TLS + Fastify and nothing else), one-off HTTPS requests that trust exactly the
 * generated certificate, and an autocannon load of one URL. Benchmarks print Census's figures
 * as a ratio to the bare route's, measured in the same run.
 */
import { request as httpsRequest, Agent } from 'node:https';
import { createRequire } from 'node:module';
import Fastify from 'fastify';

// ---- autocannon (CommonJS, no bundled types): the few fields the benchmarks use -----------------

export interface Percentiles {
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
export interface AutocannonResult {
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

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTPS request, trusting exactly the given self-signed certificate (a fresh connection unless `agent`). */
export function fetchOnce(url: string, ca: string, method: string, headers: Record<string, string>, agent?: Agent, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ca, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Logs in with Basic auth and returns the header that carries the session. */
export async function loginHeaders(baseUrl: string, ca: string, user: string, password: string): Promise<Record<string, string>> {
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const login = await fetchOnce(`${baseUrl}/api/endeavour/session`, ca, 'POST', { authorization: basic });
  if (login.status !== 200) throw new Error(`login failed: HTTP ${login.status} ${login.body.toString('utf8')}`);
  const sessionid = (JSON.parse(login.body.toString('utf8')) as { sessionid?: string }).sessionid;
  if (!sessionid) throw new Error('login answered without a sessionid');
  return { 'X-Endeavour-Sessionid': sessionid };
}

export interface BareRoute {
  /** The route's full URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * The baseline: a Fastify HTTPS server on 127.0.0.1 with the same TLS material and one GET route
 * at `path` replying `bytes` as application/json (or with `headers`, which then name the content
 * type too). Checks that it really answers those bytes.
 */
export async function startBareRoute(o: { key: string; cert: string; path: string; bytes: Buffer; headers?: Record<string, string> }): Promise<BareRoute> {
  const server = Fastify({ https: { key: o.key, cert: o.cert } });
  const headers = o.headers ?? { 'content-type': 'application/json' };
  server.get(o.path, (_req, reply) => {
    reply.headers(headers).send(o.bytes);
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const addr = server.server.address();
  if (!addr || typeof addr !== 'object') throw new Error('bare server has no address');
  const url = `https://127.0.0.1:${addr.port}${o.path}`;
  const check = await fetchOnce(url, o.cert, 'GET', {});
  if (check.status !== 200 || !check.body.equals(o.bytes)) {
    await server.close();
    throw new Error('the bare route does not answer the captured bytes');
  }
  return { url, close: async () => void (await server.close()) };
}

export interface LoadOptions {
  connections: number;
  /** Seconds. */
  duration: number;
  /** autocannon worker threads (0: on this thread). */
  workers: number;
}

/** autocannon against one URL: keep-alive connections, no pipelining; TLS certificates not checked (autocannon's own choice). */
export function load(url: string, headers: Record<string, string>, o: LoadOptions): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: o.connections, duration: o.duration, method: 'GET', headers, ...(o.workers > 0 ? { workers: o.workers } : {}) },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** Everything but 2xx, plus transport errors, fails a benchmark. */
export function problems(label: string, r: AutocannonResult): string[] {
  const out: string[] = [];
  if (r.non2xx !== 0) out.push(`${label}: ${r.non2xx} non-2xx responses (status codes ${JSON.stringify(r.statusCodeStats)})`);
  if (r.errors !== 0) out.push(`${label}: ${r.errors} request errors (${r.timeouts} timeouts)`);
  if (r['2xx'] === 0) out.push(`${label}: no 2xx responses at all`);
  return out;
}
