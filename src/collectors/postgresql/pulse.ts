/**
 * What the home connection reads on every run, before anything else: the change signals, the
 * recovery state, the configuration's load time and the replication slots (which no catalog
 * holds). A warm run of an unchanged cluster reads nothing more, so this is most of what such a
 * run costs the server beside the login itself.
 */

import type pg from 'pg';

import { STORE_CONNECTION_NAMES } from '../../core/connection-names.ts';
import { errorCode } from '../network-errors.ts';

/**
 * What Census's collectors call themselves (session.ts). Their backends only read, so they have
 * no uncounted writes and do not make a database unsettled: without this, Census's own concurrent
 * collections on one cluster would make every database look busy to each other. A backend of
 * someone else's that takes this name can at worst delay the reading of a change by one run: its
 * writes move the counter once they are counted.
 */
export const COLLECTOR_APPLICATION_NAME = 'census-collector';

/**
 * Census's own store connections, should the store live on a cluster it inventories: they never
 * write what the catalog reading reads (core/connection-names.ts), so they do not unsettle the
 * shared catalogs' row (they do their own database's: they write it all the time).
 */
const CENSUS_STORE = new Set<string>(Object.values(STORE_CONNECTION_NAMES));

/** PGSTAT_IDLE_INTERVAL (10 s) and a margin. */
const SETTLE_SECONDS = 15;

/**
 * Shared-memory statistics (PostgreSQL 15+) lose no counts; the older statistics collector's UDP
 * messages could. And a standby's counters count only its own backends' writes, not the catalog
 * changes it replays from its primary: there no signal is trusted either.
 */
const SIGNALS_FROM = 150000;

/**
 * What tells whether a database's own catalog can have changed since the last run (see
 * docs/inventory.md): the rows inserted, updated and deleted in it (catalog rows included, so
 * CREATE/ALTER/DROP EXTENSION moves them; reading never does) and when its statistics were last
 * reset. `epoch` is the cluster's: its system identifier (the same on a primary and its
 * standbys), its start time and the shared statistics' reset time, which crash recovery also
 * sets; together they name one running server, whatever address it was reached at.
 *
 * A backend adds its counts to these totals only when it goes idle (and at the latest
 * PGSTAT_IDLE_INTERVAL, 10 s, after that), or when it exits: `unsettled` says some other backend
 * connected to the database is not idle, or went idle too recently, so what it committed may not
 * be counted yet. An unsettled database is read again. (A role without pg_read_all_stats sees no
 * state for other roles' backends: they count as unsettled.)
 *
 * Key 0 is the shared catalogs' row (pg_authid, pg_auth_members, pg_database, pg_tablespace,
 * pg_db_role_setting): any backend connected to any database can write those, so it is unsettled
 * while any such backend is.
 */
export interface ChangeSignals {
  epoch: string;
  databases: Map<number, { writes: string; statsReset: string | null; unsettled: boolean }>;
}

export interface ReplicationSlot {
  name: string;
  type: string;
  active: boolean;
}

export interface Pulse {
  isReplica: boolean;
  /** null where they are not exact (before PostgreSQL 15, on a standby): every database is read. */
  signals: ChangeSignals | null;
  /** pg_conf_load_time(): a reload may have changed any setting. */
  confLoaded: string;
  login: string;
  /** The OID of the database this connection is in, as text; null if the server did not list it. */
  homeOid: string | null;
  /** null when the role may not read pg_replication_slots. */
  slots: ReplicationSlot[] | null;
  /**
   * The next transaction ID, when no transaction holding one was running at the pulse (null
   * otherwise, or where signals are not exact): kept for the next run's quiet test (readPulse).
   */
  quietAt: string | null;
}

/**
 * Every value as the server's own text (the same text a ::text cast gives, so signals stored by
 * earlier versions still match), with no casts in the statements: a cast, an operator or a
 * json_agg in the statement is a catalog lookup that a new backend pays for with cold caches. The
 * logic the old single statement did in SQL (who is busy where) is done here instead; the server's
 * CPU for this reading fell from ~7.7 to ~3.6 ms a login (measured with fresh logins, on a VM
 * where a bare login costs ~17.5 ms).
 */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };
type Row = Record<string, string | null>;

// The statistics functions rather than the views made of them (pg_stat_database, pg_stat_bgwriter,
// pg_stat_activity): the same rows and values, without the views' other columns and joins. The
// first row is the shared catalogs' (datid 0), as in pg_stat_database.
const COUNTERS_SQL = `SELECT s.datid,
            pg_stat_get_db_tuples_inserted(s.datid) + pg_stat_get_db_tuples_updated(s.datid) + pg_stat_get_db_tuples_deleted(s.datid) AS writes,
            pg_stat_get_db_stat_reset_time(s.datid) AS stats_reset
       FROM (SELECT 0::oid AS datid UNION ALL SELECT oid FROM pg_database) s`;
const ACTIVITY_SQL = `SELECT datid, pid, backend_type, application_name, state,
            state_change > clock_timestamp() - interval '${SETTLE_SECONDS} seconds' AS recent
       FROM pg_stat_get_activity(NULL::integer)`;
const serverSql = (control: boolean) => `SELECT pg_backend_pid() AS pid, pg_is_in_recovery() AS is_replica,
            pg_conf_load_time() AS conf_loaded, current_user AS login, current_setting('server_version_num') AS version_num,
            ${control ? '(SELECT system_identifier FROM pg_control_system())' : "''"} AS system_identifier,
            pg_postmaster_start_time() AS started, pg_stat_get_bgwriter_stat_reset_time() AS shared_reset,
            has_table_privilege('pg_catalog.pg_replication_slots', 'SELECT') AS slots_readable,
            txid_snapshot_xmin(txid_current_snapshot()) AS xmin, txid_snapshot_xmax(txid_current_snapshot()) AS xmax,
            age('3'::xid) AS next_age`;
const SLOTS_SQL = 'SELECT slot_name, slot_type, active FROM pg_get_replication_slots() ORDER BY slot_name';

/**
 * Both functions are EXECUTE for everyone in stock PostgreSQL. Only after a refusal is it asked
 * which one an administrator revoked (a CASE cannot guard a call: the server checks the privilege
 * when it sets up the statement, whatever the branch).
 */
const MAY_SQL = `SELECT has_function_privilege('pg_control_system()', 'EXECUTE') AS control,
            has_function_privilege('pg_get_replication_slots()', 'EXECUTE') AS slots`;

/**
 * Each statement's rows, all sent in one round trip (the simple protocol takes several at once;
 * pg answers one statement with a result and several with a list of them). Used by the catalog
 * reading too.
 */
export async function queryStatements<R extends pg.QueryResultRow>(client: pg.Client, statements: string[], types?: pg.CustomTypesConfig): Promise<R[][]> {
  const answer: unknown = await client.query({ text: statements.join(';\n'), ...(types ? { types } : {}) });
  return (Array.isArray(answer) ? answer : [answer]).map((r: pg.QueryResult<R>) => r.rows);
}

const run = (client: pg.Client, statements: string[]) => queryStatements<Row>(client, statements, RAW_TEXT);

/**
 * `quietBefore` is what the last run's pulse kept as `quietAt`. When it is the next transaction ID
 * now, the cluster was **quiet** in between: no transaction was running then that held a
 * transaction ID, and none has been given one since. Every catalog write (a role, a database, an
 * extension, a setting stored in a catalog) takes a transaction ID, so nothing was written in
 * between, anywhere in the cluster, and no backend can hold uncounted writes from that time,
 * however recently it was busy: every database is then settled. (A monitoring tool that queries
 * every few seconds no longer makes its database, and the shared catalogs, look unsettled to every
 * run.) Whatever the last run read was read after its pulse, so it holds everything committed
 * before it. Anything that writes, even autovacuum's ANALYZE, moves the next ID, and then the
 * activity decides, as before.
 */
