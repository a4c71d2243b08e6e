/**
 * Directory login end to end, against the real OpenLDAP slapd the harness starts
 * (test/support/slapd.ts): directories registered over StartTLS and ldaps:// through /api/ldap,
 * groups mapped to permission sets, directory users logging in through POST /api/endeavour/session
 * with what their groups give them; refusals (wrong password, unknown name, no mapped group, an
 * unreachable directory) all alike on the wire, with the reason in the server log only; the lock-out
 * counting them; the bind password in no answer or log and sealed in the database, and sealed
 * again by census rotate-key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { rotateKey } from '../src/cli/rotate-key.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import type { SlapdInfo } from './support/slapd.ts';
import { startTestServer, type Reply, type RequestOptions, type TestServer } from './support/server.ts';

const provided = inject('slapd');
let ldap: SlapdInfo;

const MONITOR = 1002;
const ALL_RESOURCES = 1000;
const POLICY = { maxFailures: 4, maxNameFailures: 100, windowMs: 60_000, lockMs: 60_000 };

let s: TestServer;
let admin: string;
const dataDir = mkdtempSync(join(tmpdir(), 'census-ldap-'));
/** Every answer's text, and every line the server logged: the bind password must be in none. */
const answers: string[] = [];
const logged: string[] = [];
let starttlsId: string;
let ldapsId: string;

async function req(method: string, path: string, o?: RequestOptions): Promise<Reply> {
  const r = await s.req(method, path, o);
  answers.push(r.text);
  return r;
}
const login = (user: string, password: string, path = '/api/endeavour/session') => req('POST', path, { auth: { user, password } });

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  if ('unavailable' in provided) throw new Error(`the test OpenLDAP server did not start: ${provided.unavailable}`);
  ldap = provided;
  for (const level of ['log', 'warn', 'error', 'info'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(' ')));
  }
  s = await startTestServer({ dataDir, loginPolicy: POLICY });
  admin = await s.login();
});

