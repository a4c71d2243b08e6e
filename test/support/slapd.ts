/**
 * A throwaway OpenLDAP server for the directory-login tests: Debian's /usr/sbin/slapd, installed
 * with scripts/apt-install.sh when missing (as root, as scripts/ensure-sshd.sh does for sshd), run in the
 * foreground with its own slapd.conf, mdb database and certificates under a temp directory, on
 * two free loopback ports: ldap:// (StartTLS offered) and ldaps://. The machine's /etc/ldap and
 * slapd service stay untouched: no service is started by the install (a policy-rc.d that forbids
 * it is in place), and stop() kills the process and removes the directory.
 *
 * The directory (dc=census,dc=test) holds people, a service account for searches and groups of
 * both kinds: groupOfNames (member DNs; the memberof overlay gives each user memberOf) and
 * posixGroup (memberUid). Two users have DNs with characters a filter must escape: a comma
 * (escaped in the DN as `\,`) and parentheses.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';

const SLAPD = '/usr/sbin/slapd';
const APT_INSTALL = fileURLToPath(new URL('../../scripts/apt-install.sh', import.meta.url));
const SLAPADD = '/usr/sbin/slapadd';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;

export const BASE_DN = 'dc=census,dc=test';
const PEOPLE = `ou=people,${BASE_DN}`;
const GROUPS = `ou=groups,${BASE_DN}`;
const ROOT_DN = `cn=admin,${BASE_DN}`;

export interface DirectoryUser {
  uid: string;
  dn: string;
  cn: string;
  mail: string;
  password: string;
}

/** Everything a test needs to reach the server; plain data, so vitest can `provide` it. */
export interface SlapdInfo {
  host: string;
  /** ldap:// port; StartTLS is offered there. */
  port: number;
  /** ldaps:// port. */
  tlsPort: number;
  /** The CA that signed the server's certificate (PEM). */
  caCert: string;
  /** An unrelated CA (PEM): the server's certificate does not verify against it. */
  otherCaCert: string;
  baseDn: string;
  peopleDn: string;
  groupsDn: string;
  /** The service account, which may read people and groups (but no passwords). */
  bindDn: string;
  bindPassword: string;
  users: Record<'alice' | 'bob' | 'carol' | 'dan' | 'eve', DirectoryUser>;
  /** groupOfNames DNs. */
  groups: Record<'admins' | 'operators' | 'auditors', string>;
  /** posixGroup DNs (memberUid). */
  posixGroups: Record<'ops', string>;
}

