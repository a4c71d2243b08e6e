/**
 * The PostgreSQL collector's catalog carry-over (docs/inventory.md), against a private cluster of
 * the machine's PostgreSQL that nothing else uses (a shared server's other clients would move its
 * signals at any time), behind a relay that keeps what the collector sends. An unchanged cluster's
 * second run sends no catalog statement; each kind of catalog change, a reload and a session busy
 * elsewhere makes the next run read the catalog again, and the change shows. On a standby nothing
 * is carried over: its counters do not count what it replays.
 */
import { mkdtempSync, chownSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { postgresqlCollector } from '../src/collectors/postgresql/index.ts';
import { STORE_CONNECTION_NAMES } from '../src/core/connection-names.ts';
import type { CollectResult, CollectTarget, PreviousInventory } from '../src/collectors/types.ts';
import { options } from './support/collectors.ts';
import { startCluster, startStandby, type AuthCluster } from './support/pg-auth-cluster.ts';
import { startTcpRelay } from './support/tcp-relay.ts';

const LOGIN = 'census_carry';
/** A piece of the catalog statement's text (catalog.ts): sent only when the catalog is read. */
const CATALOG_READ = 'FROM pg_settings';

/** A relay that keeps every byte clients send, so a test can tell which statements went. */
async function startRecordingRelay(targetPort: number) {
  const sent: Buffer[] = [];
  const relay = await startTcpRelay(targetPort, () => (chunk) => sent.push(chunk));
  return {
    ...relay,
    /** Everything sent since the last call. */
    take: () => Buffer.concat(sent.splice(0)).toString('latin1'),
  };
}

/** What the store would hand the next run (InventoryRepository.previous). */
const previousOf = (r: CollectResult): PreviousInventory => ({
  instances: r.instances.map((i) => ({ name: i.name, properties: i.properties, databases: i.databases.map((d) => ({ name: d.name, properties: d.properties })) })),
});

describe('PostgreSQL catalog carry-over', () => {
  let cluster: AuthCluster;
  let relay: Awaited<ReturnType<typeof startRecordingRelay>>;
  let last: CollectResult | undefined;

  const admin = async (database: string, ...statements: string[]) => {
    const c = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database });
    await c.connect();
    try {
      for (const q of statements) await c.query(q);
    } finally {
      await c.end();
    }
  };
  const target = (port: number): CollectTarget => ({ name: 'carry', host: '127.0.0.1', port, username: LOGIN, password: 'unused (trust)' });

  /** One collection through the relay, given the previous one's result; says whether it read the catalog. */
  const collect = async () => {
    relay.take();
    last = await postgresqlCollector.collect(target(relay.port), options(last ? { previous: previousOf(last) } : {}));
    return { result: last, instance: last.instances[0]!, readCatalog: relay.take().includes(CATALOG_READ) };
  };

  beforeAll(async () => {
    // Autovacuum off: its ANALYZE writes, which would move the counters and the next transaction ID at random.
    cluster = await startCluster({ auth: 'trust', fsync: false, settings: { autovacuum: 'off' } });
    await admin('postgres', `CREATE ROLE ${LOGIN} LOGIN`, 'CREATE DATABASE carry_a');
    relay = await startRecordingRelay(cluster.port);
  });

  afterAll(async () => {
    await relay?.close();
    cluster?.stop();
  });

  it('reads the catalog once, carries it over while nothing changed, and reads it again after each change', async () => {
    const first = await collect();
    expect(first.readCatalog).toBe(true);
    expect(first.instance.properties.catalog).toMatchObject({ signal: expect.stringMatching(/^pgc1\|/) });

    const second = await collect();
    expect(second.readCatalog).toBe(false);
    // The same inventory: only the sizes are read again, and they may move.
    const withoutSizes = (r: CollectResult) => ({ ...r.instances[0]!, databases: r.instances[0]!.databases.map((d) => ({ ...d, sizeBytes: null })) });
    expect(withoutSizes(second.result)).toEqual(withoutSizes(first.result));
    expect(second.result.warnings).toEqual(first.result.warnings);

    const space = mkdtempSync(join(tmpdir(), 'census-carry-space-'));
    chownSync(space, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
    try {
      // Each change, then the run that must see it; `seen` checks the instance it recorded.
      const steps: [string, string[], (i: CollectResult['instances'][number]) => void][] = [
        ['a role created', ['CREATE ROLE carry_other'], (i) => expect(i.properties.rolesCount).toBe(first.instance.properties.rolesCount as number + 1)],
        ['a privilege granted to the login', [`GRANT pg_read_all_settings TO ${LOGIN}`], (i) => {
          expect(i.properties.dataDirectory).toEqual(expect.any(String));
          expect(i.findings!.map((f) => f.code)).not.toContain('SETTINGS_NOT_READABLE');
        }],
        ['a role attribute', [`ALTER ROLE ${LOGIN} REPLICATION`], (i) => expect(i.findings!.map((f) => f.code)).not.toContain('NO_REPLICATION_PRIVILEGE')],
        ['a database created', ['CREATE DATABASE carry_b'], (i) => expect(i.databases.map((d) => d.name)).toContain('carry_b')],
        ['a database setting', ["ALTER DATABASE carry_a SET work_mem = '3MB'"], (i) => expect(i.databases.find((d) => d.name === 'carry_a')!.properties.settings).toEqual(['work_mem=3MB'])],
        ['CONNECT revoked', ['REVOKE CONNECT ON DATABASE carry_b FROM PUBLIC'], (i) => expect(i.findings).toContainEqual(expect.objectContaining({ code: 'DATABASE_NOT_CONNECTABLE', database: 'carry_b' }))],
        ['a tablespace created', [`CREATE TABLESPACE carry_space LOCATION '${space}'`], (i) => expect(i.properties.tablespaces).toContainEqual(expect.objectContaining({ name: 'carry_space', location: space }))],
        // Kept in the home database's own pg_class, not in a shared catalog: its counter is part of the signal.
        ['a catalog privilege revoked in the home database', ['REVOKE SELECT ON pg_catalog.pg_db_role_setting FROM PUBLIC'], (i) => expect(i.databases.find((d) => d.name === 'carry_a')!.properties).not.toHaveProperty('settings')],
      ];
      for (const [what, statements, seen] of steps) {
        await admin('postgres', ...statements);
        const after = await collect();
        expect(after.readCatalog, what).toBe(true);
        seen(after.instance);
      }
      expect((await collect()).readCatalog, 'settled again').toBe(false);
    } finally {
      await admin('postgres', 'DROP TABLESPACE IF EXISTS carry_space').catch(() => {});
      rmSync(space, { recursive: true, force: true });
    }
  });

  it('reads the catalog again after a configuration reload, and while a session elsewhere is busy', async () => {
    await collect();
    const loaded = async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        return (await c.query<{ t: string }>('SELECT pg_conf_load_time()::text AS t')).rows[0]!.t;
      } finally {
        await c.end();
      }
    };
    const before = await loaded();
    await admin('postgres', "ALTER SYSTEM SET TimeZone = 'Asia/Tokyo'", 'SELECT pg_reload_conf()');
    // The postmaster reloads on its own time: wait until a new backend has the new configuration.
    const deadline = Date.now() + 10_000;
    while ((await loaded()) === before) if (Date.now() > deadline) throw new Error('the configuration was not reloaded within 10 s');
    const reloaded = await collect();
    expect(reloaded.readCatalog).toBe(true);
    expect(reloaded.instance.properties.timezone).toBe('Asia/Tokyo');
    expect((await collect()).readCatalog).toBe(false);

    // Nothing changed, but a transaction open in another database may hold a shared-catalog write
    // not counted yet (one that has written holds a transaction ID); unless it is Census's own
    // store's, which never writes what the reading reads.
    const busyAs = async (applicationName: string) => {
      const busy = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'carry_a', application_name: applicationName });
      await busy.connect();
      try {
        await busy.query('BEGIN');
        await busy.query('SELECT txid_current()');
        return (await collect()).readCatalog;
      } finally {
        await busy.query('ROLLBACK').catch(() => {});
        await busy.end();
      }
    };
    expect(await busyAs('someone')).toBe(true);
    expect(await busyAs(STORE_CONNECTION_NAMES.store)).toBe(false);
  });

  it('carries the catalog over while a monitoring connection only reads, and reads it again once a connection has written', async () => {
    const connection = async (applicationName: string) => {
      const c = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'postgres', application_name: applicationName });
      await c.connect();
      return c;
    };
    const monitor = await connection('monitor');
    const writer = await connection('writer');
    try {
      const settled = await collect();
      expect(settled.instance.properties.quietXid).toEqual(expect.stringMatching(/^\d+$/));
      const roles = settled.instance.properties.rolesCount as number;

      // Read moments ago in the home database: by activity alone it is unsettled, but nothing has
      // taken a transaction ID since the last run, so nothing can be uncounted.
      await monitor.query('SELECT count(*) FROM pg_stat_activity');
      const watched = await collect();
      expect(watched.readCatalog).toBe(false);

      // The monitor writes and stays connected (its counts may not be flushed yet): read again.
      await monitor.query('CREATE ROLE carry_watched');
      const wrote = await collect();
      expect(wrote.readCatalog).toBe(true);
      expect(wrote.instance.properties.rolesCount).toBe(roles + 1);

      // A write under way at a run's pulse (its transaction ID given out before it), committed
      // after: that run was not quiet, so the next one cannot lean on the transaction IDs.
      await writer.query('BEGIN');
      await writer.query('CREATE ROLE carry_late');
      const during = await collect();
      expect(during.instance.properties).not.toHaveProperty('quietXid');
      expect(during.instance.properties.rolesCount).toBe(roles + 1);
      await writer.query('COMMIT');
      const after = await collect();
      expect(after.readCatalog).toBe(true);
      expect(after.instance.properties.rolesCount).toBe(roles + 2);
    } finally {
      await monitor.end();
      await writer.end();
    }
  });

  it('carries nothing over on a standby, whose counters do not count what it replays', async () => {
    const standby = await startStandby(cluster.port);
    try {
      const run = async (previous?: CollectResult) =>
        postgresqlCollector.collect(target(standby.port), options(previous ? { previous: previousOf(previous) } : {}));
      const first = await run();
      expect(first.instances[0]!.properties).toMatchObject({ isReplica: true });
      expect(first.instances[0]!.properties).not.toHaveProperty('catalog');
      expect(first.instances[0]!.databases.every((d) => !('changeSignal' in d.properties))).toBe(true);

      // An extension created on the primary reaches the standby by replay alone: the next run still sees it.
      await admin('carry_a', 'CREATE EXTENSION pg_trgm');
      const replayed = async () => {
        const c = new pg.Client({ host: '127.0.0.1', port: standby.port, user: 'postgres', database: 'carry_a' });
        await c.connect();
        try {
          return (await c.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).rowCount === 1;
        } finally {
          await c.end();
        }
      };
      const deadline = Date.now() + 10_000;
      while (!(await replayed())) if (Date.now() > deadline) throw new Error('the standby did not replay the extension within 10 s');
      const second = await run(first);
      expect(second.instances[0]!.databases.find((d) => d.name === 'carry_a')!.properties.extensions).toContainEqual(expect.objectContaining({ name: 'pg_trgm' }));
    } finally {
      standby.stop();
    }
  });
});
