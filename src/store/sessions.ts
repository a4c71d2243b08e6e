/** Job sessions, their tasks and their log entries. */
import type { CompiledQuery, Selectable } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import { canMoveTask, ENDED_SESSION_STATUSES, LIVE_SESSION_STATUSES, OPEN_TASK_STATUSES, type LogType, type SessionStatus, type TaskStatus } from '../core/status.ts';
import type { JobSession, LogEntry, ScopeEntry, SessionState, SessionStatistic, Task } from '../core/types.ts';
import { bit, bool, everyField, fixedQuery, joinedColumns, json, listPage, rowInserts, type Db, type ServerScope } from './rows.ts';
import { whereAll } from './where.ts';
import type { Later } from './later.ts';
import type { JobSessionsTable, LogsTable, TasksTable } from './schema.ts';

/** A session row without its scope, as the store reads it (the row's columns but `scope`). */
type StateRow = Omit<Selectable<JobSessionsTable>, 'scope'>;

const toState = (r: StateRow): SessionState => ({
  ...r,
  status: r.status as SessionStatus,
  cancelRequested: bool(r.cancelRequested),
  statistics: json<SessionStatistic[]>(r.statistics, []),
});

export const toSession = (r: Selectable<JobSessionsTable>): JobSession => ({ ...toState(r), scope: json<ScopeEntry[]>(r.scope, []) });

const STATE_COLUMNS = everyField<SessionState>()([
  'id', 'jobId', 'jobName', 'type', 'subType', 'serviceId', 'status', 'start', 'end', 'lastUpdate', 'numTasks', 'percent',
  'results', 'trigger', 'cancelRequested', 'statistics',
]);

/** A task's session, read with the task (TaskRepository.withSession). */
const SESSION_JOINED = joinedColumns('jobSessions', 'js', STATE_COLUMNS);

// The hot queries of every task, built once (rows.ts fixedQuery).
const TASK_WITH_SESSION = fixedQuery((db, taskId: number) => db.selectFrom('tasks').innerJoin('jobSessions', 'jobSessions.id', 'tasks.sessionId')
  .selectAll('tasks').select(SESSION_JOINED.select as 'jobSessions.id'[]).where('tasks.id', '=', taskId));
const ANY_OPEN = fixedQuery((db, sessionId: number) => db.selectFrom('tasks').select('id').where('sessionId', '=', sessionId)
  .where('status', 'in', [...OPEN_TASK_STATUSES]).limit(1));
const CLAIM = fixedQuery((db, id: number, owner: string, leaseUntil: number, now: number) => db.updateTable('tasks')
  .set((eb) => ({ status: 'RUNNING', owner, leaseExpires: leaseUntil, start: now, end: null, attempts: eb('attempts', '+', 1) }))
  .where('id', '=', id).where('status', '=', 'PENDING'));
const FINISH = fixedQuery((db, id: number, owner: string, status: TaskStatus, end: number | null, errorCode: string | null, message: string | null) => db.updateTable('tasks')
  .set({ status, end, errorCode, message, owner: null, leaseExpires: null })
  .where('id', '=', id).where('owner', '=', owner).where('status', '=', 'RUNNING'));

const LOG_INSERTS = rowInserts('logs', ['id', 'sessionId', 'jobId', 'taskId', 'logTime', 'type', 'messageId', 'messageParams', 'message'],
  (e: LogEntry) => [e.id, e.sessionId, e.jobId, e.taskId, e.logTime, e.type, e.messageId, JSON.stringify(e.messageParams), e.message]);
const toTask = (r: Selectable<TasksTable>): Task => ({ ...r, status: r.status as TaskStatus, payload: json<unknown>(r.payload, null) });

/**
 * A task to insert. Its target is given as kind and id (and payload), or, as older callers do,
 * by appserverId alone.
 */
export type NewTask = Omit<Task, 'id' | 'targetKind' | 'targetId' | 'payload' | 'appserverId'> &
  Partial<Pick<Task, 'targetKind' | 'targetId' | 'payload' | 'appserverId'>>;

