/**
 * The directory client (src/directory/) against a real OpenLDAP slapd (test/support/slapd.ts,
 * started once per run by test/global-setup.ts): StartTLS and ldaps:// logins with groups, the
 * ways a login fails, names that try to rewrite the filter, certificates, deadlines, and the
 * connection test.
 */
import net from 'node:net';
import { Client } from 'ldapts';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DomainError } from '../src/core/errors.ts';
import {
  authenticate,
  checkConfig,
  DirectoryError,
  escapeFilterValue,
  testConnection,
  type DirectoryConfig,
} from '../src/directory/ldap.ts';
import { fillFilter } from '../src/directory/filter.ts';
import type { SlapdInfo } from './support/slapd.ts';
import { silentListener } from './support/silent-listener.ts';

const provided = inject('slapd');
let ldap: SlapdInfo;

beforeAll(() => {
  if ('unavailable' in provided) throw new Error(`the test OpenLDAP server did not start: ${provided.unavailable}`);
  ldap = provided;
});

/** StartTLS on the ldap:// port, verified against the test CA, groups by member and memberOf. */
function startTls(overrides: Partial<DirectoryConfig> = {}): DirectoryConfig {
  return {
    url: `ldap://${ldap.host}:${ldap.port}`,
    startTls: true,
    tlsVerify: true,
    caCert: ldap.caCert,
    bindDn: ldap.bindDn,
    bindPassword: ldap.bindPassword,
    userBase: ldap.peopleDn,
    userFilter: '(uid={username})',
    groupBase: ldap.groupsDn,
    groupFilter: '(member={dn})',
    timeoutMs: 5_000,
    ...overrides,
  };
}

function ldaps(overrides: Partial<DirectoryConfig> = {}): DirectoryConfig {
  return startTls({ url: `ldaps://${ldap.host}:${ldap.tlsPort}`, startTls: false, ...overrides });
}

/** The DirectoryError a promise rejects with (the test fails if it resolves or throws another). */
async function directoryError(promise: Promise<unknown>): Promise<DirectoryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DirectoryError);
  return err as DirectoryError;
}

