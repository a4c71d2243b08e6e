/**
 * Benchmark: one Hypervisor Inventory (job 1005) of N KVM hosts behind SSH, each a libvirt
 * test-driver host with V domains, by a real `census server` process, against the floor a script
 * would have: `ssh user@host virsh -r -c URI …` run in a loop over the same hosts (hand-loop.ts),
 * one after the other and with Census's own parallelism.
 *
 *   npm run bench:hypervisor
 *   BENCH_HV_HOSTS=10 BENCH_HV_VMS=50 npm run bench:hypervisor
 *
 * Environment:
 *   BENCH_HV_HOSTS         hypervisor hosts (default 50), at 127.0.0.2 … 127.0.0.(N+1)
 *   BENCH_HV_VMS           domains per host (default 100)
 *   BENCH_HV_CONCURRENCY   Census's --concurrency and the hand loop's parallelism (default 8,
 *                          Census's default)
 *   BENCH_HV_NAIVE_HOSTS   also time the naive hand loop (one ssh login per virsh read) over
 *                          this many hosts, sequentially (default 0: ~100 s per host of 100 VMs)
 *
 * Needs root (the test sshd, its users). Everything it creates (the sshd processes and their temp
 * directory, the host files in /var/tmp, Census's data dir and process) is removed at the end,
 * also on failure and on Ctrl-C; host directories an interrupted run left are removed at start.
 * Exit status 1 if Census's session did not end COMPLETED with N tasks, the catalog does not
 * hold exactly the N x V domains with their vCPUs and memory, or the hand loop read anything
 * but N x V domains.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, cpuSecondsOf, machineBusySeconds } from '../inventory/server-cpu.ts';
import { readAll, readBatched, readNaive, type HostRead, type SshLogin } from './hand-loop.ts';
import { cleanLeftovers, startHosts, type BenchHost, type BenchHosts } from './hosts.ts';

// ---- settings ------------------------------------------------------------------------------------

const envInt = (name: string, fallback: number, min: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, not ${JSON.stringify(raw)}`);
  return n;
};

const N = envInt('BENCH_HV_HOSTS', 50, 1);
const VMS = envInt('BENCH_HV_VMS', 100, 1);
const C = envInt('BENCH_HV_CONCURRENCY', 8, 1);
const NAIVE_HOSTS = Math.min(N, envInt('BENCH_HV_NAIVE_HOSTS', 0, 0));
const JOB_ID = 1005;
const JOB_DEADLINE_MS = 10 * 60_000;
const MiB = 1024 * 1024;
const root = new URL('../..', import.meta.url).pathname;

const say = (text: string) => console.log(text);
const secs = (ms: number) => (ms / 1000).toFixed(2);
const mb = (kb: number) => (kb / 1024).toFixed(0);

class BenchFailure extends Error {}

function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')).join('\n');
}

/** VmRSS and VmHWM (peak RSS) of a process, in kB. */
function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Wall time and CPU of one measured phase: the tool's side, the hosts' side (sshd and everything under it), the whole machine. */
interface Phase {
  wallMs: number;
  toolCpu: number | null;
  hostCpu: number | null;
  machineCpu: number | null;
}

async function measure<T>(toolPid: number, hostPids: number[], work: () => Promise<T>): Promise<{ phase: Phase; result: T }> {
  const tool0 = cpuSeconds(toolPid);
  const host0 = cpuSecondsOf(hostPids);
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const result = await work();
  const wallMs = performance.now() - t0;
  const diff = (a: number | null, b: number | null) => (a !== null && b !== null ? b - a : null);
  return { phase: { wallMs, toolCpu: diff(tool0, cpuSeconds(toolPid)), hostCpu: diff(host0, cpuSecondsOf(hostPids)), machineCpu: diff(busy0, machineBusySeconds()) }, result };
}

// ---- Census, a child process on the API ------------------------------------------------------------

const ADMIN_PASSWORD = `Bench-${randomBytes(9).toString('base64url')}`;

class CensusProcess {
  private tail: string[] = [];
  private constructor(readonly child: ChildProcess, readonly base: string) {}

