/** The store: every repository over one Kysely, with transactions. */
import { sql, type Kysely } from 'kysely';
import { AppServerRepository, ConnectionTestRepository, IdentityRepository } from './appservers.ts';
import { openDatabase, type OpenOptions } from './db.ts';
import { InventoryRepository } from './inventory.ts';
import { JobRepository } from './jobs.ts';
import { migrate, type Dialect } from './migrations.ts';
import type { DB } from './schema.ts';
import { LogRepository, SessionRepository, TaskRepository } from './sessions.ts';
import { LoginFailureRepository, LoginSessionRepository, UserRepository } from './users.ts';

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

  constructor(
    private readonly kdb: Kysely<DB>,
    readonly dialect: Dialect,
  ) {
    const db = kdb;
    this.users = new UserRepository(db);
    this.loginSessions = new LoginSessionRepository(db);
    this.loginFailures = new LoginFailureRepository(db);
    this.jobs = new JobRepository(db);
    this.sessions = new SessionRepository(db);
    this.tasks = new TaskRepository(db);
    this.logs = new LogRepository(db);
    this.identities = new IdentityRepository(db);
    this.appservers = new AppServerRepository(db);
    this.inventory = new InventoryRepository(db);
    this.connectionTests = new ConnectionTestRepository(db);
  }

  /**
   * Serializes one kind of decision across processes for the rest of the transaction (a
   * PostgreSQL advisory lock); SQLite transactions are serialized already.
   */
  async lock(key: number): Promise<void> {
    if (this.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${key})`.execute(this.kdb);
  }
}

export class Store extends Repositories {
  private constructor(
    readonly db: Kysely<DB>,
    dialect: Dialect,
    private writes: { count: number },
  ) {
    super(db, dialect);
  }

  static async open(options: OpenOptions): Promise<Store> {
    const o = openDatabase(options);
    await migrate(o.db, o.dialect);
    return new Store(o.db, o.dialect, o.writes);
  }

  /** Runs `fn` in one transaction; everything it writes commits together or not at all. */
  transaction<T>(fn: (r: Repositories) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => fn(new Repositories(tx, this.dialect)));
  }

  /**
   * A number that changes whenever this process writes. When this process is the database's
   * only writer (the embedded SQLite default), a read cached under an unchanged generation is
   * still true. Undefined where other processes may write too (PostgreSQL): do not cache there.
   */
  writeGeneration(): number | undefined {
    return this.dialect === 'sqlite' ? this.writes.count : undefined;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

export type { OpenOptions };