/** A TCP server that counts connections (and closes them). */
async function countingServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = net.createServer((sock) => {
    count++;
    sock.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('authenticate: logins that succeed', () => {
  it('over StartTLS: finds the user, checks the password, reads groups from member and memberOf', async () => {
    const alice = ldap.users.alice;
    const user = await authenticate(startTls(), 'alice', alice.password);
    expect(user).toEqual({
      dn: alice.dn,
      username: 'alice',
      displayName: 'Alice Anders',
      email: 'alice@census.test',
      groups: [ldap.groups.admins, ldap.groups.operators],
    });
  });

  it('over ldaps://, and with posixGroup memberUid as the group filter (the directory name, not the typed case)', async () => {
    const user = await authenticate(ldaps({ groupFilter: '(memberUid={username})' }), 'BOB', ldap.users.bob.password);
    expect(user.username).toBe('bob');
    // ops by memberUid; operators from bob's memberOf.
    expect(user.groups).toEqual([ldap.groups.operators, ldap.posixGroups.ops]);
  });

  it('without a group search: the groups come from memberOf alone', async () => {
    const user = await authenticate(ldaps({ groupBase: undefined, groupFilter: undefined }), 'carol', ldap.users.carol.password);
    expect(user.groups).toEqual([ldap.groups.auditors]);
  });

  it('users whose DNs hold a filter metacharacter (an escaped comma, parentheses) log in and keep their groups', async () => {
    const dan = await authenticate(startTls(), 'dan', ldap.users.dan.password);
    expect(dan.dn).toMatch(/^cn=Smith\\(2C|,) Dan,ou=people,dc=census,dc=test$/i);
    expect(dan.groups).toEqual([ldap.groups.operators]);
    const eve = await authenticate(ldaps(), 'eve', ldap.users.eve.password);
    expect(eve.dn).toBe(ldap.users.eve.dn);
    expect(eve.groups).toEqual([ldap.groups.operators]);
  });

  it('the group filter finds a group by a DN with "\\", "(" and ")" once each is escaped', async () => {
    // Not through memberOf: the group search alone, with the filter authenticate() builds.
    const client = new Client({ url: `ldaps://${ldap.host}:${ldap.tlsPort}`, tlsOptions: { ca: ldap.caCert }, timeout: 5_000 });
    try {
      await client.bind(ldap.bindDn, ldap.bindPassword);
      for (const who of [ldap.users.dan, ldap.users.eve]) {
        const [entry] = (await client.search(ldap.peopleDn, { filter: fillFilter('(uid={username})', { username: who.uid }) })).searchEntries;
        const filter = fillFilter('(member={dn})', { dn: entry!.dn });
        expect(filter).toMatch(/\\5c|\\28/);
        const groups = (await client.search(ldap.groupsDn, { filter, attributes: ['1.1'] })).searchEntries.map((e) => e.dn);
        expect(groups).toEqual([ldap.groups.operators]);
      }
    } finally {
      await client.unbind();
    }
  });
});

describe('authenticate: logins that fail', () => {
  it('a wrong password is bad-credentials (unauthenticated), naming the server and not the password', async () => {
    const wrong = 'not-alices-password';
    const err = await directoryError(authenticate(startTls(), 'alice', wrong));
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('bad-credentials');
    expect(err.kind).toBe('unauthenticated');
    expect(err.description).toContain(`${ldap.host}:${ldap.port}`);
    expect(err.description).not.toContain(wrong);
    expect(err.description).not.toContain(ldap.bindPassword);
    // Another user's password is just as wrong.
    expect((await directoryError(authenticate(ldaps(), 'alice', ldap.users.bob.password))).code).toBe('bad-credentials');
  });

  it('an unknown user is no-such-user', async () => {
    const err = await directoryError(authenticate(startTls(), 'mallory', 'whatever-1'));
    expect(err.code).toBe('no-such-user');
    expect(err.kind).toBe('unauthenticated');
  });

  it('an empty password is refused before any connection (an unauthenticated bind would succeed)', async () => {
    const counter = await countingServer();
    try {
      const config = startTls({ url: `ldap://127.0.0.1:${counter.port}` });
      const err = await directoryError(authenticate(config, 'alice', ''));
      expect(err.code).toBe('bad-credentials');
      expect(err.description).toMatch(/empty password/);
      expect(counter.connections()).toBe(0);
      // An empty user name too.
      expect((await directoryError(authenticate(config, '', 'x'))).code).toBe('no-such-user');
      expect(counter.connections()).toBe(0);
    } finally {
      await counter.close();
    }
    // The server itself would have let it through: a DN with no password binds as anonymous.
    const client = new Client({ url: `ldaps://${ldap.host}:${ldap.tlsPort}`, tlsOptions: { ca: ldap.caCert }, timeout: 5_000 });
    try {
      await expect(client.bind(ldap.users.alice.dn, '')).resolves.toBeUndefined();
    } finally {
      await client.unbind();
    }
  });

  it('filter metacharacters in the name match nobody, however the name tries to rewrite the filter', async () => {
    const password = ldap.users.alice.password;
    for (const name of ['*', 'ali*', ')(uid=*', 'alice)(|(uid=*', '*)(uid=alice', 'alice\\', 'alice\0']) {
      const err = await directoryError(authenticate(startTls(), name, password));
      expect(err.code, name).toBe('no-such-user');
    }
  });

  it('a user filter matching two entries is ambiguous-user, not a login as either', async () => {
    const config = startTls({ userFilter: '(|(uid={username})(uid=bob))' });
    const err = await directoryError(authenticate(config, 'alice', ldap.users.alice.password));
    expect(err.code).toBe('ambiguous-user');
  });

  it("a wrong service account password is bind-failed ('invalid'), without the password in the message", async () => {
    const wrong = 'Service-Pa55-wrong';
    const err = await directoryError(authenticate(ldaps({ bindPassword: wrong }), 'alice', ldap.users.alice.password));
    expect(err.code).toBe('bind-failed');
    expect(err.kind).toBe('invalid');
    expect(err.description).toContain(`${ldap.host}:${ldap.tlsPort}`);
    expect(err.description).not.toContain(wrong);
    expect(err.description).not.toContain(ldap.users.alice.password);
  });

  it('a user base that does not exist is search-failed', async () => {
    const err = await directoryError(authenticate(ldaps({ userBase: 'ou=nobody,dc=census,dc=test' }), 'alice', ldap.users.alice.password));
    expect(err.code).toBe('search-failed');
  });
});

describe('certificates', () => {
  it('tlsVerify refuses a certificate that does not verify, over StartTLS and ldaps://, and passes with its CA', async () => {
    const password = ldap.users.alice.password;
    for (const make of [startTls, ldaps]) {
      for (const caCert of [undefined, ldap.otherCaCert]) {
        const err = await directoryError(authenticate(make({ caCert }), 'alice', password));
        expect(err.code).toBe('tls');
        expect(err.description).toMatch(/certificate/i);
        expect(err.description).toContain(ldap.host);
      }
      await expect(authenticate(make({ caCert: ldap.caCert }), 'alice', password)).resolves.toMatchObject({ username: 'alice' });
    }
  });

  it('with tlsVerify off, an unverified certificate is accepted (still TLS)', async () => {
    await expect(authenticate(ldaps({ tlsVerify: false, caCert: undefined }), 'alice', ldap.users.alice.password)).resolves.toMatchObject({ username: 'alice' });
  });

  it('ldaps:// to the plain port fails as a TLS error', async () => {
    const err = await directoryError(authenticate(ldaps({ url: `ldaps://${ldap.host}:${ldap.port}` }), 'alice', ldap.users.alice.password));
    expect(err.code).toBe('tls');
  });
});

describe('deadlines and unreachable servers', () => {
  it('a refused port fails at once as unreachable', async () => {
    const port = await closedPort();
    const err = await directoryError(authenticate(ldaps({ url: `ldaps://127.0.0.1:${port}` }), 'alice', 'x'));
    expect(err.code).toBe('unreachable');
    expect(err.during).toBe('connect');
    expect(err.description).toContain(`127.0.0.1:${port}`);
  });

  it('a server that never answers fails at the deadline, StartTLS and ldaps:// alike', async () => {
    const silent = await silentListener();
    try {
      for (const config of [
        startTls({ url: `ldap://127.0.0.1:${silent.port}`, timeoutMs: 300 }),
        ldaps({ url: `ldaps://127.0.0.1:${silent.port}`, timeoutMs: 300 }),
      ]) {
        const started = Date.now();
        const err = await directoryError(authenticate(config, 'alice', 'x'));
        const took = Date.now() - started;
        expect(err.code).toBe('timeout');
        expect(err.description).toMatch(new RegExp(`127\\.0\\.0\\.1:${silent.port} did not finish (StartTLS|the TLS handshake) within 300 ms`));
        expect(took).toBeGreaterThanOrEqual(290);
        expect(took).toBeLessThan(3_000);
      }
    } finally {
      await silent.close();
    }
  });
});

describe('connections', () => {
  const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;

  /** Waits (with a deadline) until the count of open sockets is back to `count`. */
  async function socketsBackTo(count: number): Promise<number> {
    const deadline = Date.now() + 2_000;
    while (openSockets() > count && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    return openSockets();
  }

  it('are all closed after a login, a failed login, a timeout and a connection test', async () => {
    // Sockets of earlier tests may still be closing: start from a settled count.
    const before = await socketsBackTo(0);
    const silent = await silentListener();
    try {
      await authenticate(startTls(), 'alice', ldap.users.alice.password);
      await authenticate(ldaps(), 'bob', ldap.users.bob.password);
      await directoryError(authenticate(ldaps(), 'alice', 'wrong-password'));
      await directoryError(authenticate(startTls({ caCert: undefined }), 'alice', 'x'));
      await directoryError(authenticate(startTls({ url: `ldap://127.0.0.1:${silent.port}`, timeoutMs: 200 }), 'alice', 'x'));
      await testConnection(ldaps());
      expect(await socketsBackTo(before)).toBeLessThanOrEqual(before);
    } finally {
      await silent.close();
    }
  });
});

describe('testConnection', () => {
  it('passes every check on a good config', async () => {
    for (const config of [startTls(), ldaps()]) {
      const result = await testConnection(config);
      expect(result.checks.map((c) => [c.name, c.status])).toEqual([
        ['connect', 'SUCCESS'],
        ['tls', 'SUCCESS'],
        ['bind', 'SUCCESS'],
        ['user-base', 'SUCCESS'],
        ['group-base', 'SUCCESS'],
      ]);
      expect(result.ok).toBe(true);
    }
  });

  it('warns when the certificate is not verified, and skips the group base when none is set', async () => {
    const result = await testConnection(ldaps({ tlsVerify: false, caCert: undefined, groupBase: undefined, groupFilter: undefined }));
    expect(result.ok).toBe(true);
    expect(result.checks.find((c) => c.name === 'tls')).toMatchObject({ status: 'WARNING', message: expect.stringMatching(/NOT verified/) });
    expect(result.checks.find((c) => c.name === 'group-base')?.status).toBe('SKIPPED');
  });

  it('names the failed check and skips the rest', async () => {
    const statuses = async (config: DirectoryConfig) => {
      const result = await testConnection(config);
      expect(result.ok).toBe(false);
      for (const c of result.checks) expect(c.message).not.toContain(config.bindPassword);
      return result.checks.map((c) => c.status).join(' ');
    };
    const port = await closedPort();
    expect(await statuses(ldaps({ url: `ldaps://127.0.0.1:${port}` }))).toBe('FAILED SKIPPED SKIPPED SKIPPED SKIPPED');
    expect(await statuses(startTls({ caCert: ldap.otherCaCert }))).toBe('SUCCESS FAILED SKIPPED SKIPPED SKIPPED');
    expect(await statuses(ldaps({ bindPassword: 'wrong-service-pw' }))).toBe('SUCCESS SUCCESS FAILED SKIPPED SKIPPED');
    expect(await statuses(ldaps({ userBase: 'ou=nobody,dc=census,dc=test' }))).toBe('SUCCESS SUCCESS SUCCESS FAILED SKIPPED');
    expect(await statuses(ldaps({ groupBase: 'ou=nogroups,dc=census,dc=test' }))).toBe('SUCCESS SUCCESS SUCCESS SUCCESS FAILED');
  });
});

describe('config checks (before any connection)', () => {
  const refused = (overrides: Partial<DirectoryConfig>) => {
    let thrown: unknown;
    try {
      checkConfig(startTls(overrides));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect((thrown as DomainError).kind).toBe('invalid');
    return (thrown as DomainError).code;
  };

  it('refuses what cannot work or would send passwords in clear', () => {
    expect(refused({ url: 'http://127.0.0.1:389' })).toBe('directory.url');
    expect(refused({ url: 'not a url' })).toBe('directory.url');
    expect(refused({ url: 'ldap://127.0.0.1:389/dc=census,dc=test' })).toBe('directory.url');
    expect(refused({ startTls: false })).toBe('directory.startTls');
    expect(refused({ url: 'ldaps://127.0.0.1:636', startTls: true })).toBe('directory.startTls');
    expect(refused({ bindPassword: '' })).toBe('directory.bindPassword');
    expect(refused({ bindDn: ' ' })).toBe('directory.bindDn');
    expect(refused({ userFilter: '(uid=alice)' })).toBe('directory.userFilter');
    expect(refused({ userFilter: '(uid={username}' })).toBe('directory.userFilter');
    expect(refused({ groupFilter: undefined })).toBe('directory.groupFilter');
    expect(refused({ caCert: 'not pem' })).toBe('directory.caCert');
    expect(refused({ timeoutMs: 0 })).toBe('directory.timeoutMs');
  });

  it('authenticate and testConnection refuse the same way, without connecting', async () => {
    await expect(authenticate(startTls({ startTls: false }), 'alice', 'x')).rejects.toMatchObject({ kind: 'invalid', code: 'directory.startTls' });
    await expect(testConnection(startTls({ userFilter: '(uid=*)' }))).rejects.toMatchObject({ kind: 'invalid', code: 'directory.userFilter' });
  });

  it('escapes the five characters RFC 4515 names, and nothing else', () => {
    expect(escapeFilterValue('a*b(c)d\\e\0f')).toBe('a\\2ab\\28c\\29d\\5ce\\00f');
    expect(escapeFilterValue('Zoë Ünal, x=1')).toBe('Zoë Ünal, x=1');
    expect(fillFilter('(&(uid={username})(x={username})(y={other}))', { username: '*' })).toBe('(&(uid=\\2a)(x=\\2a)(y={other}))');
  });
});
