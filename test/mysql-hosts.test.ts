/**
 * MariaDB through the API: a login with limited privileges, an inventory, a schema dropped
 * between two runs reported as disappeared and kept as missing, and the readiness findings.
 */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInventory as runJob, startTestServer, type TestServer } from './support/server.ts';

const suffix = Math.random().toString(36).slice(2, 8);
const user = `census_api_${suffix}`;
const password = `Pw-${suffix}-x`;
const schemas = [`api_keep_${suffix}`, `api_drop_${suffix}`];

describe('MySQL/MariaDB hosts', () => {
  let s: TestServer;
  let sid: string;
  let root: mysql.Connection;

  const runInventory = () => runJob(s, sid);

  beforeAll(async () => {
    root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    for (const h of ['%', 'localhost', '127.0.0.1']) {
      await root.query(`CREATE USER '${user}'@'${h}' IDENTIFIED BY '${password}'`);
      for (const db of schemas) await root.query(`GRANT SELECT ON \`${db}\`.* TO '${user}'@'${h}'`);
    }
    for (const db of schemas) {
      await root.query(`CREATE DATABASE \`${db}\``);
      await root.query(`CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB`);
      await root.query(`INSERT INTO \`${db}\`.t VALUES (1, 'a'), (2, 'b')`);
    }
    s = await startTestServer();
    sid = await s.login();
  });

  afterAll(async () => {
    for (const db of schemas) await root?.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
    for (const h of ['%', 'localhost', '127.0.0.1']) await root?.query(`DROP USER IF EXISTS '${user}'@'${h}'`).catch(() => {});
    await root?.end();
    await s?.stop();
  });

  it('inventories schemas, reports a dropped one missing, and flags readiness', async () => {
    const reg = await s.req('POST', '/ngp/appserver', {
      sid, body: { name: 'mariadb-local', hostAddress: '127.0.0.1', portNumber: 3306, applicationType: 'mysql', username: user, password },
    });
    expect(reg.status).toBe(201);
    expect((await runInventory()).status).toBe('COMPLETED');
    const instance = (await s.req('GET', '/api/application/mysql/instance', { sid })).json.instances[0];
    const [[v]] = (await root.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
    expect(instance.version).toBe(v.v);
    expect(instance.properties.flavor).toBe('MariaDB');
    expect(instance.findings.map((f: { code: string }) => f.code)).toContain('MISSING_PRIVILEGE');
    const first = (await s.req('GET', `${instance.links.databases.href}?pageSize=1000`, { sid })).json.databases as { name: string; properties: { tableCount: number } }[];
    expect(first.filter((d) => schemas.includes(d.name)).map((d) => d.properties.tableCount)).toEqual([1, 1]);

    await root.query(`DROP DATABASE \`${schemas[1]}\``);
    const second = await runInventory();
    const changes = (await s.req('GET', `/api/endeavour/jobsession/${second.id}/change`, { sid })).json.changes;
    expect(changes).toEqual(expect.arrayContaining([expect.objectContaining({ objectName: schemas[1], change: 'disappeared', objectType: 'database' })]));
    const after = (await s.req('GET', `${instance.links.databases.href}?pageSize=1000`, { sid })).json.databases as { name: string; missing: boolean }[];
    expect(after.find((d) => d.name === schemas[1])?.missing).toBe(true);
    expect(after.find((d) => d.name === schemas[0])?.missing).toBe(false);

    const filter = encodeURIComponent(JSON.stringify([{ property: 'jobsessionId', value: second.id }, { property: 'type', value: 'WARN' }]));
    const warns = (await s.req('GET', `/api/endeavour/log/job?filter=${filter}`, { sid })).json.logs.map((l: { message: string }) => l.message);
    expect(warns.some((m: string) => m.includes('mariadb-local') && m.includes('MISSING_PRIVILEGE'))).toBe(true);
  });
});
