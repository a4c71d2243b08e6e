/**
 * `census key …` and `census audit` as an operator runs them: real child processes against a real
 * Census over HTTPS (its self-signed certificate pinned with --insecure), HOME in a temp dir. A
 * key is printed once and works as a Bearer token with what it was made with (read-only, allowed
 * addresses) until revoked; the audit log shows what was done, filtered, and saves its CSV.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, request, startTestServer, type TestServer } from './support/server.ts';
import { runCli } from './support/cli.ts';

/** Child processes are slow on a busy machine: each test runs a handful. */
const SLOW = 120_000;

const run = (home: string, args: string[], env: Record<string, string>) => runCli(home, args, { env });

describe('census key and census audit', () => {
  let s: TestServer;
  let home: string;
  let asAdmin: Record<string, string>;
  let key: string;

  const census = (args: string[]) => run(home, args, asAdmin);
  const ok = async (args: string[]) => {
    const r = await census(args);
    expect(r.code, `census ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
    return r;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = async (args: string[]): Promise<any> => JSON.parse((await ok([...args, '--json'])).stdout);
  const bearer = (method: string, path: string, k: string) => request(s.url, method, path, { headers: { Authorization: `Bearer ${k}` } });

  beforeAll(async () => {
    s = await startTestServer();
    home = mkdtempSync(join(tmpdir(), 'census-cli-keys-'));
    asAdmin = { CENSUS_URL: s.url, CENSUS_USER: 'admin', CENSUS_PASSWORD: ADMIN_PASSWORD, CENSUS_INSECURE: '1' };
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('creates a read-only key, prints it once, and it reads but does not change', async () => {
    const made = await ok(['key', 'create', 'prometheus', '--read-only', '--expires', '30d', '--allow', '127.0.0.1,::1']);
    expect(made.stdout).toMatch(/^Made API key prometheus \(id \d+\) for admin: read-only, expires \d{4}-\d{2}-\d{2} .*, usable from 127\.0\.0\.1, ::1\.$/m);
    key = /^ {2}(cns_\S+)$/m.exec(made.stdout)?.[1] ?? '';
    expect(key).toMatch(/^cns_[A-Za-z0-9_-]{43}$/);

    expect((await bearer('GET', '/api/endeavour/job', key)).status).toBe(200);
    const start = await bearer('POST', '/api/endeavour/job/1004?action=start', key);
    expect(start.status).toBe(403);

    const list = await ok(['key', 'list']);
    expect(list.stdout).toMatch(/^\s*ID\s+NAME\s+PREFIX\s+OWNER\s+STATUS/);
    expect(list.stdout).toMatch(/prometheus\s+cns_\S{8}\s+admin\s+ACTIVE\s+.*read-only\s+127\.0\.0\.1, ::1/);
    expect(list.stdout).not.toContain(key);
    const shown = await json(['key', 'show', 'prometheus']);
    expect(shown).toMatchObject({ name: 'prometheus', readOnly: true, status: 'ACTIVE', allowedAddresses: ['127.0.0.1', '::1'] });
    expect(shown).not.toHaveProperty('key');
    expect(shown.lastUsedAt).toBeGreaterThan(0);
    expect(shown.expiresAt - Date.now()).toBeGreaterThan(29 * 86_400_000);
  }, SLOW);

  it('makes a key for another user with --owner; refuses a malformed expiry before asking the server', async () => {
    const mon = await s.req('POST', '/api/security/user', { sid: await s.login(), body: { name: 'mon', password: 'Mon-First-Pass-1', permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
    expect(mon.status, mon.text).toBe(201);
    const theirs = await json(['key', 'create', 'mon-script', '--owner', 'mon', '--expires', '2099-01-31']);
    expect(theirs).toMatchObject({ name: 'mon-script', userName: 'mon', readOnly: false, allowedAddresses: [] });
    expect(theirs.key).toMatch(/^cns_/);
    expect(theirs.expiresAt).toBe(Date.parse('2099-01-31'));
    const listed = await json(['key', 'list', '--owner', 'mon']);
    expect(listed.map((k: { name: string }) => k.name)).toEqual(['mon-script']);

    const bad = await census(['key', 'create', 'x', '--expires', 'tomorrow']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--expires must be a number of days');
    const past = await census(['key', 'create', 'x', '--expires', '2001-01-01']);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/expiresAt.*future.*HTTP 400/);
  }, SLOW);

  it('revokes a key at once; it stays listed as REVOKED', async () => {
    const revoked = await ok(['key', 'revoke', 'prometheus']);
    expect(revoked.stdout).toMatch(/^Revoked API key prometheus \(id \d+\) of admin\.$/m);
    expect((await bearer('GET', '/api/endeavour/job', key)).status).toBe(401);
    const keys = await json(['key', 'list']);
    expect(keys.find((k: { name: string }) => k.name === 'prometheus').status).toBe('REVOKED');
    const missing = await census(['key', 'show', 'nothing-here']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no API key named "nothing-here"');
  }, SLOW);

  it('shows the audit log filtered by action, user and outcome', async () => {
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'mon', password: 'wrong-password-1' } })).status).toBe(401);

    const made = await json(['audit', '--action', 'apikey.create,apikey.revoke']);
    expect(made.map((e: { action: string; target: string; outcome: string }) => `${e.action} ${e.target} ${e.outcome}`)).toEqual([
      'apikey.create prometheus success', 'apikey.create mon-script success', 'apikey.create x failure', 'apikey.revoke prometheus success',
    ]);
    expect(JSON.stringify(made)).not.toContain(key);

    const failures = await ok(['audit', '--outcome', 'failure', '--user', 'mon', '--since', '1h']);
    expect(failures.stdout).toMatch(/^TIME\s+USER\s+FROM\s+ACTION\s+TARGET\s+OUTCOME\s+DETAIL$/m);
    expect(failures.stdout).toMatch(/mon\s+\S+\s+login\s+user mon\s+failure/);
    expect(failures.stdout).not.toMatch(/\badmin\b/);
    // The latest one only, and nothing before 2000.
    expect(await json(['audit', '--limit', '1', '--action', 'apikey.revoke'])).toHaveLength(1);
    expect((await json(['audit', '--action', 'apikey.*', '--outcome', 'success'])).map((e: { action: string }) => e.action)).toEqual(['apikey.create', 'apikey.create', 'apikey.revoke']);
    expect((await ok(['audit', '--until', '2000-01-01'])).stdout).toBe('No audit entries.\n');

    expect((await census(['audit', '--outcome', 'maybe'])).code).toBe(2);
    expect((await census(['audit', '--since', 'yesterday'])).code).toBe(2);
    const withPassword = await census(['audit', '--password', ADMIN_PASSWORD]);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toContain('takes no --password');
  }, SLOW);

  it('saves the CSV download to a file, readable by its owner only', async () => {
    const file = join(home, 'audit.csv');
    const saved = await ok(['audit', '--csv', file, '--action', 'apikey.create', '--outcome', 'success']);
    expect(saved.stderr).toContain(`saved 2 audit entries to ${file}`);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,accessTime,time,user,userId,userIp,action,targetType,targetId,target,outcome,description,detail');
    expect(lines.slice(1).map((l) => l.split(',')[9])).toEqual(['prometheus', 'mon-script']);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // --limit: the latest ones, still oldest first.
    const latest = await ok(['audit', '--csv', '-', '--action', 'apikey.create,apikey.revoke', '--limit', '2']);
    expect(latest.stdout.trimEnd().split('\r\n').slice(1).map((l) => l.split(',')[6])).toEqual(['apikey.create', 'apikey.revoke']);
  }, SLOW);
});
