/**
 * The benchmark's hypervisor hosts: N libvirt test-driver host files (libvirt's in-process
 * `test:///PATH` driver, no daemon) behind real OpenSSH servers listening on N loopback
 * addresses, 127.0.0.2 … 127.0.0.(N+1), all on the same port. Census refuses a second
 * registration of the same host:port:type, and a loopback address per host makes them distinct
 * hosts as far as Census (or ssh) can tell, without a forwarder in between.
 *
 * The login user, keys and host key come from test/support/sshd.ts (its private sshd, on
 * 127.0.0.1, stays idle). That sshd listens on one address only, so more sshd processes are
 * started from the very same config file with the listen addresses swapped, one per 16 hosts
 * (sshd's MAX_LISTEN_SOCKS). Their configs live in its temp directory, which its stop() removes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { writeTestDriverHost, type TestDriverHost } from '../../test/support/libvirt.ts';
import { startSshd, type Sshd } from '../../test/support/sshd.ts';

export interface BenchHost {
  /** 1-based. */
  i: number;
  address: string;
  port: number;
  uri: string;
  driver: TestDriverHost;
}

export interface BenchHosts {
  sshd: Sshd;
  /** The sshd processes serving the N addresses (their CPU, with their reaped children, is the hosts' side). */
  pids: number[];
  hosts: BenchHost[];
  stop(): Promise<void>;
}

/** Host files live here (not /tmp: the ssh login user must read them; see cleanLeftovers). */
const HOSTS_PARENT = '/var/tmp';
const HOSTS_PREFIX = 'census-bench-hv-';
const LISTEN_TIMEOUT_MS = 15_000;
/** sshd's MAX_LISTEN_SOCKS: one sshd listens on 16 addresses at most, so there is one per 16 hosts. */
const LISTEN_PER_SSHD = 16;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Removes host directories of earlier runs whose process is gone (an interrupted run). */
export function cleanLeftovers(): number {
  let removed = 0;
  for (const name of readdirSync(HOSTS_PARENT)) {
    const m = new RegExp(`^${HOSTS_PREFIX}(\\d+)-`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    rmSync(join(HOSTS_PARENT, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** Does ADDRESS:PORT greet with an SSH banner? One attempt, one second at most. */
function sshBanner(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port });
    let seen = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      if (seen.length >= 7) done(seen.startsWith('SSH-2.0'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts the hosts: `count` host files of `vms` domains each, and the sshd on `count` addresses.
 * `maxStartups` is sshd's MaxStartups: its default (10:30:100) starts dropping connections that
 * have not logged in yet once 10 are open, which a parallel run of more than 10 would hit.
 */
export async function startHosts(count: number, vms: number, maxStartups: number): Promise<BenchHosts> {
  if (count < 1 || count > 253) throw new Error(`hosts must be 1..253 (loopback addresses 127.0.0.2..254), not ${count}`);
  const sshd = await startSshd();
  let dir: string | undefined;
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    await sshd.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    dir = await mkdtemp(join(HOSTS_PARENT, `${HOSTS_PREFIX}${process.pid}-`));
    await chmod(dir, 0o755);
    const hosts: BenchHost[] = [];
    for (let i = 1; i <= count; i++) {
      const driver = await writeTestDriverHost(join(dir, `host${String(i).padStart(3, '0')}.xml`), vms);
      hosts.push({ i, address: `127.0.0.${i + 1}`, port: sshd.port, uri: driver.uri, driver });
    }

    // The first sshd's config, next to the key it authorizes (test/support/sshd.ts writes both
    // into its temp directory): same users, keys, host key and settings, other addresses.
    const sshdDir = dirname(sshd.keyPath);
    const firstConfig = join(sshdDir, 'sshd_config');
    if (!existsSync(firstConfig)) throw new Error(`no ${firstConfig}: test/support/sshd.ts no longer keeps its config beside its keys`);
    const lines = readFileSync(firstConfig, 'utf8').split('\n').filter((l) => !/^(ListenAddress|PidFile|MaxStartups|LogLevel)\b/.test(l));
    const config = (group: BenchHost[], pidFile: string) => [
      ...lines.filter(Boolean),
      ...group.map((h) => `ListenAddress ${h.address}`),
      `PidFile ${pidFile}`,
      `MaxStartups ${maxStartups}`,
      // VERBOSE (the tests' level) writes lines per login; the benchmark needs none.
      'LogLevel ERROR',
      '',
    ].join('\n');

    const deadline = Date.now() + LISTEN_TIMEOUT_MS;
    for (let g = 0; g * LISTEN_PER_SSHD < hosts.length; g++) {
      const group = hosts.slice(g * LISTEN_PER_SSHD, (g + 1) * LISTEN_PER_SSHD);
      const configPath = join(sshdDir, `sshd_config.bench${g}`);
      await writeFile(configPath, config(group, join(sshdDir, `sshd-bench${g}.pid`)), { mode: 0o644 });
      let log = '';
      const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      child.stderr!.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-4000);
      });
      for (const h of group) {
        while (!(await sshBanner(h.address, h.port))) {
          if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not listen on ${h.address}:${h.port}:\n${log}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
    return { sshd, pids: children.map((c) => c.pid!), hosts, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
