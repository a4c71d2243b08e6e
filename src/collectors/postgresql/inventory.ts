/**
 * What collect() reads, in the order that matters: first the instance and its database list
 * (must finish, or the collection fails), then the slow, optional parts — sizes and each
 * database's extensions — which are skipped with a warning when the time budget runs low.
 */

import type pg from 'pg';

import { describeServer, errorCode } from '../network-errors.ts';
import type { CollectedDatabase, CollectedInstance, CollectResult, CollectTarget, PreviousInventory, ReadinessFinding } from '../types.ts';
import {
  readDatabaseSizes,
  readExtensions,
  readHome,
  readTablespaceSizes,
  withStatementTimeout,
  type DatabaseRow,
  type HomeReading,
  type Extension,
  type LoginRole,
  type Setting,
  type SettingName,
  type TablespaceRow,
} from './catalog.ts';
import { classifyPgError } from './errors.ts';
import type { ChangeSignals } from './pulse.ts';
import { DEFAULT_PORT, OUT_OF_TIME, optionalProbe, type Budget, type Session } from './session.ts';

/** Warnings and findings of one collection, worded for a person and naming the server. */
class Notes {
  readonly warnings: string[] = [];
  readonly findings: ReadinessFinding[] = [];
  readonly server: string;

  constructor(
    readonly target: CollectTarget,
    private readonly budget: Budget,
  ) {
    this.server = describeServer(target);
  }

  warn(text: string): void {
    this.warnings.push(text);
  }

  find(finding: ReadinessFinding): void {
    this.findings.push(finding);
  }

  /** "<what> not read: time budget ..." — the wording the brief and the logs search for. */
  outOfTime(what: string): void {
    this.warn(`${what} not read: time budget of ${this.budget.timeoutMs} ms for ${this.server} nearly used up`);
  }
}

/** A database as listed, with the object it becomes in the result (filled in as reads succeed). */
interface DatabaseEntry {
  row: DatabaseRow;
  out: CollectedDatabase;
}

interface TablespaceEntry {
  row: TablespaceRow;
  out: { name: string; location: string | null; sizeBytes: number | null };
}

/**
 * Bumped whenever what is carried over, or how the signal is read, changes: a signal written by
 * another version of this collector never matches, so the first run after an upgrade reads all.
 */
const SIGNAL_VERSION = 'pg2';

export async function collectInventory(
  session: Session,
  budget: Budget,
  target: CollectTarget,
  previous?: PreviousInventory | Promise<PreviousInventory | undefined>,
  shared?: Map<string, unknown>,
): Promise<CollectResult> {
  const notes = new Notes(target, budget);
  // The last run's record comes from Census's store while this logs in to the server.
  const [client, last] = await Promise.all([session.connectHome(), previous]);
  const name = `${target.host}:${target.port ?? DEFAULT_PORT}`;
  const before = last?.instances.find((i) => i.name === name);

  // Read before any database is visited (the change signals first): a change after this moves
  // the counter for next time.
  const home = await readHome(client, before?.properties.catalog, before?.properties.quietXid);
  const { settings, role, signals } = home;
  const properties = instanceProperties(home, notes);
  const tablespaces = home.tablespaces.map(
    (row): TablespaceEntry => ({ row, out: { name: row.name, location: row.location, sizeBytes: null } }),
  );
  properties.tablespaces = tablespaces.map((t) => t.out);
  // What the next run carries over if the catalog's signal has not moved (catalog-carry.ts).
  if (home.carry) properties.catalog = home.carry;
  // Whether the cluster stays quiet until the next run (pulse.ts).
  if (home.quietAt) properties.quietXid = home.quietAt;
  const databases = home.databases.map((row): DatabaseEntry => ({ row, out: databaseOut(row) }));
  const { dbSettings } = home;
  for (const { row, out } of databases) if (dbSettings) out.properties.settings = dbSettings.get(row.oid) ?? [];
  for (const finding of settingsFindings(settings, role, target)) notes.find(finding);
  noteUnconnectable(databases, notes);

  // From here on everything is optional: it fills in what the time allows.
  await addDatabaseSizes(session, budget, databases, notes, signals && shared ? { epoch: signals.epoch, shared } : null);
  await addTablespaceSizes(session, budget, tablespaces, notes);
  await addExtensions(session, budget, databases, notes, carryOver(signals, before, shared));

  const instance: CollectedInstance = {
    name,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version: settings.get('server_version')?.setting ?? null,
    properties,
    databases: databases.map((d) => d.out),
    findings: notes.findings,
  };
  return { instances: [instance], warnings: notes.warnings };
}

