/**
 * Runs the collector against the real local PostgreSQL (127.0.0.1:5432, admin "postgres").
 * That server trusts every 127.0.0.1 connection (pg_hba: host all all 127.0.0.1/32 trust), so
 * passwords are never checked: auth failure is exercised with a role that does not exist.
 * Network failures use throwaway local listeners. Names carry a random suffix so parallel runs
 * do not collide.
 */

import { randomBytes } from 'node:crypto';
import net from 'node:net';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CollectorError, type CollectResult, type CollectTarget, type ConnectionCheck } from '../types.ts';
import { readHome, type Setting, type SettingName } from './catalog.ts';
import { classifyPgError } from './errors.ts';
import { postgresqlCollector } from './index.ts';
import { settingsFindings } from './inventory.ts';
import { optionalAllowance } from '../deadline.ts';
import { expectDeclaredChecks, failure, options } from '../../../test/support/collectors.ts';

const HOST = '127.0.0.1';
const PORT = 5432;
const suffix = randomBytes(4).toString('hex');
const role = `census_t_${suffix}`;
const password = `pw-${suffix}-secret`;
const ownedDb = `census_t_${suffix}_a`;
const otherDb = `census_t_${suffix}_b`;
const lockedDb = `census_t_${suffix}_c`; // role has no CONNECT on it
/** More databases to read extensions from, for the time-box tests; they sort after the three above. */
const extraDbs = Array.from({ length: 5 }, (_, i) => `census_t_${suffix}_x${i}`);

const admin = new pg.Client({ host: HOST, port: PORT, user: 'postgres', database: 'postgres' });
let serverVersion = '';
/** As the admin sees them, to check what the limited role reports against. */
let archiveMode = '';
let walLevel = '';

const target = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'db1',
  host: HOST,
  port: PORT,
  username: role,
  password,
  ...over,
});



