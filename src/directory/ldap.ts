/**
 * Directory login: a user's password checked by an LDAP server, and the groups they are in.
 *
 * authenticate() binds as the service account, finds the user with the user filter (the name
 * escaped, RFC 4515), binds as that user with the given password, then binds back as the service
 * account to read the groups (groupFilter, and the user's memberOf). Every step runs under the
 * config's deadline and every connection is closed at the end, whatever happened.
 */
import type { Entry } from 'ldapts';
import { checkConfig, type DirectoryConfig } from './config.ts';
import { Connection } from './connection.ts';
import { DirectoryError } from './errors.ts';
import { fillFilter } from './filter.ts';

export type { DirectoryConfig } from './config.ts';
export { checkConfig } from './config.ts';
export { DirectoryError, type DirectoryErrorCode } from './errors.ts';
export { escapeFilterValue } from './filter.ts';

export interface DirectoryUser {
  /** The user's DN, as the server writes it. */
  dn: string;
  /** The login name as the directory has it (usernameAttribute), else as typed. */
  username: string;
  displayName?: string;
  email?: string;
  /** DNs of the user's groups (groupFilter's matches and memberOf), sorted, each once. */
  groups: string[];
}

/** One check of testConnection, in the shape of an application server's connection test. */
export interface DirectoryCheck {
  name: 'connect' | 'tls' | 'bind' | 'user-base' | 'group-base';
  description: string;
  status: 'SUCCESS' | 'FAILED' | 'WARNING' | 'SKIPPED';
  /** For a person; names the server, never contains a password. */
  message: string;
}

export interface DirectoryTestResult {
  /** No check FAILED. */
  ok: boolean;
  checks: DirectoryCheck[];
}

const USER_SEARCH_LIMIT = 2; // one match is the user; a second makes the name ambiguous
const GROUP_SEARCH_LIMIT = 1000;

/**
 * Checks `password` for `username` against the directory. Throws a DirectoryError (bad-credentials,
 * no-such-user, ambiguous-user, or what kept the server from answering) or, for a config that
 * cannot work, a DomainError of kind 'invalid'.
 */
export async function authenticate(config: DirectoryConfig, username: string, password: string): Promise<DirectoryUser> {
  const endpoint = checkConfig(config);
  if (typeof username !== 'string' || username === '') throw new DirectoryError('no-such-user', `No user name was given for the directory server ${endpoint.where}.`);
  // Refused before any connection: a simple bind with a DN and no password is an "unauthenticated
  // bind" (RFC 4513 §5.1.2) that many servers accept as anonymous, i.e. a login with no password.
  if (typeof password !== 'string' || password === '') {
    throw new DirectoryError('bad-credentials', `An empty password is refused: the directory server ${endpoint.where} was not asked.`);
  }
  const usernameAttribute = config.usernameAttribute ?? 'uid';
  const conn = await Connection.open(config, endpoint, [password]);
  try {
    await conn.bindService();
    const entry = await findUser(conn, username, usernameAttribute);
    await conn.step("the bind as the user", 'bad-credentials', () => conn.client.bind(entry.dn, password));
    // The groups are read as the service account: what a user may read of the directory varies.
    await conn.bindService();
    const directoryName = first(entry[usernameAttribute]) ?? username;
    const groups = new Map<string, string>(); // lower-cased DN → DN
    for (const dn of all(entry['memberOf'])) groups.set(dn.toLowerCase(), dn);
    if (config.groupBase && config.groupFilter) {
      const filter = fillFilter(config.groupFilter, { dn: entry.dn, username: directoryName });
      const found = await conn.step('the group search', 'search-failed', () =>
        conn.client.search(config.groupBase!, { scope: 'sub', filter, attributes: ['1.1'], sizeLimit: GROUP_SEARCH_LIMIT }),
      );
      for (const g of found.searchEntries) if (!groups.has(g.dn.toLowerCase())) groups.set(g.dn.toLowerCase(), g.dn);
    }
    const displayName = first(entry['displayName']) ?? first(entry['cn']);
    const email = first(entry['mail']);
    return {
      dn: entry.dn,
      username: directoryName,
      ...(displayName !== undefined ? { displayName } : {}),
      ...(email !== undefined ? { email } : {}),
      groups: [...groups.values()].sort(),
    };
  } finally {
    await conn.close();
  }
}

