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

/** Runs one statement on the machine's server as the test superuser (CREATE/DROP DATABASE). */
async function asSuperuser(statement: string): Promise<void> {
  const root = new pg.Client({ connectionString: PG_URL });
  await root.connect();
  try {
    await root.query(statement);
  } finally {
    await root.end();
  }
}

/**
 * A database of its own on the machine's server, for tests that start real Census processes
 * (a schema is not enough: pg-boss and the processes share it whole). Its URL is known at once,
 * for the processes' arguments; create() and drop() run on the server.
 */
export function scratchDatabase(prefix: string): { name: string; url: string; create(): Promise<void>; drop(): Promise<void> } {
  const name = `${prefix}_${randomBytes(3).toString('hex')}`;
  return {
    name,
    url: PG_URL.replace(/\/[^/]*$/, `/${name}`),
    create: () => asSuperuser(`CREATE DATABASE ${name}`),
    drop: () => asSuperuser(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

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

/**
 * A fresh PostgreSQL schema that several processes open, each a Store of its own (`open()`);
 * the schema is dropped and every Store closed by the cleanups pushed onto `cleanups`.
 */
export async function pgSchemaForProcesses(cleanups: (() => Promise<void>)[]): Promise<{ schema: string; open(): Promise<Store> }> {
  const { schema, drop } = await createPgSchema();
  cleanups.push(drop);
  return {
    schema,
    open: async () => {
      const store = await Store.open({ url: PG_URL, schema });
      cleanups.push(() => store.close());
      return store;
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
