/**
 * Runs the collector against the real local MariaDB (127.0.0.1:3306, root with an empty
 * password), which checks passwords: a limited user with a random name and password is created
 * for the run, with SELECT on two schemas of its own. Network and protocol failures use
 * throwaway local listeners; MySQL-8-only behaviour (and an information_schema that never
 * answers) uses a small fake server built on mysql2's server side. Names carry a random suffix
 * so parallel runs do not collide.
 */

import { randomBytes } from 'node:crypto';
import net from 'node:net';

import mysql from 'mysql2';
import mysqlp from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CollectTarget } from '../types.ts';
import { classifyMysqlError } from './errors.ts';
import { backupPrivilegeGap, parseGrants } from './grants.ts';
import { mysqlCollector } from './index.ts';
import { inspectFirstBytes } from './session.ts';
import { expectDeclaredChecks, failure, options } from '../../../test/support/collectors.ts';

const HOST = '127.0.0.1';
const PORT = 3306;
const suffix = randomBytes(4).toString('hex');
const user = `census_t_${suffix}`;
const password = `pw-${suffix}-Secret`;
const schemaA = `census_t_${suffix}_a`;
const schemaB = `census_t_${suffix}_b`;
/** Where a connection to 127.0.0.1 may come from, depending on skip_name_resolve. */
const USER_HOSTS = ['%', 'localhost', '127.0.0.1'];
const SYSTEM_SCHEMAS = ['information_schema', 'performance_schema', 'sys', 'mysql'];

let admin: mysqlp.Connection;
let rootVersion = '';
let rootLogBin = false;
let rootGtidCurrentPos = '';

/** Local listeners and the sockets they accepted, all torn down in afterAll. */
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

const target = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'db1',
  host: HOST,
  port: PORT,
  username: user,
  password,
  ...over,
});



/** A local TCP listener running `onSocket` for each connection; returns its port. */
async function listen(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  admin = await mysqlp.createConnection({ host: HOST, port: PORT, user: 'root', password: '' });
  const [[info]] = await admin.query<mysqlp.RowDataPacket[]>(
    'SELECT VERSION() AS version, @@log_bin AS log_bin, @@gtid_current_pos AS gtid_pos',
  );
  rootVersion = String(info!.version);
  rootLogBin = Number(info!.log_bin) === 1;
  rootGtidCurrentPos = String(info!.gtid_pos ?? '');

  await admin.query(`CREATE DATABASE \`${schemaA}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.query(`CREATE DATABASE \`${schemaB}\` CHARACTER SET latin1 COLLATE latin1_swedish_ci`);
  await admin.query(`CREATE TABLE \`${schemaA}\`.customers (id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB`);
  await admin.query(`INSERT INTO \`${schemaA}\`.customers VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger')`);
  await admin.query(`CREATE TABLE \`${schemaA}\`.orders (id INT PRIMARY KEY, customer INT, INDEX (customer)) ENGINE=InnoDB`);
  await admin.query(`INSERT INTO \`${schemaA}\`.orders VALUES (1, 1), (2, 1), (3, 2)`);
  await admin.query(`CREATE TABLE \`${schemaB}\`.items (id INT PRIMARY KEY, label VARCHAR(50)) ENGINE=InnoDB`);
  await admin.query(`INSERT INTO \`${schemaB}\`.items VALUES (1, 'one'), (2, 'two')`);
  await admin.query(`CREATE TABLE \`${schemaB}\`.notes (id INT PRIMARY KEY, body TEXT) ENGINE=MyISAM`);
  await admin.query(`INSERT INTO \`${schemaB}\`.notes VALUES (1, 'hello')`);
  await admin.query(`CREATE VIEW \`${schemaB}\`.item_labels AS SELECT label FROM \`${schemaB}\`.items`);

  for (const host of USER_HOSTS) {
    await admin.query(`CREATE USER ?@? IDENTIFIED BY ?`, [user, host, password]);
    await admin.query(`GRANT SELECT ON \`${schemaA}\`.* TO ?@?`, [user, host]);
    await admin.query(`GRANT SELECT ON \`${schemaB}\`.* TO ?@?`, [user, host]);
  }
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
  if (!admin) return;
  for (const host of USER_HOSTS) await admin.query('DROP USER IF EXISTS ?@?', [user, host]);
  await admin.query(`DROP DATABASE IF EXISTS \`${schemaA}\``);
  await admin.query(`DROP DATABASE IF EXISTS \`${schemaB}\``);
  await admin.end();
});

