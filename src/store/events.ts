/**
 * The event journal: every change a live client may want to follow (sessions starting, moving and
 * ending, tasks changing status, log entries, job status) as one row in `events`, written in the
 * same transaction as the change itself, so an event is never lost (the change committed) or
 * invented (the change rolled back). Its `seq` is the Server-Sent Events id; readers page through
 * the journal with `seq > last ORDER BY seq`, in any process sharing the database.
 *
 * Ordering. A reader must never see seq N+1 committed while N is still to come, or it would move
 * past N and miss it. On SQLite that holds by construction: one process writes, through one
 * connection, one transaction at a time, and AUTOINCREMENT never reuses a value. On PostgreSQL
 * identity values are handed out at insert time, not commit time: transaction A takes 10,
 * transaction B takes 11 and commits first, and a reader polling in between sees 11 but not 10.
 * So on PostgreSQL every transaction that writes events first takes a transaction-level advisory
 * lock (EVENTS_LOCK), and only then draws its seq values. The lock is held until commit and, in
 * PostgreSQL, released after the commit is visible, so the next writer draws larger values and
 * commits later: seq order is commit order, and what a reader sees is always a prefix of the
 * journal (up to holes left by rolled-back transactions, which never fill). The price is that
 * event writes are serialized across the cluster; each holds the lock only for one INSERT and the
 * COMMIT, because events are buffered in the transaction and written at its very end. The lock,
 * the INSERT and the COMMIT go to the server as one string (Store.transaction, store/inline-sql.ts):
 * were they three round trips, the lock would also be held while a busy process got round to
 * reading each answer, and every event writer in the cluster would wait that long too (measured:
 * two such waits per task made the lock the ceiling of a 1,000-server session, ~80 tasks/s).
 * Writing them last also means the lock is the last one any transaction takes, so it can never
 * be part of a deadlock: its holder waits for nothing else.
 */
import { sql, type CompiledQuery } from 'kysely';
import type { Job, SessionState, LogEntry, Task } from '../core/types.ts';
import type { Dialect } from './migrations.ts';
import type { Db } from './rows.ts';
import { json, rowInserts } from './rows.ts';

/** PostgreSQL advisory lock key that serializes event writers (4242001: migrations, 4242002: estate limit). */
export const EVENTS_LOCK = 4242003;

export const EVENT_TYPES = ['session.started', 'session.updated', 'session.ended', 'task.updated', 'log', 'job.status'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  type: EventType;
  jobId: number | null;
  sessionId: number | null;
  data: unknown;
}

/** An event and the time it is written (one for all of a commit's events). */
const EVENT_INSERTS = rowInserts('events', ['type', 'jobId', 'sessionId', 'data', 'createdAt'],
  ([e, now]: readonly [NewEvent, number]) => [e.type, e.jobId, e.sessionId, JSON.stringify(e.data ?? null), now]);

export interface StoredEvent extends NewEvent {
  seq: number;
  createdAt: number;
}

export interface EventFilter {
  jobId?: number;
  sessionId?: number;
  /** Exact types; undefined: all. */
  types?: readonly EventType[];
}

/** Runs `fn` with the journal of one transaction: the current one, or a new one on the Store. */
export type Atomically = <T>(fn: (events: EventRepository) => Promise<T>) => Promise<T>;