function instanceProperties({ settings, isReplica, rolesCount, slots }: HomeReading, notes: Notes): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    ...settingsProperties(settings),
    isReplica,
    rolesCount,
  };
  if (slots === null) {
    notes.find({
      code: 'REPLICATION_SLOTS_NOT_READABLE',
      message: `user "${notes.target.username}" may not read pg_replication_slots on ${notes.server}: replication slots (which hold back WAL) are not reported`,
    });
  } else {
    properties.replicationSlots = { count: slots.length, slots };
  }
  return properties;
}

/** Settings the role may not read are left out rather than reported as null: unknown, not empty. */
function settingsProperties(settings: Map<SettingName, Setting>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const put = (key: string, name: SettingName, convert: (value: string) => unknown = (v) => v) => {
    const value = settings.get(name)?.setting;
    if (value !== undefined) properties[key] = convert(value);
  };
  put('serverVersionNum', 'server_version_num', Number);
  put('port', 'port', Number);
  put('maxConnections', 'max_connections', Number);
  put('timezone', 'TimeZone');
  put('walLevel', 'wal_level');
  put('archiveMode', 'archive_mode');
  put('dataDirectory', 'data_directory');
  const archiveCommand = settings.get('archive_command');
  if (archiveCommand !== undefined) {
    // The configured value, not SHOW's "(disabled)"; an archive module (PostgreSQL 15+) counts
    // too, since either gives archived WAL somewhere to go.
    properties.archiveCommandSet = Boolean(archiveCommand.configured) || Boolean(settings.get('archive_library')?.configured);
  }
  return properties;
}

/** Readiness findings that follow from the settings and the login role alone. */
export function settingsFindings(
  settings: Map<SettingName, Setting>,
  role: LoginRole,
  target: CollectTarget,
): ReadinessFinding[] {
  const server = describeServer(target);
  const user = `user "${target.username}"`;
  const findings: ReadinessFinding[] = [];
  if (settings.get('archive_mode')?.setting === 'off') {
    findings.push({
      code: 'ARCHIVE_MODE_OFF',
      message: `archive_mode is off on ${server}: WAL is not archived, so point-in-time recovery is impossible (set archive_mode = on and an archive_command; needs a restart)`,
    });
  }
  if (settings.get('wal_level')?.setting === 'minimal') {
    findings.push({
      code: 'WAL_LEVEL_MINIMAL',
      message: `wal_level is minimal on ${server}: WAL can be neither archived nor streamed, so neither point-in-time recovery nor pg_basebackup works (set wal_level = replica; needs a restart)`,
    });
  }
  const unreadable = (['data_directory', 'archive_mode', 'archive_command'] as const).filter((n) => !settings.has(n));
  if (unreadable.length > 0) {
    findings.push({
      code: 'SETTINGS_NOT_READABLE',
      message: `${user} may not read ${unreadable.join(', ')} on ${server} (needs superuser or membership in pg_read_all_settings), so the inventory leaves ${unreadable.length === 1 ? 'it' : 'them'} out (GRANT pg_read_all_settings TO "${target.username}")`,
    });
  }
  if (!role.isSuperuser && !role.canReplicate) {
    findings.push({
      code: 'NO_REPLICATION_PRIVILEGE',
      message: `${user} on ${server} has neither REPLICATION nor SUPERUSER: a physical backup (pg_basebackup) with this login is impossible (ALTER ROLE "${target.username}" REPLICATION)`,
    });
  }
  return findings;
}

function databaseOut(row: DatabaseRow): CollectedDatabase {
  return {
    name: row.name,
    sizeBytes: null,
    owner: row.owner,
    encoding: row.encoding,
    properties: { collation: row.collation, allowConnections: row.allowConnections },
  };
}

/** A warning and a finding for each database the login cannot get into, said once, up front. */
function noteUnconnectable(databases: DatabaseEntry[], notes: Notes): void {
  const user = `user "${notes.target.username}"`;
  for (const { row } of databases) {
    let reason: string;
    if (!row.mayConnect) reason = `${user} lacks CONNECT privilege on it`;
    else if (!row.allowConnections) reason = 'it does not accept connections (datallowconn is false)';
    else continue;
    // Without CONNECT, pg_database_size refuses too; without datallowconn it still works.
    const unread = row.mayConnect ? 'extensions' : 'size and extensions';
    notes.warn(`database "${row.name}" on ${notes.server}: ${unread} not read: ${reason}`);
    notes.find({
      code: 'DATABASE_NOT_CONNECTABLE',
      database: row.name,
      message: `database "${row.name}" on ${notes.server} cannot be connected to (${reason}): a logical backup (pg_dump) with this login cannot include it`,
    });
  }
}

