/**
 * The connection test: reach the server, log in, read the schema list, and see whether binary
 * logging and the login's privileges allow backups. Each check builds on the ones before; after
 * a FAILED one the rest are SKIPPED.
 */

import type { Connection as PromiseConnection } from 'mysql2/promise';

import { describeServer, errorMessage } from '../network-errors.ts';
import type { CollectOptions, CollectTarget, ConnectionCheck } from '../types.ts';
import { classifyMysqlError, isStatementError } from './errors.ts';
import { binaryLogFindings } from './findings.ts';
import { backupPrivilegeGap, parseGrants } from './grants.ts';
import { readGrants } from './reads.ts';
import { readSchemas } from './schemas.ts';
import { Guard, mysqlBudget, Session, WHAT, withDefaultPort } from './session.ts';
import { onOff, readVariables } from './variables.ts';

/** The checks, in the order they run, with what each checks (the collector's info lists them). */
export const CHECKS = {
  connect: `reach the ${WHAT} and receive its greeting`,
  login: 'log in with the given user and password',
  catalog: 'read the list of schemas from information_schema',
  'binary-log': 'binary logging is on, so point-in-time recovery is possible',
  privileges: 'the user holds the global privileges backup tools need (RELOAD, LOCK TABLES, REPLICATION CLIENT, PROCESS)',
} as const;
type CheckName = keyof typeof CHECKS;

type Outcome = { status: ConnectionCheck['status']; message?: string };

export async function testConnection(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
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
}

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
