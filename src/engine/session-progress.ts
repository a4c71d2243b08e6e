/**
 * What moves a session forward: handing its tasks to the queue, and, once its last task ended,
 * closing it with the status core/status.ts derives and the summary its job type writes.
 */
import { isSessionLive, sessionProgress } from '../core/status.ts';
import type { SessionState, Task } from '../core/types.ts';
import { sessionEvent } from '../store/events.ts';
import type { Repositories } from '../store/index.ts';
import { onSessionClosed } from './alerts.ts';
import type { EngineContext } from './context.ts';
import { message } from './messages.ts';
import { writeLog } from './session-records.ts';
import { routeTasks } from './site-routing.ts';

/**
 * Queueing, part one, inside `r`, the transaction that made the tasks PENDING: they are marked
 * queued and, on a queue kept in the same database (pg-boss), their messages are written there
 * too, so tasks and messages commit together. Call dispatch() once that transaction committed.
 */
export async function queueWithin(e: EngineContext, r: Repositories, sessionId: number, tasks: Pick<Task, 'id'>[]): Promise<void> {
  if (!tasks.length) return;
  await r.tasks.markQueued(tasks.map((t) => t.id), Date.now());
  if (!e.queue.enqueueWithin) return;
  // A queue that routes by site learns each task's site (and a site with no worker is logged).
  await e.queue.enqueueWithin(r, e.queue.bySite ? await routeTasks(e, r, sessionId, tasks) : tasks.map((t) => ({ taskId: t.id, sessionId })));
}

/**
 * Queueing, part two, after the commit: a queue that could not take the tasks in the
 * transaction (the in-process one) gets them now. A crash before this line loses nothing: that
 * queue dies with this process, the only one on its database, and the next start's resume()
 * queues every PENDING task again. With no tasks, closes the session if that was all it had.
 */
export async function dispatch(e: EngineContext, sessionId: number, tasks: Pick<Task, 'id'>[]): Promise<void> {
  if (!tasks.length) {
    await finishIfDone(e, sessionId);
    return;
  }
  if (!e.queue.enqueueWithin) await e.queue.enqueue(tasks.map((t) => ({ taskId: t.id, sessionId })));
}

/** Queues tasks that are PENDING already (resume, the sweeper): both parts, in a transaction of their own. */
export async function enqueue(e: EngineContext, sessionId: number, tasks: Pick<Task, 'id'>[]): Promise<void> {
  if (tasks.length) await e.store.transaction((r) => queueWithin(e, r, sessionId, tasks));
  await dispatch(e, sessionId, tasks);
}

/**
 * Updates progress, and closes the session once every task has ended. Safe to call twice.
 * Says whether the session is still live after the count.
 */
export async function finishIfDone(e: EngineContext, sessionId: number): Promise<boolean> {
  const { closed, live } = await e.store.transaction((r) => progressWithin(e, r, sessionId));
  if (closed) e.emit('session-ended', closed);
  return live;
}

/**
 * After a task's end committed: counts the session's progress, and closes it after its last
 * task, in a transaction of its own. Task ends that commit while a count runs are covered by one
 * more count after it (the callers wait for that one), so a process runs at most one count a
 * session at a time however many of its tasks end, and 16 tasks ending together cost two counts,
 * not sixteen.
 *
 * Why the count is not in the task's own transaction: it must see every other task's end, so on
 * PostgreSQL concurrent ends would have to queue for it, each holding a per-session lock through
 * its commit; at 1,000 servers that queue, not the CPU, set the session's pace. Done after the
 * commit, the last end to commit is always followed by a count that sees all ends (READ
 * COMMITTED sees what committed before each statement), and the close is a compare-and-set, so
 * two processes counting at once close a session once. A process that dies between its commit
 * and its count leaves the close to another process's count or to the sweeper (recovery.ts),
 * which counts every live session that has no task left open.
 */
export function progressAfter(e: EngineContext, sessionId: number): Promise<void> {
  const running = e.counting.get(sessionId);
  if (running) {
    running.again = true;
    return running.done;
  }
  const entry = { again: false, done: Promise.resolve() };
  entry.done = (async () => {
    try {
      do {
        entry.again = false;
        await countOrOwe(e, sessionId);
      } while (entry.again);
    } finally {
      e.counting.delete(sessionId);
    }
  })();
  e.counting.set(sessionId, entry);
  return entry.done;
}

