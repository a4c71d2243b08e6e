/**
 * Starts a real Census over real HTTPS (self-signed certificate, port 0) in a temp data dir, and
 * gives tests a small client that speaks to it the way SPP's clients do.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCensus, type Census, type CensusConfig } from '../../src/main.ts';

export const ADMIN_PASSWORD = 'Test-Admin-Pass-1';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (a string) instead of JSON. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  sid?: string;
  auth?: { user: string; password: string };
  /** Send only `headers`, without the Accept/Content-Type every SPP client adds. */
  exactHeaders?: boolean;
}

const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });

export function request(base: string, method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  const url = path.startsWith('http') ? new URL(path) : new URL(base + path);
  const headers: Record<string, string> = o.exactHeaders ? { ...o.headers } : { Accept: 'application/json', 'Content-Type': 'application/json', ...o.headers };
  if (o.sid) headers['X-Endeavour-Sessionid'] = o.sid;
  if (o.auth) headers.Authorization = `Basic ${Buffer.from(`${o.auth.user}:${o.auth.password}`).toString('base64')}`;
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface TestServer {
  census: Census;
  url: string;
  dataDir: string;
  req(method: string, path: string, o?: RequestOptions): Promise<Reply>;
  /** Logs in as admin and returns the session id. */
  login(): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestServer(config: Partial<CensusConfig> = {}): Promise<TestServer> {
  const dataDir = config.dataDir ?? mkdtempSync(join(tmpdir(), 'census-srv-'));
  const census = await startCensus({
    port: 0,
    http: false,
    scheduler: false,
    adminPassword: ADMIN_PASSWORD,
    retries: 0,
    retryDelayMs: 10,
    taskTimeoutMs: 10_000,
    ...config,
    dataDir,
  });
  const url = census.url;
  const req = (method: string, path: string, o?: RequestOptions) => request(url, method, path, o);
  return {
    census,
    url,
    dataDir,
    req,
    login: async () => {
      const r = await req('POST', '/api/endeavour/session', { auth: { user: 'admin', password: ADMIN_PASSWORD } });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
      return r.json.sessionid as string;
    },
    stop: async () => {
      await census.stop();
      if (!config.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails at the deadline. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts the Application Server Inventory and waits for that session to end; returns the session. */
export async function runInventory(s: TestServer, sid: string) {
  const start = await s.req('POST', '/api/endeavour/job/1004?action=start', { sid });
  const id = start.json.lastrun.sessionId as string;
  return waitFor(async () => {
    const r = await s.req('GET', `/api/endeavour/jobsession/${id}`, { sid });
    return r.json.status === 'RUNNING' ? undefined : r.json;
  }, `session ${id} to end`);
}

/**
 * Makes a user holding `roleIds` on All Resources who has already set their own password (a new
 * user must change the one they were given at their first login): returns their id.
 */
export async function addUser(s: TestServer, sid: string, name: string, password: string, roleIds: number[]): Promise<string> {
  const temporary = `Temporary-${password}`;
  const made = await s.req('POST', '/api/security/user', { sid, body: { name, password: temporary, permissions: [{ resourcePoolId: 1000, roleIds }] } });
  if (made.status !== 201) throw new Error(`creating ${name}: ${made.status} ${made.text}`);
  const first = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: name, password: temporary }, body: { newPassword: password } });
  if (first.status !== 200) throw new Error(`first login of ${name}: ${first.status} ${first.text}`);
  return made.json.id as string;
}
