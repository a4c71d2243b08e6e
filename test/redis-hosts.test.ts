/**
 * Redis through the API, on a throwaway redis-server with a password: registration, an
 * inventory with its keyspaces as children, a keyspace emptied between two runs reported as
 * disappeared, readiness findings, and a wrong password failing that server alone.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis-server.ts';
import { runInventory as runJob, startTestServer, type TestServer } from './support/server.ts';

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