export class EventRepository {
  private pending: NewEvent[] = [];

  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
    private readonly atomically: Atomically,
  ) {}

  /** True inside a transaction: events are buffered and written (takeInserts()) just before commit. */
  get transactional(): boolean {
    return this.db.isTransaction;
  }

  /** Records events with the transaction this repository belongs to (or, outside one, in one of their own). */
  async add(...events: NewEvent[]): Promise<void> {
    if (!events.length) return;
    if (!this.transactional) return this.atomically((ev) => ev.add(...events));
    this.pending.push(...events);
  }

  /**
   * Runs writes and the events that describe them in one transaction: this one, or a new one
   * when called on the Store. For store methods that must record an event atomically wherever
   * they are called from (jobs.claimRun, finishRun, setHeld).
   */
  within<T>(fn: (db: Db, events: EventRepository) => Promise<T>): Promise<T> {
    if (this.transactional) return fn(this.db, this);
    return this.atomically((ev) => ev.within(fn));
  }

  /**
   * The buffered events as statements to run last before COMMIT, in order: on PostgreSQL the
   * ordering lock first, then the INSERTs (Store.transaction sends them with the COMMIT, see the
   * top of this file). None are kept back after.
   */
  takeInserts(): { count: number; statements: CompiledQuery[] } {
    const events = this.pending;
    this.pending = [];
    if (!events.length) return { count: 0, statements: [] };
    const statements: CompiledQuery[] = [];
    if (this.dialect === 'postgres') statements.push(sql`SELECT pg_advisory_xact_lock(${EVENTS_LOCK}::bigint)`.compile(this.db));
    const now = Date.now();
    statements.push(...EVENT_INSERTS(this.db, events.map((e) => [e, now] as const)));
    return { count: events.length, statements };
  }

  /** Events after `seq` that pass the filter, oldest first. */
  async after(seq: number, filter: EventFilter = {}, limit = 500): Promise<StoredEvent[]> {
    let q = this.db.selectFrom('events').selectAll().where('seq', '>', seq);
    if (filter.jobId !== undefined) q = q.where('jobId', '=', filter.jobId);
    if (filter.sessionId !== undefined) q = q.where('sessionId', '=', filter.sessionId);
    if (filter.types) {
      if (!filter.types.length) return [];
      q = q.where('type', 'in', [...filter.types]);
    }
    const rows = await q.orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq), type: r.type as EventType, data: json<unknown>(r.data, null) }));
  }

  /** The highest seq committed (0 when there is none). Every lower seq that will ever exist is visible too. */
  async latest(): Promise<number> {
    const r = await this.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  /** The lowest seq still kept, or undefined when the journal is empty. */
  async oldest(): Promise<number | undefined> {
    const r = await this.db.selectFrom('events').select((eb) => eb.fn.min('seq').as('m')).executeTakeFirst();
    return r?.m == null ? undefined : Number(r.m);
  }

  /**
   * Deletes the events created before `cutoff`, as a prefix of the journal (by seq) and always
   * keeping the newest event, so that the lowest seq left tells readers exactly what is gone
   * (a client resuming from before it is told to reset). In batches; returns how many went.
   */
  async prune(cutoff: number, batch = 5000): Promise<number> {
    const bound = await this.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('m')).where('createdAt', '<', cutoff).executeTakeFirst();
    const upTo = Math.min(Number(bound?.m ?? 0), (await this.latest()) - 1);
    let removed = 0;
    for (let from = (await this.oldest()) ?? upTo + 1; from <= upTo; from += batch) {
      const r = await this.db.deleteFrom('events').where('seq', '>=', from).where('seq', '<=', Math.min(upTo, from + batch - 1)).executeTakeFirst();
      removed += Number(r.numDeletedRows);
    }
    return removed;
  }
}

// ---- what each event carries (ids as strings, as SPP's JSON has them) ---------------------------

export function sessionEvent(type: 'session.started' | 'session.updated' | 'session.ended', s: SessionState): NewEvent {
  return {
    type, jobId: s.jobId, sessionId: s.id,
    data: {
      sessionId: String(s.id), jobId: String(s.jobId), jobName: s.jobName, type: s.type, subType: s.subType, status: s.status,
      percent: s.percent, numTasks: s.numTasks, start: s.start, end: s.end, lastUpdate: s.lastUpdate, results: s.results,
      cancelRequested: s.cancelRequested,
    },
  };
}

export function taskEvent(jobId: number, t: Task): NewEvent {
  return {
    type: 'task.updated', jobId, sessionId: t.sessionId,
    data: {
      taskId: String(t.id), sessionId: String(t.sessionId), jobId: String(jobId), name: t.name,
      appserverId: t.appserverId === null ? null : String(t.appserverId), status: t.status, start: t.start, end: t.end,
      attempts: t.attempts, errorCode: t.errorCode, message: t.message,
    },
  };
}

/** A log entry, whole: the stream renders it in SPP's wire shape (api/wire.ts logToWire). */
export function logEvent(e: LogEntry): NewEvent {
  return { type: 'log', jobId: e.jobId, sessionId: e.sessionId, data: e };
}

export function jobStatusEvent(jobId: Job['id'], status: 'RUNNING' | 'IDLE' | 'HELD', sessionId: number | null): NewEvent {
  return { type: 'job.status', jobId, sessionId, data: { jobId: String(jobId), status, sessionId: sessionId === null ? null : String(sessionId) } };
}
