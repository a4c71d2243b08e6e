/** The store: every repository over one Kysely, with transactions. */
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { AlertRepository } from './alerts.ts';
import { ApiKeyRepository } from './apikeys.ts';
import { AppServerRepository, ConnectionTestRepository, IdentityRepository } from './appservers.ts';
import { AuditRepository } from './audit.ts';
import { ChangeFeed, changeChannel, installChangeTriggers, type CacheScope, type ChangeFeedOptions } from './change-feed.ts';
import { openDatabase, type OpenOptions } from './db.ts';
import { DirectoryRepository } from './directories.ts';
import { EventRepository } from './events.ts';
import { checkAffected, guardFailure, inlinedWrite, type KeptWrite, type Later } from './later.ts';
import { ENDS_TRANSACTION } from './pg-client.ts';
import { InventoryRepository } from './inventory.ts';
import { JobRepository } from './jobs.ts';
import { MetricsRepository } from './metrics.ts';
import { NotificationRepository } from './notifications.ts';
import { RecipientRepository, SettingsRepository, SmtpRepository, WebhookRepository } from './receivers.ts';
import { migrate, type Dialect } from './migrations.ts';
import type { DB } from './schema.ts';
import { LogRepository, SessionRepository, TaskRepository } from './sessions.ts';
import { PermissionSetRepository, ResourcePoolRepository, RoleRepository } from './security.ts';
import { LoginFailureRepository, LoginSessionRepository, UserRepository } from './users.ts';
import { SealedRepository } from './sealed.ts';
import { SiteRepository } from './sites.ts';
import { WorkerRepository } from './workers.ts';
import { VmRepository } from './vms.ts';
import { startCheckpointer, type Checkpointer } from './checkpointer.ts';
import { STORE_CONNECTION_NAMES } from '../core/connection-names.ts';

export class Repositories {
  readonly users: UserRepository;
  readonly loginSessions: LoginSessionRepository;
  readonly loginFailures: LoginFailureRepository;
  readonly jobs: JobRepository;
  readonly sessions: SessionRepository;
  readonly tasks: TaskRepository;
  readonly logs: LogRepository;
  readonly identities: IdentityRepository;
  readonly appservers: AppServerRepository;
  readonly inventory: InventoryRepository;
  readonly connectionTests: ConnectionTestRepository;
  readonly events: EventRepository;
  readonly metrics: MetricsRepository;
  readonly roles: RoleRepository;
  readonly resourcePools: ResourcePoolRepository;
  readonly permissionSets: PermissionSetRepository;
  readonly audit: AuditRepository;
  readonly directories: DirectoryRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly sites: SiteRepository;
  readonly workers: WorkerRepository;
  readonly vms: VmRepository;
  readonly notifications: NotificationRepository;
  readonly alerts: AlertRepository;
  readonly webhooks: WebhookRepository;
  readonly smtp: SmtpRepository;
  readonly recipients: RecipientRepository;
  readonly settings: SettingsRepository;
  readonly sealed: SealedRepository;

  constructor(
    private readonly kdb: Kysely<DB>,
    readonly dialect: Dialect,
  ) {
    const db = kdb;
    // The writes kept for the transaction's end (the claim, a task's end, last sightings).
    const later: Later = (q, mustAffect) => this.later(q, mustAffect);
    this.events = new EventRepository(db, dialect, (fn) => this.atomically((r) => fn(r.events)));
    this.metrics = new MetricsRepository(db);
    this.users = new UserRepository(db);
    this.loginSessions = new LoginSessionRepository(db);
    this.loginFailures = new LoginFailureRepository(db);
    this.jobs = new JobRepository(db, this.events);
    this.sessions = new SessionRepository(db);
    this.tasks = new TaskRepository(db, later);
    this.logs = new LogRepository(db);
    this.identities = new IdentityRepository(db);
    this.appservers = new AppServerRepository(db);
    this.inventory = new InventoryRepository(db, later);
    this.connectionTests = new ConnectionTestRepository(db);
    this.roles = new RoleRepository(db);
    this.resourcePools = new ResourcePoolRepository(db);
    this.permissionSets = new PermissionSetRepository(db);
    this.audit = new AuditRepository(db);
    this.directories = new DirectoryRepository(db);
    this.apiKeys = new ApiKeyRepository(db);
    this.sites = new SiteRepository(db);
    this.workers = new WorkerRepository(db);
    this.vms = new VmRepository(db);
    this.notifications = new NotificationRepository(db, dialect);
    this.alerts = new AlertRepository(db, this.notifications, dialect);
    this.webhooks = new WebhookRepository(db);
    this.smtp = new SmtpRepository(db);
    this.recipients = new RecipientRepository(db);
    this.settings = new SettingsRepository(db);
    this.sealed = new SealedRepository(db);
  }

