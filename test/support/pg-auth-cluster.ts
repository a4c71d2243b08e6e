/**
 * A second, private PostgreSQL cluster that checks passwords (scram-sha-256). The machine's own
 * server trusts every local connection, so a wrong password cannot fail there; this one makes
 * "wrong password" a real server's answer. Built with Debian's initdb/pg_ctl, run as the
 * postgres OS user, on a free loopback port, and removed afterwards. startCluster also makes one
 * that trusts every login, for a benchmark's store kept apart from the servers it inventories.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const AUTH_SUPERUSER = 'census_admin';
export const AUTH_SUPERPASS = 'Sup3r-Secret-Pass';
/** The cluster also listens on these: distinct addresses for distinct registered servers. */
export const AUTH_HOSTS = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 1}`);
export const AUTH_SECOND_HOST = AUTH_HOSTS[1]!;

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return join(root, versions[0]!, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface AuthCluster {
  port: number;
  stop(): void;
}

export interface ClusterOptions {
  /** 'scram': every login needs its password (superuser AUTH_SUPERUSER); 'trust': none does (superuser postgres). */
  auth: 'scram' | 'trust';
  /** Addresses to listen on (default 127.0.0.1). */
  hosts?: readonly string[];
  /** false: no fsync (tests); true: as a real server (benchmarks). */
  fsync: boolean;
  /** More server settings (name → value), given to the postmaster as -c name=value. */
  settings?: Readonly<Record<string, string>>;
}

/** A folder owned by the postgres OS user, and a way to run its commands as that user. */
function clusterDir() {
  const dir = mkdtempSync(join(tmpdir(), 'census-pgcluster-'));
  chmodSync(dir, 0o755);
  const pg = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const pgGroup = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, pg, pgGroup);
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe', timeout: 60_000 });
  return { dir, data: join(dir, 'data'), owner: { pg, pgGroup }, asPostgres };
}

/** Starts the server of `data` on a free port; stop() ends it at once and removes `dir`. */
async function run(at: ReturnType<typeof clusterDir>, hosts: readonly string[], settings: Readonly<Record<string, string>>): Promise<AuthCluster> {
  const bin = binDir();
  const port = await freePort();
  at.asPostgres(join(bin, 'pg_ctl'), [
    '-D', at.data, '-w', '-t', '60', '-l', join(at.dir, 'log'),
    '-o', [`-p ${port} -k ${at.dir} -c listen_addresses=${hosts.join(',')}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' '), 'start',
  ]);
  return {
    port,
    stop() {
      try {
        at.asPostgres(join(bin, 'pg_ctl'), ['-D', at.data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(at.dir, { recursive: true, force: true });
      }
    },
  };
}

/** A private cluster of this machine's PostgreSQL, on a free loopback port, removed by stop(). */
export async function startCluster(o: ClusterOptions): Promise<AuthCluster> {
  const at = clusterDir();
  const init = ['-D', at.data, '-E', 'UTF8', '--no-sync'];
  if (o.auth === 'scram') {
    const pwfile = join(at.dir, 'pw');
    writeFileSync(pwfile, AUTH_SUPERPASS);
    chownSync(pwfile, at.owner.pg, at.owner.pgGroup);
    init.push('-U', AUTH_SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256');
  } else {
    init.push('-U', 'postgres', '--auth=trust');
  }
  at.asPostgres(join(binDir(), 'initdb'), init);
  appendFileSync(join(at.data, 'pg_hba.conf'), `\nhost all all 127.0.0.0/8 ${o.auth === 'scram' ? 'scram-sha-256' : 'trust'}\n`);
  return run(at, o.hosts ?? ['127.0.0.1'], { ...(o.fsync ? {} : { fsync: 'off' }), ...o.settings });
}

/**
 * A streaming standby of a 'trust' cluster (pg_basebackup -R: it replays what its primary
 * writes, and takes no writes itself), on a free loopback port, removed by stop().
 */
export async function startStandby(primaryPort: number): Promise<AuthCluster> {
  const at = clusterDir();
  at.asPostgres(join(binDir(), 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', at.data, '-R', '--no-sync', '-X', 'stream', '-c', 'fast']);
  return run(at, ['127.0.0.1'], { fsync: 'off' });
}

/** The cluster that checks passwords, on AUTH_HOSTS (distinct addresses for distinct registered servers). */
export const startAuthCluster = (): Promise<AuthCluster> => startCluster({ auth: 'scram', hosts: AUTH_HOSTS, fsync: false });