beforeAll(async () => {
  await admin.connect();
  serverVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  // NOLOGIN first, then LOGIN with the password: the role never exists as a password-less login.
  await admin.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER`);
  await admin.query(`ALTER ROLE ${role} LOGIN PASSWORD '${password}'`);
  await admin.query(`CREATE DATABASE ${ownedDb} OWNER ${role} ENCODING 'UTF8' TEMPLATE template0`);
  await admin.query(`CREATE DATABASE ${otherDb}`);
  await admin.query(`CREATE DATABASE ${lockedDb}`);
  await admin.query(`REVOKE CONNECT ON DATABASE ${lockedDb} FROM PUBLIC`);
  for (const db of extraDbs) {
    await admin.query(`CREATE DATABASE ${db}`);
    // Only our role (and superusers) may connect: a parallel run's collection stays out of them.
    await admin.query(`REVOKE CONNECT ON DATABASE ${db} FROM PUBLIC`);
    await admin.query(`GRANT CONNECT ON DATABASE ${db} TO ${role}`);
  }
  await inDatabase(ownedDb, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_trgm'));
  archiveMode = (await admin.query<{ archive_mode: string }>('SHOW archive_mode')).rows[0]!.archive_mode;
  walLevel = (await admin.query<{ wal_level: string }>('SHOW wal_level')).rows[0]!.wal_level;
});

afterAll(async () => {
  for (const db of [ownedDb, otherDb, lockedDb, ...extraDbs]) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
});

describe('postgresqlCollector against the local server', () => {
  it('collects the instance and its non-template databases', async () => {
    const result = await postgresqlCollector.collect(target(), options());

    expect(result.instances).toHaveLength(1);
    const instance = result.instances[0]!;
    expect(instance.name).toBe(`${HOST}:${PORT}`);
    expect(instance.host).toBe(HOST);
    expect(instance.port).toBe(PORT);
    expect(instance.version).toBe(serverVersion);
    expect(instance.properties.serverVersionNum).toEqual(expect.any(Number));
    expect(instance.properties.isReplica).toBe(false);

    const byName = new Map(instance.databases.map((d) => [d.name, d]));
    const owned = byName.get(ownedDb);
    expect(owned).toMatchObject({ owner: role, encoding: 'UTF8', properties: { allowConnections: true } });
    expect(owned!.sizeBytes).toBeGreaterThan(0);
    expect(owned!.properties.collation).toEqual(expect.any(String));
    const other = byName.get(otherDb);
    expect(other).toMatchObject({ owner: 'postgres', encoding: 'UTF8' });
    expect(other!.sizeBytes).toBeGreaterThan(0);
    expect(byName.has('template0')).toBe(false);
    expect(byName.has('template1')).toBe(false);
  });

  it('reports a database it may not CONNECT to with a null size and a warning, keeping the others', async () => {
    const result = await postgresqlCollector.collect(target(), options());
    const databases = result.instances[0]!.databases;
    expect(databases.find((d) => d.name === lockedDb)).toMatchObject({ sizeBytes: null, owner: 'postgres' });
    expect(databases.find((d) => d.name === ownedDb)!.sizeBytes).toBeGreaterThan(0);
    // toContainEqual, not toEqual: a parallel run's locked database may show up as well.
    expect(result.warnings).toContainEqual(expect.stringContaining(`"${lockedDb}"`));
  });

  it('leaves superuser-only settings out for a plain role instead of failing', async () => {
    const properties = (await postgresqlCollector.collect(target(), options())).instances[0]!.properties;
    expect(properties).not.toHaveProperty('dataDirectory');
  });

  it('reports superuser-only settings when the login may read them', async () => {
    const properties = (await postgresqlCollector.collect(target({ username: 'postgres' }), options())).instances[0]!
      .properties;
    expect(properties.dataDirectory).toEqual(expect.any(String));
    expect(properties.archiveMode).toEqual(expect.any(String));
  });

  it('fails with AUTH for an unknown role, naming the server and not the password', async () => {
    const secret = `never-show-${suffix}`;
    const err = await failure(
      postgresqlCollector.collect(target({ username: `census_nobody_${suffix}`, password: secret }), options()),
    );
    expect(err.code).toBe('AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('db1');
    expect(err.message).toContain(`${HOST}:${PORT}`);
    expect(err.message).toContain(`census_nobody_${suffix}`);
    expect(err.message).not.toContain(secret);
  });

  it('fails with DNS for a host name that does not resolve', async () => {
    const err = await failure(postgresqlCollector.collect(target({ host: 'no-such-host.invalid' }), options()));
    expect(err.code).toBe('DNS');
    expect(err.message).toContain('no-such-host.invalid');
  });

  it('fails with CANCELLED at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(postgresqlCollector.collect(target(), options({ signal: controller.signal })));
    expect(err.code).toBe('CANCELLED');
  });
});

describe('postgresqlCollector: instance properties, extensions and readiness findings', () => {
  it('reports settings, roles, slots and tablespaces a plain role may read, and leaves out the rest', async () => {
    const properties = (await postgresqlCollector.collect(target(), options())).instances[0]!.properties;
    expect(properties).toMatchObject({
      port: PORT,
      isReplica: false,
      archiveMode,
      walLevel,
      archiveCommandSet: expect.any(Boolean),
      maxConnections: expect.any(Number),
      timezone: expect.any(String),
      rolesCount: expect.any(Number),
      replicationSlots: { count: expect.any(Number), slots: expect.any(Array) },
    });
    expect(properties.rolesCount).toBeGreaterThanOrEqual(2); // postgres and our role at least
    expect(properties).not.toHaveProperty('dataDirectory');
    const tablespaces = properties.tablespaces as { name: string; location: string | null; sizeBytes: number | null }[];
    // The built-in tablespaces are the data directory: listed, not sized (the database sizes say it).
    expect(tablespaces).toContainEqual({ name: 'pg_default', location: null, sizeBytes: null });
    expect(tablespaces).toContainEqual({ name: 'pg_global', location: null, sizeBytes: null });
  });

  it('reads slots and database settings in the home statement, and each on its own once an administrator revoked it', async () => {
    // Catalog ACLs are kept per database (pg_class), so revoking in a database of the test's own
    // leaves every other client of this shared server alone.
    const db = `census_t_${suffix}_r`;
    await admin.query(`CREATE DATABASE ${db}`);
    try {
      await admin.query(`ALTER DATABASE ${db} SET work_mem = '5MB'`);
      const oid = Number((await admin.query<{ oid: string }>('SELECT oid FROM pg_database WHERE datname = $1', [db])).rows[0]!.oid);
      const asRole = () => homeAsRole(db);
      const full = await asRole();
      expect(full.slots).toEqual(expect.any(Array));
      expect(full.dbSettings?.get(oid)).toEqual(['work_mem=5MB']);

      await inDatabase(db, (c) => c.query('REVOKE SELECT ON pg_catalog.pg_replication_slots FROM PUBLIC'));
      const noSlots = await asRole();
      expect(noSlots.slots).toBeNull();
      expect(noSlots.dbSettings?.get(oid)).toEqual(['work_mem=5MB']);
      expect(noSlots.databases).toEqual(full.databases);
      expect(noSlots.settings).toEqual(full.settings);

      await inDatabase(db, (c) => c.query('REVOKE SELECT ON pg_catalog.pg_db_role_setting FROM PUBLIC'));
      const neither = await asRole();
      expect(neither.slots).toBeNull();
      expect(neither.dbSettings).toBeNull();
      expect(neither.databases).toEqual(full.databases);
      expect(neither.signals?.epoch).toBe(full.signals?.epoch);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  });

  it('reads the rest of the pulse when an administrator revoked EXECUTE on pg_control_system() or pg_get_replication_slots()', async () => {
    // Function ACLs are kept per database (pg_proc) too.
    const db = `census_t_${suffix}_f`;
    await admin.query(`CREATE DATABASE ${db}`);
    try {
      const asRole = () => homeAsRole(db);
      const full = await asRole();
      const systemIdentifier = (await admin.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
      expect(full.signals?.epoch.startsWith(`${systemIdentifier} `)).toBe(true);

      await inDatabase(db, (c) => c.query('REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC'));
      const noControl = await asRole();
      // The cluster is then named by its start and reset times alone; the rest is read as before.
      expect(noControl.signals?.epoch).toBe(full.signals!.epoch.slice(systemIdentifier.length));
      expect(noControl.slots).toEqual(full.slots);
      expect(noControl.databases).toEqual(full.databases);
      expect([...noControl.signals!.databases.keys()].sort()).toEqual([...full.signals!.databases.keys()].sort());

      await inDatabase(db, (c) => c.query('REVOKE EXECUTE ON FUNCTION pg_catalog.pg_get_replication_slots() FROM PUBLIC'));
      const neither = await asRole();
      expect(neither.slots).toBeNull();
      expect(neither.signals?.epoch).toBe(noControl.signals!.epoch);
      expect(neither.databases).toEqual(full.databases);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  });

  it("lists each connectable database's extensions, read in that database", async () => {
    const result = await postgresqlCollector.collect(target(), options());
    const byName = new Map(result.instances[0]!.databases.map((d) => [d.name, d]));
    expect(byName.get(ownedDb)!.properties.extensions).toEqual(
      expect.arrayContaining([
        { name: 'pg_trgm', version: expect.any(String) },
        { name: 'plpgsql', version: expect.any(String) },
      ]),
    );
    // pg_trgm exists in ownedDb only: the list must come from each database's own catalog.
    expect(byName.get(otherDb)!.properties.extensions).toEqual([{ name: 'plpgsql', version: expect.any(String) }]);
    expect(byName.get('postgres')!.properties.extensions).toContainEqual({ name: 'plpgsql', version: expect.any(String) });
  });

  it('warns about and flags a database the login may not connect to, without failing', async () => {
    const result = await postgresqlCollector.collect(target(), options());
    const locked = result.instances[0]!.databases.find((d) => d.name === lockedDb)!;
    expect(locked.properties).not.toHaveProperty('extensions');
    expect(result.warnings).toContainEqual(expect.stringMatching(new RegExp(`"${lockedDb}".*CONNECT`)));
    expect(codes(result, lockedDb)).toEqual(['DATABASE_NOT_CONNECTABLE']);
    expect(codes(result, ownedDb)).toEqual([]);
    const finding = result.instances[0]!.findings!.find((f) => f.database === lockedDb)!;
    expect(finding.message).toContain('db1 (127.0.0.1:5432)');
    expect(finding.message).not.toContain(password);
  });

  it('flags what a plain role lacks and what the server configuration prevents', async () => {
    const result = await postgresqlCollector.collect(target(), options());
    const instanceCodes = codes(result);
    expect(instanceCodes).toContain('SETTINGS_NOT_READABLE');
    expect(instanceCodes).toContain('NO_REPLICATION_PRIVILEGE');
    expect(instanceCodes.includes('ARCHIVE_MODE_OFF')).toBe(archiveMode === 'off');
    expect(instanceCodes.includes('WAL_LEVEL_MINIMAL')).toBe(walLevel === 'minimal');
    for (const finding of result.instances[0]!.findings!) {
      expect(finding.message).toContain('db1 (127.0.0.1:5432)');
      expect(finding.message).not.toContain(password);
    }
  });

  it("is not fooled by a database owner's search_path shadowing the catalog", async () => {
    // A database owner may set search_path for everyone who connects; a pg_extension of their
    // own ahead of pg_catalog would feed a superuser collector made-up rows (or, through a
    // function, run the owner's code with superuser rights).
    await inDatabase(ownedDb, async (c) => {
      await c.query(`CREATE SCHEMA shadow AUTHORIZATION ${role}`);
      await c.query(`CREATE VIEW shadow.pg_extension AS SELECT 'fake'::name AS extname, '6.6.6'::text AS extversion`);
    });
    await admin.query(`ALTER DATABASE ${ownedDb} SET search_path = shadow, pg_catalog`);
    try {
      const result = await postgresqlCollector.collect(target({ username: 'postgres' }), options());
      const extensions = result.instances[0]!.databases.find((d) => d.name === ownedDb)!.properties.extensions;
      expect(extensions).toContainEqual({ name: 'pg_trgm', version: expect.any(String) });
      expect(extensions).not.toContainEqual(expect.objectContaining({ name: 'fake' }));
    } finally {
      await admin.query(`ALTER DATABASE ${ownedDb} RESET search_path`);
      await inDatabase(ownedDb, (c) => c.query('DROP SCHEMA shadow CASCADE'));
    }
  });

  it('has no privilege findings for the superuser, and reports the data directory', async () => {
    const result = await postgresqlCollector.collect(target({ username: 'postgres' }), options());
    const instance = result.instances[0]!;
    expect(codes(result)).not.toContain('SETTINGS_NOT_READABLE');
    expect(codes(result)).not.toContain('NO_REPLICATION_PRIVILEGE');
    expect(codes(result).includes('ARCHIVE_MODE_OFF')).toBe(archiveMode === 'off');
    expect(instance.properties.dataDirectory).toEqual(expect.any(String));
    expect(instance.properties.tablespaces).toContainEqual({ name: 'pg_global', location: null, sizeBytes: null });
    expect(instance.databases.find((d) => d.name === lockedDb)!.properties.extensions).toEqual([
      { name: 'plpgsql', version: expect.any(String) },
    ]);
  });
});

describe('postgresqlCollector time box', () => {
  it('skips sizes and extensions, with warnings, when the budget leaves no room for them', async () => {
    // Under 1 s of budget everything optional is skipped; the instance itself is read in a few ms.
    const { ms, value, error } = await timed(postgresqlCollector.collect(target(), options({ timeoutMs: 1_000 })));
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(1_500);
    expect(value!.warnings).toContainEqual(expect.stringMatching(/^extensions of \d+ database\(s\) not read: time budget/));
    expect(value!.warnings).toContainEqual(expect.stringMatching(/^sizes of \d+ database\(s\) not read: time budget/));
    const databases = value!.instances[0]!.databases;
    for (const db of extraDbs) expect(databases.find((d) => d.name === db)).toMatchObject({ sizeBytes: null });
    expect(databases.every((d) => d.properties.extensions === undefined)).toBe(true);
  });

  it('stops reading extensions when one database holds it up, keeping what it has', async () => {
    // A lock on pg_extension in the first extra database makes its extension query wait: the
    // read runs into its limit and the databases after it are given up, not the collection.
    const blocker = new pg.Client({ host: HOST, port: PORT, user: 'postgres', database: extraDbs[0] });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE pg_extension IN ACCESS EXCLUSIVE MODE');
      const { ms, value, error } = await timed(postgresqlCollector.collect(target(), options({ timeoutMs: 3_000 })));
      expect(error).toBeUndefined();
      expect(ms).toBeLessThan(3_000);
      const warning = value!.warnings.find((w) => /^extensions of \d+ database\(s\) not read: time budget/.test(w));
      expect(Number(/\d+/.exec(warning ?? '')?.[0])).toBeGreaterThanOrEqual(extraDbs.length);
      const byName = new Map(value!.instances[0]!.databases.map((d) => [d.name, d]));
      expect(byName.get('postgres')!.properties.extensions).toBeDefined(); // read first, on the login connection
      expect(byName.get(ownedDb)!.properties.extensions).toBeDefined(); // sorts before the blocked one
      for (const db of extraDbs) expect(byName.get(db)!.properties.extensions).toBeUndefined();
      expect(byName.get(extraDbs[0]!)!.sizeBytes).toBeGreaterThan(0); // sizes were read before
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
  });

  it.each([50, 200, 900, 1_100, 1_300, 2_000])(
    'with %i ms either returns or fails with TIMEOUT, never later than the budget allows',
    async (timeoutMs) => {
      const { ms, value, error } = await timed(postgresqlCollector.collect(target(), options({ timeoutMs })));
      expect(ms).toBeLessThanOrEqual(timeoutMs + 500);
      if (error !== undefined) expect(error).toMatchObject({ code: 'TIMEOUT' });
      else expect(value!.instances).toHaveLength(1);
    },
  );
});

describe('postgresqlCollector.test against the local server', () => {
  it('passes the basic checks for a plain role and warns about settings, replication and locked databases', async () => {
    const checks = await postgresqlCollector.test(target(), options());
    expect(checks.map((c) => c.name)).toEqual(['connect', 'login', 'catalog', 'settings', 'replication', 'databases']);
    expect(statuses(checks)).toEqual({
      connect: 'SUCCESS',
      login: 'SUCCESS',
      catalog: 'SUCCESS',
      settings: 'WARNING',
      replication: 'WARNING',
      databases: 'WARNING',
    });
    const byName = new Map(checks.map((c) => [c.name, c]));
    expect(byName.get('settings')!.message).toContain('pg_read_all_settings');
    expect(byName.get('replication')!.message).toContain('REPLICATION');
    expect(byName.get('databases')!.message).toContain(`"${lockedDb}"`);
    for (const check of checks) {
      expect(check.description).toEqual(expect.any(String));
      expect(check.message).not.toContain(password);
    }
  });

  it('passes the settings and replication checks for the superuser', async () => {
    const checks = await postgresqlCollector.test(target({ username: 'postgres' }), options());
    expect(statuses(checks)).toMatchObject({
      connect: 'SUCCESS',
      login: 'SUCCESS',
      catalog: 'SUCCESS',
      settings: 'SUCCESS',
      replication: 'SUCCESS',
    });
  });

  it('fails the login check for an unknown role and skips the rest, naming the server and not the password', async () => {
    const secret = `never-show-${suffix}`;
    const checks = await postgresqlCollector.test(target({ username: `census_nobody_${suffix}`, password: secret }), options());
    expect(statuses(checks)).toEqual({
      connect: 'SUCCESS',
      login: 'FAILED',
      catalog: 'SKIPPED',
      settings: 'SKIPPED',
      replication: 'SKIPPED',
      databases: 'SKIPPED',
    });
    const login = checks.find((c) => c.name === 'login')!;
    expect(login.message).toContain('db1 (127.0.0.1:5432)');
    expect(login.message).toContain(`census_nobody_${suffix}`);
    for (const check of checks) expect(check.message ?? '').not.toContain(secret);
  });
});

describe('postgresqlCollector against broken endpoints', () => {
  const sockets = new Set<net.Socket>();
  /** Accepts connections and never says a word, like a hung server or a black-holing proxy. */
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    // Read (and ignore) what arrives: an unread socket never sees the peer's FIN, so 'close' would not fire.
    socket.resume();
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  let silentPort = 0;

  beforeAll(async () => {
    silentPort = await listen(silent);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  /** The collector must hang up on the silent server, not leave the socket behind. */
  async function expectSocketsClosed(): Promise<void> {
    const deadline = Date.now() + 2_000;
    while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sockets.size).toBe(0);
  }

  it('fails with REFUSED, retryable, when nothing listens on the port', async () => {
    const probe = net.createServer();
    const freePort = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const err = await failure(postgresqlCollector.collect(target({ port: freePort }), options()));
    expect(err.code).toBe('REFUSED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`db1 (${HOST}:${freePort})`);
  });

  it('fails with TIMEOUT at the deadline when the server never answers', async () => {
    const started = Date.now();
    const err = await failure(postgresqlCollector.collect(target({ port: silentPort }), options({ timeoutMs: 1_500 })));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`db1 (${HOST}:${silentPort})`);
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(5_000);
    await expectSocketsClosed();
  });

  it('fails with CANCELLED when aborted while connecting', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = postgresqlCollector.collect(
      target({ port: silentPort }),
      options({ signal: controller.signal, timeoutMs: 10_000 }),
    );
    setTimeout(() => controller.abort(), 200);
    const err = await failure(pending);
    expect(err.code).toBe('CANCELLED');
    expect(err.retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expectSocketsClosed();
  });

  it('test(): fails the connect check and skips the rest when nothing listens on the port', async () => {
    const probe = net.createServer();
    const freePort = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const checks = await postgresqlCollector.test(target({ port: freePort }), options());
    expect(statuses(checks)).toEqual({
      connect: 'FAILED',
      login: 'SKIPPED',
      catalog: 'SKIPPED',
      settings: 'SKIPPED',
      replication: 'SKIPPED',
      databases: 'SKIPPED',
    });
    expect(checks[0]!.message).toContain(`db1 (${HOST}:${freePort})`);
  });

  it('test(): fails the connect check at the deadline when the server never answers', async () => {
    const { ms, value } = await timed(postgresqlCollector.test(target({ port: silentPort }), options({ timeoutMs: 1_000 })));
    expect(ms).toBeLessThan(2_000);
    expect(value![0]).toMatchObject({ name: 'connect', status: 'FAILED', message: expect.stringContaining('1000 ms') });
    expect(value!.slice(1).every((c) => c.status === 'SKIPPED')).toBe(true);
    await expectSocketsClosed();
  });

  it('test(): reports a cancelled run as a failed first check instead of throwing', async () => {
    const controller = new AbortController();
    controller.abort();
    const checks = await postgresqlCollector.test(target(), options({ signal: controller.signal }));
    expect(checks[0]).toMatchObject({ name: 'connect', status: 'FAILED', message: expect.stringContaining('cancelled') });
    expect(checks.slice(1).every((c) => c.status === 'SKIPPED')).toBe(true);
  });
});

describe('postgresqlCollector.info', () => {
  it('declares every check test() answers, in order: working, refused and refused-login servers', async () => {
    const probe = net.createServer();
    const freePort = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    for (const t of [target(), target({ username: 'postgres' }), target({ port: freePort }), target({ username: `census_nobody_${suffix}` })]) {
      const checks = await postgresqlCollector.test(t, options());
      expectDeclaredChecks(postgresqlCollector.info, checks);
      // It reports every check, SKIPPED ones included.
      expect(checks.map((c) => c.name)).toEqual(postgresqlCollector.info.checks.map((c) => c.name));
    }
    expect(postgresqlCollector.applicationType).toBe(postgresqlCollector.info.type);
  });
});

describe('classifyPgError', () => {
  const where = target({ password: 'hunter2-very-secret' });
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

  it('maps SQLSTATEs and pg messages to codes', () => {
    expect(classifyPgError(withCode('password authentication failed for user "x"', '28P01'), where).code).toBe('AUTH');
    expect(classifyPgError(withCode('permission denied for database', '42501'), where).code).toBe('PERMISSION');
    expect(classifyPgError(withCode('canceling statement due to statement timeout', '57014'), where).code).toBe('TIMEOUT');
    expect(classifyPgError(withCode('sorry, too many clients already', '53300'), where).retryable).toBe(true);
    expect(classifyPgError(new Error('timeout expired'), where).code).toBe('TIMEOUT');
    expect(classifyPgError(new Error('The server does not support SSL connections'), where).code).toBe('TLS');
    expect(classifyPgError(withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), where).code).toBe('TLS');
    expect(classifyPgError(withCode('connect ETIMEDOUT', 'ETIMEDOUT'), where).code).toBe('TIMEOUT');
  });

  it('passes CollectorErrors through unchanged', () => {
    const original = new CollectorError('CANCELLED', 'stop');
    expect(classifyPgError(original, where)).toBe(original);
  });

  it('scrubs the password from driver messages it passes on', () => {
    const err = classifyPgError(new Error('odd failure near "hunter2-very-secret"'), where);
    expect(err.code).toBe('UNKNOWN');
    expect(err.message).toContain('db1 (127.0.0.1:5432)');
    expect(err.message).not.toContain('hunter2-very-secret');
  });
});

describe('time budget policy', () => {
  it('leaves optional work what is above the reserve, and nothing when that is too little to be useful', () => {
    expect(optionalAllowance(10_000, 2_000)).toBe(8_000);
    expect(optionalAllowance(2_030, 2_000)).toBe(0);
    expect(optionalAllowance(500, 1_000)).toBe(0);
  });
});

describe('settingsFindings', () => {
  const where = target();
  const settings = (values: Partial<Record<SettingName, string>>) =>
    new Map(Object.entries(values).map(([name, value]) => [name as SettingName, { setting: value, configured: value } as Setting]));
  const superuser = { isSuperuser: true, canReplicate: false };
  const readable = { data_directory: '/d', archive_command: '', archive_mode: 'on', wal_level: 'replica' } as const;

  it('finds nothing for a well set up server and a superuser login', () => {
    expect(settingsFindings(settings(readable), superuser, where)).toEqual([]);
  });

  it('flags archive_mode off and wal_level minimal', () => {
    const found = settingsFindings(settings({ ...readable, archive_mode: 'off', wal_level: 'minimal' }), superuser, where);
    expect(found.map((f) => f.code)).toEqual(['ARCHIVE_MODE_OFF', 'WAL_LEVEL_MINIMAL']);
  });

  it('flags unreadable settings by name, and a login without REPLICATION', () => {
    const { data_directory: _, ...visible } = readable;
    const found = settingsFindings(settings(visible), { isSuperuser: false, canReplicate: false }, where);
    expect(found.map((f) => f.code)).toEqual(['SETTINGS_NOT_READABLE', 'NO_REPLICATION_PRIVILEGE']);
    expect(found[0]!.message).toContain('data_directory');
    expect(found[0]!.message).not.toContain('archive_mode');
  });

  it('accepts REPLICATION without superuser', () => {
    expect(settingsFindings(settings(readable), { isSuperuser: false, canReplicate: true }, where)).toEqual([]);
  });
});

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Run `work` connected to `database`, as the admin or as the given login. */
async function inDatabase<T>(database: string, work: (client: pg.Client) => Promise<T>, as = { user: 'postgres', password: '' }): Promise<T> {
  const client = new pg.Client({ host: HOST, port: PORT, ...as, database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The home reading as the test's login, connected to `database`. */
const homeAsRole = (database: string) => inDatabase(database, (c) => readHome(c), { user: role, password });

const codes = (result: CollectResult, database?: string) =>
  (result.instances[0]!.findings ?? []).filter((f) => f.database === database).map((f) => f.code);

const statuses = (checks: ConnectionCheck[]) => Object.fromEntries(checks.map((c) => [c.name, c.status]));

/** How long `promise` takes to settle, and how: the value or the (CollectorError) rejection. */
async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = Date.now();
  try {
    const value = await promise;
    return { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}
