/**
 * Finding and taking back lost work: sessions a previous process left live (at start-up), tasks
 * whose owner stopped renewing its lease or died, pending tasks whose queue message may be lost.
 */
import { isSessionLive, isTaskEnded } from '../core/status.ts';
import type { Task } from '../core/types.ts';
import { taskEvent } from '../store/events.ts';
import type { EngineContext } from './context.ts';
import { message } from './messages.ts';
import { dispatch, enqueue, finishIfDone, queueWithin } from './session-progress.ts';
import { moveTask, writeLog } from './session-records.ts';

/**
 * Picks up sessions a previous process left live: their unfinished tasks run again (only
 * those), so a restart never leaves a session RUNNING forever. With `exclusive`, tasks marked
 * RUNNING are orphans now; otherwise they are left to their leases and the sweeper.
 */
export async function resume(e: EngineContext, exclusive: boolean): Promise<number> {
  const { store } = e;
  const live = await store.sessions.live();
  for (const s of live) {
    const tasks = await store.tasks.bySession(s.id);
    const orphans = exclusive ? tasks.filter((t) => t.status === 'RUNNING') : [];
    for (const t of orphans) {
      await store.transaction((r) => moveTask(r, s, t, ['RUNNING'], {
        status: s.cancelRequested ? 'CANCELLED' : 'PENDING', owner: null, leaseExpires: null,
        ...(s.cancelRequested ? { end: e.clock.now(), errorCode: 'CANCELLED' } : {}),
      }));
    }
    const unfinished = tasks.filter((t) => !isTaskEnded(t.status)).length;
    if (exclusive) await writeLog(e, store, s, null, message('WARN', 'CNSJ0005', s.status.toLowerCase(), unfinished));
    await enqueue(e, s.id, (await store.tasks.bySession(s.id)).filter((t) => t.status === 'PENDING'));
    await finishIfDone(e, s.id);
  }
  // A job whose run pointer outlived its session (should not happen, but never leave a job stuck RUNNING).
  for (const job of await store.jobs.all()) {
    if (job.runningSessionId === null) continue;
    const s = await store.sessions.get(job.runningSessionId);
    if (!s || !isSessionLive(s.status)) await store.jobs.finishRun(job.id, job.runningSessionId);
  }
  return live.length;
}

/**
 * Whether there can be no lost work: the sweep's last look found no live session, and no process
 * has written a job or session since (the store's `jobs` generation: on PostgreSQL heard through
 * the change feed, undefined while it does not hear; on SQLite this process's own writes). Every
 * task belongs to a session, and a session starts with a write of its row: with none live, no
 * task runs or waits. An idle estate's processes then send the store nothing for the sweep and
 * the dead-process check, each of which asked every second or five in every process.
 */
function quiet(e: EngineContext): boolean {
  const at = e.state.noLiveSessionsAt;
  return at !== undefined && e.store.cacheGeneration('jobs') === at;
}

/**
 * Looks for lost work, in every process, on every tick: tasks whose owner stopped renewing its
 * lease run again (or end, when their session was cancelled); pending tasks whose queue
 * message may be lost are queued again; sessions whose tasks all ended are closed.
 */
export async function sweep(e: EngineContext): Promise<void> {
  if (quiet(e)) return;
  // Read before the reads below: a session started while they run moves it, and the next sweep looks again.
  const generation = e.store.cacheGeneration('jobs');
  const now = Date.now();
  const touched = new Set<number>();
  for (const t of await e.store.tasks.expired(now)) {
    if (await release(e, t, { expiredBefore: now })) touched.add(t.sessionId);
  }
  for (const t of await e.store.tasks.pendingQueuedBefore(now - Math.max(2 * e.settings.leaseMs, 60_000))) {
    await enqueue(e, t.sessionId, [t]);
  }
  // A session is closed by the count after its last task's end; this closes one whose last task
  // ended in a process that died before counting. Only a session with no open task can need it
  // (one index seek): counting every live session here, in every process each second, took the
  // session's progress lock and counted all its tasks for nothing while it ran.
  const live = await e.store.sessions.live();
  for (const s of live) {
    if (!touched.has(s.id) && !(await e.store.tasks.anyOpen(s.id))) await finishIfDone(e, s.id);
  }
  e.state.noLiveSessionsAt = live.length || touched.size ? undefined : generation;
}

/**
 * Runs again, at once, the tasks of processes that died (their liveness lock is free), without
 * waiting for their leases: a slow but live process keeps its tasks.
 */
export async function reapOrphans(e: EngineContext): Promise<void> {
  const liveness = e.liveness;
  if (!liveness || quiet(e)) return;
  const owners = (await e.store.tasks.runningOwners()).filter((o) => o !== e.state.owner);
  if (!owners.length) return;
  const gone = await liveness.gone(owners);
  if (!gone.length) return;
  const sessions = new Set<number>();
  for (const t of await e.store.tasks.runningOf(gone)) if (await release(e, t, { owner: t.owner! })) sessions.add(t.sessionId);
  for (const id of sessions) await finishIfDone(e, id);
}

/**
 * Takes a task away from a process that expired or died: queued again, or ended when its
 * session was cancelled meanwhile; logged either way. False when another process did it first.
 */
async function release(e: EngineContext, t: Task, when: { expiredBefore: number } | { owner: string }): Promise<boolean> {
  const s = await e.store.sessions.get(t.sessionId);
  if (!s) return false;
  const cancel = s.cancelRequested || !isSessionLive(s.status);
  const patch = cancel ? { status: 'CANCELLED' as const, end: e.clock.now(), errorCode: 'CANCELLED' } : {};
  const ok = await e.store.transaction(async (r) => {
    if (!(await r.tasks.release(t.id, when, patch))) return false;
    await r.events.add(taskEvent(s.jobId, { ...t, status: 'PENDING', ...patch, owner: null, leaseExpires: null }));
    const owner = t.owner ?? 'unknown';
    if ('owner' in when) {
      await writeLog(e, r, s, t.id, message('WARN', cancel ? 'CNSJ0012' : 'CNSJ0009', t.name, owner));
    } else {
      const since = new Date(t.leaseExpires! - e.settings.leaseMs).toISOString();
      await writeLog(e, r, s, t.id, message('WARN', cancel ? 'CNSJ0008' : 'CNSJ0007', t.name, owner, since));
    }
    // Queued with the release itself: no crash after this commit leaves it to the sweeper.
    if (!cancel) await queueWithin(e, r, s.id, [t]);
    return true;
  });
  if (ok && !cancel) await dispatch(e, s.id, [t]);
  return ok;
}