  /**
   * Serializes one kind of decision across processes for the rest of the transaction (a
   * PostgreSQL advisory lock); SQLite transactions are serialized already.
   */
  async lock(key: number, sub?: number): Promise<void> {
    if (this.dialect !== 'postgres') return;
    // Two 32-bit keys are a key space of their own: one lock per session, say, under one kind.
    // `sub` is folded into 31 bits (ids are bigger); two ids that fold alike only wait for each other.
    if (sub === undefined) await sql`SELECT pg_advisory_xact_lock(${key}::bigint)`.execute(this.kdb);
    else await sql`SELECT pg_advisory_xact_lock(${key}::int, ${sub % 2_147_483_647}::int)`.execute(this.kdb);
  }

  /**
   * Escape hatch: runs one raw statement, with positional parameters in the database's own
   * syntax ($1, $2 … on PostgreSQL), inside the transaction these repositories belong to (on the
   * Store, on any pooled connection). For a library that writes its own tables and must commit
   * with Census's rows: pg-boss's insert of task messages (engine/pgboss-queue.ts). Rows come
   * back with camelCase keys, like every other read.
   */
  async executeSql(text: string, values: readonly unknown[]): Promise<{ rows: unknown[] }> {
    const r = await this.kdb.executeQuery(CompiledQuery.raw(text, [...values]));
    return { rows: [...r.rows] };
  }

  private deferred: KeptWrite[] = [];

  /**
   * A write whose outcome nothing reads (say, a row's last sighting): inside a transaction it
   * runs at the end, in order, before the transaction's log entries and events, and on
   * PostgreSQL in the round trip that commits (Store.transaction); outside one, now. Nothing in
   * the transaction may read what it writes. With `mustAffect` (what it does, said in the error),
   * the transaction rolls back and fails with NotAffected when it changes no row (store/later.ts).
   */
  async later(q: CompiledQuery, mustAffect?: string): Promise<void> {
    const w = { q, mustAffect };
    if (this.kdb.isTransaction) this.deferred.push(w);
    else checkAffected(w, (await this.kdb.executeQuery(q)).numAffectedRows);
  }

  /** The writes later() kept back, in order; none are kept back after. */
  takeDeferred(): KeptWrite[] {
    const d = this.deferred;
    this.deferred = [];
    return d;
  }

