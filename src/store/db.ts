/**
 * Opening the database: SQLite (better-sqlite3, a file in the data dir) by default, or PostgreSQL
 * (pg pool) when given a postgres:// URL. Both sit behind the same Kysely<DB>.
 */
import { AliasNode, CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, TableNode, type KyselyPlugin, type OperationNode, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { StoreClient } from './pg-client.ts';
import { scopeTables } from './change-feed.ts';
import type { DB } from './schema.ts';
import type { Dialect } from './migrations.ts';
import { STORE_CONNECTION_NAMES } from '../core/connection-names.ts';

export interface OpenOptions {
  /** `postgres://…` for PostgreSQL; otherwise a SQLite file path (or ':memory:'). */
  url: string;
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
  poolSize?: number;
  /** SQLite file: checkpoint on a thread of its own (store/checkpointer.ts; default true). */
  checkpointThread?: boolean;
}

/**
 * Counts the write statements run through this process's Kysely that can change a job's answer:
 * those to the tables of the 'jobs' scope (store/change-feed.ts, whose triggers tell other
 * processes on PostgreSQL), and any whose table it cannot tell (SQL written with kysely's sql
 * tag). Readers that cache (hot GETs) compare the count before and after; see
 * Store.cacheGeneration. A running session's task claims, log entries and inventory rows do not
 * move it: only its progress does.
 */
class WriteCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (mayMoveJobs(args.node)) this.count++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

const JOB_TABLES = scopeTables('jobs');

/**
 * Whether a statement may change a job's answer: a write to a table of the 'jobs' scope, or one
 * whose table cannot be told. What the WriteCounter counts, and what a statement compiled once
 * and run past it (rows.ts's fixedQuery and rowInserts) may not be.
 */
export function mayMoveJobs(node: RootOperationNode): boolean {
  const table = writtenTable(node);
  return table !== null && (table === undefined || JOB_TABLES.has(table));
}

/** The table a statement writes; null for a read; undefined when it cannot be told. */
function writtenTable(node: RootOperationNode): string | null | undefined {
  switch (node.kind) {
    case 'SelectQueryNode':
      return null;
    // SQL written with the sql tag: one plain SELECT reads (the metrics' reads are written so,
    // and each scrape would otherwise drop every cached job answer); anything else, or more than
    // one statement, may write.
    case 'RawNode':
      return /^\s*SELECT\s/i.test(node.sqlFragments[0] ?? '') && !node.sqlFragments.some((f) => f.includes(';')) ? null : undefined;
    case 'InsertQueryNode':
      return tableName(node.into);
    case 'UpdateQueryNode':
      return node.from ? undefined : tableName(node.table);
    case 'DeleteQueryNode':
      return node.from.froms.length === 1 ? tableName(node.from.froms[0]) : undefined;
    default:
      return undefined;
  }
}

function tableName(node: OperationNode | undefined): string | undefined {
  if (node && AliasNode.is(node)) node = node.node;
  return node && TableNode.is(node) ? node.table.identifier.name : undefined;
}

export interface Opened {
  db: Kysely<DB>;
  dialect: Dialect;
  writes: WriteCounter;
  /** SQLite only: the raw handle, for hot prepared reads. */
  sqlite?: SQLite.Database;
}

let pgTypesSet = false;

export function openDatabase(options: OpenOptions): Opened {
  const writes = new WriteCounter();
  const plugins = [new CamelCasePlugin(), writes];
  if (/^postgres(ql)?:\/\//.test(options.url)) {
    if (!pgTypesSet) {
      // Times and ids are bigint columns holding epoch milliseconds: safe as JS numbers.
      pg.types.setTypeParser(20, (v) => Number(v));
      pgTypesSet = true;
    }
    const pool = new pg.Pool({
      // Sends BEGIN with a transaction's first statement, and lets a transaction commit in its last string.
      Client: StoreClient,
      connectionString: options.url,
      max: options.poolSize ?? 10,
      application_name: STORE_CONNECTION_NAMES.store,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    return { db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins }), dialect: 'postgres', writes };
  }
  const sqlite = new SQLite(options.url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return { db: new Kysely<DB>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }), plugins }), dialect: 'sqlite', writes, sqlite };
}

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles SQL on every prepare(): a
 * third of the store's CPU in an inventory run went to compiling the same few dozen texts. This
 * hands kysely the database with prepare() answered from the statements compiled lately (by SQL
 * text, the least recently used dropped past `size`). Safe because kysely only calls all() and
 * run() on them, which finish before returning, on one connection; a schema change makes SQLite
 * recompile a cached statement by itself.
 */
export function cachingStatements(db: SQLite.Database, size = 500): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (sql: string): SQLite.Statement => {
    let stmt = cache.get(sql);
    if (stmt) {
      cache.delete(sql); // re-inserted below: the Map's order is the use order
    } else {
      stmt = db.prepare(sql);
      if (cache.size >= size) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, stmt);
    return stmt;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return prepare;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