afterAll(async () => {
  await s?.stop();
  vi.restoreAllMocks();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('registering directories', () => {
  it('registers one over StartTLS and one over ldaps:// (with the test CA); the bind password is not answered', async () => {
    const common = {
      caCert: ldap.caCert, bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, userBase: ldap.peopleDn,
      groupBase: ldap.groupsDn, groupFilter: '(member={dn})', timeoutMs: 5_000,
    };
    // Carol is left to the second directory: a name the first does not know is tried on the next.
    const a = await req('POST', '/api/ldap', { sid: admin, body: { name: 'corp', url: `ldap://${ldap.host}:${ldap.port}`, ...common, userFilter: '(&(uid={username})(!(uid=carol)))' } });
    expect(a.status, a.text).toBe(201);
    expect(a.json).toMatchObject({ name: 'corp', startTls: true, tlsVerify: true, bindDn: ldap.bindDn, groupFilter: '(member={dn})' });
    expect(a.json).not.toHaveProperty('bindPassword');
    expect(a.headers.location).toMatch(new RegExp(`/api/ldap/${a.json.id}$`));
    starttlsId = a.json.id;
    const b = await req('POST', '/api/ldap', { sid: admin, body: { name: 'corp-ldaps', url: `ldaps://${ldap.host}:${ldap.tlsPort}`, ...common, userFilter: '(uid={username})' } });
    expect(b.status, b.text).toBe(201);
    expect(b.json.startTls).toBe(false);
    ldapsId = b.json.id;

    const list = await req('GET', '/api/ldap', { sid: admin });
    expect(list.json.ldapServers.map((d: { name: string }) => d.name)).toEqual(['corp', 'corp-ldaps']);
    expect((await req('GET', `/api/ldap/${ldapsId}`, { sid: admin })).json.url).toBe(`ldaps://${ldap.host}:${ldap.tlsPort}`);
  });

  it('refuses ldap:// without StartTLS, a duplicate name, and a change of where the server is without the password again', async () => {
    const base = { url: `ldap://${ldap.host}:${ldap.port}`, bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, userBase: ldap.peopleDn, userFilter: '(uid={username})' };
    const clear = await req('POST', '/api/ldap', { sid: admin, body: { ...base, name: 'clear', startTls: false } });
    expect(clear.status).toBe(400);
    expect(clear.json.description).toMatch(/startTls/);
    expect((await req('POST', '/api/ldap', { sid: admin, body: { ...base, name: 'CORP', caCert: ldap.caCert } })).status).toBe(409);
    const moved = await req('PUT', `/api/ldap/${starttlsId}`, { sid: admin, body: { url: 'ldap://127.0.0.1:1' } });
    expect(moved.status).toBe(400);
    expect(moved.json.description).toMatch(/bindPassword/);
    // A change that does not move it needs no password; the stored one still works.
    const renamed = await req('PUT', `/api/ldap/${starttlsId}`, { sid: admin, body: { timeoutMs: 6_000 } });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.json.timeoutMs).toBe(6_000);
  });

  it('tests the connection with the stored password: every check passes on both', async () => {
    for (const id of [starttlsId, ldapsId]) {
      const t = await req('POST', `/api/ldap/${id}?action=test`, { sid: admin });
      expect(t.status, t.text).toBe(200);
      expect(t.json.ok).toBe(true);
      expect(t.json.checks.map((c: { status: string }) => c.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
    }
  });

  it('maps a group to Monitor on All Resources', async () => {
    const m = await req('POST', `/api/ldap/${starttlsId}/mapping`, {
      sid: admin, body: { groupDn: ldap.groups.operators.toUpperCase().replace(/,/g, ', '), roleId: MONITOR, resourcePoolId: ALL_RESOURCES },
    });
    expect(m.status, m.text).toBe(201);
    expect(m.json).toMatchObject({ ldapServerId: starttlsId, role: { id: String(MONITOR), name: 'Monitor' }, resourcePool: { id: String(ALL_RESOURCES), name: 'All Resources' } });
    expect((await req('POST', `/api/ldap/${starttlsId}/mapping`, { sid: admin, body: { groupDn: ldap.groups.operators, roleId: MONITOR, resourcePoolId: ALL_RESOURCES } })).status).toBe(409);
    expect((await req('POST', `/api/ldap/${starttlsId}/mapping`, { sid: admin, body: { groupDn: ldap.groups.operators, roleId: 99_999, resourcePoolId: ALL_RESOURCES } })).status).toBe(400);
    const list = await req('GET', `/api/ldap/${starttlsId}/mapping`, { sid: admin });
    expect(list.json.mappings).toHaveLength(1);
  });
});

describe('logging in with a directory password', () => {
  let alice: string;

  it('a directory user logs in (StartTLS) and holds Monitor: reads jobs, may not start one', async () => {
    const r = await login('alice', ldap.users.alice.password);
    expect(r.status, r.text).toBe(200);
    expect(r.json.user).toMatchObject({ name: 'alice', type: 'LDAP_USER', passwordExpired: false });
    alice = r.json.sessionid;
    const jobs = await req('GET', '/api/endeavour/job', { sid: alice });
    expect(jobs.status).toBe(200);
    const start = await req('POST', '/api/endeavour/job/1004?action=start', { sid: alice });
    expect(start.status).toBe(403);
    expect(start.json.id).toBe('XSBAccessDeniedException');
    // As an admin sees them: one user made by the directory, with the mapped set.
    const users = (await req('GET', '/api/security/user', { sid: admin })).json.users as { name: string; type: string; permissions: { resourcePool: { id: string }; roles: { id: string }[] }[] }[];
    const made = users.find((u) => u.name === 'alice')!;
    expect(made.type).toBe('LDAP_USER');
    expect(made.permissions).toEqual([expect.objectContaining({ resourcePool: expect.objectContaining({ id: '1000' }), roles: [expect.objectContaining({ id: '1002' })] })]);
    // The second login finds the user made by the first.
    expect((await login('alice', ldap.users.alice.password)).status).toBe(200);
    expect((await req('GET', '/api/security/user', { sid: admin })).json.users.filter((u: { name: string }) => u.name === 'alice')).toHaveLength(1);
  });

  it('a user of no mapped group, a wrong password and an unknown name get the same 401; the reason is in the server log only', async () => {
    const before = logged.length;
    const unmapped = await login('carol', ldap.users.carol.password); // found by the ldaps:// directory, no mapping there yet
    const wrong = await login('alice', 'not-alices-password');
    const unknown = await login('mallory', 'whatever-1');
    for (const r of [unmapped, wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.json).toEqual(wrong.json);
    }
    expect(wrong.json.id).toBe('XSBAuthenticationException');
    const lines = logged.slice(before).join('\n');
    expect(lines).toMatch(/"carol".*corp-ldaps.*no mapped group/);
    expect(lines).toMatch(/"alice".*bad-credentials/);
    expect(lines).not.toContain('mallory'); // an unknown name may be a password typed in the wrong field
    expect((await req('GET', '/api/security/user', { sid: admin })).json.users.some((u: { name: string }) => u.name === 'carol')).toBe(false);

    // Mapped, carol gets in through the ldaps:// directory.
    const m = await req('POST', `/api/ldap/${ldapsId}/mapping`, { sid: admin, body: { groupDn: ldap.groups.auditors, role: { id: MONITOR }, resourcePool: { href: `${s.url}/api/security/resourcepool/1000` } } });
    expect(m.status, m.text).toBe(201);
    const carol = await login('carol', ldap.users.carol.password);
    expect(carol.status, carol.text).toBe(200);
    expect(carol.json.user.type).toBe('LDAP_USER');
  });

  it('an unreachable directory answers as a wrong password does', async () => {
    const port = await closedPort();
    const dead = await req('POST', '/api/ldap', {
      sid: admin, body: { name: 'dead', url: `ldaps://127.0.0.1:${port}`, bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, userBase: ldap.peopleDn, userFilter: '(uid={username})' },
    });
    expect(dead.status).toBe(201);
    const before = logged.length;
    const r = await login('nobody-here', 'whatever-1');
    expect(r.status).toBe(401);
    expect(r.json.id).toBe('XSBAuthenticationException');
    expect(r.json.description).not.toMatch(/reach|127\.0\.0\.1|dead/);
    expect(logged.slice(before).join('\n')).toMatch(/"dead".*unreachable/);
    expect((await req('DELETE', `/api/ldap/${dead.json.id}`, { sid: admin })).status).toBe(204);
    expect((await s.login())).toBeTruthy(); // a success clears this address's failures
  });

  it("a directory user's password cannot be changed in Census", async () => {
    const r = await login('bob', ldap.users.bob.password);
    expect(r.status).toBe(200);
    const bob = r.json.sessionid;
    const change = await req('POST', `/api/security/user/${r.json.user.id}?action=changePassword`, { sid: bob, body: { oldPassword: ldap.users.bob.password, newPassword: 'New-Bob-Pass-1' } });
    expect(change.status).toBe(400);
    expect(change.json.description).toMatch(/directory/);
    const atLogin = await req('POST', '/api/endeavour/session?changePassword=true', { auth: { user: 'bob', password: ldap.users.bob.password }, body: { newPassword: 'New-Bob-Pass-1' } });
    expect(atLogin.status).toBe(400);
    expect((await login('bob', 'New-Bob-Pass-1')).status).toBe(401);
    expect((await login('bob', ldap.users.bob.password)).status).toBe(200);
  });
});

describe('the bind password', () => {
  it('is in no answer and no log line, and is sealed in the database', async () => {
    for (const text of answers) expect(text).not.toContain(ldap.bindPassword);
    for (const line of logged) {
      expect(line).not.toContain(ldap.bindPassword);
      for (const u of Object.values(ldap.users)) expect(line).not.toContain(u.password);
    }
    const rows = await s.census.store.db.selectFrom('directories').selectAll().execute();
    expect(rows.length).toBe(2);
    for (const row of rows) {
      expect(row.config).not.toContain(ldap.bindPassword);
      expect(row.bindSecret).not.toContain(ldap.bindPassword);
      expect(SecretBox.keyIdOf(row.bindSecret!)).toBeDefined();
    }
  });

  it('is sealed again by census rotate-key, and directory logins go on working', async () => {
    const before = await s.census.store.db.selectFrom('directories').select(['id', 'bindSecret']).orderBy('id').execute();
    await s.census.stop();
    const result = await rotateKey({ dataDir, log: () => {} });
    expect(result.resealed).toBeGreaterThanOrEqual(2);
    s = await startTestServer({ dataDir, loginPolicy: POLICY });
    const after = await s.census.store.db.selectFrom('directories').select(['id', 'bindSecret']).orderBy('id').execute();
    expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
    for (const [i, row] of after.entries()) {
      expect(row.bindSecret).not.toBe(before[i]!.bindSecret);
      expect(SecretBox.keyIdOf(row.bindSecret!)).toBe(result.current);
    }
    const r = await login('alice', ldap.users.alice.password);
    expect(r.status, r.text).toBe(200);
  });

  it('removing a directory removes the users it made', async () => {
    admin = await s.login();
    expect((await req('DELETE', `/api/ldap/${ldapsId}`, { sid: admin })).status).toBe(204);
    const names = (await req('GET', '/api/security/user', { sid: admin })).json.users.map((u: { name: string }) => u.name);
    expect(names).not.toContain('carol');
    expect(names).toContain('alice');
    expect((await req('GET', `/api/ldap/${ldapsId}/mapping`, { sid: admin })).status).toBe(404);
  });
});

describe('the lock-out', () => {
  it('the lock-out counts directory failures: after enough wrong passwords even the right one waits', async () => {
    await s.login(); // a fresh count for this address
    for (let i = 0; i < POLICY.maxFailures; i++) expect((await login('dan', `wrong-${i}-password`)).status).toBe(401);
    const locked = await login('dan', ldap.users.dan.password);
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBeDefined();
  });
});
