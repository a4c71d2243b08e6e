/**
 * The statements that describe one server (version, storage engines, the login's grants,
 * replication status), and the helpers every read goes through. A server's "no" to an optional
 * read is the caller's to report; a broken connection always fails the run.
 */

import type { Connection as PromiseConnection, RowDataPacket } from 'mysql2/promise';

import { isStatementError, mysqlErrno } from './errors.ts';
import type { Flavor } from './variables.ts';

const ER_PARSE_ERROR = 1064;

/** Run an optional read: a server's "no" (an ERR packet) goes to `onError`; a broken connection still fails the run. */
export async function optional<T>(read: () => Promise<T>, onError: (err: unknown) => void): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (!isStatementError(err)) throw err;
    onError(err);
    return null;
  }
}

/**
 * A connection with some statements answered ahead: `ahead()` sends them in one string (one
 * round trip instead of one each; the session allows multiple statements), and each read takes
 * its answer from there. Should any of them be refused, none is kept: each then runs on its own
 * when read, and fails or warns exactly as it would have.
 */
export class Batch {
  private answers = new Map<string, RowDataPacket[]>();

  constructor(readonly connection: PromiseConnection) {}

  async ahead(statements: string[]): Promise<void> {
    try {
      const [results] = await this.connection.query<RowDataPacket[][]>(statements.join(';\n'));
      // A result set each, or (a proxy that does not pass multiple statements on) none kept.
      if (!Array.isArray(results) || results.length !== statements.length || !results.every(Array.isArray)) return;
      statements.forEach((sql, i) => this.answers.set(sql, results[i]!));
    } catch (err) {
      if (!isStatementError(err)) throw err;
    }
  }

  /** The statement's rows if answered ahead (once), else undefined. */
  take(sql: string): RowDataPacket[] | undefined {
    const answer = this.answers.get(sql);
    this.answers.delete(sql);
    return answer;
  }
}

/** What reads run on: a plain connection, or one with answers ahead. */
export type Reads = PromiseConnection | Batch;

export async function rows(conn: Reads, sql: string): Promise<RowDataPacket[]> {
  if (conn instanceof Batch) {
    const answer = conn.take(sql);
    if (answer) return answer;
    conn = conn.connection;
  }
  const [result] = await conn.query<RowDataPacket[]>(sql);
  return result;
}

/** The column value as text, or null; `names` are tried in order (columns were renamed across versions). */
export function text(row: RowDataPacket, ...names: string[]): string | null {
  for (const name of names) {
    const value: unknown = row[name];
    if (value === undefined) continue;
    if (value === null) return null;
    return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return null;
}

export const VERSION_SQL = 'SELECT VERSION() AS version';

export async function readVersion(conn: Reads): Promise<string> {
  const [row] = await rows(conn, VERSION_SQL);
  const version = row ? text(row, 'version') : null;
  if (version === null) throw new Error('SELECT VERSION() returned no row');
  return version;
}

interface EngineSummary {
  available: string[];
  default: string | null;
}

export const ENGINES_SQL = 'SHOW ENGINES';

export async function readEngines(conn: Reads): Promise<EngineSummary> {
  const available: string[] = [];
  let defaultEngine: string | null = null;
  for (const row of await rows(conn, ENGINES_SQL)) {
    const name = text(row, 'Engine');
    const support = text(row, 'Support')?.toUpperCase();
    if (name === null || (support !== 'YES' && support !== 'DEFAULT')) continue;
    available.push(name);
    if (support === 'DEFAULT') defaultEngine = name;
  }
  return { available: available.sort(), default: defaultEngine };
}

export const GRANTS_SQL = 'SHOW GRANTS FOR CURRENT_USER()';

export async function readGrants(conn: Reads): Promise<string[]> {
  // One column whose name carries the account ("Grants for u@%"); take whatever it is.
  return (await rows(conn, GRANTS_SQL)).map((row) => Object.values(row).map(String)[0] ?? '');
}

interface ReplicaChannel {
  channel: string;
  sourceHost: string | null;
  sourcePort: number | null;
  ioRunning: string | null;
  sqlRunning: string | null;
  secondsBehind: number | null;
  usingGtid: string | null;
  lastIoError: string | null;
  lastSqlError: string | null;
}

interface ReplicaStatus {
  /** True when this server replicates from at least one source. */
  isReplica: boolean;
  channels: ReplicaChannel[];
}

/**
 * MariaDB: SHOW ALL SLAVES STATUS (every named connection of multi-source replication, 10.0+);
 * MySQL: SHOW REPLICA STATUS (8.0.22+). Older servers only know SHOW SLAVE STATUS, so a syntax
 * error falls back to it. Needs REPLICATION CLIENT (MySQL) or SLAVE MONITOR / SUPER (MariaDB
 * 10.5+); a refusal, or any other statement error, is returned rather than failing the run.
 */
export async function readReplicaStatus(
  conn: Reads,
  flavor: Flavor,
): Promise<{ ok: true; status: ReplicaStatus } | { ok: false; error: unknown }> {
  const statements =
    flavor === 'MariaDB' ? ['SHOW ALL SLAVES STATUS', 'SHOW SLAVE STATUS'] : ['SHOW REPLICA STATUS', 'SHOW SLAVE STATUS'];
  let lastError: unknown = null;
  for (const sql of statements) {
    try {
      const channels = (await rows(conn, sql)).map(replicaChannel);
      return { ok: true, status: { isReplica: channels.length > 0, channels } };
    } catch (err) {
      if (!isStatementError(err)) throw err;
      lastError = err;
      if (mysqlErrno(err) !== ER_PARSE_ERROR) break;
    }
  }
  return { ok: false, error: lastError };
}

function replicaChannel(row: RowDataPacket): ReplicaChannel {
  const number = (value: string | null) => (value === null || value === '' ? null : Number(value));
  return {
    channel: text(row, 'Connection_name', 'Channel_Name', 'Channel_name') ?? '',
    sourceHost: text(row, 'Source_Host', 'Master_Host'),
    sourcePort: number(text(row, 'Source_Port', 'Master_Port')),
    ioRunning: text(row, 'Replica_IO_Running', 'Slave_IO_Running'),
    sqlRunning: text(row, 'Replica_SQL_Running', 'Slave_SQL_Running'),
    secondsBehind: number(text(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master')),
    usingGtid: text(row, 'Using_Gtid', 'Auto_Position'),
    lastIoError: text(row, 'Last_IO_Error') || null,
    lastSqlError: text(row, 'Last_SQL_Error') || null,
  };
}
