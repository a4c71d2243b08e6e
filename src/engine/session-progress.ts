/**
 * What moves a session forward: handing its tasks to the queue, and, once its last task ended,
 * closing it with the status core/status.ts derives and the summary its job type writes.
 */
import { isSessionLive, sessionProgress } from '../core/status.ts';
import type { JobSession, Task } from '../core/types.ts';
import { sessionEvent } from '../store/events.ts';
import type { EngineContext } from './context.ts';
import { message } from './messages.ts';
import { writeLog } from './session-records.ts';

export async function enqueue(e: EngineContext, sessionId: number, tasks: Pick<Task, 'id'>[]): Promise<void> {
  if (!tasks.length) return finishIfDone(e, sessionId);
  await e.store.tasks.markQueued(tasks.map((t) => t.id), Date.now());
  await e.queue.enqueue(tasks.map((t) => ({ taskId: t.id, sessionId })));
}

/** Updates progress, and closes the session once every task has ended. Safe to call twice. */
export async function finishIfDone(e: EngineContext, sessionId: number): Promise<void> {
  const closed = await e.store.transaction(async (r) => {
    const s = await r.sessions.get(sessionId);
    if (!s || !isSessionLive(s.status)) return null;
    const p = sessionProgress(await r.tasks.countByStatus(sessionId), s.cancelRequested);
    const now = e.clock.now();
    const percent = p.percent;
    if (p.outcome === null) {
      if (percent !== s.percent) {
        await r.sessions.update(sessionId, { percent, lastUpdate: now });
        await r.events.add(sessionEvent('session.updated', { ...s, percent, lastUpdate: now }));
      }
      return null;
    }
    const status = p.outcome;
    const summary = (await e.jobTypes.get(s.serviceId)?.summarise?.(r, s, p)) ?? {};
    const statistics = summary.statistics ?? [];
    if (!(await r.sessions.close(sessionId, { status, end: now, lastUpdate: now, percent, results: status, statistics }))) return null;
    for (const m of summary.messages ?? []) await writeLog(e, r, s, null, m);
    await writeLog(e, r, s, null, message('SUMMARY', 'CNSJ0010', s.jobName, status, p.completed, p.total,
      p.failed, p.cancelled, ((now - s.start) / 1000).toFixed(1)));
    const closed: JobSession = { ...s, status, end: now, lastUpdate: now, percent, results: status, statistics };
    // In this order in the event stream: the summary log entries, the session's end, the job's new status.
    await r.events.add(sessionEvent('session.ended', closed));
    await r.jobs.finishRun(s.jobId, s.id);
    return closed;
  });
  if (closed) e.emit('session-ended', closed);
}