/**
 * The sizes of the databases the login may connect to, in one statement. Within one session the
 * cluster's sizes are read once for each set of databases asked about, however many addresses
 * it is registered under (`cluster`: its epoch names the running server, ChangeSignals): walking
 * every database's files is most of what a warm reading costs the server beside the login. A
 * shared reading that failed is done again here, so this task's warnings say why.
 */
async function addDatabaseSizes(
  session: Session,
  budget: Budget,
  databases: DatabaseEntry[],
  notes: Notes,
  cluster: { epoch: string; shared: Map<string, unknown> } | null,
): Promise<void> {
  const readable = databases.filter((d) => d.row.mayConnect);
  if (readable.length === 0) return;
  const read = () => optionalRead(`sizes of ${readable.length} database(s)`, session, budget, notes, async (limitMs) => {
    const client = await session.homeClient();
    return withStatementTimeout(client, limitMs, () => readDatabaseSizes(client, readable.map((d) => d.row.oid)));
  });
  const key = cluster && `pg-sizes|${cluster.epoch}|${readable.map((d) => d.row.oid).sort((a, b) => a - b).join(',')}`;
  const theirs = key ? (cluster!.shared.get(key) as Promise<Map<number, number> | null> | undefined) : undefined;
  let sizes = theirs ? await theirs : null;
  if (sizes === null) {
    const mine = read();
    if (key && !theirs) cluster!.shared.set(key, mine);
    sizes = await mine;
  }
  if (sizes === null) return;
  for (const { row, out } of readable) {
    out.sizeBytes = sizes.get(row.oid) ?? null;
    if (out.sizeBytes === null) notes.warn(`size of database "${row.name}" on ${notes.server} not read: it vanished while being read`);
  }
}

/**
 * A tablespace the login may not size keeps a null size without a warning: pg_global is one for
 * every non-superuser. The built-in pg_default and pg_global (no location: they are the data
 * directory) are not sized at all: walking the data directory again costs the server more CPU
 * than the rest of the inventory, and pg_default's contents are the database sizes already read.
 */
async function addTablespaceSizes(session: Session, budget: Budget, tablespaces: TablespaceEntry[], notes: Notes): Promise<void> {
  const allowed = tablespaces.filter((t) => t.row.sizeAllowed && t.row.location !== null);
  if (allowed.length === 0) return;
  const sizes = await optionalRead(`sizes of ${allowed.length} tablespace(s)`, session, budget, notes, async (limitMs) => {
    const client = await session.homeClient();
    return withStatementTimeout(client, limitMs, () => readTablespaceSizes(client, allowed.map((t) => t.row.oid)));
  });
  if (sizes === null) return;
  for (const { row, out } of allowed) out.sizeBytes = sizes.get(row.oid) ?? null;
}

/**
 * An optional read on the home database: its value, or null once a warning says why there is
 * none (the time budget, or an error — optional parts never fail the collection). Only the end
 * of the whole run (deadline, abort) goes through.
 */
async function optionalRead<T>(
  what: string,
  session: Session,
  budget: Budget,
  notes: Notes,
  probe: (limitMs: number) => Promise<T>,
): Promise<T | null> {
  try {
    const value = await optionalProbe(session, budget, notes.target, probe);
    if (value !== OUT_OF_TIME) return value;
    notes.outOfTime(what);
  } catch (err) {
    if (session.isClosed) throw err;
    notes.warn(`${what} not read: ${classifyPgError(err, notes.target).message}`);
  }
  return null;
}

/**
 * pg_extension lives in each database's own catalog, so each database means a connection of
 * its own: one at a time, the home database first (its connection is already open), each with
 * one query, and each within what the budget still allows.
 */
async function addExtensions(session: Session, budget: Budget, databases: DatabaseEntry[], notes: Notes, carry: CarryOver): Promise<void> {
  const home = session.homeDatabase;
  const pending: DatabaseEntry[] = [];
  for (const d of databases.filter((e) => e.row.allowConnections && e.row.mayConnect)) {
    const signal = carry.settledSignal(d.row);
    const kept = signal === null ? null : carry.unchanged(d.row.name, signal);
    if (kept) {
      d.out.properties.extensions = kept;
      d.out.properties.changeSignal = signal;
      carry.share(signal!, Promise.resolve(kept));
    } else pending.push(d);
  }
  pending.sort((a, b) => Number(b.row.name === home) - Number(a.row.name === home));
  for (const [index, { row, out }] of pending.entries()) {
    const signal = carry.settledSignal(row);
    // Another task of this session reading the same database of the same cluster: wait for it.
    const theirs = signal === null ? undefined : carry.sharedReading(signal);
    const other = theirs ? await theirs : null;
    if (other) {
      out.properties.extensions = other;
      out.properties.changeSignal = signal;
      continue;
    }
    let settle: ((e: Extension[] | null) => void) | undefined;
    if (signal !== null && !theirs) carry.share(signal, new Promise((resolve) => (settle = resolve)));
    let extensions: Awaited<ReturnType<typeof extensionsOf>> = null;
    try {
      extensions = await extensionsOf(row.name, session, budget, notes);
    } finally {
      settle?.(Array.isArray(extensions) ? extensions : null);
    }
    if (extensions === OUT_OF_TIME) return notes.outOfTime(`extensions of ${pending.length - index} database(s)`);
    if (extensions === null) continue;
    out.properties.extensions = extensions;
    // Only a full reading earns a signal: what it read is what the next run may carry over.
    const now = carry.signalOf(row);
    if (now !== null) out.properties.changeSignal = now;
  }
}

