/**
 * MySQL / MariaDB inventory collector: one server is one instance; its schemas are the
 * databases. Reads only information_schema, server variables and the login's own grants, so a
 * login with SELECT on the schemas of interest is enough; what it may not see is left out and
 * reported as a finding or warning, not a failure.
 *
 * One connection per run. The whole run is raced against the deadline and the abort signal
 * (Guard), and whichever ends it drops the connection at once (Session).
 */

import type { Connection as PromiseConnection, RowDataPacket } from 'mysql2/promise';

import { describeServer, errorMessage } from '../network-errors.ts';
import type {
  CollectedDatabase,
  CollectedInstance,
  Collector,
  CollectorInfo,
  CollectOptions,
  CollectResult,
  CollectTarget,
  ConnectionCheck,
  ReadinessFinding,
} from '../types.ts';
import { classifyMysqlError, isPermissionError, isStatementError, isStatementTimeout, mysqlErrno } from './errors.ts';
import { backupPrivilegeGap, parseGrants } from './grants.ts';
import { type Budget, DEFAULT_PORT, mysqlBudget, Guard, Session, WHAT, withDefaultPort } from './session.ts';

/**
 * Schemas that belong to the server, not to an application. `mysql` (accounts, grants, time
 * zones, ...) is left out too: it is part of a full-instance backup, but it is not a schema that
 * anyone would pick to back up or restore on its own.
 */
const SYSTEM_SCHEMAS = ['information_schema', 'performance_schema', 'sys', 'mysql'] as const;
const NOT_SYSTEM = `NOT IN (${SYSTEM_SCHEMAS.map((s) => `'${s}'`).join(', ')})`;

/** Server variables read in one SHOW (absent ones simply do not come back, on any version). */
const VARIABLES = [
  'version_comment',
  'log_bin',
  'binlog_format',
  'gtid_mode', // MySQL 5.6+
  'gtid_strict_mode', // MariaDB 10.0+
  'gtid_current_pos', // MariaDB 10.0+
  'server_id',
  'datadir',
] as const;
type Variables = Partial<Record<(typeof VARIABLES)[number], string>>;

type Flavor = 'MariaDB' | 'MySQL';

const ER_PARSE_ERROR = 1064;
/** See readSchemaSizes. */
const CLIENT_SLACK_MS = 100;

/** The connection test's checks, in the order they run, with what each checks. */
const CHECKS = {
  connect: `reach the ${WHAT} and receive its greeting`,
  login: 'log in with the given user and password',
  catalog: 'read the list of schemas from information_schema',
  'binary-log': 'binary logging is on, so point-in-time recovery is possible',
  privileges: 'the user holds the global privileges backup tools need (RELOAD, LOCK TABLES, REPLICATION CLIENT, PROCESS)',
} as const;
type CheckName = keyof typeof CHECKS;

const mysqlInfo: CollectorInfo = {
  type: 'mysql',
  displayName: 'MySQL/MariaDB',
  group: 'databases',
  defaultPort: DEFAULT_PORT,
  // MySQL's schemas are its databases (CREATE SCHEMA is CREATE DATABASE).
  childTypes: ['database'],
  identityKinds: ['password'],
  tls: true,
  checks: Object.entries(CHECKS).map(([name, description]) => ({ name, description })),
};

