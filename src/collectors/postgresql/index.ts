/**
 * PostgreSQL inventory collector: one server (cluster) is one instance; its non-template
 * databases are the databases. Reads only catalog views and settings, so a plain login role is
 * enough; what the role may not see is left out or reported as a warning, not a failure.
 */

import pg from 'pg';

import { describeServer, errorCode } from '../network-errors.ts';
import {
  CollectorError,
  type CollectedDatabase,
  type CollectedInstance,
  type Collector,
  type CollectOptions,
  type CollectResult,
  type CollectTarget,
} from '../types.ts';
import { classifyPgError } from './errors.ts';

const DEFAULT_PORT = 5432;
/** "postgres" exists on almost every cluster; template1 always does unless someone dropped it. */
const LOGIN_DATABASE = 'postgres';
const FALLBACK_DATABASE = 'template1';
/** How long a clean logout may take before we just drop the socket. */
const END_GRACE_MS = 500;

export const postgresqlCollector: Collector = {
  applicationType: 'postgresql',

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    // Messages and the instance name use the effective port, so fill in the default once.
    const where: CollectTarget = { ...target, port: target.port ?? DEFAULT_PORT };
    if (options.signal.aborted) throw cancelled(where);

    const session = new Session(where, Date.now() + options.timeoutMs);
    let succeeded = false;
    try {
      const result = await withinDeadline(collectWith(session, where), options, where);
      succeeded = true;
      return result;
    } catch (err) {
      throw classifyPgError(err, where);
    } finally {
      await session.close(succeeded);
    }
  },
};

async function collectWith(session: Session, target: CollectTarget): Promise<CollectResult> {
  let client: pg.Client;
  try {
    client = await session.connect(LOGIN_DATABASE);
  } catch (err) {
    if (errorCode(err) !== '3D000') throw err;
    client = await session.connect(FALLBACK_DATABASE);
  }
  return readInventory(client, target);
}

/**
 * Owns the (at most one live) pg.Client of a collection, so that whoever ends the collection —
 * success, error, deadline or abort — can shut it down, and nothing reconnects afterwards.
 */
class Session {
  private client: pg.Client | null = null;
  private closed = false;

  constructor(
    private readonly target: CollectTarget,
    private readonly deadline: number,
  ) {}

  async connect(database: string): Promise<pg.Client> {
    if (this.closed) throw new Error('the collection has already ended');
    await this.drop(false); // the client of a failed first attempt
    // pg cannot be told "until time T", only "for N ms": hand it what is left of the budget, so
    // a hung connect or query fails on its own even without the outer race.
    const remaining = Math.max(1, Math.ceil(this.deadline - Date.now()));
    const client = new pg.Client({
      host: this.target.host,
      port: this.target.port ?? DEFAULT_PORT,
      user: this.target.username,
      password: this.target.password ?? '',
      database,
      application_name: 'census-collector',
      connectionTimeoutMillis: remaining,
      statement_timeout: remaining,
      query_timeout: remaining,
    });
    // A socket error on an idle client is emitted as 'error'; unhandled, it would crash the
    // process. Pending connects and queries are rejected with the same error anyway.
    client.on('error', () => {});
    this.client = client;
    await client.connect();
    return client;
  }

  /** Log out cleanly after success; after a failure (possibly a hung socket) just drop it. */
  async close(graceful: boolean): Promise<void> {
    this.closed = true;
    await this.drop(graceful);
  }

  private async drop(graceful: boolean): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = null;
    // end() marks the client as ending (so pg does not report the close as unexpected); its
    // promise resolves only once the socket closes, which a silent peer never does.
    const ended = client.end().catch(() => {});
    if (graceful) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, END_GRACE_MS)));
      await Promise.race([ended, grace]);
      clearTimeout(timer);
    }
    client.connection.stream.destroy();
  }
}

/** Settle with `work`, or with TIMEOUT at the deadline, or with CANCELLED on abort, whichever is first. */
function withinDeadline<T>(work: Promise<T>, options: CollectOptions, target: CollectTarget): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(cancelled(target)));
    const timer = setTimeout(
      () => finish(() => reject(timedOut(target, options.timeoutMs))),
      Math.max(0, options.timeoutMs),
    );
    options.signal.addEventListener('abort', onAbort, { once: true });
    // Handling both outcomes here also keeps a late rejection of `work` from going unhandled.
    work.then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

