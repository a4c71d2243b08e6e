/** Cancelling a session, from any process: pending tasks are dropped, running ones aborted. */
import { notFound } from '../core/errors.ts';
import { canCancelSession } from '../core/status.ts';
import type { JobSession } from '../core/types.ts';
import { sessionEvent } from '../store/events.ts';
import type { EngineContext } from './context.ts';
import { message } from './messages.ts';
import { finishIfDone } from './session-progress.ts';
import { moveSessionTasks, writeLog } from './session-records.ts';

export async function cancelSession(e: EngineContext, sessionId: number, by: string): Promise<JobSession> {
  const s = await e.store.sessions.get(sessionId);
  if (!s) throw notFound('Job session', sessionId);
  if (!canCancelSession(s)) return s;
  await e.store.transaction(async (r) => {
    const lastUpdate = e.clock.now();
    await r.sessions.update(sessionId, { status: 'CANCELLING', cancelRequested: true, lastUpdate });
    await r.events.add(sessionEvent('session.updated', { ...s, status: 'CANCELLING', cancelRequested: true, lastUpdate }));
    await moveSessionTasks(r, s, ['PENDING'], { status: 'CANCELLED', end: e.clock.now(), errorCode: 'CANCELLED' });
    await writeLog(e, r, s, null, message('WARN', 'CNSJ0004', by));
  });
  e.queue.abortSession(sessionId);
  for (const m of e.mine.values()) if (m.sessionId === sessionId) m.controller.abort();
  await finishIfDone(e, sessionId);
  return (await e.store.sessions.get(sessionId))!;
}
