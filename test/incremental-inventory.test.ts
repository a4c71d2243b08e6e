/**
 * Incremental inventory through the API, against real servers: the password-checking PostgreSQL
 * cluster (behind a TCP relay that notes which database each login asks for), the machine's
 * MariaDB and a throwaway Redis. A second run over an unchanged estate logs in to no database
 * but the home one and records no changes; then one extension, one database setting, one
 * database dropped and one created, and one Redis key count change, and the next run finds each.
 */
import { execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { startRedis, type RedisProcess } from './support/redis-server.ts';
import { startTcpRelay } from './support/tcp-relay.ts';
import { runInventory as runJob, startTestServer, type TestServer } from './support/server.ts';

const suffix = Math.random().toString(36).slice(2, 8);
const [extDb, setDb, dropDb, quietDb, newDb] = ['ext', 'set', 'drop', 'quiet', 'new'].map((n) => `inc_${n}_${suffix}`) as [string, string, string, string, string];
const mine = [extDb, setDb, dropDb, quietDb, newDb];
const schema = `inc_schema_${suffix}`;
const myUser = `census_inc_${suffix}`;
const myPass = `Pw-${suffix}-x`;
const redisPass = `Redis-${suffix}`;

/**
 * A relay in front of PostgreSQL that reads each connection's startup packet (length, protocol,
 * then key\0value\0 pairs) and notes the database asked for: the log of logins the test counts.
 */
async function startLoginRelay(targetPort: number): Promise<{ port: number; logins: string[]; close(): Promise<void> }> {
  const logins: string[] = [];
  const relay = await startTcpRelay(targetPort, () => {
    let head: Buffer | null = Buffer.alloc(0);
    return (chunk) => {
      if (head === null) return;
      head = Buffer.concat([head, chunk]);
      if (head.length < 4 || head.length < head.readInt32BE(0)) return;
      const params = head.subarray(8, head.readInt32BE(0)).toString('utf8').split('\0');
      const at = params.indexOf('database');
      logins.push(at >= 0 ? params[at + 1]! : params[params.indexOf('user') + 1]!);
      head = null;
    };
  });
  return { ...relay, logins };
}

interface ChangeRow { objectType: string; objectName: string; parentName: string | null; change: string; field: string | null; oldValue: string | null; newValue: string | null }

describe('incremental inventory', () => {
  let s: TestServer;
  let sid: string;
  let relay: Awaited<ReturnType<typeof startLoginRelay>>;
  let redis: RedisProcess;
  let root: mysql.Connection;
  const pgPort = inject('pgAuthPort');

  const admin = async (database: string, ...statements: string[]) => {
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database });
    await c.connect();
    try {
      for (const q of statements) await c.query(q);
    } finally {
      await c.end();
    }
  };
  const redisCli = (...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--no-auth-warning', '-a', redisPass, ...args]).toString().trim();

  /** Runs the inventory; returns its session, this run's logins to the test's databases, and its changes to the test's objects. */
  const run = async () => {
    const before = relay.logins.length;
    const session = await runJob(s, sid);
    expect(session.status).toBe('COMPLETED');
    const logins = relay.logins.slice(before);
    const changes = ((await s.req('GET', `/api/endeavour/jobsession/${session.id}/change?pageSize=1000`, { sid })).json.changes as ChangeRow[])
      .filter((c) => mine.includes(c.objectName) || c.objectName === schema
        || [c.objectName, c.parentName].some((n) => n === `127.0.0.1:${relay.port}` || n === `127.0.0.1:${redis.port}`));
    return { session, logins, mineLogins: logins.filter((d) => mine.includes(d)), changes };
  };

  beforeAll(async () => {
    relay = await startLoginRelay(pgPort);
    for (const db of [extDb, setDb, dropDb, quietDb]) await admin('postgres', `CREATE DATABASE ${db}`);
    redis = await startRedis(['--requirepass', redisPass, '--save', '']);
    redisCli('-n', '3', 'SET', 'a', '1');
    root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    for (const h of ['%', 'localhost', '127.0.0.1']) {
      await root.query(`CREATE USER '${myUser}'@'${h}' IDENTIFIED BY '${myPass}'`);
      await root.query(`GRANT SELECT ON \`${schema}\`.* TO '${myUser}'@'${h}'`);
    }
    await root.query(`CREATE DATABASE \`${schema}\``);
    s = await startTestServer();
    sid = await s.login();
    for (const body of [
      { name: 'inc-pg', hostAddress: '127.0.0.1', portNumber: relay.port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS },
      { name: 'inc-mysql', hostAddress: '127.0.0.1', portNumber: 3306, applicationType: 'mysql', username: myUser, password: myPass },
      { name: 'inc-redis', hostAddress: '127.0.0.1', portNumber: redis.port, applicationType: 'redis', username: 'default', password: redisPass },
    ]) {
      const reg = await s.req('POST', '/ngp/appserver', { sid, body });
      expect(reg.status, reg.text).toBe(201);
    }
  });

  afterAll(async () => {
    await s?.stop();
    await relay?.close();
    for (const db of mine) await admin('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
    await root?.query(`DROP DATABASE IF EXISTS \`${schema}\``).catch(() => {});
    for (const h of ['%', 'localhost', '127.0.0.1']) await root?.query(`DROP USER IF EXISTS '${myUser}'@'${h}'`).catch(() => {});
    await root?.end();
    await redis?.stop();
  });

  it('reads every database on the first run, none but the home one on an unchanged second run, and records no changes', async () => {
    const first = await run();
    expect(first.mineLogins.sort()).toEqual([dropDb, extDb, quietDb, setDb].sort());
    expect(first.logins).toContain('postgres');

    const second = await run();
    expect(second.mineLogins).toEqual([]);
    // The one login that reads the whole cluster (other test files' databases on the shared cluster may come and go).
    expect(second.logins.filter((d) => d === 'postgres')).toEqual(['postgres']);
    expect(second.changes).toEqual([]);

    // What was carried over is what the first run read.
    const instance = (await s.req('GET', '/api/application/postgresql/instance', { sid })).json.instances
      .find((i: { name: string }) => i.name === `127.0.0.1:${relay.port}`);
    const dbs = (await s.req('GET', `${instance.links.databases.href}?pageSize=1000`, { sid })).json.databases as { name: string; properties: Record<string, unknown> }[];
    expect(dbs.find((d) => d.name === quietDb)!.properties.extensions).toEqual([{ name: 'plpgsql', version: expect.any(String) }]);
  });

  it('finds one extension, one database setting, one database dropped and one created, and one Redis key count', async () => {
    await admin(extDb, 'CREATE EXTENSION pg_trgm');
    await admin('postgres', `ALTER DATABASE ${setDb} SET work_mem = '8MB'`, `DROP DATABASE ${dropDb}`, `CREATE DATABASE ${newDb}`);
    redisCli('-n', '3', 'SET', 'b', '2');

    const third = await run();
    // The extension's database (its catalog moved) and the new one are read; the database whose
    // setting changed is not: its setting lives in a shared catalog read from the home login.
    expect(third.mineLogins.sort()).toEqual([extDb, newDb].sort());
    const find = (objectName: string, change: string, field: string | null = null) =>
      third.changes.find((c) => c.objectName === objectName && c.change === change && c.field === field);
    expect(find(extDb, 'changed', 'extensions')).toMatchObject({ objectType: 'database', oldValue: expect.not.stringContaining('pg_trgm'), newValue: expect.stringContaining('pg_trgm') });
    expect(find(setDb, 'changed', 'settings')).toMatchObject({ oldValue: '[]', newValue: '["work_mem=8MB"]' });
    expect(find(dropDb, 'disappeared')).toBeDefined();
    expect(find(newDb, 'appeared')).toBeDefined();
    expect(find('db3', 'changed', 'keys')).toMatchObject({ objectType: 'keyspace', oldValue: '1', newValue: '2' });
    expect(third.changes.filter((c) => c.objectName === quietDb)).toEqual([]);

    const summary = (await s.req('GET', `/api/endeavour/log/job?filter=${encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: third.session.id }]))}&pageSize=1000`, { sid }))
      .json.logs.map((l: { message: string }) => l.message).join('\n');
    expect(summary).toContain(`${extDb}: extensions`);

    // And settles: the next unchanged run reads none of them again.
    const fourth = await run();
    expect(fourth.mineLogins).toEqual([]);
    expect(fourth.changes).toEqual([]);
  });

  it('reads a database again after its statistics were reset, and while another session is busy in it', async () => {
    await admin(quietDb, 'SELECT pg_stat_reset()');
    const afterReset = await run();
    expect(afterReset.mineLogins).toEqual([quietDb]);
    expect(afterReset.changes).toEqual([]);

    // A session in the database that is not idle may have committed what its statistics do not
    // count yet (one that has written holds a transaction ID; without one it has written nothing).
    const busy = new pg.Client({ host: '127.0.0.1', port: pgPort, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: extDb });
    await busy.connect();
    try {
      await busy.query('BEGIN');
      await busy.query('SELECT txid_current()');
      const whileBusy = await run();
      expect(whileBusy.mineLogins).toEqual([extDb]);
    } finally {
      await busy.query('ROLLBACK').catch(() => {});
      await busy.end();
    }
  });

  it('reads a database of a cluster registered under several addresses once a session, and a change once', async () => {
    const others = [await startLoginRelay(pgPort), await startLoginRelay(pgPort)];
    try {
      for (const [i, r] of others.entries()) {
        const body = { name: `inc-pg-${i}`, hostAddress: '127.0.0.1', portNumber: r.port, applicationType: 'postgresql', username: AUTH_SUPERUSER, password: AUTH_SUPERPASS };
        const reg = await s.req('POST', '/ngp/appserver', { sid, body });
        expect(reg.status, reg.text).toBe(201);
      }
      const mineVia = (from: number[]) => [relay, ...others].flatMap((r, i) => r.logins.slice(from[i]).filter((d) => mine.includes(d)));
      const extensionsOf = async (port: number, database: string) => {
        const instance = (await s.req('GET', '/api/application/postgresql/instance', { sid })).json.instances
          .find((i: { name: string }) => i.name === `127.0.0.1:${port}`);
        const dbs = (await s.req('GET', `${instance.links.databases.href}?pageSize=1000`, { sid })).json.databases as { name: string; properties: { extensions: { name: string }[] } }[];
        return dbs.find((d) => d.name === database)!.properties.extensions.map((e) => e.name);
      };

      // Two new addresses (nothing recorded for them) and the known one, in one session: each
      // of the test's databases is logged in to once at most, through whichever address.
      let from = [relay, ...others].map((r) => r.logins.length);
      await run();
      const first = mineVia(from);
      expect(new Set(first).size).toBe(first.length);
      for (const r of others) expect(await extensionsOf(r.port, extDb)).toEqual(await extensionsOf(relay.port, extDb));

      // A change is read once, and every address records it.
      await admin(quietDb, 'CREATE EXTENSION pg_trgm');
      from = [relay, ...others].map((r) => r.logins.length);
      await run();
      expect(mineVia(from)).toEqual([quietDb]);
      for (const port of [relay.port, ...others.map((r) => r.port)]) expect(await extensionsOf(port, quietDb)).toContain('pg_trgm');
    } finally {
      for (const r of others) await r.close();
    }
  });
});
