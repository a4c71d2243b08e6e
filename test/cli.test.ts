/**
 * `census server` as an operator runs it: first start creates the admin, shows the password once
 * and keeps it in an owner-only file; SIGTERM stops it cleanly; the next start shows nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from './support/server.ts';

const root = new URL('..', import.meta.url).pathname;

function run(dataDir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', '--port', '0', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, ...env, CENSUS_ADMIN_PASSWORD: env.CENSUS_ADMIN_PASSWORD ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m && out.includes('\n', out.indexOf(m[0]))) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, listening, exited, output: () => out };
}

describe('census server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'census-cli-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a generated admin password once, serves HTTPS with it, and stops on SIGTERM', async () => {
    const first = run(dir);
    child = first.child;
    const url = await first.listening;
    await expect.poll(() => /password: (\S+)/.exec(first.output())?.[1], { timeout: 10_000 }).toBeTruthy();
    const password = /password: (\S+)/.exec(first.output())![1]!;
    const file = join(dir, 'initial-admin-password');
    expect(readFileSync(file, 'utf8').trim()).toBe(password);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    const login = await request(url, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password } });
    expect(login.status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = run(dir);
    child = second.child;
    const url2 = await second.listening;
    expect(second.output()).not.toContain('password:');
    expect((await request(url2, 'POST', '/api/endeavour/session', { auth: { user: 'admin', password } })).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('refuses bad options with a clear message', async () => {
    const bad = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', '--port', 'abc'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => bad.once('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('--port must be a whole number');

    const share = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--shared-cpu', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let shareErr = '';
    share.stderr.on('data', (d: Buffer) => (shareErr += d.toString()));
    expect(await new Promise((r) => share.once('exit', r))).toBe(2);
    expect(shareErr).toContain('--shared-cpu must be a whole number from 1 to 100');
  });
});
