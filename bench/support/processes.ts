/**
 * What the process-level benchmarks share: starting Node scripts and `census` commands as child
 * processes and waiting for the line that says they are ready, stopping them all, a JSON client of
 * a Census server's API, and the resident memory of a process from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';

export const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * The `census` program to run: bin/census.js when the project is built (dist/; what deployments
 * run, without tsx's compiler in memory), else src/cli/main.ts through tsx. BENCH_CENSUS=bin|src
 * chooses.
 */
export function censusProgram(): string {
  const choice = process.env.BENCH_CENSUS ?? (existsSync(join(ROOT, 'dist/cli/main.js')) ? 'bin' : 'src');
  return choice === 'bin' ? 'bin/census.js' : 'src/cli/main.ts';
}

export class Children {
  readonly all: ChildProcess[] = [];

  /**
   * Starts `node --import tsx ARGS…` (a .js script: without tsx) in the project's folder and
   * resolves when its output matches `ready` (with the first group); rejects if it exits first,
   * with what it printed.
   */
  start(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; match: string }> {
    // BENCH_NODE_ARGS: node flags for the started programs, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (not allowed in NODE_OPTIONS).
    const flags = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const node = [...flags, ...(args[0]?.endsWith('.js') ? args : ['--import', 'tsx', ...args])];
    const child = spawn(process.execPath, node, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.all.push(child);
    let out = '';
    let found = false;
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        if (found) return;
        out += d.toString();
        const m = ready.exec(out);
        if (m) {
          found = true;
          resolve({ child, match: m[1] ?? m[0] });
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        if (!found) reject(new Error(`${args.join(' ')} exited ${code ?? signal}:\n${out.slice(-4000)}`));
      });
    });
  }

  /** SIGTERM to every child (or those of `some`) still running, SIGKILL after 15 s. */
  async stopAll(some: ChildProcess[] = this.all): Promise<void> {
    await Promise.all(some.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill('SIGTERM');
    })));
  }
}

/** Resident memory of a process (MB), NaN when it is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples the summed RSS of some processes every `everyMs` and keeps the peak. */
export class PeakRss {
  peakMb = 0;
  private timer: NodeJS.Timeout;

  constructor(private pids: () => number[], everyMs = 200) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    const total = this.pids().map(rssMb).filter(Number.isFinite).reduce((a, b) => a + b, 0);
    this.peakMb = Math.max(this.peakMb, total);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakMb;
  }
}

export interface Reply {
  status: number;
  body: any;
}

/** A small JSON client of a Census server (HTTPS certificates are not checked: the server's own, on loopback). */
export class Api {
  sid = '';
  private agent: http.Agent;

  constructor(readonly base: string) {
    this.agent = new (base.startsWith('https:') ? https : http).Agent({ keepAlive: true, maxSockets: 8 });
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const all: Record<string, string> = { Accept: 'application/json', ...headers };
    if (this.sid) all['X-Endeavour-Sessionid'] = this.sid;
    if (payload !== undefined) all['Content-Type'] = 'application/json';
    const client = this.base.startsWith('https:') ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(new URL(this.base + path), { method, headers: all, agent: this.agent, rejectUnauthorized: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** A request that must answer `expect` (else it throws with the answer). */
  async expect(expect: number, method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.request(method, path, body);
    if (r.status !== expect) throw new Error(`${method} ${path} answered ${r.status}, not ${expect}: ${JSON.stringify(r.body).slice(0, 400)}`);
    return r.body;
  }

  async login(user: string, password: string): Promise<void> {
    const r = await this.request('POST', '/api/endeavour/session', undefined, { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    if (r.status !== 200 && r.status !== 201) throw new Error(`login answered ${r.status}`);
    this.sid = r.body.sessionid;
  }

  close(): void {
    this.agent.destroy();
  }
}