/**
 * The percent only says how far a session got, and counting a 10,000-task session's tasks at each
 * of its ends took a tenth of a server's time. So within progressIntervalMs of this process's last
 * count it is counted only when no task is left open (the close is never held back: the last end
 * to commit always finds none open, as above); otherwise the count is owed, and a timer pays it at
 * the interval's end. A task this process still runs is open; only without one is the store asked
 * (one index seek).
 */
async function countOrOwe(e: EngineContext, sessionId: number): Promise<void> {
  const interval = e.settings.progressIntervalMs;
  const last = e.counted.get(sessionId);
  const now = Date.now();
  if (interval > 0 && last && now - last.at < interval && (runsOneOf(e, sessionId) || (await e.store.tasks.anyOpen(sessionId)))) {
    last.timer ??= setTimeout(() => {
      last.timer = undefined;
      progressAfter(e, sessionId).catch((err: Error) => console.error(`census: counting session ${sessionId}'s progress failed: ${err.message}`));
    }, last.at + interval - now).unref();
    return;
  }
  clearTimeout(last?.timer);
  e.counted.delete(sessionId);
  if (!(await finishIfDone(e, sessionId))) return;
  // A session whose last task ended in another process leaves its entry here: drop stale ones.
  for (const [id, c] of e.counted) if (!c.timer && now - c.at > STALE_COUNT_MS) e.counted.delete(id);
  e.counted.set(sessionId, { at: now });
}

/** Whether this process runs a task of the session now: one it claimed and has not ended, so still open. */
function runsOneOf(e: EngineContext, sessionId: number): boolean {
  for (const m of e.mine.values()) if (m.sessionId === sessionId) return true;
  return false;
}

/** A count older than this, with none owed, belongs to a session another process closed. */
const STALE_COUNT_MS = 10 * 60_000;

/** Advisory lock kind (with the session id) under which a session's progress is counted. */
const PROGRESS_LOCK = 4242004;

/**
 * finishIfDone's work inside `r`: updates progress and, after the last task, closes the session.
 * Returns the session it closed, for the caller to announce after its commit (e.emit('session-ended')),
 * and whether the session is still live.
 *
 * On PostgreSQL two processes' counts could each run before the other's commit; the
 * per-session lock makes the second wait for the first commit, so percent only moves forward.
 * It is taken first: what the holder writes (this session's and job's rows, their alerts, the
 * journal) is written by no transaction that waits for it.
 */
async function progressWithin(e: EngineContext, r: Repositories, sessionId: number): Promise<{ closed: SessionState | null; live: boolean }> {
  await r.lock(PROGRESS_LOCK, sessionId);
  const s = await r.sessions.getState(sessionId);
  if (!s || !isSessionLive(s.status)) return { closed: null, live: false };
  const p = sessionProgress(await r.tasks.countByStatus(sessionId), s.cancelRequested);
  const now = e.clock.now();
  const percent = p.percent;
  if (p.outcome === null) {
    if (percent !== s.percent) {
      await r.sessions.update(sessionId, { percent, lastUpdate: now });
      await r.events.add(sessionEvent('session.updated', { ...s, percent, lastUpdate: now }));
    }
    return { closed: null, live: true };
  }
  const status = p.outcome;
  const summary = (await e.jobTypes.get(s.serviceId)?.summarise?.(r, s, p)) ?? {};
  const statistics = summary.statistics ?? [];
  if (!(await r.sessions.close(sessionId, { status, end: now, lastUpdate: now, percent, results: status, statistics }))) return { closed: null, live: false };
  for (const m of summary.messages ?? []) await writeLog(e, r, s, null, m);
  await writeLog(e, r, s, null, message('SUMMARY', 'CNSJ0010', s.jobName, status, p.completed, p.total,
    p.failed, p.cancelled, ((now - s.start) / 1000).toFixed(1)));
  const closed: SessionState = { ...s, status, end: now, lastUpdate: now, percent, results: status, statistics };
  // In this order in the event stream: the summary log entries, the session's end, the job's new status.
  await r.events.add(sessionEvent('session.ended', closed));
  await r.jobs.finishRun(s.jobId, s.id);
  // The session.ended notification and the job's alerts commit with the close (engine/alerts.ts).
  await onSessionClosed(r, closed, now);
  return { closed, live: false };
}