const cancelled = (target: CollectTarget) =>
  new CollectorError('CANCELLED', `collection from PostgreSQL server ${describeServer(target)} was cancelled`);

const timedOut = (target: CollectTarget, timeoutMs: number) =>
  new CollectorError(
    'TIMEOUT',
    `collection from PostgreSQL server ${describeServer(target)} did not finish within ${timeoutMs} ms`,
  );

async function readInventory(client: pg.Client, target: CollectTarget): Promise<CollectResult> {
  const warnings: string[] = [];
  const version = await readSetting(client, 'server_version');
  const status = firstRow(
    await client.query<{ version_num: string; is_replica: boolean }>(
      `SELECT current_setting('server_version_num') AS version_num, pg_is_in_recovery() AS is_replica`,
    ),
  );
  const properties: Record<string, unknown> = {
    serverVersionNum: Number(status.version_num),
    isReplica: status.is_replica,
  };
  // Only superusers / pg_read_all_settings may read these; a plain login simply does not report them.
  const dataDirectory = await readSettingIfAllowed(client, 'data_directory');
  if (dataDirectory !== undefined) properties.dataDirectory = dataDirectory;
  const archiveMode = await readSettingIfAllowed(client, 'archive_mode');
  if (archiveMode !== undefined) properties.archiveMode = archiveMode;

  const instance: CollectedInstance = {
    name: `${target.host}:${target.port ?? DEFAULT_PORT}`,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version,
    properties,
    databases: await readDatabases(client, target, warnings),
  };
  return { instances: [instance], warnings };
}

interface DatabaseRow {
  datname: string;
  owner: string | null;
  encoding: string | null;
  datcollate: string;
  datallowconn: boolean;
  can_connect: boolean | null;
  size_bytes: string | null; // bigint arrives as text
}

/**
 * pg_database_size raises 42501 for a database the login may not CONNECT to, which would fail
 * the whole statement; asking has_database_privilege first turns that into a NULL per database.
 * The OID forms return NULL instead of raising for a database dropped while we read.
 */
const DATABASES_SQL = `
  SELECT d.datname,
         pg_get_userbyid(d.datdba) AS owner,
         pg_encoding_to_char(d.encoding) AS encoding,
         d.datcollate,
         d.datallowconn,
         has_database_privilege(d.oid, 'CONNECT') AS can_connect,
         CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END AS size_bytes
    FROM pg_database d
   WHERE NOT d.datistemplate
   ORDER BY d.datname`;

async function readDatabases(client: pg.Client, target: CollectTarget, warnings: string[]): Promise<CollectedDatabase[]> {
  const { rows } = await client.query<DatabaseRow>(DATABASES_SQL);
  return rows.map((row) => {
    if (row.size_bytes === null) {
      const why = row.can_connect === false ? `user "${target.username}" lacks CONNECT privilege on it` : 'it vanished while being read';
      warnings.push(`size of database "${row.datname}" on ${describeServer(target)} not read: ${why}`);
    }
    return {
      name: row.datname,
      sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
      owner: row.owner,
      encoding: row.encoding,
      properties: { collation: row.datcollate, allowConnections: row.datallowconn },
    };
  });
}

/** SHOW takes no parameters, so the names are a closed set of literals. */
type SettingName = 'server_version' | 'data_directory' | 'archive_mode';

async function readSetting(client: pg.Client, name: SettingName): Promise<string> {
  const row = firstRow(await client.query<Record<string, string>>(`SHOW ${name}`));
  const value = row[name];
  if (value === undefined) throw new Error(`SHOW ${name} returned no value`);
  return value;
}

async function readSettingIfAllowed(client: pg.Client, name: SettingName): Promise<string | undefined> {
  try {
    return await readSetting(client, name);
  } catch (err) {
    if (errorCode(err) === '42501') return undefined;
    throw err;
  }
}

function firstRow<R extends pg.QueryResultRow>(result: pg.QueryResult<R>): R {
  const row = result.rows[0];
  if (row === undefined) throw new Error('the server returned no row for a catalog query');
  return row;
}
