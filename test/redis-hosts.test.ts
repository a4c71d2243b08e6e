/**
 * Redis through the API, on a throwaway redis-server with a password: registration, an
 * inventory with its keyspaces as children, a keyspace emptied between two runs reported as
 * disappeared, readiness findings, and a wrong password failing that server alone. And one whose
 * default user has no password, registered with an empty one (which only such types take).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis-server.ts';
import { runInventory as runJob, startTestServer, waitFor, type TestServer } from './support/server.ts';

const password = `Redis-${Math.random().toString(36).slice(2, 10)}`;

describe('Redis hosts', () => {
  let s: TestServer;
  let sid: string;
  let redis: RedisProcess;
  let other: RedisProcess;

  const cli = (...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--no-auth-warning', '-a', password, ...args]).toString().trim();

  beforeAll(async () => {
    redis = await startRedis(['--requirepass', password, '--save', '']);
    other = await startRedis(['--requirepass', `${password}-other`, '--save', '']);
    cli('-n', '3', 'SET', 'a', '1');
    cli('-n', '3', 'SET', 'b', '2', 'EX', '3600');
    cli('-n', '5', 'SET', 'c', '3');
    s = await startTestServer();
    sid = await s.login();
  });

  afterAll(async () => {
    await s?.stop();
    await redis?.stop();
    await other?.stop();
  });

  it('registers a server that asks for no password with an empty one, tests and inventories it; other types and stored identities still need one', async () => {
    const open = await startRedis(['--save', '']);
    let id: string | undefined;
    try {
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(open.port), '-n', '2', 'SET', 'k', 'v']);
      const collector = (await s.req('GET', '/api/census/collector/redis', { sid })).json;
      expect(collector.passwordOptional).toBe(true);
      expect((await s.req('GET', '/api/census/collector/postgresql', { sid })).json.passwordOptional).toBe(false);

      const reg = await s.req('POST', '/ngp/appserver', {
        sid, body: { name: 'open-cache', hostAddress: '127.0.0.1', portNumber: open.port, applicationType: 'redis', username: 'default', password: '', addToCatJob: false },
      });
      expect(reg.status, reg.text).toBe(201);
      id = reg.json.response.id as string;
      const test = await s.req('POST', `/api/appserver/${id}?action=test`, { sid, body: {} });
      expect(test.status, test.text).toBe(200);
      const checks = test.json.configGroups.flatMap((g: { tests: { name: string; status: string }[] }) => g.tests);
      expect(checks.find((c: { name: string }) => c.name === 'login')).toMatchObject({ status: 'SUCCESS' });

      const run = await runJob(s, sid);
      expect(run.status).toBe('COMPLETED');
      const instances = (await s.req('GET', '/api/application/redis/instance', { sid })).json.instances as { port: number; links: { databases: { href: string } } }[];
      const mine = instances.find((i) => i.port === open.port)!;
      const keyspaces = (await s.req('GET', mine.links.databases.href, { sid })).json.databases as { name: string }[];
      expect(keyspaces.map((k) => k.name)).toEqual(['db2']);

      // A CSV leaves an empty cell out: for such a type, no password is none too.
      expect((await s.req('DELETE', `/api/appserver/${id}`, { sid })).status).toBe(204);
      id = undefined;
      const csv = ['name,hostAddress,portNumber,applicationType,username,password', `open-csv,127.0.0.1,${open.port},redis,default,`].join('\n');
      const bulk = await s.req('POST', '/api/appserver?action=bulk', { sid, raw: csv, headers: { 'Content-Type': 'text/csv' } });
      expect(bulk.status, bulk.text).toBe(201);
      id = bulk.json.appservers[0].id as string;
      const session = await waitFor(async () => {
        const x = await s.req('GET', `/api/endeavour/jobsession/${bulk.json.sessionId}`, { sid });
        return x.json.status === 'RUNNING' ? undefined : x.json;
      }, 'the CSV session to end');
      expect(session.status).toBe('COMPLETED');

      // PostgreSQL's servers ask for a password: an empty one is refused before anything is stored.
      const pg = await s.req('POST', '/ngp/appserver', {
        sid, body: { name: 'no-pw-pg', hostAddress: '127.0.0.1', applicationType: 'postgresql', username: 'postgres', password: '' },
      });
      expect(pg.status).toBe(400);
      expect(pg.json.description).toContain('"password" is required');
      const pgWithout = await s.req('POST', '/ngp/appserver', { sid, body: { name: 'no-pw-pg', hostAddress: '127.0.0.1', applicationType: 'postgresql', username: 'postgres' } });
      expect(pgWithout.status).toBe(400);
      // A stored identity is not tied to a type: it always has a password.
      expect((await s.req('POST', '/api/identity/user', { sid, body: { username: 'default', password: '' } })).status).toBe(400);
    } finally {
      // The next test inventories every registered server and expects each to answer.
      if (id) expect((await s.req('DELETE', `/api/appserver/${id}`, { sid })).status).toBe(204);
      await open.stop();
    }
  });

  it('inventories keyspaces, reports an emptied one as disappeared, and fails a wrong password alone', async () => {
    const reg = await s.req('POST', '/ngp/appserver', {
      sid, body: { name: 'cache1', hostAddress: '127.0.0.1', portNumber: redis.port, applicationType: 'redis', username: 'default', password },
    });
    expect(reg.status, reg.text).toBe(201);
    expect((await runJob(s, sid)).status).toBe('COMPLETED');
    const instance = (await s.req('GET', '/api/application/redis/instance', { sid })).json.instances[0];
    expect(instance.version).toBe(cli('INFO', 'server').match(/redis_version:(\S+)/)![1]);
    expect(instance.findings.map((f: { code: string }) => f.code)).toEqual(expect.arrayContaining(['NO_PERSISTENCE', 'NO_MAXMEMORY']));
    const keyspaces = (await s.req('GET', instance.links.databases.href, { sid })).json.databases as { name: string; properties: { keys: number; expires: number } }[];
    expect(keyspaces.map((k) => [k.name, k.properties.keys, k.properties.expires]).sort()).toEqual([['db3', 2, 1], ['db5', 1, 0]]);

    cli('-n', '5', 'FLUSHDB');
    const second = await runJob(s, sid);
    expect(second.status).toBe('COMPLETED');
    const changes = (await s.req('GET', `/api/endeavour/jobsession/${second.id}/change`, { sid })).json.changes;
    // A keyspace is recorded as what the collector says it is (its first childType), not as a database.
    expect(changes).toEqual(expect.arrayContaining([expect.objectContaining({ objectType: 'keyspace', objectName: 'db5', change: 'disappeared' })]));

    // A second server whose password is not the one given: that server fails, the first does not.
    const wrong = await s.req('POST', '/ngp/appserver', {
      sid, body: { name: 'cache-wrong', hostAddress: '127.0.0.1', portNumber: other.port, applicationType: 'redis', username: 'default', password },
    });
    expect(wrong.status, wrong.text).toBe(201);
    const third = await runJob(s, sid);
    expect(third.status).toBe('PARTIAL');
    const log = (await s.req('GET', `/api/endeavour/log/job?pageSize=500&filter=${encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: third.id }]))}`, { sid })).json.logs as { type: string; message: string }[];
    expect(log.some((l) => l.type === 'ERROR' && l.message.includes('cache-wrong'))).toBe(true);
    expect(JSON.stringify(log)).not.toContain(password);
  });
});
