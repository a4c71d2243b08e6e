/**
 * Benchmark: one inventory of N application servers on a PostgreSQL-backed cluster — one API
 * server process and 1, 2, then 4 `census worker` processes — printing the time of each run and
 * its speed-up over one worker.
 *
 *   node --import tsx bench/scale/run.ts
 *   BENCH_N=200 BENCH_WORKER_CONCURRENCY=4 node --import tsx bench/scale/run.ts
 *
 * The N servers are logins to the machine's PostgreSQL (127.0.0.1:5432, trust auth), registered
 * straight into the store: the API refuses the same host:port twice, and this benchmark wants many
 * registrations of one real server. Everything runs in a database of its own, dropped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { SecretBox } from '../../src/core/secret-box.ts';
import { Store } from '../../src/store/index.ts';
import { loadOrCreateKey } from '../../src/store/keyfile.ts';

const N = Number(process.env.BENCH_N ?? 120);
/** Milliseconds added each way between Census and the servers (0: the local server as it is). */
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 0);
const PER_WORKER = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 4);
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'Bench-Admin-Pass-1';
const root = new URL('../..', import.meta.url).pathname;

const dbName = `census_scale_${Math.random().toString(36).slice(2, 8)}`;
const dbUrl = PG_URL.replace(/\/[^/]*$/, `/${dbName}`);
const dataDir = mkdtempSync(join(tmpdir(), 'census-scale-'));
const children: ChildProcess[] = [];

function spawnCensus(command: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: string }> {
  return spawnNode(['src/cli/main.ts', command, ...args], ready);
}

async function spawnScript(script: string, args: string[], ready: RegExp): Promise<string> {
  return (await spawnNode([script, ...args], ready)).match;
}

function spawnNode(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: string }> {
  const command = args[0]!;
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, CENSUS_ADMIN_PASSWORD: PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, match: m[1]! });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`census ${command} exited ${code}:\n${out}`)));
  });
}

function call(base: string, method: string, path: string, sid?: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (sid) headers['X-Endeavour-Sessionid'] = sid;
    else headers.Authorization = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
    const req = https.request(new URL(base + path), { method, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode! < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function stopAll(list: ChildProcess[]) {
  await Promise.all(list.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  })));
}

async function main() {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  try {
    const server = await spawnCensus('server', ['--database', dbUrl, '--data-dir', dataDir, '--port', '0'], /listening on (\S+)/);
    const url = server.match;
    const sid = (await call(url, 'POST', '/api/endeavour/session')).sessionid as string;

    let targetPort = 5432;
    if (LATENCY > 0) {
      const proxy = await spawnScript('bench/scale/latency-proxy.ts', ['0', '127.0.0.1', '5432', String(LATENCY)], /proxy listening on (\d+)/);
      targetPort = Number(proxy);
    }

    // Registration shortcut: straight into the store, sealed with the cluster's key.
    const store = await Store.open({ url: dbUrl });
    const secrets = SecretBox.fromKey(loadOrCreateKey(dataDir));
    for (let i = 0; i < N; i++) {
      const ident = await store.identities.create({
        name: `bench ${i}`, username: 'postgres', kind: 'password', secret: secrets.seal('unused-trust-auth'), type: 'system', ostype: 'LINUX', comment: null, createdAt: Date.now(),
      });
      await store.appservers.create({
        name: `bench-pg-${i}`, hostAddress: '127.0.0.1', portNumber: targetPort, applicationType: 'postgresql', osType: 'linux',
        identityId: ident.id, comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: Date.now(),
      });
    }
    await store.close();

    const rows: { workers: number; seconds: number }[] = [];
    for (const w of WORKERS) {
      const workers = await Promise.all(Array.from({ length: w }, () =>
        spawnCensus('worker', ['--database', dbUrl, '--data-dir', dataDir, '--concurrency', String(PER_WORKER)], /is taking tasks/).then((x) => x.child)));
      const t0 = performance.now();
      const started = await call(url, 'POST', '/api/endeavour/job/1004?action=start', sid);
      const id = started.lastrun.sessionId as string;
      let session: any;
      for (;;) {
        session = await call(url, 'GET', `/api/endeavour/jobsession/${id}`, sid);
        if (session.status !== 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const seconds = (performance.now() - t0) / 1000;
      if (session.status !== 'COMPLETED' || session.numTasks !== N) throw new Error(`run with ${w} worker(s) ended ${session.status} with ${session.numTasks} tasks`);
      rows.push({ workers: w, seconds });
      console.log(`  ${w} worker(s) × ${PER_WORKER}: ${seconds.toFixed(2)} s`);
      await stopAll(workers);
    }
    const base = rows[0]!.seconds;
    console.log(`\nN=${N} servers, ${PER_WORKER} tasks per worker, ${availableParallelism()} cores, ${LATENCY} ms added latency each way`);
    console.log('workers  seconds  speed-up');
    for (const r of rows) console.log(`${String(r.workers).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${(base / r.seconds).toFixed(2).padStart(8)}`);
    const last = rows.at(-1)!;
    console.log(`\nscale: ${last.workers} workers = ${(base / last.seconds).toFixed(2)}x one worker (${rows.map((r) => `${r.workers}w ${r.seconds.toFixed(1)} s`).join(', ')})`);
  } finally {
    await stopAll(children);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