/** What a move of a task may change (its target never changes). */
export type TaskPatch = Partial<Pick<Task, 'status' | 'start' | 'end' | 'attempts' | 'errorCode' | 'message' | 'owner' | 'leaseExpires' | 'queuedAt'>>;

function taskRow(t: NewTask) {
  const { targetKind, targetId, payload, appserverId, ...rest } = t;
  const kind = targetKind ?? (appserverId != null ? 'appserver' : 'none');
  const id = targetId ?? (appserverId != null ? String(appserverId) : null);
  return {
    ...rest,
    targetKind: kind,
    targetId: id,
    payload: payload === undefined || payload === null ? null : JSON.stringify(payload),
    appserverId: kind === 'appserver' && id !== null ? Number(id) : null,
  };
}

export const toLog = (r: Selectable<LogsTable>): LogEntry => {
  const { seq: _seq, ...rest } = r;
  return { ...rest, type: r.type as LogType, messageParams: json<string[]>(r.messageParams, []) };
};

export type SessionPatch = Partial<Pick<JobSession, 'status' | 'end' | 'lastUpdate' | 'numTasks' | 'percent' | 'results' | 'cancelRequested' | 'statistics'>>;

function sessionRow(p: SessionPatch) {
  const { cancelRequested, statistics, ...rest } = p;
  return {
    ...rest,
    ...(cancelRequested === undefined ? {} : { cancelRequested: bit(cancelRequested) }),
    ...(statistics === undefined ? {} : { statistics: JSON.stringify(statistics) }),
  };
}

export class SessionRepository {
  constructor(private db: Db) {}

  /**
   * Inserts a session under the first free id at or after `s.id`. Ids are millisecond
   * timestamps (as SPP's are); two sessions created in the same millisecond take the next one.
   */
  async insert(s: JobSession): Promise<JobSession> {
    for (let id = s.id; ; id++) {
      const r = await this.db
        .insertInto('jobSessions')
        .values({ ...s, id, cancelRequested: bit(s.cancelRequested), statistics: JSON.stringify(s.statistics), scope: JSON.stringify(s.scope) })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (r) return { ...s, id };
    }
  }

  async get(id: number): Promise<JobSession | undefined> {
    const r = await this.db.selectFrom('jobSessions').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toSession(r);
  }

  /** The session without its scope (SessionState); scope is the row's last column, so it is not even read. */
  async getState(id: number): Promise<SessionState | undefined> {
    const r = await this.db.selectFrom('jobSessions').select(STATE_COLUMNS).where('id', '=', id).executeTakeFirst();
    return r && toState(r);
  }

  list(q: ListQuery, jobId?: number): Promise<ListResult<JobSession>> {
    let base = this.db.selectFrom('jobSessions');
    if (jobId !== undefined) base = base.where('jobId', '=', jobId);
    return listPage(base, q, 'id', toSession);
  }

