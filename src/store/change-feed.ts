/**
 * What other processes changed, for caches on PostgreSQL. Several API servers may share one
 * database; a read one of them cached (a job's status body, a login session, a user's access) is
 * only true until any of them writes. So every write to the tables those reads come from
 * NOTIFYs, from a statement-level trigger inside the writing transaction (delivered at COMMIT,
 * never for a rollback, whatever code path wrote: a repository, a transaction of several, psql),
 * and each process LISTENs on one connection of its own and counts what it hears in two
 * generations:
 *
 * - `jobs`: jobs and job_sessions (what the job status GET shows);
 * - `auth`: login sessions ending (DELETE, never the last-access touch), users changing (name,
 *   password, disabled, type, directory; not the login counters), permission sets, roles and
 *   resource groups (what a session's access is worked out from);
 * - `tasks`: task messages put in the queue or given back to it, told by the queue itself in the
 *   transaction or statement that wrote them (engine/pgboss-queue.ts; pg-boss's tables are its
 *   own, so no trigger): idle workers fetch then, and poll only as a safety net.
 *
 * A cache keeps what it read under the generation it saw before the read, and uses it only while
 * the generation is unchanged (a change that commits during the read bumps it, so the read is
 * never kept under the new one).
 *
 * When the listener is not known to be hearing, generation() is undefined and nothing may be
 * cached: before the first LISTEN, after the connection failed or ended (until it is back: both
 * generations move on then, since what was said in between is lost), and when the heartbeat
 * (a `SELECT 1` on the listening connection, every `heartbeatMs`) has not answered within
 * `staleMs`, which catches a connection that died silently. Notifications arrive in order on that
 * connection before the heartbeat's answer, so a heard heartbeat vouches for what came before it.
 *
 * The window that remains: between another process's COMMIT and this process hearing the
 * NOTIFY (PostgreSQL signals the listening backend at commit; on one host that is well under a
 * millisecond), a cached read may still be served. A revocation is never served longer than
 * that, or than `staleMs` if the connection is lost without a word.
 */
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.ts';

export type ChangeScope = 'jobs' | 'auth' | 'tasks';
const SCOPES: readonly ChangeScope[] = ['jobs', 'auth', 'tasks'];
/** The scopes reads are cached under (Store.cacheGeneration); `tasks` only wakes. */
export type CacheScope = 'jobs' | 'auth';

/** The migrations' advisory lock (4242001): installing the triggers must not race another process doing it. */
const INSTALL_LOCK = 4242001;
/** Bump when the triggers below change: a process finding fewer (or older) ones installs them again. */
const TRIGGER_VERSION = 1;