  /**
   * Runs `fn` atomically: here, inside the transaction these repositories belong to; on the
   * Store, in a transaction of its own. For writes that must commit with their events.
   */
  atomically<T>(fn: (r: Repositories) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/** Tells listeners that a commit wrote what they follow. A hint only: a listener's failure is no failure of the committed transaction. */
function hint(listeners: ReadonlySet<() => void>): void {
  for (const listener of listeners) {
    try {
      listener();
    } catch {
      // ignored (see hint)
    }
  }
}

export class Store extends Repositories {
  private constructor(
    readonly db: Kysely<DB>,
    dialect: Dialect,
    private writes: { count: number },
    private readonly options: OpenOptions,
    private readonly checkpointer?: Checkpointer,
  ) {
    super(db, dialect);
  }

  static async open(options: OpenOptions): Promise<Store> {
    const o = openDatabase(options);
    await migrate(o.db, o.dialect);
    // A database file's checkpoints run on a thread of their own, off the event loop.
    const checkpointer = o.sqlite && !o.sqlite.memory && options.checkpointThread !== false ? startCheckpointer(options.url, o.sqlite) : undefined;
    return new Store(o.db, o.dialect, o.writes, options, checkpointer);
  }

  /** On PostgreSQL, what other processes changed (store/change-feed.ts); set by listenForChanges. */
  private changes: ChangeFeed | undefined;

  /**
   * PostgreSQL: installs the change triggers if needed and LISTENs for what every process
   * writes, so that cacheGeneration() can let reads be cached (API servers call it; a worker
   * caches nothing). Nothing to do on SQLite, where this process is the only writer.
   */
  async listenForChanges(options?: ChangeFeedOptions): Promise<ChangeFeed | undefined> {
    if (this.dialect !== 'postgres' || this.changes) return this.changes;
    await installChangeTriggers(this.db, this.changeChannel);
    const feed = new ChangeFeed({ connectionString: this.options.url, application_name: STORE_CONNECTION_NAMES.changes }, this.changeChannel, options);
    await feed.start();
    this.changes = feed;
    return feed;
  }

  /** The channel every process of this store's schema NOTIFYs changes on and listens to (PostgreSQL). */
  get changeChannel(): string {
    return changeChannel(this.options.schema);
  }

  /**
   * A number to cache reads of one scope under (store/change-feed.ts says which writes move
   * which): a read cached under a generation is still true while the generation is the same.
   * Undefined: do not cache now. On SQLite, `jobs` counts this process's writes to jobs and
   * job_sessions (it is the only writer; store/db.ts's WriteCounter) and `auth` stays 0: the
   * auth service forgets what it changes itself. On PostgreSQL, the change feed's, while its
   * listener hears; undefined without one.
   */
  cacheGeneration(scope: CacheScope): number | undefined {
    if (this.dialect === 'sqlite') return scope === 'jobs' ? this.writes.count : 0;
    return this.changes?.generation(scope);
  }

  /**
   * Runs `fn` in one transaction; everything it writes commits together or not at all. The
   * events it recorded are written last, just before COMMIT (store/events.ts explains why).
   */
  async transaction<T>(fn: (r: Repositories) => Promise<T>): Promise<T> {
    let wrote = 0;
    let notified = 0;
    const out = await this.db.transaction().execute(async (tx) => {
      const r = new Repositories(tx, this.dialect);
      const v = await fn(r);
      const events = r.events.takeInserts();
      const kept = r.takeDeferred();
      const tail: KeptWrite[] = [...kept, ...[...r.logs.takeInserts(), ...events.statements].map((q) => ({ q }))];
      const inlined = this.dialect === 'postgres' ? tail.map(inlinedWrite) : [];
      if (this.dialect === 'postgres' && tail.length && inlined.every((q) => q !== undefined)) {
        // The last writes and the COMMIT in one round trip, and with them the events lock
        // (store/events.ts says why); the client answers Kysely's own COMMIT (store/pg-client.ts).
        try {
          await sql.raw([...inlined, `COMMIT ${ENDS_TRANSACTION}`].join(';\n')).execute(tx);
        } catch (err) {
          throw guardFailure(err, kept);
        }
      } else {
        // SQLite (no round trips to save), or a value that is not written as a literal.
        for (const w of tail) checkAffected(w, (await tx.executeQuery(w.q)).numAffectedRows);
      }
      wrote = events.count;
      notified = r.notifications.written;
      return v;
    });
    if (notified) hint(this.notificationListeners);
    if (wrote) hint(this.eventListeners);
    return out;
  }

  override atomically<T>(fn: (r: Repositories) => Promise<T>): Promise<T> {
    return this.transaction(fn);
  }

  private eventListeners = new Set<() => void>();
  private notificationListeners = new Set<() => void>();

  /**
   * Calls `listener` after each commit of this process that wrote notifications (the engine's
   * dispatcher fans them out at once rather than at its next poll). Returns the unsubscriber.
   */
  onNotificationsCommitted(listener: () => void): () => void {
    this.notificationListeners.add(listener);
    return () => this.notificationListeners.delete(listener);
  }

  /**
   * Calls `listener` after each commit of this process that wrote events (a hint to look at the
   * journal now rather than at the next poll; other processes' events are found by polling).
   * Returns the function that unsubscribes.
   */
  onEventsCommitted(listener: () => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.changes?.close();
    // Before the server's connection closes: the last connection to close folds the WAL in.
    await this.checkpointer?.stop();
    await this.db.destroy();
  }
}

export type { OpenOptions };
