/**
 * The database as something to back up and restore (`census backup`, `census restore`): a
 * consistent copy of a live SQLite database, the facts a restore checks (whole, schema version,
 * the sealed credentials), and whether a server has a SQLite database open. None of this
 * migrates anything: a backup is taken and checked as it is.
 */
import { existsSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from './db.ts';

export interface DatabaseFacts {
  /** The newest migration applied (0 when the ledger is empty). */
  schemaVersion: number;
  /** Every sealed secret (identities' passwords and keys), to check the key against. */
  sealed: string[];
}

/**
 * Copies the SQLite database at `source` into the new file `dest`, while a server may be writing
 * to it. VACUUM INTO reads inside one transaction, so the copy is the database as of one commit
 * (a file copy could catch a write half done, or miss what is still in the WAL); in WAL mode the
 * server's writers go on meanwhile. The copy comes out compacted.
 */
export function copyLiveDatabase(source: string, dest: string): void {
  const db = new SQLite(source, { fileMustExist: true, timeout: 10_000 });
  try {
    db.prepare('VACUUM INTO ?').run(dest);
  } finally {
    db.close();
  }
}

/**
 * Checks that the SQLite file at `path` is a whole Census database and returns what a restore
 * checks next. Throws with SQLite's own findings when it is not.
 */
export function inspectSqlite(path: string): DatabaseFacts {
  let db: SQLite.Database | undefined;
  try {
    db = new SQLite(path, { fileMustExist: true });
    const problems = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new Error(`the database failed its integrity check: ${problems.slice(0, 5).join('; ')}`);
    }
    if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'census_migrations'`).get()) {
      throw new Error('the database is not a Census database (it has no census_migrations table)');
    }
    const v = db.prepare('SELECT MAX(version) AS v FROM census_migrations').get() as { v: number | null };
    const sealed = (db.prepare('SELECT secret FROM identities').all() as { secret: string }[]).map((r) => r.secret);
    return { schemaVersion: Number(v.v ?? 0), sealed };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') throw new Error(`the database is damaged: ${(err as Error).message}`);
    throw err;
  } finally {
    db?.close();
  }
}

/** The same facts from a PostgreSQL database (read only; `schema` as CensusConfig.schema). */
export async function inspectPostgres(url: string, schema?: string): Promise<DatabaseFacts> {
  const { db } = openDatabase({ url, poolSize: 1, ...(schema ? { schema } : {}) });
  try {
    const v = await sql<{ v: number | null }>`SELECT MAX(version) AS v FROM census_migrations`.execute(db);
    const rows = await db.selectFrom('identities').select('secret').execute();
    return { schemaVersion: Number(v.rows[0]?.v ?? 0), sealed: rows.map((r) => r.secret) };
  } finally {
    await db.destroy();
  }
}

/** Whether the PostgreSQL database already holds Census tables. */
export async function postgresHasCensus(url: string, schema?: string): Promise<boolean> {
  const { db } = openDatabase({ url, poolSize: 1, ...(schema ? { schema } : {}) });
  try {
    const r = await sql<{ t: string | null }>`SELECT to_regclass('census_migrations')::text AS t`.execute(db);
    return r.rows[0]?.t != null;
  } finally {
    await db.destroy();
  }
}

/**
 * True while another connection (a running server, or any other process) has the SQLite
 * database at `path` open. A server keeps its connection open for its whole life; a connection
 * in WAL mode holds a shared lock that an exclusive-mode transaction cannot get past. The OS
 * drops the lock when the process ends however it ends, so a killed server is not "in use".
 */
export function sqliteInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new SQLite(path, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
    return false;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY') return true;
    // Not a database at all: no server can be running on it.
    if (code === 'SQLITE_NOTADB') return false;
    throw err;
  } finally {
    db.close();
  }
}
