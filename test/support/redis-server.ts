/**
 * Throwaway redis-server processes on free loopback ports, for tests that need settings the
 * machine's shared Redis must keep (a password, persistence, replication, TLS). Each runs in its
 * own temporary directory, writes nothing outside it, and is stopped by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisProcess {
  port: number;
  dir: string;
  output(): string;
  stop(): Promise<void>;
}

/** A port nothing listens on (bound once, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Start redis-server with `args` after safe defaults (loopback only, no snapshots, no AOF); later
 * arguments win, so a test may turn persistence back on. `tlsPort`: listen with TLS there and on
 * no plain port. Resolves once the server says it accepts connections.
 */
export async function startRedis(args: string[] = [], opts: { tlsPort?: boolean } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'census-redis-'));
  const portArgs = opts.tlsPort ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)];
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    [...portArgs, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited before it started:\n${out}`));
    });
  });
  let stopped: Promise<void> | null = null;
  return {
    port,
    dir,
    output: () => out,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}
