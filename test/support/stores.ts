/**
 * Opens a fresh store on each dialect: SQLite in a temp dir, and PostgreSQL (the machine's server
 * at 127.0.0.1:5432) in a schema of its own, dropped afterwards. Store tests run on both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Store } from '../../src/store/index.ts';

export const PG_URL = process.env.CENSUS_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestStore {
  store: Store;
  /** What `census server --database` would be given to reach the same data. */
  url: string;
  schema?: string;
  cleanup(): Promise<void>;
}

export async function sqliteStore(): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'census-test-'));
  const url = join(dir, 'census.db');
  const store = await Store.open({ url });
  return {
    store,
    url,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function createPgSchema(): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `census_t_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.query(`DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`);
      await c.end();
    },
  };
}

export async function postgresStore(): Promise<TestStore> {
  const { schema, drop } = await createPgSchema();
  const store = await Store.open({ url: PG_URL, schema });
  return {
    store,
    url: PG_URL,
    schema,
    cleanup: async () => {
      await store.close();
      await drop();
    },
  };
}

export const DIALECTS = [
  ['sqlite', sqliteStore],
  ['postgres', postgresStore],
] as const;
