/**
 * The connection test: the checks a person runs before trusting a server's inventory, in the
 * order they depend on each other. Each says what passed and, if not, what to do about it.
 */

import pg from 'pg';

import { describeServer } from '../network-errors.ts';
import type { CollectOptions, CollectTarget, ConnectionCheck } from '../types.ts';
import { readDatabases, readLoginRole, readSettings, type DatabaseRow } from './catalog.ts';
import { classifyPgError } from './errors.ts';
import { type Budget, cancelled, pgBudget, Session, withDefaultPort, withinDeadline } from './session.ts';

type Outcome = Required<Pick<ConnectionCheck, 'status' | 'message'>>;

const ACTIVITY = 'connection test of';

/** The checks, in the order they run, with what each checks (the collector's info lists them). */
export const PG_CHECKS = {
  connect: 'TCP connection and PostgreSQL protocol',
  login: 'authentication',
  catalog: 'can read pg_database',
  settings: 'can read data_directory and archive_mode',
  replication: 'REPLICATION privilege or superuser',
  databases: 'databases the login may connect to',
} as const;
type CheckName = keyof typeof PG_CHECKS;

/** Enough names to act on; a cluster with hundreds of locked databases gets a count for the rest. */
const MAX_NAMES_LISTED = 20;

/**
 * Runs checks in order. A check that throws, runs into the deadline or is cancelled counts as
 * FAILED; after a FAILED one the rest are SKIPPED, since each builds on the ones before.
 */
class CheckList {
  readonly results: ConnectionCheck[] = [];
  private failed = false;

  constructor(
    private readonly target: CollectTarget,
    private readonly budget: Budget,
    private readonly signal: AbortSignal,
  ) {}

  async run(name: CheckName, probe: () => Promise<Outcome>): Promise<void> {
    const description = PG_CHECKS[name];
    if (this.failed) {
      this.results.push({ name, description, status: 'SKIPPED', message: 'not run: an earlier check failed' });
      return;
    }
    const outcome = await this.outcomeOf(probe);
    if (outcome.status === 'FAILED') this.failed = true;
    this.results.push({ name, description, ...outcome });
  }

  private async outcomeOf(probe: () => Promise<Outcome>): Promise<Outcome> {
    try {
      if (this.signal.aborted) throw cancelled(this.target, ACTIVITY);
      return await withinDeadline(probe(), this.budget, this.signal, this.target, ACTIVITY);
    } catch (err) {
      return { status: 'FAILED', message: classifyPgError(err, this.target).message };
    }
  }
}

export async function testConnection(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]> {
  const where = withDefaultPort(target);
  const budget = pgBudget(options.timeoutMs);
  const session = new Session(where, budget);
  const checks = new CheckList(where, budget, options.signal);
  const server = describeServer(where);
  const user = `user "${where.username}"`;
  // Filled in by earlier checks for later ones.
  let loginError: unknown = null;
  let databases: DatabaseRow[] = [];

  try {
    await checks.run('connect', async () => {
      try {
        await session.connectHome();
      } catch (err) {
        // The server answered, but said no: that is the login check's failure, not this one's.
        if (!answeredByServer(err, where)) throw err;
        loginError = err;
      }
      return { status: 'SUCCESS', message: `${server} answers as a PostgreSQL server` };
    });

    await checks.run('login', async () => {
      if (loginError !== null) return { status: 'FAILED', message: classifyPgError(loginError, where).message };
      return { status: 'SUCCESS', message: `logged in to ${server} as ${user} (database "${session.homeDatabase}")` };
    });

    await checks.run('catalog', async () => {
      databases = await readDatabases(await session.homeClient());
      return { status: 'SUCCESS', message: `${server} lists ${databases.length} database(s) to ${user}` };
    });

    await checks.run('settings', async () => {
      const settings = await readSettings(await session.homeClient());
      const hidden = (['data_directory', 'archive_mode'] as const).filter((n) => !settings.has(n));
      if (hidden.length === 0) {
        return { status: 'SUCCESS', message: `${user} may read the server settings (archive_mode is ${settings.get('archive_mode')?.setting})` };
      }
      return {
        status: 'WARNING',
        message: `${user} may not read ${hidden.join(' and ')} on ${server}: needs superuser or membership in pg_read_all_settings (GRANT pg_read_all_settings TO "${where.username}")`,
      };
    });

    await checks.run('replication', async () => {
      const role = await readLoginRole(await session.homeClient());
      if (role.isSuperuser) return { status: 'SUCCESS', message: `${user} is a superuser` };
      if (role.canReplicate) return { status: 'SUCCESS', message: `${user} has the REPLICATION privilege` };
      return {
        status: 'WARNING',
        message: `${user} has neither REPLICATION nor SUPERUSER on ${server}: physical backups (pg_basebackup) are impossible with this login (ALTER ROLE "${where.username}" REPLICATION)`,
      };
    });

    await checks.run('databases', async () => databasesOutcome(databases, server, user));
  } finally {
    // After an abort nobody waits for a polite logout.
    await session.close(!options.signal.aborted);
  }
  return checks.results;
}

/** Judged by CONNECT privilege and datallowconn, without connecting: pg_hba.conf rules per database are not seen here. */
function databasesOutcome(databases: DatabaseRow[], server: string, user: string): Outcome {
  const locked = databases.filter((d) => !(d.allowConnections && d.mayConnect)).map((d) => `"${d.name}"`);
  const open = databases.length - locked.length;
  if (locked.length === 0) {
    return { status: 'SUCCESS', message: `${user} may connect to all ${databases.length} database(s) on ${server}` };
  }
  const listed = locked.slice(0, MAX_NAMES_LISTED).join(', ');
  const more = locked.length > MAX_NAMES_LISTED ? ` and ${locked.length - MAX_NAMES_LISTED} more` : '';
  return {
    status: 'WARNING',
    message: `${user} may connect to ${open} of ${databases.length} database(s) on ${server}; not to ${listed}${more} (no CONNECT privilege, or the database does not accept connections)`,
  };
}

/** An error that came from the server itself (SQLSTATE) or from authentication means TCP and the protocol worked. */
function answeredByServer(err: unknown, target: CollectTarget): boolean {
  if (classifyPgError(err, target).code === 'AUTH') return true;
  return err instanceof pg.DatabaseError;
}
