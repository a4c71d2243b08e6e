/**
 * govmomi's vSphere simulator (vcsim) as a real process on a free loopback port, for the VMware
 * collector's tests. scripts/ensure-vcsim.sh builds it from Debian's packaged sources (Go and
 * govmomi) into a cache outside the repo when it is missing, and prints the binary's path.
 *
 * Its inventory is vcsim's default vCenter model, scaled by the flags: per datacenter `clusters`
 * clusters of `clusterHosts` hosts and `standaloneHosts` standalone hosts; `vmsPerPool` VMs in
 * each cluster's resource pool and on each standalone host. Login takes only the given user name
 * and password. HTTPS with vcsim's own self-signed certificate.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENSURE_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-vcsim.sh', import.meta.url));

export interface VcsimOptions {
  datacenters?: number;
  clusters?: number;
  clusterHosts?: number;
  standaloneHosts?: number;
  vmsPerPool?: number;
  username?: string;
  password?: string;
}

export interface Vcsim {
  host: string;
  port: number;
  username: string;
  password: string;
  /** What the model holds, from the flags (vcsim's own arithmetic). */
  expected: { datacenters: number; hosts: number; vms: number };
  output(): string;
  stop(): Promise<void>;
}

/** Serialize the build across concurrent callers in this process. */
let binary: Promise<string> | undefined;

function ensureVcsim(): Promise<string> {
  binary ??= new Promise<string>((resolve, reject) => {
    // The first build takes about a minute on a small machine (installing Go included, more).
    execFile('sh', [ENSURE_SCRIPT], { timeout: 600_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${ENSURE_SCRIPT} failed: ${stderr || err.message}`));
      else resolve(stdout.trim().split('\n').pop()!);
    });
  });
  return binary;
}

export async function startVcsim(options: VcsimOptions = {}): Promise<Vcsim> {
  const bin = await ensureVcsim();
  const o = { datacenters: 1, clusters: 1, clusterHosts: 3, standaloneHosts: 1, vmsPerPool: 2, username: 'census', password: 'vc-secret-42', ...options };
  const args = [
    '-l', '127.0.0.1:0',
    '-username', o.username, '-password', o.password,
    '-dc', String(o.datacenters), '-cluster', String(o.clusters), '-host', String(o.clusterHosts),
    '-standalone-host', String(o.standaloneHosts), '-vm', String(o.vmsPerPool),
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  // Port 0: vcsim binds a free port itself and says which on its first line, so no race.
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vcsim did not start within 30 s:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /VCSIM_URL=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(new URL(m[1]!));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`vcsim exited before it started:\n${out}`));
    });
  });

  const perDc = { hosts: o.clusters * o.clusterHosts + o.standaloneHosts, vms: (o.clusters + o.standaloneHosts) * o.vmsPerPool };
  let stopped: Promise<void> | null = null;
  return {
    host: url.hostname,
    port: Number(url.port),
    username: o.username,
    password: o.password,
    expected: { datacenters: o.datacenters, hosts: o.datacenters * perDc.hosts, vms: o.datacenters * perDc.vms },
    output: () => out,
    stop: () =>
      (stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        if (child.exitCode === null && child.signalCode === null) {
          // SIGTERM lets vcsim remove its datastores' temporary directories.
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
      })()),
  };
}