  static async start(dataDir: string): Promise<CensusProcess> {
    const args = ['--import', 'tsx', 'src/cli/main.ts', 'server', '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1', '--http', '--concurrency', String(C)];
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, CENSUS_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const base = await new Promise<string>((resolve, reject) => {
      let found = false;
      const onData = (d: Buffer) => {
        lines.push(...d.toString().split('\n').filter(Boolean));
        lines.splice(0, Math.max(0, lines.length - 40));
        const m = !found && /listening on (\S+)/.exec(lines.join('\n'));
        if (m) {
          found = true;
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        if (!found) reject(new Error(`census server exited ${code ?? signal}:\n${lines.join('\n')}`));
      });
    });
    const p = new CensusProcess(child, base);
    p.tail = lines;
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM; resolves with the exit code (null: it needed SIGKILL after 15 s). */
  stop(): Promise<number | null> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      child.kill('SIGTERM');
    });
  }
}

class Api {
  sid: string | undefined;
  constructor(private readonly base: string) {}

  async call(method: string, path: string, expect: number, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
    const res = await fetch(this.base + path, {
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.sid ? { 'X-Endeavour-Sessionid': this.sid } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (res.status !== expect) throw new BenchFailure(`${method} ${path} answered ${res.status} (expected ${expect}): ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : {};
  }

  async login(): Promise<void> {
    const basic = Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64');
    this.sid = (await this.call('POST', '/api/endeavour/session', 200, undefined, { Authorization: `Basic ${basic}` })).sessionid;
  }

  /** Polls the job until it is IDLE (and, with a session id, that session is its last run). */
  async waitIdle(jobId: number, sessionId: number | null, deadlineMs: number, onPoll?: () => void): Promise<any> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const job = await this.call('GET', `/api/endeavour/job/${jobId}`, 200);
      if (job.status === 'IDLE' && (sessionId === null || job.lastrun?.sessionId === sessionId)) return job;
      if (Date.now() > deadline) throw new BenchFailure(`job ${jobId} still ${job.status} after ${deadlineMs / 1000} s`);
      onPoll?.();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

interface CensusOutcome {
  registerMs: number;
  job: Phase;
  sessionMs: number;
  before: { rss: number; hwm: number };
  after: { rss: number; hwm: number };
  catalogMs: number;
  vms: number;
  stopCode: number | null;
}

/** Registers every host through the API, runs job 1005 once, checks the VM catalog. */
async function runCensus(bench: BenchHosts, dataDir: string): Promise<CensusOutcome> {
  const census = await CensusProcess.start(dataDir);
  try {
    const api = new Api(census.base);
    await api.login();
    // Every system job runs once at a first start (with nothing registered, briefly): let those
    // runs end, so that the start below starts a session of its own.
    await api.waitIdle(1004, null, 60_000);
    await api.waitIdle(JOB_ID, null, 60_000);

    // One key identity for all hosts (the same login everywhere, as on a real estate with one
    // inventory account), then one registration per host, not inventoried yet (addToCatJob
    // false): the measured run is job 1005 started with SPP's call, as a monitoring client would.
    const t0 = performance.now();
    const identity = await api.call('POST', '/api/identity/key', 201, { name: 'bench kvm key', username: bench.sshd.user, privatekey: bench.sshd.privateKey });
    const hostOf = new Map<string, BenchHost>();
    for (const h of bench.hosts) {
      const hv = await api.call('POST', '/api/hypervisor', 201, {
        name: `bench-kvm-${String(h.i).padStart(3, '0')}`, hostAddress: h.address, portNumber: h.port, type: 'kvm',
        user: { href: `${census.base}/api/identity/key/${identity.id}` }, uri: h.uri, addToCatJob: false,
      });
      hostOf.set(String(hv.id), h);
    }
    const registerMs = performance.now() - t0;

    const before = memoryKb(census.pid);
    let peakSampled = before.rss;
    const { phase: job, result: ended } = await measure(census.pid, bench.pids, async () => {
      const started = await api.call('POST', `/api/endeavour/job/${JOB_ID}?action=start`, 200, {});
      const sessionId: number | null = started.lastrun?.sessionId ?? null;
      return api.waitIdle(JOB_ID, sessionId, JOB_DEADLINE_MS, () => {
        peakSampled = Math.max(peakSampled, memoryKb(census.pid).rss);
      });
    });
    const after = memoryKb(census.pid);
    const run = ended.lastrun;
    if (run?.status !== 'COMPLETED' || run?.numTasks !== N) {
      throw new BenchFailure(`job ${JOB_ID}: session ${run?.sessionId} ended ${run?.status} with ${run?.numTasks} task(s) (expected COMPLETED with ${N})`);
    }

    // The catalog must hold every domain of every host, with what the host file says.
    const c0 = performance.now();
    const vms: any[] = [];
    let total = 0;
    for (let start = 0; ; start += 1000) {
      const page = await api.call('GET', `/api/endeavour/catalog/hypervisor/vm?embed=(children(properties))&pageSize=1000&pageStartIndex=${start}`, 200);
      total = page.total;
      vms.push(...page.children);
      if (!page.children.length || vms.length >= total) break;
    }
    const catalogMs = performance.now() - c0;
    checkCatalog(vms, total, hostOf);
    return { registerMs, job, sessionMs: run.duration, before, after: { rss: Math.max(after.rss, peakSampled), hwm: after.hwm }, catalogMs, vms: total, stopCode: await census.stop() };
  } catch (err) {
    await census.stop();
    if (err instanceof BenchFailure) console.error(`census server's last output:\n${census.output()}`);
    throw err;
  }
}

function checkCatalog(vms: any[], total: number, hostOf: Map<string, BenchHost>): void {
  const problems: string[] = [];
  if (total !== N * VMS || vms.length !== N * VMS) problems.push(`the catalog holds ${total} VMs (${vms.length} read), expected ${N * VMS}`);
  const seen = new Set<string>();
  for (const vm of vms) {
    const p = vm.properties;
    const h = hostOf.get(String(p.hypervisorId));
    const d = h?.driver.domains.find((x) => x.name === vm.name);
    const key = `${p.hypervisorId}/${vm.name}`;
    if (!h || !d) problems.push(`${key}: no such domain on the hosts`);
    else if (seen.has(key)) problems.push(`${key}: listed twice`);
    else if (p.uuid !== d.uuid || p.cpu !== d.vcpus || p.memory !== d.memoryMiB * MiB || p.hypervisorType !== 'kvm') {
      problems.push(`${key}: uuid ${p.uuid} cpu ${p.cpu} memory ${p.memory}, the host file says ${d.uuid}, ${d.vcpus}, ${d.memoryMiB * MiB}`);
    }
    seen.add(key);
  }
  if (problems.length) throw new BenchFailure(`VM catalog wrong:\n  ${problems.slice(0, 20).join('\n  ')}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''}`);
}

// ---- the hand loop -------------------------------------------------------------------------------

async function runHand(bench: BenchHosts, hosts: BenchHost[], parallel: number, read: (l: SshLogin, h: BenchHost) => Promise<HostRead>): Promise<Phase & HostRead> {
  const login = { user: bench.sshd.user, keyPath: bench.sshd.keyPath };
  // The tool's CPU: this process and the ssh clients it has reaped (cpuSeconds counts both).
  const { phase, result } = await measure(process.pid, bench.pids, () => readAll(hosts, parallel, (h) => read(login, h)));
  if (result.domains !== hosts.length * VMS) throw new BenchFailure(`hand loop read ${result.domains} domains, expected ${hosts.length * VMS}`);
  return { ...phase, ...result };
}

// ---- main ----------------------------------------------------------------------------------------

const cpu = (s: number | null) => (s === null ? '?' : s.toFixed(1));

async function main(): Promise<number> {
  const leftovers = cleanLeftovers();
  say(`hypervisor bench: ${N} KVM hosts (libvirt test driver) x ${VMS} domains = ${N * VMS} VMs behind sshd on 127.0.0.2-${N + 1}, ` +
    `concurrency ${C}; ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}` +
    (leftovers ? `; removed ${leftovers} host dir(s) an interrupted run left` : ''));
  const dataDir = mkdtempSync(join(tmpdir(), 'census-bench-hv-data-'));
  let bench: BenchHosts | undefined;
  const cleanup = async () => {
    await bench?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    say('\ninterrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    const t0 = performance.now();
    bench = await startHosts(N, VMS, Math.max(100, 4 * C));
    say(`hosts ready in ${secs(performance.now() - t0)} s (${bench.pids.length} sshd processes, port ${bench.sshd.port}, user ${bench.sshd.user}, ed25519 key)`);

    // Untimed: every host answers, and ssh, sshd and virsh are in the page cache for both sides.
    const warm = await runHand(bench, bench.hosts, C, readBatched);
    say(`warm-up: the hand loop read ${warm.domains} domains in ${secs(warm.wallMs)} s`);

    const handParallel = await runHand(bench, bench.hosts, C, readBatched);
    say(`hand loop, ${C} at a time: ${secs(handParallel.wallMs)} s`);
    const census = await runCensus(bench, dataDir);
    say(`census: ${secs(census.job.wallMs)} s`);
    const handSequential = await runHand(bench, bench.hosts, 1, readBatched);
    say(`hand loop, one at a time: ${secs(handSequential.wallMs)} s`);
    const naive = NAIVE_HOSTS ? await runHand(bench, bench.hosts.slice(0, NAIVE_HOSTS), 1, readNaive) : null;

    say('');
    const row = (name: string, p: Phase, extra: string) => [name, secs(p.wallMs), cpu(p.toolCpu), cpu(p.hostCpu), cpu(p.machineCpu), extra];
    say(table([
      ['run', 'wall s', 'tool CPU s', 'hosts CPU s', 'machine CPU s', 'notes'],
      row(`census job ${JOB_ID}, concurrency ${C}`, census.job, `${N} tasks, session ${secs(census.sessionMs)} s by the server`),
      row(`hand loop, ${C} at a time`, handParallel, `${handParallel.sshRuns} ssh logins, ${(handParallel.bytes / MiB).toFixed(1)} MiB read`),
      row('hand loop, one at a time', handSequential, `${handSequential.sshRuns} ssh logins`),
      ...(naive ? [row(`naive hand loop, ${NAIVE_HOSTS} host(s)`, naive, `${naive.sshRuns} ssh logins; x${N / NAIVE_HOSTS} = ${secs((naive.wallMs * N) / NAIVE_HOSTS)} s for all`)] : []),
    ]));
    say('  tool CPU: Census\'s server process / this script and its ssh clients; hosts CPU: sshd, the login shells and virsh;');
    say('  machine CPU: every core busy, other processes on the machine included.');
    say('');
    say(`census: registration of ${N} hypervisors through the API ${secs(census.registerMs)} s; catalog read back (${census.vms} VMs, pages of 1000) ${secs(census.catalogMs)} s`);
    say(`census memory (server process): RSS ${mb(census.before.rss)} MB before the job, peak RSS (VmHWM) ${mb(census.after.hwm)} MB, RSS ${mb(census.after.rss)} MB after`);
    if (census.stopCode !== 0) throw new BenchFailure(`census server did not exit 0 on SIGTERM (${census.stopCode ?? 'killed'})`);
    say('');
    say(`hypervisor: census/hand = ${(census.job.wallMs / handParallel.wallMs).toFixed(2)} (census ${secs(census.job.wallMs)} s, hand loop ${secs(handParallel.wallMs)} s at ${C} parallel, ` +
      `${secs(handSequential.wallMs)} s one at a time = ${(census.job.wallMs / handSequential.wallMs).toFixed(2)}; ${N} hosts, ${census.vms} VMs; census peak RSS ${mb(census.after.hwm)} MB)`);
    return 0;
  } catch (err) {
    console.error(err instanceof BenchFailure ? `FAIL: ${err.message}` : err);
    return 1;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