  /** How many sessions match, by status (for the stats endpoints). */
  async countByStatus(q: Pick<ListQuery, 'where'>, jobId?: number): Promise<Record<string, number>> {
    let base = this.db.selectFrom('jobSessions');
    if (jobId !== undefined) base = base.where('jobId', '=', jobId);
    if (q.where.length) base = base.where(whereAll(q.where));
    const rows = await base.select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  async live(): Promise<JobSession[]> {
    return (await this.db.selectFrom('jobSessions').selectAll().where('status', 'in', [...LIVE_SESSION_STATUSES]).execute()).map(toSession);
  }

  async update(id: number, patch: SessionPatch): Promise<void> {
    await this.db.updateTable('jobSessions').set(sessionRow(patch)).where('id', '=', id).execute();
  }

  /** Ends a live session; false when it had already ended (another process closed it first). */
  async close(id: number, patch: SessionPatch & { status: SessionStatus; end: number }): Promise<boolean> {
    if (!ENDED_SESSION_STATUSES.includes(patch.status)) throw new Error(`a session cannot end ${patch.status}`);
    const r = await this.db
      .updateTable('jobSessions')
      .set(sessionRow(patch))
      .where('id', '=', id)
      .where('status', 'in', [...LIVE_SESSION_STATUSES])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Ended sessions that started before the cutoff (maintenance), oldest first. */
  async endedBefore(cutoff: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('jobSessions')
      .select('id')
      .where('start', '<', cutoff)
      .where('status', 'not in', [...LIVE_SESSION_STATUSES])
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Deletes sessions with their tasks and logs; returns how many log entries went with them. */
  async deleteMany(ids: number[]): Promise<number> {
    if (!ids.length) return 0;
    const logs = await this.db.deleteFrom('logs').where('sessionId', 'in', ids).executeTakeFirst();
    await this.db.deleteFrom('tasks').where('sessionId', 'in', ids).execute();
    await this.db.deleteFrom('jobSessions').where('id', 'in', ids).execute();
    return Number(logs.numDeletedRows);
  }
}

/** Throws when a task in one of `from` may not move to the patch's status (core/status.ts). */
function refuseIllegalMove(from: TaskStatus[], patch: TaskPatch): void {
  const to = patch.status;
  if (to && from.some((f) => !canMoveTask(f, to))) throw new Error(`a task cannot move from ${from.join('/')} to ${to}`);
}

export class TaskRepository {
  /** `later`: Repositories.later, which keeps the claim for the transaction's last round trip. */
  constructor(
    private db: Db,
    private later: Later,
  ) {}

  async insertMany(tasks: NewTask[]): Promise<Task[]> {
    const out: Task[] = [];
    // In slices: SQLite takes at most 32,766 bound values in one statement.
    for (let i = 0; i < tasks.length; i += 500) {
      const rows = await this.db.insertInto('tasks').values(tasks.slice(i, i + 500).map(taskRow)).returningAll().execute();
      out.push(...rows.map(toTask));
    }
    return out;
  }

  /** How many of a session's tasks are in each status. */
  async countByStatus(sessionId: number): Promise<Partial<Record<TaskStatus, number>>> {
    const rows = await this.db
      .selectFrom('tasks')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('sessionId', '=', sessionId)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /**
   * A task with its session's state, in one read: the first thing a worker does with each task
   * it is handed (engine/task-runner.ts), where two reads were two round trips on PostgreSQL.
   */
  async withSession(taskId: number): Promise<{ task: Task; session: SessionState } | undefined> {
    const r = (await this.db.executeQuery(TASK_WITH_SESSION(this.db, taskId))).rows[0];
    if (!r) return undefined;
    const [task, state] = SESSION_JOINED.split(r);
    return { task: toTask(task as Selectable<TasksTable>), session: toState(state as unknown as StateRow) };
  }

  /** Whether any task of the session has yet to end: one index seek, however many tasks it has. */
  async anyOpen(sessionId: number): Promise<boolean> {
    return (await this.db.executeQuery(ANY_OPEN(this.db, sessionId))).rows.length > 0;
  }

  async get(id: number): Promise<Task | undefined> {
    const r = await this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toTask(r);
  }

  async bySession(sessionId: number): Promise<Task[]> {
    return (await this.db.selectFrom('tasks').selectAll().where('sessionId', '=', sessionId).orderBy('id').execute()).map(toTask);
  }

  /**
   * How the last `n` tasks on one target ended, newest first, counting only those that ran to
   * an end of their own (COMPLETED or FAILED; a cancelled one says nothing about the target),
   * but for `exceptTask`: the task ending now, whose row its own transaction writes only at the
   * end (finish). For the server.failing alert (engine/alerts.ts).
   */
  async lastOutcomes(targetKind: string, targetId: string, n: number, exceptTask: number): Promise<TaskStatus[]> {
    const rows = await this.db
      .selectFrom('tasks')
      .select('status')
      .where('targetKind', '=', targetKind)
      .where('targetId', '=', targetId)
      .where('id', '<>', exceptTask)
      .where('status', 'in', ['COMPLETED', 'FAILED'])
      .orderBy('end', 'desc')
      .orderBy('id', 'desc')
      .limit(n)
      .execute();
    return rows.map((r) => r.status as TaskStatus);
  }

  /** The latest start or end of any task of each session (the stalled-session watchdog's signal). */
  async lastMoves(sessionIds: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (!sessionIds.length) return out;
    const rows = await this.db
      .selectFrom('tasks')
      .select(['sessionId', (eb) => eb.fn.max('start').as('start'), (eb) => eb.fn.max('end').as('end')])
      .where('sessionId', 'in', sessionIds)
      .groupBy('sessionId')
      .execute();
    for (const r of rows) out.set(Number(r.sessionId), Math.max(Number(r.start ?? 0), Number(r.end ?? 0)));
    return out;
  }

  /** A session's tasks; with a scope, tasks on other servers are left out (tasks on no server stay). */
  list(q: ListQuery, sessionId: number, scope: ServerScope = 'all'): Promise<ListResult<Task>> {
    let base = this.db.selectFrom('tasks').where('sessionId', '=', sessionId);
    if (scope !== 'all') base = base.where((eb) => eb.or([eb('targetKind', '!=', 'appserver'), eb('appserverId', 'in', scope.size ? [...scope] : [-1])]));
    return listPage(base, q, 'id', toTask);
  }

  /**
   * Claims a PENDING task for `owner` until `leaseUntil`, at the transaction's end: the claim goes
   * to the server with the transaction's events and COMMIT, in one round trip (store/later.ts),
   * and the transaction fails with NotAffected when the task is no longer PENDING (someone else
   * has it, or it was cancelled). With `limit`, only while fewer than `limit` tasks hold live
   * leases across the whole estate (notification deliveries not counted): `full` says the
   * estate is full, and then nothing is kept.
   */
  async claim(id: number, owner: string, now: number, leaseUntil: number, limit?: number): Promise<{ full: boolean }> {
    if (limit !== undefined) {
      const r = await this.db
        .selectFrom('tasks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'RUNNING')
        .where('leaseExpires', '>', now)
        .where('targetKind', '<>', 'delivery') // notification deliveries are outside the limit (engine/jobtypes/delivery.ts)
        .executeTakeFirst();
      if (Number(r?.n ?? 0) >= limit) return { full: true };
    }
    await this.later(CLAIM(this.db, id, owner, leaseUntil, now), `the claim of task ${id}, no longer PENDING`);
    return { full: false };
  }

  /** Extends the leases `owner` still holds; returns the ids it still holds. */
  async renew(ids: number[], owner: string, leaseUntil: number): Promise<number[]> {
    if (!ids.length) return [];
    const rows = await this.db
      .updateTable('tasks')
      .set({ leaseExpires: leaseUntil })
      .where('id', 'in', ids)
      .where('owner', '=', owner)
      .where('status', '=', 'RUNNING')
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Records how a task ended, at the transaction's end and only if `owner` still holds it: a
   * reclaimed task's late result is dropped, since the transaction then fails with NotAffected
   * and rolls back what else it wrote (store/later.ts). Nothing in the transaction reads the row.
   */
  async finish(id: number, owner: string, patch: Pick<Task, 'status' | 'end' | 'errorCode' | 'message'>): Promise<void> {
    await this.later(FINISH(this.db, id, owner, patch.status, patch.end, patch.errorCode, patch.message), `the end of task ${id}, which ${owner} no longer holds`);
  }

  /** RUNNING tasks whose owner stopped renewing: its process died or hangs. */
  async expired(now: number): Promise<Task[]> {
    const rows = await this.db.selectFrom('tasks').selectAll().where('status', '=', 'RUNNING').where('leaseExpires', '<', now).execute();
    return rows.map(toTask);
  }

  /** The processes that own RUNNING tasks (the dead-process check, every second in every process, asks only this). */
  async runningOwners(): Promise<string[]> {
    const rows = await this.db.selectFrom('tasks').select('owner').distinct().where('status', '=', 'RUNNING').where('owner', 'is not', null).execute();
    return rows.map((r) => r.owner!);
  }

  /** The RUNNING tasks of these owners. */
  async runningOf(owners: string[]): Promise<Task[]> {
    if (!owners.length) return [];
    return (await this.db.selectFrom('tasks').selectAll().where('status', '=', 'RUNNING').where('owner', 'in', owners).execute()).map(toTask);
  }

  /**
   * Hands a running task whose process is gone back to the queue (or ends it, by `patch`): when
   * its lease ran out before `expiredBefore` and nobody renewed it meanwhile, or when it is still
   * held by `owner` (a process known dead). False when someone else moved it first.
   */
  async release(id: number, when: { expiredBefore: number } | { owner: string }, patch: Partial<Pick<Task, 'status' | 'end' | 'errorCode' | 'message'>>): Promise<boolean> {
    let q = this.db
      .updateTable('tasks')
      .set({ status: 'PENDING', ...patch, owner: null, leaseExpires: null })
      .where('id', '=', id)
      .where('status', '=', 'RUNNING');
    q = 'owner' in when ? q.where('owner', '=', when.owner) : q.where('leaseExpires', '<', when.expiredBefore);
    return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
  }

  /**
   * A task `owner` gives back unfinished because its process is stopping: PENDING again, and the
   * attempt it had begun does not count (an orderly stop is no crash; see maxAttempts).
   */
  async handBack(id: number, owner: string): Promise<boolean> {
    const r = await this.db
      .updateTable('tasks')
      .set((eb) => ({ status: 'PENDING', owner: null, leaseExpires: null, start: null, attempts: eb('attempts', '-', 1) }))
      .where('id', '=', id)
      .where('owner', '=', owner)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** PENDING tasks of live sessions last queued before `cutoff` (their queue message may be lost). */
  async pendingQueuedBefore(cutoff: number): Promise<Task[]> {
    const rows = await this.db
      .selectFrom('tasks')
      .selectAll()
      .where('status', '=', 'PENDING')
      .where((eb) => eb.or([eb('queuedAt', 'is', null), eb('queuedAt', '<', cutoff)]))
      .where('sessionId', 'in', (eb) => eb.selectFrom('jobSessions').select('id').where('status', 'in', [...LIVE_SESSION_STATUSES]))
      .execute();
    return rows.map(toTask);
  }

  /**
   * The site of each task's server (application server or hypervisor, by its target), with the
   * server's name; tasks on no server are left out: any worker takes those (docs/sites.md).
   */
  async sitesOf(ids: number[]): Promise<Map<number, { siteId: number; server: string }>> {
    const out = new Map<number, { siteId: number; server: string }>();
    if (!ids.length) return out;
    // Hypervisor tasks carry their server in appserverId too (the same rows).
    const rows = await this.db.selectFrom('tasks').select(['id', 'appserverId']).where('id', 'in', ids).execute();
    const serverOf = new Map<number, number>();
    for (const r of rows) if (r.appserverId !== null) serverOf.set(r.id, r.appserverId);
    if (!serverOf.size) return out;
    const servers = await this.db.selectFrom('appservers').select(['id', 'name', 'siteId']).where('id', 'in', [...new Set(serverOf.values())]).execute();
    const byId = new Map(servers.map((a) => [a.id, a]));
    for (const [task, server] of serverOf) {
      const a = byId.get(server);
      if (a) out.set(task, { siteId: a.siteId, server: a.name });
    }
    return out;
  }

  /** PENDING tasks of live sessions on servers of one site. */
  async pendingInSite(siteId: number): Promise<Task[]> {
    const rows = await this.db
      .selectFrom('tasks')
      .selectAll()
      .where('status', '=', 'PENDING')
      // Tasks of both inventory jobs (hypervisors too) target a server row through appserverId.
      .where('appserverId', 'in', (eb) => eb.selectFrom('appservers').select('appservers.id').where('appservers.siteId', '=', siteId))
      .where('sessionId', 'in', (eb) => eb.selectFrom('jobSessions').select('id').where('status', 'in', [...LIVE_SESSION_STATUSES]))
      .execute();
    return rows.map(toTask);
  }

  async markQueued(ids: number[], now: number): Promise<void> {
    if (ids.length) await this.db.updateTable('tasks').set({ queuedAt: now }).where('id', 'in', ids).execute();
  }

  /** Moves a task from one status to another; false if it was not in `from` (someone else moved it). */
  async transition(id: number, from: TaskStatus[], patch: TaskPatch): Promise<boolean> {
    refuseIllegalMove(from, patch);
    const r = await this.db.updateTable('tasks').set(patch).where('id', '=', id).where('status', 'in', from).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Moves every task of a session that is in `from` at once and returns them as they are now: one
   * statement, where a task at a time made cancelling a 10,000-task session 10,000 round trips.
   */
  async transitionSession(sessionId: number, from: TaskStatus[], patch: TaskPatch): Promise<Task[]> {
    refuseIllegalMove(from, patch);
    const rows = await this.db.updateTable('tasks').set(patch).where('sessionId', '=', sessionId).where('status', 'in', from).returningAll().execute();
    return rows.map(toTask).sort((a, b) => a.id - b.id);
  }
}

export class LogRepository {
  private pending: LogEntry[] = [];

  constructor(private db: Db) {}

  /**
   * Inside a transaction the entries wait for flush(), which Store.transaction calls before
   * COMMIT: a task's start, findings and end entries become one INSERT, not one each. Reads
   * through this repository flush first, so they see them.
   */
  async add(entries: LogEntry[]): Promise<void> {
    if (!entries.length) return;
    if (this.db.isTransaction) this.pending.push(...entries);
    else await this.insert(entries);
  }

  /** Writes the entries add() kept back (in order). */
  async flush(): Promise<void> {
    for (const q of this.takeInserts()) await this.db.executeQuery(q);
  }

  /** The INSERTs of the entries add() kept back, in order, for the caller to run; none are kept back after. */
  takeInserts(): CompiledQuery[] {
    const entries = this.pending;
    this.pending = [];
    return this.inserts(entries);
  }

  private async insert(entries: LogEntry[]): Promise<void> {
    for (const q of this.inserts(entries)) await this.db.executeQuery(q);
  }

  private inserts(entries: LogEntry[]): CompiledQuery[] {
    return LOG_INSERTS(this.db, entries);
  }

  /**
   * Log entries; with a scope, entries of tasks on other servers are left out, and so are the
   * session's own entries with one of `namingServers` ids (they name servers of the whole session).
   */
  async list(q: ListQuery, scope: ServerScope = 'all', namingServers: readonly string[] = []): Promise<ListResult<LogEntry>> {
    await this.flush();
    let base = this.db.selectFrom('logs');
    if (scope !== 'all') {
      const ids = scope.size ? [...scope] : [-1];
      base = base.where((eb) => eb.or([
        namingServers.length ? eb.and([eb('taskId', 'is', null), eb('messageId', 'not in', [...namingServers])]) : eb('taskId', 'is', null),
        eb('taskId', 'in', eb.selectFrom('tasks').select('tasks.id').where((t) => t.or([t('targetKind', '!=', 'appserver'), t('appserverId', 'in', ids)]))),
      ]));
    }
    return listPage(base, q, 'seq', toLog);
  }

  async get(id: string): Promise<LogEntry | undefined> {
    await this.flush();
    const r = await this.db.selectFrom('logs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toLog(r);
  }

  /** Whether a session has an entry with this message id whose first parameter is `first`. */
  async has(sessionId: number, messageId: string, first: string): Promise<boolean> {
    await this.flush();
    const rows = await this.db.selectFrom('logs').select('messageParams').where('sessionId', '=', sessionId).where('messageId', '=', messageId).execute();
    return rows.some((r) => json<string[]>(r.messageParams, [])[0] === first);
  }
}
