/**
 * `census user …` and `census role …` as an operator runs them: real child processes against a
 * real Census over HTTPS (its self-signed certificate pinned with --insecure), HOME in a temp dir.
 * The admin adds a Monitor, who must set a password before anything else and then may read jobs
 * but not users; disable, enable, a password reset, removal, custom roles, and granting and revoking
 * permission sets (the server's last-administrator refusal shown as an error).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './support/server.ts';
import { runCli as run } from './support/cli.ts';

describe('census user and census role', () => {
  let s: TestServer;
  let home: string;
  let asAdmin: Record<string, string>;

  const ok = async (args: string[], o: { env?: Record<string, string>; input?: string } = {}) => {
    const r = await run(home, args, { env: asAdmin, ...o });
    expect(r.code, `census ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
    return r;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = async (args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<any> => JSON.parse((await ok([...args, '--json'], o)).stdout);

  beforeAll(async () => {
    s = await startTestServer();
    home = mkdtempSync(join(tmpdir(), 'census-cli-users-'));
    asAdmin = { CENSUS_URL: s.url, CENSUS_USER: 'admin', CENSUS_PASSWORD: ADMIN_PASSWORD, CENSUS_INSECURE: '1' };
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('lists the built-in roles and shows one', async () => {
    const list = await ok(['role', 'list']);
    expect(list.stdout).toMatch(/^\s*ID\s+NAME\s+TYPE\s+PERMISSIONS/);
    for (const name of ['SUPERUSER', 'Application Admin', 'Monitor', 'Inventory Operator']) expect(list.stdout).toContain(name);
    const roles = await json(['role', 'list']);
    expect(roles.find((r: { name: string }) => r.name === 'Monitor').type).toBe('BUILTIN');

    const show = await ok(['role', 'show', 'monitor']);
    expect(show.stdout).toContain('Role Monitor');
    expect(show.stdout).toContain('  policy.view');
    expect(show.stdout).not.toContain('policy.run');
    expect((await json(['role', 'show', '1002'])).permissionIds).toContain('policy.view');
    const missing = await run(home, ['role', 'show', 'Nobody'], { env: asAdmin });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no role "Nobody"');
  });

  it('adds a Monitor who sets a password at the first login, then may read jobs but not users', async () => {
    const added = await ok(['user', 'add', 'mon', '--role', 'Monitor', '--initial-password-stdin'], { input: 'First-Pass-1\n' });
    expect(added.stdout).toMatch(/Added user mon \(id \d+\): Monitor on All Resources\./);
    const list = await ok(['user', 'list']);
    expect(list.stdout).toMatch(/mon\s+must set password\s+never\s+Monitor on All Resources/);
    expect(list.stdout).toMatch(/admin\s+enabled/);

    // The first login is refused until the password is changed (the login says so).
    const asMon = (password: string) => ({ CENSUS_URL: s.url, CENSUS_USER: 'mon', CENSUS_PASSWORD: password, CENSUS_INSECURE: '1' });
    const refused = await run(home, ['job', 'list'], { env: asMon('First-Pass-1') });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/expired/);

    // An admin's reset keeps it that way; the user's own change (with the old password) needs a
    // login, so the test sets it through SPP's first-login call, as the UI does.
    const r = await s.req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'mon', password: 'First-Pass-1' }, body: { newPassword: 'Mon-Own-Pass-2' } });
    expect(r.status).toBe(200);

    const jobs = await run(home, ['job', 'list', '--json'], { env: asMon('Mon-Own-Pass-2') });
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(JSON.parse(jobs.stdout).length).toBeGreaterThan(0);
    const users = await run(home, ['user', 'list'], { env: asMon('Mon-Own-Pass-2') });
    expect(users.code).toBe(1);
    expect(users.stderr).toMatch(/user\.view.*HTTP 403 XSBAccessDeniedException/);

    // The Monitor changes their own password with the old one.
    const own = await run(home, ['user', 'passwd', 'mon', '--old-password', 'Mon-Own-Pass-2', '--new-password', 'Mon-Own-Pass-3'], { env: asMon('Mon-Own-Pass-2') });
    expect(own.code, own.stderr).toBe(0);
    expect(own.stdout).toContain('Changed the password of mon.');
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'mon', password: 'Mon-Own-Pass-3' } })).status).toBe(200);
  });

  it('disables, enables, resets the password of and removes a user', async () => {
    const disabled = await json(['user', 'disable', 'mon']);
    expect(disabled.accountDisabled).toBe(true);
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'mon', password: 'Mon-Own-Pass-3' } })).status).toBe(401);
    expect((await ok(['user', 'enable', 'mon'])).stdout).toMatch(/Enabled user mon \(id \d+\)\./);
    expect((await s.req('POST', '/api/endeavour/session', { auth: { user: 'mon', password: 'Mon-Own-Pass-3' } })).status).toBe(200);

    const reset = await ok(['user', 'passwd', 'mon', '--new-password', 'Reset-Pass-4']);
    expect(reset.stdout).toContain('they must change it at the next login');
    const afterReset = await s.req('POST', '/api/endeavour/session', { auth: { user: 'mon', password: 'Reset-Pass-4' } });
    expect(afterReset.status).toBe(401);
    expect(afterReset.json.description).toMatch(/expired/);

    const short = await run(home, ['user', 'passwd', 'mon', '--new-password', 'short'], { env: asAdmin });
    expect(short.code).toBe(2);

    // The last user who can manage users stays.
    const last = await run(home, ['user', 'remove', 'admin'], { env: asAdmin });
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/no enabled user who can manage users/);

    const removed = await json(['user', 'remove', 'mon']);
    expect(removed.name).toBe('mon');
    expect((await json(['user', 'list'])).map((u: { name: string }) => u.name)).toEqual(['admin']);
  });

  it('adds and changes a custom role; built-in roles do not change', async () => {
    const made = await json(['role', 'add', 'Viewer', '--permissions', 'appserver.view, policy.view', '--description', 'Looks only']);
    expect(made).toMatchObject({ name: 'Viewer', type: 'CUSTOM', description: 'Looks only' });
    expect(made.permissionIds.sort()).toEqual(['appserver.view', 'policy.view']);
    const edited = await ok(['role', 'edit', 'Viewer', '--permissions', 'policy.view']);
    expect(edited.stdout).toMatch(/Changed role Viewer \(id \d+\): 1 permission\(s\)\./);
    expect((await json(['role', 'show', 'Viewer'])).permissionIds).toEqual(['policy.view']);

    const unknown = await run(home, ['role', 'add', 'Bad', '--permissions', 'no.such'], { env: asAdmin });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown permission');
    const builtIn = await run(home, ['role', 'edit', 'Monitor', '--permissions', 'policy.run'], { env: asAdmin });
    expect(builtIn.code).toBe(1);
    expect((await run(home, ['role', 'add', 'NoPerms'], { env: asAdmin })).code).toBe(2);
  });

  it('grants and revokes permission sets; the last one who can manage users keeps theirs', async () => {
    await ok(['user', 'add', 'ops', '--role', 'Monitor', '--initial-password', 'Ops-First-Pass-1']);
    const granted = await ok(['user', 'grant', 'ops', '--role', 'Inventory Operator', '--group', 'All Resources']);
    expect(granted.stdout).toContain('Gave Inventory Operator on All Resources to ops; they hold: Monitor, Inventory Operator on All Resources.');
    const sets = (await json(['user', 'list'])).find((u: { name: string }) => u.name === 'ops').permissions;
    expect(sets).toEqual([expect.objectContaining({ resourcePool: expect.objectContaining({ id: '1000' }), roles: [expect.objectContaining({ name: 'Monitor' }), expect.objectContaining({ name: 'Inventory Operator' })] })]);
    expect((await ok(['user', 'grant', 'ops', '--role', 'monitor'])).stdout).toContain('ops holds Monitor on All Resources already.');

    const revoked = await json(['user', 'revoke', 'ops', '--role', 'Monitor']);
    expect(revoked.permissions.flatMap((p: { roles: { name: string }[] }) => p.roles.map((r) => r.name))).toEqual(['Inventory Operator']);
    const notHeld = await run(home, ['user', 'revoke', 'ops', '--role', 'Monitor'], { env: asAdmin });
    expect(notHeld.code).toBe(1);
    expect(notHeld.stderr).toContain('ops does not hold Monitor on All Resources');

    // The server's refusal comes through as an error and exit 1; nothing changed.
    const last = await run(home, ['user', 'revoke', 'admin', '--role', 'SUPERUSER'], { env: asAdmin });
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/no enabled user who can manage users.*HTTP 400/);
    expect((await json(['user', 'list'])).find((u: { name: string }) => u.name === 'admin').permissions[0].roles[0].name).toBe('SUPERUSER');
    expect((await run(home, ['user', 'grant', 'ops'], { env: asAdmin })).code).toBe(2);
  }, 120_000); // ten child processes: slow on a busy machine
});