export async function readPulse(client: pg.Client, quietBefore?: unknown): Promise<Pulse> {
  let control = true;
  let slotsAllowed = true;
  let results: Row[][];
  try {
    results = await run(client, [COUNTERS_SQL, ACTIVITY_SQL, serverSql(true), SLOTS_SQL]);
  } catch (err) {
    if (errorCode(err) !== '42501') throw err;
    const [[may] = []] = await run(client, [MAY_SQL]);
    control = may?.control === 't';
    slotsAllowed = may?.slots === 't';
    results = await run(client, [COUNTERS_SQL, ACTIVITY_SQL, serverSql(control), ...(slotsAllowed ? [SLOTS_SQL] : [])]);
  }
  const [counters = [], activity = [], [server] = [], slotRows] = results;
  if (server === undefined) throw new Error('the server returned no row for its own state');
  const isReplica = server.is_replica === 't';
  const exact = Number(server.version_num) >= SIGNALS_FROM && !isReplica;
  const epoch = `${server.system_identifier ?? ''} ${server.started ?? ''} ${server.shared_reset ?? ''}`;
  const ids = transactionIds(server);
  const quiet = exact && ids !== null && quietBefore === ids.next;
  return {
    isReplica,
    signals: exact ? signalsOf(counters, quiet ? [] : activity, server.pid ?? null, epoch) : null,
    confLoaded: server.conf_loaded ?? '',
    login: server.login ?? '',
    homeOid: activity.find((a) => a.pid === server.pid)?.datid ?? null,
    slots: slotsAllowed && server.slots_readable === 't' && slotRows
      ? slotRows.map((r) => ({ name: r.slot_name ?? '', type: r.slot_type ?? '', active: r.active === 't' }))
      : null,
    quietAt: exact && ids?.idle ? ids.next : null,
  };
}

/**
 * The next transaction ID to be given out, and whether no transaction holding one is running.
 * A snapshot's xmax is one past the latest *completed* transaction, not the next ID: a
 * transaction given an ID after that is running but in neither bound. The next ID itself comes
 * from age(): for a transaction that holds no ID it counts from the next one, as 32 bits, and the
 * snapshot's xmax (64 bits, never above it and never 2^31 behind) places it. When the next ID is
 * the snapshot's xmax, no ID was given out after the latest completed one, so every running ID
 * would be below xmax, between xmin and xmax: none is when xmin is xmax too.
 */
function transactionIds(server: Row): { next: string; idle: boolean } | null {
  if (server.xmin == null || server.xmax == null || server.next_age == null) return null;
  const xmin = BigInt(server.xmin);
  const xmax = BigInt(server.xmax);
  const low32 = 0xffffffffn;
  const next32 = (BigInt(server.next_age) + 3n) & low32;
  const next = xmax + ((next32 - (xmax & low32)) & low32);
  return { next: String(next), idle: xmin === xmax && next === xmax };
}

/**
 * Which other backends may hold writes not counted yet: any that is not idle, or went idle less
 * than SETTLE_SECONDS ago (or whose state this role may not see), other than autovacuum (it
 * writes no catalog rows that matter here) and Census's own collectors. A database is unsettled
 * while such a backend is connected to it; the shared catalogs' row while one is connected to any
 * database, bar Census's own store connections (which write none of the shared catalogs).
 */
function signalsOf(counters: Row[], activity: Row[], ownPid: string | null, epoch: string): ChangeSignals {
  const busy = activity.filter(
    (a) => a.datid !== null && a.pid !== ownPid && a.backend_type !== 'autovacuum worker' &&
      a.application_name !== COLLECTOR_APPLICATION_NAME && (a.state !== 'idle' || a.recent !== 'f'),
  );
  const unsettled = (datid: string) =>
    datid === '0' ? busy.some((a) => !CENSUS_STORE.has(a.application_name ?? '')) : busy.some((a) => a.datid === datid);
  return {
    epoch,
    databases: new Map(
      counters.map((r) => [Number(r.datid), { writes: r.writes ?? '', statsReset: r.stats_reset ?? null, unsettled: unsettled(r.datid ?? '') }]),
    ),
  };
}
