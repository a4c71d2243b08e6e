/**
 * The catalog queries, each returning plain typed values. Everything here works for a plain
 * login role (PostgreSQL 10 or later): what such a role may not see comes back as absent or
 * null, never as an error, except where noted.
 */

import type pg from 'pg';

import { errorCode } from '../network-errors.ts';
import { CATALOG_SIGNAL_VERSION, carryOf, catalogFromCarry, type CatalogCarry } from './catalog-carry.ts';
import { queryStatements, readPulse, type ChangeSignals, type Pulse, type ReplicationSlot } from './pulse.ts';

/** The settings collect() and test() look at. */
const SETTING_NAMES = [
  'server_version',
  'server_version_num',
  'port',
  'max_connections',
  'TimeZone',
  'wal_level',
  'archive_mode',
  'archive_command',
  'archive_library', // PostgreSQL 15+: an archive module instead of a command
  'data_directory',
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

/**
 * `setting` is what SHOW says. For archive_command that is "(disabled)" whenever archive_mode is
 * off, so `configured` (pg_settings.reset_val) is kept too: the value from the configuration.
 */
export interface Setting {
  setting: string;
  configured: string | null;
}

/**
 * pg_settings silently leaves out the rows the role may not read (superuser-only settings such
 * as data_directory need superuser or pg_read_all_settings), so a missing key means "not
 * readable" — one query instead of a SHOW per setting and a permission error per refusal.
 */
// The names are this file's constants (plain identifiers), so they are written into the text:
// every query here then has no parameters and can go in one string with readHome's others.
const SETTINGS_SQL = `SELECT name, setting, reset_val FROM pg_settings WHERE name IN (${SETTING_NAMES.map((n) => `'${n}'`).join(', ')})`;
type SettingRow = { name: SettingName; setting: string; reset_val: string | null };
const settingsOf = (rows: SettingRow[]): Map<SettingName, Setting> => new Map(rows.map((r) => [r.name, { setting: r.setting, configured: r.reset_val }]));

export async function readSettings(client: pg.Client): Promise<Map<SettingName, Setting>> {
  return settingsOf((await client.query<SettingRow>(SETTINGS_SQL)).rows);
}

export interface LoginRole {
  isSuperuser: boolean;
  canReplicate: boolean;
}

const ROLE_SQL = 'SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user';
type RoleRow = { rolsuper: boolean; rolreplication: boolean };

export async function readLoginRole(client: pg.Client): Promise<LoginRole> {
  return loginRoleOf((await client.query<RoleRow>(ROLE_SQL)).rows);
}

function loginRoleOf(rows: RoleRow[]): LoginRole {
  const row = rows[0];
  // Only if the role was dropped while we are logged in as it.
  if (row === undefined) throw new Error('the login role is missing from pg_roles');
  return { isSuperuser: row.rolsuper, canReplicate: row.rolreplication };
}

/** Roles people created; the predefined pg_* roles (a reserved prefix) are not counted. */
const ROLES_COUNT_SQL = "SELECT count(*) AS roles_count FROM pg_roles WHERE rolname !~ '^pg_'";
type RolesCountRow = { roles_count: string | number };
const rolesCountOf = (rows: RolesCountRow[]): number => Number(rows[0]?.roles_count ?? 0);

export interface TablespaceRow {
  oid: number;
  name: string;
  /** null for pg_default and pg_global, which live in the data directory. */
  location: string | null;
  /** Whether pg_tablespace_size would be allowed rather than raise 42501. */
  sizeAllowed: boolean;
}

/**
 * pg_tablespace_size needs CREATE on the tablespace or pg_read_all_stats, except for the current
 * database's default tablespace; asking first keeps one refusal from failing the whole query.
 */
const TABLESPACES_SQL = `SELECT t.oid, t.spcname, pg_tablespace_location(t.oid) AS location,
            has_tablespace_privilege(t.oid, 'CREATE')
              OR pg_has_role('pg_read_all_stats', 'USAGE')
              OR t.oid = (SELECT dattablespace FROM pg_database WHERE datname = current_database()) AS size_allowed
       FROM pg_tablespace t
      ORDER BY t.spcname`;
type TablespaceSqlRow = { oid: number; spcname: string; location: string; size_allowed: boolean };

function tablespacesOf(rows: TablespaceSqlRow[]): TablespaceRow[] {
  return rows.map((r) => ({ oid: Number(r.oid), name: r.spcname, location: r.location || null, sizeAllowed: r.size_allowed }));
}

/** Sizes by tablespace OID; a tablespace dropped meanwhile is simply missing. */
export async function readTablespaceSizes(client: pg.Client, oids: number[]): Promise<Map<number, number>> {
  const { rows } = await client.query<{ oid: number; size_bytes: string | null }>(
    'SELECT t.oid, pg_tablespace_size(t.oid) AS size_bytes FROM pg_tablespace t WHERE t.oid = ANY($1::oid[])',
    [oids],
  );
  return sizesById(rows.map((r) => [r.oid, r.size_bytes]));
}

export interface DatabaseRow {
  oid: number;
  name: string;
  owner: string | null;
  encoding: string | null;
  collation: string;
  allowConnections: boolean;
  /** The login holds CONNECT on it (directly or through PUBLIC). */
  mayConnect: boolean;
}

const DATABASES_SQL = `SELECT d.oid, d.datname,
            pg_get_userbyid(d.datdba) AS owner,
            pg_encoding_to_char(d.encoding) AS encoding,
            d.datcollate, d.datallowconn,
            has_database_privilege(d.oid, 'CONNECT') AS may_connect
       FROM pg_database d
      WHERE NOT d.datistemplate
      ORDER BY d.datname`;
type DatabaseSqlRow = {
  oid: number;
  datname: string;
  owner: string | null;
  encoding: string | null;
  datcollate: string;
  datallowconn: boolean;
  may_connect: boolean;
};

export async function readDatabases(client: pg.Client): Promise<DatabaseRow[]> {
  return databasesOf((await client.query<DatabaseSqlRow>(DATABASES_SQL)).rows);
}

function databasesOf(rows: DatabaseSqlRow[]): DatabaseRow[] {
  return rows.map((r) => ({
    oid: Number(r.oid),
    name: r.datname,
    owner: r.owner,
    encoding: r.encoding,
    collation: r.datcollate,
    allowConnections: r.datallowconn,
    mayConnect: r.may_connect,
  }));
}

/**
 * Sizes by database OID. pg_database_size raises 42501 for a database the login may not
 * CONNECT to, which would fail the whole statement, so only those it may are asked about; the
 * OID form returns NULL instead of raising for a database dropped while we read.
 */
export async function readDatabaseSizes(client: pg.Client, oids: number[]): Promise<Map<number, number>> {
  const { rows } = await client.query<{ oid: number; size_bytes: string | null }>(
    `SELECT d.oid,
            CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END AS size_bytes
       FROM pg_database d
      WHERE d.oid = ANY($1::oid[])`,
    [oids],
  );
  return sizesById(rows.map((r) => [r.oid, r.size_bytes]));
}

/** bigint arrives as text; NULLs are left out. */
function sizesById(pairs: [number, string | null][]): Map<number, number> {
  const sizes = new Map<number, number>();
  for (const [oid, size] of pairs) if (size !== null) sizes.set(oid, Number(size));
  return sizes;
}

/**
 * What the home connection reads from the catalogs: the part of a reading that only a catalog
 * change, a configuration reload or a restart can change, and that a run may therefore carry over
 * (catalog-carry.ts).
 */
export interface Catalog {
  settings: Map<SettingName, Setting>;
  role: LoginRole;
  rolesCount: number;
  tablespaces: TablespaceRow[];
  databases: DatabaseRow[];
  /** Per-database settings by OID; null when the role may not read pg_db_role_setting. */
  dbSettings: Map<number, string[]> | null;
}

/** What the home connection reads. */
export interface HomeReading extends Catalog {
  isReplica: boolean;
  /** null where they are not exact (before PostgreSQL 15, on a standby): every database is read. */
  signals: ChangeSignals | null;
  /** null when the role may not read pg_replication_slots. */
  slots: ReplicationSlot[] | null;
  /** The catalog with its signal, for the instance's properties; null when there is no exact signal. */
  carry: CatalogCarry | null;
  /** For the next run's quiet test (pulse.ts), for the instance's properties. */
  quietAt: string | null;
}

/**
 * One query's rows, made into `of`'s value; null when the role may not read what it asks (42501).
 * For pg_replication_slots and pg_db_role_setting, readable by all in stock PostgreSQL but not
 * guaranteed to be.
 */
async function unlessRefused<R extends pg.QueryResultRow, T>(client: pg.Client, text: string, of: (rows: R[]) => T): Promise<T | null> {
  try {
    return of((await client.query<R>(text)).rows);
  } catch (err) {
    if (errorCode(err) === '42501') return null;
    throw err;
  }
}

/** Per-database settings (ALTER DATABASE … SET), as "name=value", by database OID; pg_db_role_setting is a shared catalog, so one query from any database sees every database's. */
const DB_SETTINGS_SQL = 'SELECT setdatabase, setconfig FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase <> 0';
type DbSettingRow = { setdatabase: number; setconfig: string[] | null };
const dbSettingsOf = (rows: DbSettingRow[]): Map<number, string[]> => new Map(rows.map((r) => [Number(r.setdatabase), [...(r.setconfig ?? [])].sort()]));

/**
 * Several statements in one round trip (the simple protocol takes several), each its own reader's
 * query: plain rows, no JSON aggregate or cast around them, which a new backend pays for in
 * catalog lookups with cold caches. The optional one reads a relation stock PostgreSQL lets every
 * role read but an administrator may revoke, and a relation the role may not read fails the whole
 * string at its start: on that refusal the rest is read again without it, and it on its own, so a
 * refusal costs just that part.
 */
function withOptional<O extends pg.QueryResultRow, T>(statements: string[], optional: { sql: string; of: (rows: O[]) => T }) {
  return async (client: pg.Client): Promise<{ results: pg.QueryResultRow[][]; optional: T | null }> => {
    try {
      const all = await queryStatements(client, [...statements, optional.sql]);
      return { results: all.slice(0, statements.length), optional: optional.of(all[statements.length] as O[]) };
    } catch (err) {
      if (errorCode(err) !== '42501') throw err;
    }
    const results = await queryStatements(client, statements);
    return { results, optional: await unlessRefused<O, T>(client, optional.sql, optional.of) };
  };
}

const readCatalogResults = withOptional<DbSettingRow, Map<number, string[]>>(
  [SETTINGS_SQL, ROLE_SQL, ROLES_COUNT_SQL, TABLESPACES_SQL, DATABASES_SQL],
  { sql: DB_SETTINGS_SQL, of: dbSettingsOf },
);

async function readCatalog(client: pg.Client): Promise<Catalog> {
  const { results, optional: dbSettings } = await readCatalogResults(client);
  const [settings = [], role = [], roles = [], tablespaces = [], databases = []] = results;
  return {
    settings: settingsOf(settings as SettingRow[]),
    role: loginRoleOf(role as RoleRow[]),
    rolesCount: rolesCountOf(roles as RolesCountRow[]),
    tablespaces: tablespacesOf(tablespaces as TablespaceSqlRow[]),
    databases: databasesOf(databases as DatabaseSqlRow[]),
    dbSettings,
  };
}

/**
 * The catalog's change signal: everything the catalog statement reads lives in the shared
 * catalogs (whose writes key 0 of the signals counts) or is decided by the home database's own
 * catalog (the privileges on the catalog views and functions), or is a setting that only a reload
 * (pg_conf_load_time) or a restart (the epoch) changes. The login and the home database are part
 * of it, since what a role may see depends on both. null when either row is missing. A stored
 * catalog is used only while both rows are `settled` (a write not counted yet could be hiding
 * behind an unmoved counter); one read while they are not may still be stored with the signal, as
 * the catalog is read after it and so is never older than it.
 */
function catalogSignal(signals: ChangeSignals, pulse: Pulse): { signal: string; settled: boolean } | null {
  const shared = signals.databases.get(0);
  const home = pulse.homeOid === null ? undefined : signals.databases.get(Number(pulse.homeOid));
  if (!shared || !home) return null;
  const signal = [CATALOG_SIGNAL_VERSION, signals.epoch, pulse.confLoaded, pulse.login, pulse.homeOid,
    home.writes, home.statsReset ?? '', shared.writes, shared.statsReset ?? ''].join('|');
  return { signal, settled: !shared.unsettled && !home.unsettled };
}

/**
 * Everything the home connection reads. The pulse (pulse.ts: the signals, slots and recovery
 * state), read on every run; then the catalog, unless `stored` (what the last run recorded,
 * catalog-carry.ts) was read under exactly the signal read now, and that signal is settled.
 * Reading the signals first means a change committed between the two moves the signal by the
 * next run: the stored catalog may be newer than its signal (a needless reading next time), never
 * older.
 */
export async function readHome(client: pg.Client, stored?: unknown, quietBefore?: unknown): Promise<HomeReading> {
  const pulse = await readPulse(client, quietBefore);
  const { signals } = pulse;
  const now = signals && catalogSignal(signals, pulse);
  const kept = now?.settled ? catalogFromCarry(stored, now.signal) : null;
  const catalog = kept ?? (await readCatalog(client));
  return {
    ...catalog,
    isReplica: pulse.isReplica,
    signals,
    slots: pulse.slots,
    carry: now === null ? null : kept ? (stored as CatalogCarry) : carryOf(now.signal, catalog),
    quietAt: pulse.quietAt,
  };
}

export interface Extension {
  name: string;
  version: string;
}

/** The extensions of the database `client` is connected to: pg_extension is per database. */
export async function readExtensions(client: pg.Client): Promise<Extension[]> {
  const { rows } = await client.query<{ extname: string; extversion: string }>(
    'SELECT extname, extversion FROM pg_extension ORDER BY extname',
  );
  return rows.map((r) => ({ name: r.extname, version: r.extversion }));
}

/** Runs a statement with a server-side time limit, so the server stops the work when we stop waiting. */
export async function withStatementTimeout<T>(client: pg.Client, limitMs: number, read: () => Promise<T>): Promise<T> {
  // SET takes no parameters; limitMs is a number we computed, never outside input.
  await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(limitMs))}`);
  return read();
}
