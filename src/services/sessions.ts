/**
 * Job sessions: reading them, their tasks, log entries and the inventory changes they recorded,
 * and cancelling one. The wire's filters arrive already turned into a ListQuery.
 */
import type { Actor } from '../core/actor.ts';
import { forbidden, notFound } from '../core/errors.ts';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { InventoryChange, JobSession, LogEntry, Task } from '../core/types.ts';
import { NAMES_SERVERS } from '../engine/messages.ts';
import { HYPERVISOR_INVENTORY_JOB_ID } from '../engine/system-jobs.ts';
import type { ServiceContext } from './context.ts';

const LOG_ID = /^[0-9a-f]{24}$/;

export function sessionService(ctx: ServiceContext) {
  const { store, engine } = ctx;

  async function get(_actor: Actor, id: number): Promise<JobSession> {
    const s = await store.sessions.get(id);
    if (!s) throw notFound('Job session', id);
    return s;
  }

  /** Whether a log entry is the caller's to see: its task's server is theirs (or it is the session's and names no servers). */
  async function entryVisible(actor: Actor, e: LogEntry): Promise<boolean> {
    if (actor.access.scope('policy.view') === 'all') return true;
    if (e.taskId === null) return !NAMES_SERVERS.includes(e.messageId);
    const t = await store.tasks.get(e.taskId);
    return !t || t.targetKind !== 'appserver' || t.appserverId === null || actor.access.reaches('policy.view', t.appserverId);
  }

  /** The job, when the caller asked about one job's sessions: it must exist. */
  async function checkJob(jobId: number | undefined): Promise<void> {
    if (jobId !== undefined && !(await store.jobs.get(jobId))) throw notFound('Job', jobId);
  }

  return {
    get,

    /** Every session matching, or one job's (`jobId`). */
    async list(_actor: Actor, q: ListQuery, jobId?: number): Promise<ListResult<JobSession>> {
      await checkJob(jobId);
      return store.sessions.list(q, jobId);
    },

    /** How many sessions matching are in each status. */
    async countByStatus(_actor: Actor, q: Pick<ListQuery, 'where'>, jobId?: number): Promise<Record<string, number>> {
      await checkJob(jobId);
      return store.sessions.countByStatus(q, jobId);
    },

    async tasks(actor: Actor, sessionId: number, q: ListQuery): Promise<ListResult<Task>> {
      const s = await get(actor, sessionId);
      return store.tasks.list(q, s.id, actor.access.scope('policy.view'));
    },

    /** What an inventory session found changed. */
    async changes(actor: Actor, sessionId: number, q: ListQuery): Promise<ListResult<InventoryChange>> {
      const s = await get(actor, sessionId);
      // A Hypervisor Inventory's changes are its VMs, seen with hypervisor.view (a Monitor has it);
      // every other session's are application servers' inventory, seen with application.view.
      const need = s.jobId === HYPERVISOR_INVENTORY_JOB_ID ? 'hypervisor.view' : 'application.view';
      if (!actor.access.can(need)) throw forbidden(`This session's changes need the permission ${need}, which the user's roles do not give.`, 'permission.missing');
      return store.inventory.listChanges(q, { sessionId: s.id }, actor.access.scope(need));
    },

    /** Pending tasks are dropped and running ones aborted; answers the session (CANCELLING, or already ended). */
    cancel(actor: Actor, sessionId: number): Promise<JobSession> {
      return engine.cancelSession(sessionId, actor.name);
    },

    logs(actor: Actor, q: ListQuery): Promise<ListResult<LogEntry>> {
      return store.logs.list(q, actor.access.scope('policy.view'), NAMES_SERVERS);
    },

    /** One log entry; its id is 24 hex characters (anything else names none). */
    async log(actor: Actor, logId: string): Promise<LogEntry> {
      const e = LOG_ID.test(logId) ? await store.logs.get(logId) : undefined;
      if (!e || !(await entryVisible(actor, e))) throw notFound('Log entry', logId);
      return e;
    },
  };
}

export type SessionService = ReturnType<typeof sessionService>;