/** Which writes say what. UPDATE OF lists columns: an UPDATE setting none of them says nothing. */
const TRIGGERS: { table: string; scope: ChangeScope; events: string }[] = [
  { table: 'jobs', scope: 'jobs', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  { table: 'job_sessions', scope: 'jobs', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  // The touch every minute (last_access) is no change to anything cached: a cache keeps its own.
  { table: 'login_sessions', scope: 'auth', events: 'DELETE OR TRUNCATE OR UPDATE OF id_hash, user_id' },
  // The login counters (last_login, login_count, failed_login …) change on every login: not listed.
  { table: 'users', scope: 'auth', events: 'DELETE OR TRUNCATE OR UPDATE OF name, password_hash, type, disabled, password_expired, directory_id, dn' },
  { table: 'user_permissions', scope: 'auth', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  { table: 'roles', scope: 'auth', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  { table: 'resource_pools', scope: 'auth', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
];

const triggerName = (table: string) => `census_change_v${TRIGGER_VERSION}_${table}`;

/** The channel: one per schema (tests share a database, each run in a schema of its own). */
/** The tables whose writes move a scope's generation (on SQLite, store/db.ts's WriteCounter counts them). */
export const scopeTables = (scope: ChangeScope): ReadonlySet<string> => new Set(TRIGGERS.filter((t) => t.scope === scope).map((t) => t.table));

export function changeChannel(schema: string | undefined): string {
  return schema ? `census_change_${schema.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63) : 'census_change';
}

/**
 * Creates the NOTIFY triggers unless they are there already (idempotent; under the migrations'
 * lock, since two processes starting together would otherwise replace the function at once).
 */
export async function installChangeTriggers(db: Kysely<DB>, channel: string): Promise<void> {
  const present = async (q: Kysely<DB>) => {
    const r = await sql<{ n: string | number }>`
      SELECT count(*) AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE ${`census_change_v${TRIGGER_VERSION}_%`}`.execute(q);
    return Number(r.rows[0]?.n ?? 0) === TRIGGERS.length;
  };
  if (await present(db)) return;
  await db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(${INSTALL_LOCK})`.execute(tx);
    if (await present(tx)) return;
    await sql.raw(`CREATE OR REPLACE FUNCTION census_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], TG_ARGV[1]);
  RETURN NULL;
END
$$`).execute(tx);
    for (const t of TRIGGERS) {
      const quoted = (s: string) => `'${s.replace(/'/g, "''")}'`;
      await sql.raw(`CREATE OR REPLACE TRIGGER ${triggerName(t.table)} AFTER ${t.events} ON ${t.table} FOR EACH STATEMENT EXECUTE FUNCTION census_change_notify(${quoted(channel)}, ${quoted(t.scope)})`).execute(tx);
    }
  });
}

export interface ChangeFeedOptions {
  /** How often the listening connection is asked `SELECT 1` (default 1 s). */
  heartbeatMs?: number;
  /** How long without a heard heartbeat before caches are not trusted (default 3 s). */
  staleMs?: number;
  /** Wait before connecting again after the connection was lost (default 500 ms). */
  retryMs?: number;
}

export class ChangeFeed {
  private client: pg.Client | undefined;
  private gens: Record<ChangeScope, number> = { jobs: 0, auth: 0, tasks: 0 };
  /** When the listener last proved it hears (LISTEN done, or a heartbeat answered); 0: not hearing. */
  private heardAt = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly heartbeatMs: number;
  private readonly staleMs: number;
  private readonly retryMs: number;
  /** Connections made (tests see a reconnect). */
  connects = 0;
  private readonly listeners = new Set<(scope: ChangeScope) => void>();

  constructor(
    private readonly connection: pg.ClientConfig,
    readonly channel: string,
    options: ChangeFeedOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.staleMs = options.staleMs ?? 3000;
    this.retryMs = options.retryMs ?? 500;
  }

  /** Connects and LISTENs; resolves once listening (throws if the first connection fails). */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      await this.close(); // no retries behind the caller's back: it was told this failed
      throw err;
    }
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** The scope's generation while the listener is hearing; undefined: do not cache now. */
  generation(scope: ChangeScope): number | undefined {
    return this.hearing() ? this.gens[scope] : undefined;
  }

  /** Whether the listener is known to hear: what other processes say now reaches this one. */
  hearing(): boolean {
    return this.heardAt > 0 && Date.now() - this.heardAt <= this.staleMs;
  }

  /**
   * Calls `listener` with each change's scope as it is heard, and with every scope after a (re)connect,
   * since what was said meanwhile is lost. Returns the function that unsubscribes.
   */
  onChange(listener: (scope: ChangeScope) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(scope: ChangeScope): void {
    this.gens[scope]++;
    for (const listener of this.listeners) {
      try {
        listener(scope);
      } catch {
        // A listener's trouble is its own: the feed goes on.
      }
    }
  }

  /** The listener's connection (tests end it from the server side to see the fallback). */
  get backendPid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    this.heardAt = 0;
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const c = new pg.Client(this.connection);
    c.on('notification', (n) => {
      if (c !== this.client) return;
      const scope = SCOPES.find((x) => x === n.payload);
      if (scope) this.tell(scope);
    });
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    this.client = c;
    try {
      await c.connect();
      await c.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      this.lost(c);
      throw err;
    }
    if (c !== this.client) return;
    this.connects++;
    // Whatever was said while nobody listened is lost: every cached read is suspect.
    this.heardAt = Date.now();
    for (const scope of SCOPES) this.tell(scope);
  }

  /** The connection failed or ended: stop trusting caches at once, and connect again soon. */
  private lost(c: pg.Client): void {
    if (c !== this.client) return;
    this.client = undefined;
    this.heardAt = 0;
    c.end().catch(() => {});
    if (this.closed) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      if (!this.closed) this.connect().catch(() => {}); // lost() again on failure: another try later
    }, this.retryMs);
    this.retry.unref();
  }

  private async beat(): Promise<void> {
    const c = this.client;
    if (!c || !this.heardAt) return;
    // A connection whose answer does not come within staleMs is given up (it may be dead without a word).
    const timer = setTimeout(() => this.lost(c), this.staleMs);
    timer.unref();
    try {
      await c.query('SELECT 1');
      if (c === this.client) this.heardAt = Date.now();
    } catch {
      this.lost(c);
    } finally {
      clearTimeout(timer);
    }
  }
}
