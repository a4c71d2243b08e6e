/**
 * Something for the fuzzer to find: identities, an application server (the machine's own
 * PostgreSQL, on loopback) and one real inventory of it, so job sessions, tasks, changes, log
 * entries, instances and databases exist and fuzzed requests reach handlers with real rows
 * rather than stopping at "not found". `ids` tells the fuzzer which ids are real, by path.
 */
import { runInventory, type TestServer } from '../../support/server.ts';

export interface Estate {
  /** Real ids for a path parameter, by the operation's path and the parameter's name. */
  ids(path: string, param: string): string[];
  /** Strings a body may carry to get past the first checks (identity hrefs, a loopback host). */
  readonly hints: string[];
  /** Registers the server and identities again if the fuzzer deleted them. */
  restore(): Promise<void>;
}

/** A string the key identity's check accepts as a private key (it is never used to log in). */
const NOT_A_REAL_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

export async function buildEstate(s: TestServer, sid: () => string): Promise<Estate> {
  const post = async (path: string, body: unknown) => {
    const r = await s.req('POST', path, { sid: sid(), body });
    if (r.status !== 201) throw new Error(`seeding ${path}: ${r.status} ${r.text}`);
    return r.json as { id: string; links: { self: { href: string } } };
  };
  const known = { user: [] as string[], key: [] as string[], appserver: [] as string[], test: [] as string[] };
  const hints = new Set<string>(['127.0.0.1', 'postgresql', 'mysql', 'file', 'start', '12:30', 'Europe/Berlin']);

  async function restore(): Promise<void> {
    const alive = async (path: string) => (await s.req('GET', path, { sid: sid() })).status === 200;
    if (!known.user[0] || !(await alive(`/api/identity/user/${known.user[0]}`))) {
      const user = await post('/api/identity/user', { name: 'fuzz login', username: 'postgres', password: 'not-needed-trust-auth' });
      known.user.unshift(user.id);
      hints.add(user.links.self.href).add(user.id);
    }
    if (!known.key[0] || !(await alive(`/api/identity/key/${known.key[0]}`))) {
      const key = await post('/api/identity/key', { name: 'fuzz key', username: 'fuzz', privatekey: NOT_A_REAL_KEY });
      known.key.unshift(key.id);
      hints.add(key.links.self.href);
    }
    if (!known.appserver[0] || !(await alive(`/api/appserver/${known.appserver[0]}`))) {
      const server = await post('/api/appserver', {
        name: `fuzz-pg-${known.appserver.length}`, hostAddress: '127.0.0.1', portNumber: 5432, applicationType: 'postgresql',
        osuser: { href: `${s.url}/api/identity/user/${known.user[0]}` },
      });
      known.appserver.unshift(server.id);
    }
  }

  await restore();
  const session = await runInventory(s, sid());
  const sessionId = String(session.id);
  const test = await s.req('POST', `/api/appserver/${known.appserver[0]}?action=test`, { sid: sid(), body: {} });
  known.test.push(String(test.json?.statusHref ?? '').split('/').pop() ?? '1');
  const list = async (path: string, key: string) => ((await s.req('GET', path, { sid: sid() })).json?.[key] ?? []) as { id: string }[];
  const instances = (await list('/api/application/postgresql/instance', 'instances')).map((i) => i.id);
  const databases = instances.length ? (await list(`/api/application/postgresql/instance/${instances[0]}/database`, 'databases')).map((d) => d.id) : [];
  const logs = (await list('/api/endeavour/log/job?pageSize=5', 'logs')).map((l) => l.id);
  const jobs = (await list('/api/endeavour/job', 'jobs')).map((j) => j.id);

  return {
    get hints() {
      return [...hints];
    },
    restore,
    ids(path, param) {
      if (param === 'logId') return logs;
      if (param === 'testId') return known.test;
      if (param === 'dbId') return databases;
      if (param === 'type') return ['postgresql', 'mysql', 'file', 'POSTGRESQL'];
      if (path.startsWith('/api/endeavour/jobsession/{id}')) return [sessionId];
      if (path.includes('/job/') || path.includes('/jobid/')) return jobs;
      if (path.includes('/appserver/')) return known.appserver;
      if (path.startsWith('/api/identity/user/')) return known.user;
      if (path.startsWith('/api/identity/key/')) return known.key;
      if (path.startsWith('/api/application/')) return instances;
      return ['1004'];
    },
  };
}
