/**
 * Time and connection plumbing shared by collect() and test(): the budget of one run, the (at
 * most one live) pg.Client it owns, and the two ways work is bounded — a hard deadline for the
 * whole run and a softer limit for optional probes that may be skipped when time runs low.
 */

import pg from 'pg';

import { describeServer, errorCode } from '../network-errors.ts';
import { Budget, raceDeadline } from '../deadline.ts';
import { CollectorError, driverSsl, withPort, type CollectTarget } from '../types.ts';

export { Budget };
import { COLLECTOR_APPLICATION_NAME } from './pulse.ts';
import { classifyPgError } from './errors.ts';

export const DEFAULT_PORT = 5432;
/** "postgres" exists on almost every cluster; template1 always does unless someone dropped it. */
const LOGIN_DATABASE = 'postgres';
const FALLBACK_DATABASE = 'template1';
/** How long a clean logout may take before we just drop the socket. */
const END_GRACE_MS = 500;
/**
 * Optional probes get a server-side statement_timeout of their limit; our own timer waits this
 * much longer so that the server's cancel usually wins and the connection stays usable.
 */
const PROBE_SLACK_MS = 100;

export const withDefaultPort = (target: CollectTarget): CollectTarget => withPort(target, DEFAULT_PORT);

/** Optional work may use time down to a reserve of 20% of the budget or 1 s, whichever is more. */
export const pgBudget = (timeoutMs: number) => new Budget(timeoutMs, (t) => Math.max(t * 0.2, 1_000));

/** Thrown by a Session used after its run has ended (deadline, abort): not a per-database problem. */
class SessionEndedError extends Error {
  constructor() {
    super('the collection has already ended');
    this.name = 'SessionEndedError';
  }
}

/**
 * Owns the (at most one live) pg.Client of a run, so that whoever ends the run — success,
 * error, deadline or abort — can shut it down, and nothing reconnects afterwards.
 */
export class Session {
  private client: pg.Client | null = null;
  private database: string | null = null;
  /** The database we first logged in to; where instance-wide queries run. */
  private home: string | null = null;
  private closed = false;
  /**
   * Bumped by abandon(): a probe we stopped waiting for may still be inside connect(), and must
   * not go on to open a client behind the back of whatever runs next.
   */
  private epoch = 0;

  constructor(
    private readonly target: CollectTarget,
    private readonly budget: Budget,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  get homeDatabase(): string | null {
    return this.home;
  }

  /** Log in to "postgres", or to template1 on a cluster without it. */
  async connectHome(): Promise<pg.Client> {
    try {
      return await this.connect(LOGIN_DATABASE, this.budget.remaining());
    } catch (err) {
      if (errorCode(err) !== '3D000') throw err;
      return this.connect(FALLBACK_DATABASE, this.budget.remaining());
    }
  }

  /** A client on the home database, reconnecting if an abandoned probe took the old one. */
  async homeClient(): Promise<pg.Client> {
    if (this.home === null) return this.connectHome();
    return this.clientFor(this.home, this.budget.remaining());
  }

  /** A client on `database`: the current one if it is there, else a new one replacing it. */
  async clientFor(database: string, limitMs: number): Promise<pg.Client> {
    if (this.client && this.database === database) return this.client;
    return this.connect(database, limitMs);
  }

  /** Drop the current client at once: it may be stuck in a query we gave up waiting for. */
  abandon(): void {
    this.epoch += 1;
    const client = this.client;
    this.client = null;
    this.database = null;
    if (client) destroy(client);
  }

  /** Log out cleanly after success; after a failure (possibly a hung socket) just drop it. */
  async close(graceful: boolean): Promise<void> {
    this.closed = true;
    await this.release(graceful);
  }

  private async connect(database: string, limitMs: number): Promise<pg.Client> {
    if (this.closed) throw new SessionEndedError();
    const epoch = this.epoch;
    await this.release(true);
    if (this.closed) throw new SessionEndedError();
    if (epoch !== this.epoch) throw new Error('connect abandoned: its time ran out');
    // pg cannot be told "until time T", only "for N ms": hand it the limit, so a hung connect
    // or query fails on its own even without the outer race.
    const ms = Math.max(1, Math.ceil(limitMs));
    const client = new pg.Client({
      host: this.target.host,
      port: this.target.port ?? DEFAULT_PORT,
      user: this.target.username,
      password: this.target.password ?? '',
      database,
      application_name: COLLECTOR_APPLICATION_NAME,
      // A database owner can set search_path for everyone who connects and shadow a catalog
      // view with their own (feeding us rows, or running their code with our rights). Settings
      // from the startup packet outrank ALTER DATABASE/ROLE ... SET, so this closes that door.
      options: '-c search_path=pg_catalog',
      ssl: driverSsl(this.target.tls),
      connectionTimeoutMillis: ms,
      statement_timeout: ms,
      query_timeout: ms,
    });
    // A socket error on an idle client is emitted as 'error'; unhandled, it would crash the
    // process. Pending connects and queries are rejected with the same error anyway.
    client.on('error', () => {});
    this.client = client;
    this.database = database;
    try {
      await client.connect();
    } catch (err) {
      if (this.client === client) {
        this.client = null;
        this.database = null;
      }
      destroy(client);
      throw err;
    }
    this.home ??= database;
    return client;
  }

  private async release(graceful: boolean): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = null;
    this.database = null;
    // end() marks the client as ending (so pg does not report the close as unexpected); its
    // promise resolves only once the socket closes, which a silent peer never does. The wait
    // is also cut short by the deadline: logging out must not make the run late.
    const ended = client.end().catch(() => {});
    const graceMs = Math.min(END_GRACE_MS, this.budget.remaining());
    if (graceful && graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([ended, grace]);
      clearTimeout(timer);
    }
    client.connection.stream.destroy();
  }
}