export interface Slapd extends SlapdInfo {
  info(): SlapdInfo;
  output(): string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 4 << 20, env: options.env ?? process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${`${stderr}\n${stdout}`.trim().split('\n').slice(-20).join('\n') || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Within this process, the install runs once; apt's own lock serializes it across processes. */
let installing: Promise<void> | undefined;

/** Installs Debian's slapd and ldap-utils when /usr/sbin/slapd is missing (root only). */
export async function ensureSlapd(): Promise<void> {
  if (existsSync(SLAPD) && existsSync(SLAPADD)) return;
  installing ??= installSlapd();
  await installing;
}

async function installSlapd(): Promise<void> {
  // The one installer of the tests' Debian packages: root only, starts no service.
  await run(APT_INSTALL, ['slapd-harness', 'slapd', 'ldap-utils'], { timeoutMs: 600_000 });
  if (!existsSync(SLAPD)) throw new Error(`slapd was installed but ${SLAPD} is still missing`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** RFC 2307's {SSHA}: the directory stores no clear password, as a real one would not. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** A CA, and a server certificate it signs for 127.0.0.1/localhost; plus an unrelated CA. */
async function makeCertificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string) =>
    run('openssl', ['req', '-x509', ...ec, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await ca('ca', 'Census test directory CA');
  await ca('other-ca', 'Census unrelated CA');
  await run('openssl', ['req', ...ec, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=localhost']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial',
    '-out', join(dir, 'server.pem'), '-days', '2', '-extfile', join(dir, 'server.ext')]);
}

function slapdConf(dir: string, rootPassword: string, bindDn: string): string {
  return [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/nis.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'moduleload memberof',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
    `TLSCertificateFile ${join(dir, 'server.pem')}`,
    `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
    // Like many directories (Active Directory among them): a DN with an empty password binds as
    // anonymous, so the tests show the client refusing an empty password where the server would not.
    'allow bind_anon_dn',
    '',
    'database mdb',
    'maxsize 16777216',
    `suffix "${BASE_DN}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ssha(rootPassword)}`,
    `directory ${join(dir, 'db')}`,
    'index objectClass eq',
    'index uid,member,memberUid eq',
    // Passwords are only ever compared (a bind), never read; the service account reads the rest.
    'access to attrs=userPassword by self =w by anonymous auth by * none',
    `access to * by dn.exact="${bindDn}" read by self read by * none`,
    // After the database's own settings: what follows belongs to the overlay.
    'overlay memberof',
    '',
  ].join('\n');
}

function entry(dn: string, attrs: Record<string, string | string[]>): string {
  const lines = [`dn: ${dn}`];
  for (const [name, value] of Object.entries(attrs)) for (const v of [value].flat()) lines.push(`${name}: ${v}`);
  return lines.join('\n');
}

function person(uid: string, rdn: string, cn: string, password: string): DirectoryUser {
  return { uid, dn: `${rdn},${PEOPLE}`, cn, mail: `${uid}@census.test`, password };
}

/**
 * Starts a fresh server with the test directory loaded. Installs slapd first when it is missing.
 */
export async function startSlapd(): Promise<Slapd> {
  await ensureSlapd();
  const dir = await mkdtemp(join(tmpdir(), 'census-slapd-'));
  try {
    return await startIn(dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(dir: string): Promise<Slapd> {
  const secret = () => `T-${randomBytes(9).toString('base64url')}`;
  const rootPassword = secret();
  const bindDn = `cn=census-bind,ou=services,${BASE_DN}`;
  const bindPassword = secret();
  const users = {
    alice: person('alice', 'uid=alice', 'Alice Anders', secret()),
    bob: person('bob', 'uid=bob', 'Bob Brown', secret()),
    carol: person('carol', 'uid=carol', 'Carol Clark', secret()),
    // DNs a filter must escape: "\," in the DN is "\5c," in a filter, and "(", ")" are "\28", "\29".
    dan: person('dan', 'cn=Smith\\, Dan', 'Smith, Dan', secret()),
    eve: person('eve', 'cn=Eve (ops)', 'Eve (ops)', secret()),
  };
  const groups = { admins: `cn=admins,${GROUPS}`, operators: `cn=operators,${GROUPS}`, auditors: `cn=auditors,${GROUPS}` };
  const posixGroups = { ops: `cn=ops,${GROUPS}` };

  await makeCertificates(dir);
  await mkdir(join(dir, 'db'));
  await writeFile(join(dir, 'slapd.conf'), slapdConf(dir, rootPassword, bindDn));

  // Offline load of the tree and the people (slapadd), before the server runs.
  const ldif = [
    entry(BASE_DN, { objectClass: ['dcObject', 'organization'], dc: 'census', o: 'Census test directory' }),
    entry(PEOPLE, { objectClass: 'organizationalUnit', ou: 'people' }),
    entry(GROUPS, { objectClass: 'organizationalUnit', ou: 'groups' }),
    entry(`ou=services,${BASE_DN}`, { objectClass: 'organizationalUnit', ou: 'services' }),
    entry(bindDn, { objectClass: 'person', cn: 'census-bind', sn: 'service', userPassword: ssha(bindPassword) }),
    ...Object.values(users).map((u) =>
      entry(u.dn, {
        objectClass: 'inetOrgPerson',
        uid: u.uid,
        cn: u.cn,
        sn: u.cn.split(/[ ,]/)[0]!,
        mail: u.mail,
        userPassword: ssha(u.password),
      }),
    ),
    '',
  ].join('\n\n');
  await writeFile(join(dir, 'base.ldif'), ldif);
  await run(SLAPADD, ['-q', '-f', join(dir, 'slapd.conf'), '-l', join(dir, 'base.ldif')]);

  let child: ChildProcess | undefined;
  let port = 0;
  let tlsPort = 0;
  let log = '';
  // A free port may be taken between probing and binding: try a few.
  for (let attempt = 1; attempt <= 3 && !child; attempt++) {
    port = await freePort();
    tlsPort = await freePort();
    log = '';
    // -d keeps slapd in the foreground (so it dies with its handle); level "none" (32768) logs
    // to stderr only what is always logged (start-up errors), not every operation.
    const proc = spawn(SLAPD, ['-d', '32768', '-f', join(dir, 'slapd.conf'), '-h', `ldap://${HOST}:${port}/ ldaps://${HOST}:${tlsPort}/`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    if (await waitUntilListening(proc, [port, tlsPort])) child = proc;
    else if (attempt === 3) throw new Error(`slapd did not start on ${HOST}:${port}/${tlsPort}:\n${log}`);
  }
  const slapd = child!;
  const killOnExit = () => slapd.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (slapd.exitCode === null && slapd.signalCode === null) {
      const exited = new Promise<void>((resolve) => slapd.once('exit', () => resolve()));
      slapd.kill('SIGTERM');
      const timer = setTimeout(() => slapd.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // Groups go in online, so that the memberof overlay (which slapadd bypasses) writes memberOf.
    const admin = new Client({ url: `ldap://${HOST}:${port}`, timeout: 10_000, connectTimeout: 10_000 });
    try {
      await admin.bind(ROOT_DN, rootPassword);
      const group = (dn: string, cn: string, members: DirectoryUser[]) =>
        admin.add(dn, { objectClass: 'groupOfNames', cn, member: members.map((m) => m.dn) });
      await group(groups.admins, 'admins', [users.alice]);
      await group(groups.operators, 'operators', [users.alice, users.bob, users.dan, users.eve]);
      await group(groups.auditors, 'auditors', [users.carol]);
      await admin.add(posixGroups.ops, { objectClass: 'posixGroup', cn: 'ops', gidNumber: '5000', memberUid: ['alice', 'bob'] });
    } finally {
      await admin.unbind().catch(() => {});
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const info: SlapdInfo = {
    host: HOST,
    port,
    tlsPort,
    caCert: await readFile(join(dir, 'ca.pem'), 'utf8'),
    otherCaCert: await readFile(join(dir, 'other-ca.pem'), 'utf8'),
    baseDn: BASE_DN,
    peopleDn: PEOPLE,
    groupsDn: GROUPS,
    bindDn,
    bindPassword,
    users,
    groups,
    posixGroups,
  };
  return { ...info, info: () => info, output: () => log, stop };
}

/** One attempt: does the port accept a TCP connection? */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls until every port accepts (true), or slapd exits or the deadline passes (false, killed). */
async function waitUntilListening(proc: ChildProcess, ports: number[]): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = proc.exitCode !== null;
  proc.once('exit', () => (exited = true));
  while (!exited && Date.now() < deadline) {
    if ((await Promise.all(ports.map(accepts))).every(Boolean)) return true;
    if (exited) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!exited) {
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await gone;
  }
  return false;
}