export const mysqlCollector: Collector = {
  info: mysqlInfo,
  applicationType: mysqlInfo.type,

  async collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult> {
    // Messages and the instance name use the effective port, so fill in the default once.
    const where = withDefaultPort(target);
    const budget = mysqlBudget(options.timeoutMs);
    const session = new Session(where, budget);
    const guard = new Guard(options, where, 'collection from', () => session.dropNow());
    let succeeded = false;
    try {
      const result = await guard.run(collectWith(session, budget, where));
      succeeded = true;
      return result;
    } catch (err) {
      throw classifyMysqlError(err, where);
    } finally {
      guard.dispose();
      await session.close(succeeded);
    }
  },

  async test(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
    const where = withDefaultPort(target);
    const budget = mysqlBudget(options.timeoutMs);
    const session = new Session(where, budget);
    const guard = new Guard(options, where, 'connection test of', () => session.dropNow());
    try {
      return await runChecks(session, guard, where);
    } finally {
      guard.dispose();
      await session.close(true);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// collect()

async function collectWith(session: Session, budget: Budget, target: CollectTarget): Promise<CollectResult> {
  const conn = await session.open();
  const server = describeServer(target);
  const warnings: string[] = [];
  const findings: ReadinessFinding[] = [];
  const warn = (what: string) => (err: unknown) => warnings.push(`${what} not read: ${errorMessage(err, target)}`);

  const version = await readVersion(conn);
  const variables: Variables = (await optional(() => readVariables(conn), warn(`server variables of ${server}`))) ?? {};
  const flavor = flavorOf(version, variables.version_comment);

  const properties: Record<string, unknown> = {
    flavor,
    versionComment: variables.version_comment ?? null,
  };

  const engines = await optional(() => readEngines(conn), warn(`storage engines of ${server}`));
  if (engines) properties.storageEngines = engines;

  const binaryLog = onOff(variables.log_bin);
  properties.binaryLog = binaryLog;
  properties.binlogFormat = variables.binlog_format ?? null;
  Object.assign(properties, gtidProperties(flavor, variables));
  properties.serverId = variables.server_id === undefined ? null : Number(variables.server_id);
  if (variables.datadir) properties.dataDir = variables.datadir;

  findings.push(...binaryLogFindings(binaryLog, variables.binlog_format, server));

  const replica = await readReplicaStatus(conn, flavor);
  if (replica.ok) {
    properties.replica = replica.status;
  } else {
    const why = isPermissionError(replica.error)
      ? `user "${target.username}" lacks the privilege (REPLICATION CLIENT on MySQL, SLAVE MONITOR on MariaDB 10.5+)`
      : 'the server refused the statement';
    findings.push({
      code: 'REPLICA_STATUS_NOT_READABLE',
      message: `replication status of ${server} is not readable: ${why}: ${errorMessage(replica.error, target)}`,
    });
  }

  const grants = await optional(() => readGrants(conn), warn(`grants of user "${target.username}" on ${server}`));
  if (grants) {
    const gap = backupPrivilegeGap(parseGrants(grants));
    if (gap.missing.length > 0) {
      findings.push({ code: 'MISSING_PRIVILEGE', message: `user "${target.username}" on ${server} ${gap.explanation}` });
    }
  }

  // Schema names are cheap; sizes and table counts are last, time-boxed, and may be given up on.
  const schemas = await readSchemas(conn);
  const sizes = await readSchemaSizes(conn, session, budget, flavor, version, target, warnings);

  const databases: CollectedDatabase[] = schemas.map((schema) => {
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

  const instance: CollectedInstance = {
    name: `${target.host}:${target.port ?? DEFAULT_PORT}`,
    host: target.host,
    port: target.port ?? DEFAULT_PORT,
    version,
    properties,
    databases,
    findings,
  };
  return { instances: [instance], warnings };
}

/** Run an optional read: a server's "no" (an ERR packet) goes to `onError`; a broken connection still fails the run. */
async function optional<T>(read: () => Promise<T>, onError: (err: unknown) => void): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (!isStatementError(err)) throw err;
    onError(err);
    return null;
  }
}

async function rows(conn: PromiseConnection, sql: string): Promise<RowDataPacket[]> {
  const [result] = await conn.query<RowDataPacket[]>(sql);
  return result;
}

/** The column value as text, or null; `names` are tried in order (columns were renamed across versions). */
function text(row: RowDataPacket, ...names: string[]): string | null {
  for (const name of names) {
    const value: unknown = row[name];
    if (value === undefined) continue;
    if (value === null) return null;
    return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return null;
}

async function readVersion(conn: PromiseConnection): Promise<string> {
  const [row] = await rows(conn, 'SELECT VERSION() AS version');
  const version = row ? text(row, 'version') : null;
  if (version === null) throw new Error('SELECT VERSION() returned no row');
  return version;
}

async function readVariables(conn: PromiseConnection): Promise<Variables> {
  const list = VARIABLES.map((v) => `'${v}'`).join(', ');
  const result: Record<string, string> = {};
  for (const row of await rows(conn, `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${list})`)) {
    const name = text(row, 'Variable_name');
    const value = text(row, 'Value');
    if (name !== null && value !== null) result[name.toLowerCase()] = value;
  }
  return result as Variables;
}

function flavorOf(version: string, versionComment: string | undefined): Flavor {
  return /mariadb/i.test(version) || /mariadb/i.test(versionComment ?? '') ? 'MariaDB' : 'MySQL';
}

/** log_bin is "ON"/"OFF" through SHOW VARIABLES (and 1/0 through @@log_bin). */
function onOff(value: string | undefined): boolean | null {
  if (value === undefined) return null;
  return /^(on|1|true|yes)$/i.test(value.trim());
}

/**
 * MySQL has a switch, gtid_mode (OFF, OFF_PERMISSIVE, ON_PERMISSIVE, ON), reported as is.
 * MariaDB (10.0+) has none: every transaction it writes to the binary log or replicates gets a
 * GTID. What tells something there is whether a GTID position exists, so for MariaDB gtidMode is
 * "ON" when @@gtid_current_pos is non-empty (GTIDs have been logged or replicated, and a replica
 * or a point-in-time restore can start from that position) and "OFF" when it is empty; the
 * position itself and gtid_strict_mode (refuse out-of-order GTIDs) are reported beside it.
 */
function gtidProperties(flavor: Flavor, vars: Variables): Record<string, unknown> {
  if (flavor === 'MySQL') return { gtidMode: vars.gtid_mode ?? null };
  if (vars.gtid_current_pos === undefined && vars.gtid_strict_mode === undefined) return { gtidMode: null };
  const position = vars.gtid_current_pos ?? '';
  return {
    gtidMode: position.trim() === '' ? 'OFF' : 'ON',
    gtidCurrentPos: position,
    gtidStrictMode: onOff(vars.gtid_strict_mode),
  };
}

function binaryLogFindings(binaryLog: boolean | null, format: string | undefined, server: string): ReadinessFinding[] {
  if (binaryLog === false) {
    return [
      {
        code: 'BINARY_LOG_OFF',
        message: `binary logging is off on ${server} (log_bin): point-in-time recovery is impossible, only restores to the time of a backup`,
      },
    ];
  }
  if (binaryLog === true && format?.toUpperCase() === 'STATEMENT') {
    return [
      {
        code: 'BINLOG_FORMAT_NOT_ROW',
        message: `binlog_format is STATEMENT on ${server}: replaying the binary log for point-in-time recovery may not reproduce non-deterministic statements; ROW is safe`,
      },
    ];
  }
  return [];
}

interface EngineSummary {
  available: string[];
  default: string | null;
}

async function readEngines(conn: PromiseConnection): Promise<EngineSummary> {
  const available: string[] = [];
  let defaultEngine: string | null = null;
  for (const row of await rows(conn, 'SHOW ENGINES')) {
    const name = text(row, 'Engine');
    const support = text(row, 'Support')?.toUpperCase();
    if (name === null || (support !== 'YES' && support !== 'DEFAULT')) continue;
    available.push(name);
    if (support === 'DEFAULT') defaultEngine = name;
  }
  return { available: available.sort(), default: defaultEngine };
}

async function readGrants(conn: PromiseConnection): Promise<string[]> {
  // One column whose name carries the account ("Grants for u@%"); take whatever it is.
  return (await rows(conn, 'SHOW GRANTS FOR CURRENT_USER()')).map((row) => Object.values(row).map(String)[0] ?? '');
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
async function readReplicaStatus(
  conn: PromiseConnection,
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

interface SchemaRow {
  name: string;
  charset: string | null;
  collation: string | null;
}

/** Lists the schemas this login can see (any privilege on them, or SHOW DATABASES). */
async function readSchemas(conn: PromiseConnection): Promise<SchemaRow[]> {
  const result = await rows(
    conn,
    `SELECT SCHEMA_NAME AS name, DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation
       FROM information_schema.SCHEMATA
      WHERE SCHEMA_NAME ${NOT_SYSTEM}
      ORDER BY SCHEMA_NAME`,
  );
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
async function readSchemaSizes(
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

// ---------------------------------------------------------------------------------------------
// test() (its checks: CHECKS, above)

type Outcome = { status: ConnectionCheck['status']; message?: string };

async function runChecks(session: Session, guard: Guard, target: CollectTarget): Promise<ConnectionCheck[]> {
  const server = describeServer(target);
  const checks: ConnectionCheck[] = [];
  const record = (name: CheckName, outcome: Outcome) =>
    checks.push({
      name,
      description: CHECKS[name],
      status: outcome.status,
      ...(outcome.message === undefined ? {} : { message: outcome.message }),
    });
  const failure = (err: unknown): Outcome => ({ status: 'FAILED', message: classifyMysqlError(err, target).message });

  // connect and login are one driver call; the server's greeting tells where it failed.
  let conn: PromiseConnection | null = null;
  let loginError: unknown = null;
  try {
    conn = await guard.run(session.open());
  } catch (err) {
    loginError = err;
  }
  const greeted = session.greeting;
  if (conn === null && greeted === null && classifyMysqlError(loginError, target).code !== 'AUTH') {
    record('connect', failure(loginError));
  } else {
    const answered = greeted ? `${server} answered: version ${greeted.serverVersion}` : `${server} answered`;
    record('connect', { status: 'SUCCESS', message: answered });
    record('login', conn ? { status: 'SUCCESS', message: `logged in as "${target.username}"` } : failure(loginError));
  }

  const steps: Array<[CheckName, (c: PromiseConnection) => Promise<Outcome>]> = [
    ['catalog', (c) => catalogCheck(c, target)],
    ['binary-log', (c) => binaryLogCheck(c, server)],
    ['privileges', (c) => privilegesCheck(c, target)],
  ];
  for (const [name, run] of steps) {
    if (conn === null || checks.some((c) => c.status === 'FAILED')) continue;
    try {
      record(name, await guard.run(run(conn)));
    } catch (err) {
      record(name, failure(err));
    }
  }

  // Everything after the first failure is skipped, naming the failure.
  const failed = checks.find((c) => c.status === 'FAILED');
  for (const name of Object.keys(CHECKS) as CheckName[]) {
    if (checks.some((c) => c.name === name)) continue;
    record(name, { status: 'SKIPPED', message: `skipped because the "${failed?.name ?? 'previous'}" check failed` });
  }
  return checks;
}

async function catalogCheck(conn: PromiseConnection, target: CollectTarget): Promise<Outcome> {
  const schemas = await readSchemas(conn);
  if (schemas.length === 0) {
    return {
      status: 'WARNING',
      message: `user "${target.username}" sees no schemas on ${describeServer(target)}: grant it SELECT on the schemas to inventory (or SHOW DATABASES)`,
    };
  }
  return { status: 'SUCCESS', message: `${schemas.length} schema(s) visible` };
}

async function binaryLogCheck(conn: PromiseConnection, server: string): Promise<Outcome> {
  const vars = await readVariables(conn);
  const binaryLog = onOff(vars.log_bin);
  if (binaryLog === null) return { status: 'WARNING', message: `${server} does not report log_bin` };
  const [finding] = binaryLogFindings(binaryLog, vars.binlog_format, server);
  if (finding) return { status: 'WARNING', message: finding.message };
  return { status: 'SUCCESS', message: `binary logging is on (binlog_format ${vars.binlog_format ?? 'unknown'})` };
}

async function privilegesCheck(conn: PromiseConnection, target: CollectTarget): Promise<Outcome> {
  let grants: string[];
  try {
    grants = await readGrants(conn);
  } catch (err) {
    if (!isStatementError(err)) throw err;
    return { status: 'WARNING', message: `cannot read the grants of user "${target.username}": ${errorMessage(err, target)}` };
  }
  const gap = backupPrivilegeGap(parseGrants(grants));
  if (gap.missing.length === 0) return { status: 'SUCCESS', message: `user "${target.username}" holds the backup privileges` };
  return { status: 'WARNING', message: `user "${target.username}" ${gap.explanation}` };
}
