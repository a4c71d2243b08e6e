/**
 * The instance's children: its schemas (MySQL's databases), listed from information_schema,
 * with sizes, table counts and engines where the time budget allows.
 */

import type { Connection as PromiseConnection, RowDataPacket } from 'mysql2/promise';

import { describeServer, errorMessage } from '../network-errors.ts';
import type { CollectedDatabase, CollectTarget } from '../types.ts';
import { isStatementError, isStatementTimeout } from './errors.ts';
import { rows, text, type Reads } from './reads.ts';
import type { Budget, Session } from './session.ts';
import type { Flavor } from './variables.ts';

/**
 * Schemas that belong to the server, not to an application. `mysql` (accounts, grants, time
 * zones, ...) is left out too: it is part of a full-instance backup, but it is not a schema that
 * anyone would pick to back up or restore on its own.
 */
const SYSTEM_SCHEMAS = ['information_schema', 'performance_schema', 'sys', 'mysql'] as const;
const NOT_SYSTEM = `NOT IN (${SYSTEM_SCHEMAS.map((s) => `'${s}'`).join(', ')})`;

/** See readSchemaSizes. */
const CLIENT_SLACK_MS = 100;

interface SchemaRow {
  name: string;
  charset: string | null;
  collation: string | null;
}

/** Lists the schemas this login can see (any privilege on them, or SHOW DATABASES). */
export const SCHEMAS_SQL = `SELECT SCHEMA_NAME AS name, DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation
       FROM information_schema.SCHEMATA
      WHERE SCHEMA_NAME ${NOT_SYSTEM}
      ORDER BY SCHEMA_NAME`;

export async function readSchemas(conn: Reads): Promise<SchemaRow[]> {
  const result = await rows(conn, SCHEMAS_SQL);
  return result.flatMap((row) => {
    const name = text(row, 'name');
    return name === null ? [] : [{ name, charset: text(row, 'charset'), collation: text(row, 'collation') }];
  });
}

interface SchemaStats {
  sizeBytes: number;
  tableCount: number;
  engines: Set<string>;
}

/**
 * Table counts, engines and sizes (data + indexes) per schema from information_schema.TABLES,
 * which only lists the tables this login has some privilege on. Building it opens every table,
 * which can take minutes on a big server, so the query is time-boxed twice: a server-side limit
 * (MariaDB's max_statement_time, MySQL's MAX_EXECUTION_TIME hint) so the server stops working for
 * us, and mysql2's client-side `timeout` so we stop waiting even if the server does not. On
 * timeout the schemas are returned without sizes and with a warning. (MySQL 8 caches these
 * statistics for information_schema_stats_expiry, a day by default, so its sizes may be stale.)
 */
export async function readSchemaSizes(
  conn: PromiseConnection,
  session: Session,
  budget: Budget,
  flavor: Flavor,
  version: string,
  target: CollectTarget,
  warnings: string[],
): Promise<Map<string, SchemaStats> | null> {
  const server = describeServer(target);
  const limitMs = budget.forOptionalWork();
  if (limitMs === 0) {
    warnings.push(`sizes and table counts of the schemas on ${server} not read: no time left in the collection budget`);
    return null;
  }
  const select = `SELECT TABLE_SCHEMA AS schema_name, ENGINE AS engine, COUNT(*) AS table_count,
                         SUM(DATA_LENGTH + INDEX_LENGTH) AS size_bytes
                    FROM information_schema.TABLES
                   WHERE TABLE_TYPE <> 'VIEW' AND TABLE_SCHEMA ${NOT_SYSTEM}
                   GROUP BY TABLE_SCHEMA, ENGINE`;
  const sql =
    flavor === 'MySQL'
      ? select.replace(/^SELECT/, `SELECT /*+ MAX_EXECUTION_TIME(${limitMs}) */`)
      : supportsSetStatement(version)
        ? `SET STATEMENT max_statement_time=${(limitMs / 1000).toFixed(3)} FOR ${select}`
        : select;

  let result: RowDataPacket[];
  try {
    // Our timer waits a little longer than the server's limit, so the server's clean error (which
    // leaves the connection usable) usually comes first.
    [result] = await conn.query<RowDataPacket[]>({ sql, timeout: limitMs + CLIENT_SLACK_MS });
  } catch (err) {
    if (isStatementTimeout(err)) {
      // A client-side timeout leaves the query running on the connection: nothing more can go over it.
      if (!isStatementError(err)) session.markStuck();
      warnings.push(
        `sizes and table counts of the schemas on ${server} not read: information_schema.TABLES did not answer within ${limitMs} ms (a server with many tables can take long; a longer collection timeout helps)`,
      );
      return null;
    }
    if (!isStatementError(err)) throw err;
    warnings.push(`sizes and table counts of the schemas on ${server} not read: ${errorMessage(err, target)}`);
    return null;
  }

  const stats = new Map<string, SchemaStats>();
  for (const row of result) {
    const schema = text(row, 'schema_name');
    if (schema === null) continue;
    const entry = stats.get(schema) ?? { sizeBytes: 0, tableCount: 0, engines: new Set<string>() };
    entry.tableCount += Number(text(row, 'table_count') ?? 0);
    entry.sizeBytes += Number(text(row, 'size_bytes') ?? 0);
    const engine = text(row, 'engine');
    if (engine !== null) entry.engines.add(engine);
    stats.set(schema, entry);
  }
  return stats;
}

/** SET STATEMENT ... FOR came with MariaDB 10.1.2. */
function supportsSetStatement(version: string): boolean {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) return false;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return major > 10 || (major === 10 && (minor > 1 || (minor === 1 && patch >= 2)));
}

/** The schemas as the instance's databases; `sizes` null means the sizes were not read (null, not 0). */
export function schemaDatabases(schemas: readonly SchemaRow[], sizes: ReadonlyMap<string, SchemaStats> | null): CollectedDatabase[] {
  return schemas.map((schema) => {
    const stats = sizes?.get(schema.name);
    return {
      name: schema.name,
      // A schema without visible tables takes no space (as far as this login can see).
      sizeBytes: sizes ? (stats?.sizeBytes ?? 0) : null,
      owner: null, // MySQL schemas have no owner
      encoding: schema.charset,
      properties: {
        tableCount: sizes ? (stats?.tableCount ?? 0) : null,
        collation: schema.collation,
        engines: sizes ? [...(stats?.engines ?? [])].sort() : null,
      },
    };
  });
}