async function findUser(conn: Connection, username: string, usernameAttribute: string): Promise<Entry> {
  const { config, endpoint } = conn;
  const filter = fillFilter(config.userFilter, { username });
  const result = await conn.step('the user search', 'search-failed', () =>
    conn.client.search(config.userBase, {
      scope: 'sub',
      filter,
      attributes: [usernameAttribute, 'cn', 'displayName', 'mail', 'memberOf'],
      sizeLimit: USER_SEARCH_LIMIT,
    }),
  );
  const entries = result.searchEntries;
  if (entries.length === 0) throw new DirectoryError('no-such-user', `The directory server ${endpoint.where} has no user matching ${filter} under ${config.userBase}.`);
  if (entries.length > 1) {
    throw new DirectoryError('ambiguous-user', `More than one entry under ${config.userBase} on ${endpoint.where} matches ${filter}: the user filter must match one user.`);
  }
  return entries[0]!;
}

type Value = Entry[string];

function all(value: Value | undefined): string[] {
  if (value === undefined) return [];
  return [value].flat().map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

const first = (value: Value | undefined): string | undefined => all(value)[0];

const CHECKS: Record<DirectoryCheck['name'], string> = {
  connect: 'reach the directory server over TCP',
  tls: 'set up TLS (ldaps:// or StartTLS) and verify the server certificate',
  bind: 'bind as the service account (bindDn)',
  'user-base': 'read the user base (userBase)',
  'group-base': 'read the group base (groupBase)',
};

/**
 * The connection test of a directory: connect, TLS, the service account's bind, and a read of the
 * user and group bases. Never throws for a failed check (the checks after it are SKIPPED); a config
 * that cannot work throws a DomainError of kind 'invalid', as authenticate() does.
 */
export async function testConnection(config: DirectoryConfig): Promise<DirectoryTestResult> {
  const endpoint = checkConfig(config);
  const checks: DirectoryCheck[] = [];
  const add = (name: DirectoryCheck['name'], status: DirectoryCheck['status'], message: string) =>
    checks.push({ name, description: CHECKS[name], status, message });
  const skipRest = (after: DirectoryCheck['name']) => {
    for (const name of Object.keys(CHECKS) as DirectoryCheck['name'][]) {
      if (!checks.some((c) => c.name === name)) add(name, 'SKIPPED', `not run: the "${after}" check failed`);
    }
  };
  const tlsKind = endpoint.secure ? 'ldaps://' : 'StartTLS';
  const verified = config.tlsVerify
    ? `the certificate verifies against ${config.caCert ? 'the given CA' : "the system's CAs"}`
    : 'the certificate was NOT verified (tlsVerify is off)';

  let conn: Connection;
  try {
    conn = await Connection.open(config, endpoint);
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    if (err.during === 'connect') add('connect', 'FAILED', err.message);
    else {
      add('connect', 'SUCCESS', `${endpoint.where} accepts connections`);
      add('tls', 'FAILED', err.message);
    }
    skipRest(checks.at(-1)!.name);
    return { ok: false, checks };
  }
  try {
    add('connect', 'SUCCESS', `${endpoint.where} accepts connections`);
    add('tls', config.tlsVerify ? 'SUCCESS' : 'WARNING', `${tlsKind} is set up; ${verified}`);
    const probes: [DirectoryCheck['name'], () => Promise<string>][] = [
      ['bind', async () => (await conn.bindService(), `bound as ${config.bindDn}`)],
      ['user-base', () => readBase(conn, config.userBase)],
      ['group-base', () => readBase(conn, config.groupBase)],
    ];
    for (const [name, probe] of probes) {
      try {
        const message = await probe();
        add(name, message.startsWith('not set') ? 'SKIPPED' : 'SUCCESS', message);
      } catch (err) {
        add(name, 'FAILED', err instanceof Error ? err.message : String(err));
        skipRest(name);
        break;
      }
    }
  } finally {
    await conn.close();
  }
  return { ok: !checks.some((c) => c.status === 'FAILED'), checks };
}

async function readBase(conn: Connection, base: string | undefined): Promise<string> {
  if (!base) return 'not set: groups come from the users\' memberOf only';
  await conn.step(`the read of ${base}`, 'search-failed', () => conn.client.search(base, { scope: 'base', attributes: ['1.1'] }));
  return `${base} exists and the service account may read it`;
}