interface CarryOver {
  /** The database's change signal now, or null when there is none to trust (PostgreSQL < 15, no statistics row). */
  signalOf(row: DatabaseRow): string | null;
  /** The signal, if the database is also settled (ChangeSignals: no other backend may hold changes not yet counted). */
  settledSignal(row: DatabaseRow): string | null;
  /** The extensions the last run recorded under exactly this signal, or null: read them again. */
  unchanged(database: string, signal: string): Extension[] | null;
  /** This session's reading under this signal, done or under way on another task (null: it failed). */
  sharedReading(signal: string): Promise<Extension[] | null> | undefined;
  /** Offers a reading under a settled signal to the session's other tasks (the first offer stays). */
  share(signal: string, reading: Promise<Extension[] | null>): void;
}

/**
 * A database's extensions live in its own catalog, which only a transaction connected to that
 * database can change, and every such change inserts, updates or deletes catalog rows: while its
 * row counter, the OID (a database dropped and created again gets a new one), its statistics reset
 * time and the cluster's epoch are all the same, the extensions are the same. Reading them logs
 * in but writes nothing, so the collector's own visit does not move the counter. The epoch names
 * the running cluster, so the same signal met through another registered address of that cluster
 * in the same session means the same extensions as well: they are read once, not once an address.
 */
function carryOver(
  signals: ChangeSignals | null,
  previous: PreviousInventory['instances'][number] | undefined,
  shared: Map<string, unknown> | undefined,
): CarryOver {
  const before = new Map((previous?.databases ?? []).map((d) => [d.name, d.properties]));
  return {
    signalOf(row) {
      const s = signals?.databases.get(row.oid);
      return s ? [SIGNAL_VERSION, signals!.epoch, row.oid, s.writes, s.statsReset ?? ''].join('|') : null;
    },
    settledSignal(row) {
      return signals?.databases.get(row.oid)?.unsettled === false ? this.signalOf(row) : null;
    },
    unchanged(database, signal) {
      const props = before.get(database);
      if (!props || props.changeSignal !== signal || !Array.isArray(props.extensions)) return null;
      return props.extensions as Extension[];
    },
    sharedReading: (signal) => shared?.get(`pg-extensions|${signal}`) as Promise<Extension[] | null> | undefined,
    share(signal, reading) {
      const key = `pg-extensions|${signal}`;
      if (shared && !shared.has(key)) shared.set(key, reading);
    },
  };
}

/** null when the database could not be read (already noted); the run ending is not such a case. */
async function extensionsOf(
  database: string,
  session: Session,
  budget: Budget,
  notes: Notes,
): Promise<Extension[] | typeof OUT_OF_TIME | null> {
  try {
    return await optionalProbe(session, budget, notes.target, async (limitMs) =>
      readExtensions(await session.clientFor(database, limitMs)),
    );
  } catch (err) {
    if (session.isClosed) throw err;
    noteExtensionFailure(database, err, notes);
    return null;
  }
}

/** One database we could not read is a warning; if the server refused us, it is a finding as well. */
function noteExtensionFailure(database: string, err: unknown, notes: Notes): void {
  const what = `extensions of database "${database}" on ${notes.server} not read`;
  // classifyPgError reads 3D000 as "no login database at all"; here it means just this one went.
  if (errorCode(err) === '3D000') return notes.warn(`${what}: it was dropped meanwhile`);
  const error = classifyPgError(err, notes.target);
  notes.warn(`${what}: ${error.message}`);
  if (error.code === 'AUTH' || error.code === 'PERMISSION') {
    notes.find({
      code: 'DATABASE_NOT_CONNECTABLE',
      database,
      message: `user "${notes.target.username}" was refused a connection to database "${database}" on ${notes.server} (${error.message}): a logical backup (pg_dump) with this login cannot include it`,
    });
  }
}