function destroy(client: pg.Client): void {
  client.end().catch(() => {});
  client.connection.stream.destroy();
}

export const OUT_OF_TIME = Symbol('out of time');

/**
 * Run an optional probe with the time optional work may still use, or not at all. Returns
 * OUT_OF_TIME when there was no time to start it or it ran past its limit (a server-side
 * statement timeout, a client-side timeout, or our own timer — then the client, possibly stuck
 * mid-query, is abandoned). Other errors are the caller's to judge.
 */
export async function optionalProbe<T>(
  session: Session,
  budget: Budget,
  target: CollectTarget,
  probe: (limitMs: number) => Promise<T>,
): Promise<T | typeof OUT_OF_TIME> {
  const limitMs = budget.forOptionalWork();
  if (limitMs === 0) return OUT_OF_TIME;
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<typeof OUT_OF_TIME>((resolve) => {
    timer = setTimeout(() => resolve(OUT_OF_TIME), limitMs + PROBE_SLACK_MS);
  });
  // The probe keeps running after our timer wins; its late rejection must not go unhandled.
  const work = probe(limitMs);
  work.catch(() => {});
  try {
    const outcome = await Promise.race([work, timeUp]);
    if (outcome === OUT_OF_TIME) session.abandon();
    return outcome;
  } catch (err) {
    if (session.isClosed || classifyPgError(err, target).code !== 'TIMEOUT') throw err;
    return OUT_OF_TIME;
  } finally {
    clearTimeout(timer);
  }
}

/** Settle with `work`, or with TIMEOUT at the deadline, or with CANCELLED on abort, whichever is first. */
export function withinDeadline<T>(work: Promise<T>, budget: Budget, signal: AbortSignal, target: CollectTarget, activity: string): Promise<T> {
  return raceDeadline(work, budget.deadline, signal, {
    timeout: () => timedOut(target, activity, budget.timeoutMs),
    cancelled: () => cancelled(target, activity),
  });
}

/** `activity` is e.g. "collection from", "connection test of". */
export const cancelled = (target: CollectTarget, activity: string) =>
  new CollectorError('CANCELLED', `${activity} PostgreSQL server ${describeServer(target)} was cancelled`);

const timedOut = (target: CollectTarget, activity: string, timeoutMs: number) =>
  new CollectorError(
    'TIMEOUT',
    `${activity} PostgreSQL server ${describeServer(target)} did not finish within ${timeoutMs} ms`,
  );