describe('mysqlCollector.collect against the local MariaDB', () => {
  it('collects the instance and the schemas the limited user can see', async () => {
    const result = await mysqlCollector.collect(target(), options());

    expect(result.instances).toHaveLength(1);
    const instance = result.instances[0]!;
    expect(instance.name).toBe(`${HOST}:${PORT}`);
    expect(instance.host).toBe(HOST);
    expect(instance.port).toBe(PORT);
    expect(instance.version).toBe(rootVersion);
    expect(instance.properties.flavor).toBe('MariaDB');
    expect(instance.properties.binaryLog).toBe(rootLogBin);
    expect(instance.properties.serverId).toEqual(expect.any(Number));
    expect(instance.properties.storageEngines).toMatchObject({ default: 'InnoDB', available: expect.arrayContaining(['InnoDB']) });
    // MariaDB: no gtid_mode switch; "ON" iff a GTID position exists.
    expect(instance.properties.gtidMode).toBe(rootGtidCurrentPos === '' ? 'OFF' : 'ON');
    expect(instance.properties.gtidCurrentPos).toBe(rootGtidCurrentPos);

    const names = instance.databases.map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining([schemaA, schemaB]));
    for (const system of SYSTEM_SCHEMAS) expect(names).not.toContain(system);

    const a = instance.databases.find((d) => d.name === schemaA)!;
    expect(a.owner).toBeNull();
    expect(a.encoding).toBe('utf8mb4');
    expect(a.sizeBytes).toBeGreaterThan(0);
    expect(a.properties).toEqual({ tableCount: 2, collation: 'utf8mb4_unicode_ci', engines: ['InnoDB'] });

    const b = instance.databases.find((d) => d.name === schemaB)!;
    expect(b.encoding).toBe('latin1');
    expect(b.sizeBytes).toBeGreaterThan(0);
    // The view is not a table.
    expect(b.properties).toEqual({ tableCount: 2, collation: 'latin1_swedish_ci', engines: ['InnoDB', 'MyISAM'] });

    const codes = (instance.findings ?? []).map((f) => f.code);
    expect(codes.includes('BINARY_LOG_OFF')).toBe(!rootLogBin);
    expect(codes).toContain('MISSING_PRIVILEGE');
    // SHOW ALL SLAVES STATUS needs SLAVE MONITOR (MariaDB 10.5+), which the user lacks.
    expect(codes).toContain('REPLICA_STATUS_NOT_READABLE');
    expect(instance.properties).not.toHaveProperty('replica');

    const missing = instance.findings!.find((f) => f.code === 'MISSING_PRIVILEGE')!;
    for (const privilege of ['RELOAD', 'LOCK TABLES', 'REPLICATION CLIENT']) expect(missing.message).toContain(privilege);
    expect(missing.message).toContain('db1 (127.0.0.1:3306)');
    for (const finding of instance.findings!) expect(finding.message).not.toContain(password);
    expect(result.warnings).toEqual([]);
  });

  it('as root: all schemas it owns, replica status, no missing privileges', async () => {
    const result = await mysqlCollector.collect(target({ username: 'root', password: '' }), options());
    const instance = result.instances[0]!;
    const codes = (instance.findings ?? []).map((f) => f.code);
    expect(codes).not.toContain('MISSING_PRIVILEGE');
    expect(codes).not.toContain('REPLICA_STATUS_NOT_READABLE');

    const [slaves] = await admin.query<mysqlp.RowDataPacket[]>('SHOW ALL SLAVES STATUS');
    expect(instance.properties.replica).toMatchObject({ isReplica: slaves.length > 0 });
    expect(instance.properties.dataDir).toEqual(expect.any(String));

    const [schemata] = await admin.query<mysqlp.RowDataPacket[]>(
      `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (${SYSTEM_SCHEMAS.map(() => '?').join(', ')})`,
      SYSTEM_SCHEMAS,
    );
    expect(instance.databases.map((d) => d.name).sort()).toEqual(schemata.map((r) => String(r.name)).sort());
  });

  it('a wrong password is AUTH, naming the server and not the password', async () => {
    const wrong = `${password}-wrong`;
    const err = await failure(mysqlCollector.collect(target({ password: wrong }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`access denied for user "${user}"`);
    expect(err.message).toContain('db1 (127.0.0.1:3306)');
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(password);
  });

  it('the default port is 3306', async () => {
    const result = await mysqlCollector.collect(target({ port: null }), options());
    expect(result.instances[0]!.name).toBe(`${HOST}:3306`);
    expect(result.instances[0]!.port).toBe(3306);
  });
});

describe('mysqlCollector.collect when the server is not there or not MySQL', () => {
  it('a refused port is REFUSED and retryable', async () => {
    const port = await closedPort();
    const err = await failure(mysqlCollector.collect(target({ port }), options()));
    expect(err.code).toBe('REFUSED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`db1 (127.0.0.1:${port})`);
  });

  it('a listener that never speaks is TIMEOUT within the budget', async () => {
    const port = await listen(() => {});
    const started = Date.now();
    const err = await failure(mysqlCollector.collect(target({ port }), options({ timeoutMs: 1500 })));
    expect(err.code).toBe('TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an abort is CANCELLED, promptly', async () => {
    const port = await listen(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await failure(mysqlCollector.collect(target({ port }), options({ signal: controller.signal })));
    expect(err.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('an already aborted signal is CANCELLED without connecting', async () => {
    let connections = 0;
    const port = await listen(() => connections++);
    const controller = new AbortController();
    controller.abort();
    const err = await failure(mysqlCollector.collect(target({ port }), options({ signal: controller.signal })));
    expect(err.code).toBe('CANCELLED');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connections).toBe(0);
  });

  it('another protocol that speaks first (an SSH banner) is PROTOCOL, without waiting for the timeout', async () => {
    const port = await listen((socket) => socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    const started = Date.now();
    const err = await failure(mysqlCollector.collect(target({ port }), options()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('SSH-2.0-OpenSSH');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('garbage followed by a hang-up is PROTOCOL', async () => {
    const port = await listen((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const err = await failure(mysqlCollector.collect(target({ port }), options()));
    expect(err.code).toBe('PROTOCOL');
  });

  it('a peer that hangs up at once is PROTOCOL', async () => {
    const port = await listen((socket) => socket.destroy());
    const err = await failure(mysqlCollector.collect(target({ port }), options()));
    expect(err.code).toBe('PROTOCOL');
  });

  it('an HTTP server (which waits for the client to speak) is a TIMEOUT, not UNKNOWN', async () => {
    const port = await listen((socket) => socket.on('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const err = await failure(mysqlCollector.collect(target({ port }), options({ timeoutMs: 1000 })));
    expect(err.code).not.toBe('UNKNOWN');
    expect(err.code).toBe('TIMEOUT');
  });

  it('"Too many connections" instead of a greeting is REFUSED and retryable', async () => {
    const port = await listen((socket) => socket.end(errPacket(1040, '08004', 'Too many connections')));
    const err = await failure(mysqlCollector.collect(target({ port }), options()));
    expect(err.code).toBe('REFUSED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('Too many connections');
  });
});

/** A MySQL ERR packet (sequence 0), as a server sends instead of its greeting. */
function errPacket(errno: number, sqlState: string, message: string): Buffer {
  const payload = Buffer.concat([Buffer.from([0xff, errno & 0xff, errno >> 8]), Buffer.from(`#${sqlState}${message}`, 'utf8')]);
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = 0;
  return Buffer.concat([header, payload]);
}

// ---------------------------------------------------------------------------------------------
// A fake MySQL 8 server (mysql2's server side) for what the local MariaDB cannot show.

/** The parts of mysql2's server-side connection the fake uses (its typings do not cover them). */
interface FakeConnection {
  serverHandshake(args: Record<string, unknown>): void;
  writeColumns(columns: Record<string, unknown>[]): void;
  writeTextRow(values: (string | null)[]): void;
  writeEof(warnings?: number, statusFlags?: number): void;
  writeError(args: { code: number; message: string }): void;
  on(event: 'query', listener: (sql: string) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  sequenceId: number;
  stream: net.Socket;
}

type Rows = Array<Record<string, string | null>>;

/** The EOF packet's status flag saying another result set follows. */
const SERVER_MORE_RESULTS_EXISTS = 0x08;

async function fakeMysql8(answer: (sql: string) => Rows | 'hang' | { errno: number; message: string }, onQuery?: (text: string) => void): Promise<number> {
  const server = mysql.createServer((raw) => {
    const conn = raw as unknown as FakeConnection;
    sockets.add(conn.stream);
    conn.on('error', () => {}); // the client hanging up
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: '8.0.36',
      connectionId: 1,
      statusFlags: 2,
      characterSet: 33,
      capabilityFlags: 0xffffff,
      // Accept any login; the client's first command then starts at sequence 0 again.
      authCallback: (_params: unknown, done: (err: null) => void) => {
        done(null);
        conn.sequenceId = 0;
      },
    });
    conn.on('query', (text) => {
      onQuery?.(text);
      // Several statements in one string (the collector's Batch), as MySQL answers them: a result
      // set each, all but the last flagged "more results", up to the first error.
      const statements = text.split(';\n');
      const replies = statements.map((sql) => answer(sql));
      if (replies.includes('hang')) return;
      conn.sequenceId = 1; // mysql2's server side does not restart the sequence per command
      for (const [i, reply] of replies.entries()) {
        if (reply === 'hang') break;
        if (!Array.isArray(reply)) {
          conn.writeError({ code: reply.errno, message: reply.message });
          break;
        }
        const names = Object.keys(reply[0] ?? { empty: null });
        conn.writeColumns(
          names.map((name) => ({
            catalog: 'def',
            schema: '',
            table: '',
            orgTable: '',
            name,
            orgName: name,
            characterSet: 33,
            columnLength: 1024,
            columnType: 253, // VAR_STRING
            flags: 0,
            decimals: 0,
          })),
        );
        for (const row of reply) conn.writeTextRow(names.map((n) => row[n] ?? null));
        conn.writeEof(0, i < replies.length - 1 ? SERVER_MORE_RESULTS_EXISTS : 0);
      }
      conn.sequenceId = 0; // the client's next command starts at 0
    });
  });
  const inner = (server as unknown as { _server: net.Server })._server;
  servers.push(inner);
  await new Promise<void>((resolve) => inner.listen(0, HOST, resolve));
  return (inner.address() as net.AddressInfo).port;
}

const variables = (pairs: Record<string, string>): Rows => Object.entries(pairs).map(([Variable_name, Value]) => ({ Variable_name, Value }));

/** information_schema.TABLES' answer for the one schema mysql8Answers lists, where a test wants sizes rather than the hang. */
const SHOP_SIZES: Rows = [{ schema_name: 'shop', engine: 'InnoDB', table_count: '4', size_bytes: '65536' }];

function mysql8Answers(sql: string): Rows | 'hang' | { errno: number; message: string } {
  if (/VERSION\(\)/.test(sql)) return [{ version: '8.0.36' }];
  if (/^SHOW GLOBAL VARIABLES/.test(sql)) {
    return variables({
      version_comment: 'MySQL Community Server - GPL',
      log_bin: 'ON',
      binlog_format: 'STATEMENT',
      gtid_mode: 'ON',
      server_id: '7',
      datadir: '/var/lib/mysql/',
    });
  }
  if (sql === 'SHOW ENGINES') {
    return [
      { Engine: 'InnoDB', Support: 'DEFAULT' },
      { Engine: 'MyISAM', Support: 'YES' },
      { Engine: 'FEDERATED', Support: 'NO' },
    ];
  }
  if (sql === 'SHOW REPLICA STATUS') {
    return [
      {
        Channel_Name: '',
        Source_Host: 'primary.example.com',
        Source_Port: '3306',
        Replica_IO_Running: 'Yes',
        Replica_SQL_Running: 'Yes',
        Seconds_Behind_Source: '3',
        Auto_Position: '1',
        Last_IO_Error: '',
        Last_SQL_Error: '',
      },
    ];
  }
  if (sql.startsWith('SHOW GRANTS')) {
    return [
      { 'Grants for bk@%': 'GRANT SELECT, RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT ON *.* TO `bk`@`%`' },
      { 'Grants for bk@%': 'GRANT BACKUP_ADMIN ON *.* TO `bk`@`%`' },
    ];
  }
  if (sql.includes('information_schema.SCHEMATA')) {
    return [{ name: 'shop', charset: 'utf8mb4', collation: 'utf8mb4_0900_ai_ci' }];
  }
  if (sql.includes('information_schema.TABLES')) return 'hang';
  return { errno: 1064, message: 'You have an error in your SQL syntax' };
}

describe('mysqlCollector.collect against a fake MySQL 8', () => {
  it('reads MySQL variables and replica status, and gives up on sizes that take too long', async () => {
    const seen: string[] = [];
    const port = await fakeMysql8((sql) => {
      seen.push(sql);
      return mysql8Answers(sql);
    });
    const started = Date.now();
    const result = await mysqlCollector.collect(target({ port, username: 'bk' }), options({ timeoutMs: 2500 }));
    const elapsed = Date.now() - started;

    expect(elapsed).toBeLessThan(2500);
    const instance = result.instances[0]!;
    expect(instance.version).toBe('8.0.36');
    expect(instance.properties).toMatchObject({
      flavor: 'MySQL',
      versionComment: 'MySQL Community Server - GPL',
      binaryLog: true,
      binlogFormat: 'STATEMENT',
      gtidMode: 'ON',
      serverId: 7,
      dataDir: '/var/lib/mysql/',
      storageEngines: { available: ['InnoDB', 'MyISAM'], default: 'InnoDB' },
      replica: {
        isReplica: true,
        channels: [
          {
            channel: '',
            sourceHost: 'primary.example.com',
            sourcePort: 3306,
            ioRunning: 'Yes',
            sqlRunning: 'Yes',
            secondsBehind: 3,
            usingGtid: '1',
            lastIoError: null,
            lastSqlError: null,
          },
        ],
      },
    });
    expect(instance.databases).toEqual([
      { name: 'shop', sizeBytes: null, owner: null, encoding: 'utf8mb4', properties: { tableCount: null, collation: 'utf8mb4_0900_ai_ci', engines: null } },
    ]);
    expect(instance.findings!.map((f) => f.code)).toEqual(['BINLOG_FORMAT_NOT_ROW']);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/sizes and table counts .* not read: information_schema.TABLES did not answer/);
    // The size query carried MySQL's server-side limit as well.
    expect(seen.find((s) => s.includes('information_schema.TABLES'))).toMatch(/^SELECT \/\*\+ MAX_EXECUTION_TIME\(\d+\) \*\//);
  });

  it('sends the reads no login is refused in one round trip, the replica status and the sizes after it', async () => {
    const queries: string[] = [];
    const port = await fakeMysql8(
      (sql) => (sql.includes('information_schema.TABLES') ? SHOP_SIZES : mysql8Answers(sql)),
      (text) => queries.push(text),
    );
    const result = await mysqlCollector.collect(target({ port, username: 'bk' }), options());
    expect(result.instances[0]!.databases.map((d) => d.name)).toEqual(['shop']);
    expect(result.warnings).toEqual([]);
    expect(queries).toHaveLength(3);
    const batch = queries[0]!.split(';\n');
    expect(batch.map((sql) => sql.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'SELECT VERSION()', 'SHOW GLOBAL', 'SHOW ENGINES', 'SHOW GRANTS', 'SELECT SCHEMA_NAME',
    ]);
    expect(queries[1]).toBe('SHOW REPLICA STATUS');
    expect(queries[2]).toContain('information_schema.TABLES');
  });

  it('a read refused inside the batch: each runs on its own, and only the refused one is a warning', async () => {
    const seen: string[] = [];
    const port = await fakeMysql8((sql) => {
      seen.push(sql);
      return sql === 'SHOW ENGINES'
        ? { errno: 1227, message: 'Access denied; you need the PROCESS privilege' }
        : sql.includes('information_schema.TABLES')
          ? SHOP_SIZES
          : mysql8Answers(sql);
    });
    const result = await mysqlCollector.collect(target({ port, username: 'bk' }), options());
    const instance = result.instances[0]!;
    expect(instance.version).toBe('8.0.36');
    expect(instance.properties).toMatchObject({ flavor: 'MySQL', gtidMode: 'ON' });
    expect(instance.properties).not.toHaveProperty('storageEngines');
    expect(instance.databases[0]).toMatchObject({ name: 'shop', sizeBytes: 65536 });
    expect(result.warnings).toEqual([expect.stringMatching(/^storage engines of .* not read: .*PROCESS/)]);
    // The batch stopped at SHOW ENGINES; then every read again, one by one.
    expect(seen.filter((sql) => sql === 'SHOW ENGINES')).toHaveLength(2);
    expect(seen.filter((sql) => /VERSION\(\)/.test(sql))).toHaveLength(2);
  });

  it('a refused SHOW REPLICA STATUS is a finding, not a failure', async () => {
    const port = await fakeMysql8((sql) =>
      sql === 'SHOW REPLICA STATUS'
        ? { errno: 1227, message: 'Access denied; you need (at least one of) the SUPER, REPLICATION CLIENT privilege(s) for this operation' }
        : sql.includes('information_schema.TABLES')
          ? SHOP_SIZES
          : mysql8Answers(sql),
    );
    const result = await mysqlCollector.collect(target({ port, username: 'bk' }), options());
    const instance = result.instances[0]!;
    expect(instance.properties).not.toHaveProperty('replica');
    const finding = instance.findings!.find((f) => f.code === 'REPLICA_STATUS_NOT_READABLE');
    expect(finding?.message).toContain('REPLICATION CLIENT');
    expect(instance.databases[0]).toMatchObject({ name: 'shop', sizeBytes: 65536, properties: { tableCount: 4, engines: ['InnoDB'] } });
    expect(result.warnings).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('mysqlCollector.test', () => {
  it('answers only the checks its info declares, in order: working, wrong-password and refused servers', async () => {
    for (const t of [target(), target({ username: 'root', password: '' }), target({ password: `${password}-wrong` }), target({ port: await closedPort() })]) {
      const checks = await mysqlCollector.test(t, options());
      expectDeclaredChecks(mysqlCollector.info, checks);
      expect(checks.map((c) => c.name)).toEqual(mysqlCollector.info.checks.map((c) => c.name));
    }
    expect(mysqlCollector.applicationType).toBe(mysqlCollector.info.type);
  });

  const statuses = (checks: Array<{ name: string; status: string }>) => Object.fromEntries(checks.map((c) => [c.name, c.status]));

  it('limited user: connects, logs in, reads the catalog; warns about privileges', async () => {
    const checks = await mysqlCollector.test(target(), options());
    expect(checks.map((c) => c.name)).toEqual(['connect', 'login', 'catalog', 'binary-log', 'privileges']);
    expect(statuses(checks)).toEqual({
      connect: 'SUCCESS',
      login: 'SUCCESS',
      catalog: 'SUCCESS',
      'binary-log': rootLogBin ? 'SUCCESS' : 'WARNING',
      privileges: 'WARNING',
    });
    const privileges = checks.find((c) => c.name === 'privileges')!;
    expect(privileges.message).toContain('RELOAD');
    expect(privileges.message).toContain('LOCK TABLES');
    for (const check of checks) expect(check.description.length).toBeGreaterThan(0);
  });

  it('wrong password: connect succeeds, login fails, the rest is skipped', async () => {
    const wrong = `${password}-wrong`;
    const checks = await mysqlCollector.test(target({ password: wrong }), options());
    expect(statuses(checks)).toEqual({
      connect: 'SUCCESS',
      login: 'FAILED',
      catalog: 'SKIPPED',
      'binary-log': 'SKIPPED',
      privileges: 'SKIPPED',
    });
    const login = checks.find((c) => c.name === 'login')!;
    expect(login.message).toContain('access denied');
    for (const check of checks) expect(check.message ?? '').not.toContain(wrong);
  });

  it('refused port: connect fails, the rest is skipped', async () => {
    const port = await closedPort();
    const checks = await mysqlCollector.test(target({ port }), options());
    expect(statuses(checks)).toEqual({
      connect: 'FAILED',
      login: 'SKIPPED',
      catalog: 'SKIPPED',
      'binary-log': 'SKIPPED',
      privileges: 'SKIPPED',
    });
    expect(checks[0]!.message).toContain('connection refused');
  });

  it('never throws: a silent peer and an abort become a FAILED check', async () => {
    const port = await listen(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const checks = await mysqlCollector.test(target({ port }), options({ signal: controller.signal }));
    expect(checks[0]).toMatchObject({ name: 'connect', status: 'FAILED' });
    expect(checks[0]!.message).toContain('cancelled');
    expect(checks.slice(1).every((c) => c.status === 'SKIPPED')).toBe(true);

    const timedOut = await mysqlCollector.test(target({ port }), options({ timeoutMs: 500 }));
    expect(timedOut[0]).toMatchObject({ name: 'connect', status: 'FAILED' });
  });

  it('root: every check passes except binary logging when it is off', async () => {
    const checks = await mysqlCollector.test(target({ username: 'root', password: '' }), options());
    expect(statuses(checks)).toEqual({
      connect: 'SUCCESS',
      login: 'SUCCESS',
      catalog: 'SUCCESS',
      'binary-log': rootLogBin ? 'SUCCESS' : 'WARNING',
      privileges: 'SUCCESS',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('grant parsing', () => {
  it('finds what a schema-scoped MariaDB login lacks, and notes schema-level LOCK TABLES', () => {
    const summary = parseGrants([
      "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*0123456789ABCDEF'",
      'GRANT SELECT, LOCK TABLES ON `app`.* TO `u`@`%`',
      'GRANT SELECT (`id`, `name`), INSERT ON `app`.`t` TO `u`@`%`',
    ]);
    expect([...summary.global]).toEqual(['USAGE']);
    const gap = backupPrivilegeGap(summary);
    expect(gap.missing).toEqual(['RELOAD', 'LOCK TABLES', 'REPLICATION CLIENT', 'PROCESS']);
    expect(gap.explanation).toContain('held only on `app`.*');
    expect(gap.explanation).not.toContain('0123456789ABCDEF');
  });

  it('accepts ALL PRIVILEGES, BINLOG MONITOR (MariaDB 10.5+) and SUPER', () => {
    expect(backupPrivilegeGap(parseGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION'])).missing).toEqual([]);
    expect(
      backupPrivilegeGap(parseGrants(['GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `bk`@`%`'])).missing,
    ).toEqual([]);
    expect(backupPrivilegeGap(parseGrants(['GRANT RELOAD, PROCESS, LOCK TABLES, SUPER ON *.* TO `bk`@`%`'])).missing).toEqual([]);
  });

  it('mentions roles, whose privileges are not expanded', () => {
    const gap = backupPrivilegeGap(parseGrants(['GRANT USAGE ON *.* TO `u`@`%`', 'GRANT `backup_role`@`%` TO `u`@`%`']));
    expect(gap.missing).toContain('RELOAD');
    expect(gap.explanation).toContain('`backup_role`@`%`');
  });

  it('ignores PROXY grants', () => {
    const summary = parseGrants(["GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"]);
    expect(summary.global.size).toBe(0);
    expect(summary.roles).toEqual([]);
  });
});

describe('classifyMysqlError', () => {
  const where = target();
  const serverError = (errno: number, message: string, fatal = false) => Object.assign(new Error(message), { errno, code: 'ER_X', fatal });

  it('maps server errnos', () => {
    expect(classifyMysqlError(serverError(1045, `Access denied for user 'u'@'h' (using password: YES)`), where).code).toBe('AUTH');
    expect(classifyMysqlError(serverError(1044, 'Access denied for user to database x'), where).code).toBe('PERMISSION');
    expect(classifyMysqlError(serverError(1142, 'SELECT command denied'), where).code).toBe('PERMISSION');
    expect(classifyMysqlError(serverError(1227, 'Access denied; you need the RELOAD privilege'), where).code).toBe('PERMISSION');
    const busy = classifyMysqlError(serverError(1040, 'Too many connections', true), where);
    expect(busy.code).toBe('REFUSED');
    expect(busy.retryable).toBe(true);
    expect(classifyMysqlError(serverError(3159, 'Connections using insecure transport are prohibited'), where).code).toBe('TLS');
  });

  it('maps driver codes', () => {
    const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
    expect(classifyMysqlError(lost, where).code).toBe('PROTOCOL');
    const unexpected = Object.assign(new Error('Unexpected packet while no commands in the queue'), { code: 'PROTOCOL_UNEXPECTED_PACKET' });
    expect(classifyMysqlError(unexpected, where).code).toBe('PROTOCOL');
    const parse = Object.assign(new RangeError('The value of "offset" is out of range.'), { code: 'ERR_OUT_OF_RANGE' });
    expect(classifyMysqlError(parse, where).code).toBe('PROTOCOL');
    const tls = Object.assign(new Error('Server does not support secure connection'), { code: 'HANDSHAKE_NO_SSL_SUPPORT' });
    expect(classifyMysqlError(tls, where).code).toBe('TLS');
    const timeout = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    expect(classifyMysqlError(timeout, where).code).toBe('TIMEOUT');
  });

  it('anything else is UNKNOWN with the password scrubbed', () => {
    const err = classifyMysqlError(new Error(`weird failure mentioning ${password}`), where);
    expect(err.code).toBe('UNKNOWN');
    expect(err.message).not.toContain(password);
    expect(err.message).toContain('db1 (127.0.0.1:3306)');
  });
});

describe('inspectFirstBytes', () => {
  it('recognises a greeting, an ERR packet and something else', () => {
    const greeting = Buffer.from([0x0e, 0, 0, 0, 0x0a, ...Buffer.from('5.5.5-10.11.6-MariaDB'), 0]);
    expect(inspectFirstBytes(greeting)).toEqual({ kind: 'greeting', greeting: { serverVersion: '10.11.6-MariaDB' } });
    expect(inspectFirstBytes(errPacket(1040, '08004', 'Too many connections')).kind).toBe('error-packet');
    expect(inspectFirstBytes(Buffer.from('SSH-2.0-OpenSSH\r\n')).kind).toBe('not-mysql');
    expect(inspectFirstBytes(Buffer.from([1, 0])).kind).toBe('undecided');
  });
});
