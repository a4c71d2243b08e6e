/** Writes of the engine that carry their event with them: log entries, task moves. */
import { newLogId } from '../core/ids.ts';
import type { TaskStatus } from '../core/status.ts';
import type { JobSession, Task } from '../core/types.ts';
import { logEvent, taskEvent } from '../store/events.ts';
import type { Repositories } from '../store/index.ts';
import type { TaskPatch } from '../store/sessions.ts';
import type { EngineContext } from './context.ts';
import type { Message } from './messages.ts';

/** Writes a log entry and its event together (in `r`'s transaction, or in one of their own). */
export async function writeLog(e: EngineContext, r: Repositories, s: Pick<JobSession, 'id' | 'jobId'>, taskId: number | null, m: Message): Promise<void> {
  const now = e.clock.now();
  const entry = { id: newLogId(now), sessionId: s.id, jobId: s.jobId, taskId, logTime: now, ...m };
  await r.atomically(async (tx) => {
    await tx.logs.add([entry]);
    await tx.events.add(logEvent(entry));
  });
}

/** Moves a task from one status to another with its event; false if it was not in `from`. */
export async function moveTask(r: Repositories, s: Pick<JobSession, 'jobId'>, t: Task, from: TaskStatus[], patch: TaskPatch): Promise<boolean> {
  if (!(await r.tasks.transition(t.id, from, patch))) return false;
  await r.events.add(taskEvent(s.jobId, { ...t, ...patch }));
  return true;
}

/** Moves every task of the session that is in `from`, each with its event; how many moved. */
export async function moveSessionTasks(r: Repositories, s: Pick<JobSession, 'id' | 'jobId'>, from: TaskStatus[], patch: TaskPatch): Promise<number> {
  const moved = await r.tasks.transitionSession(s.id, from, patch);
  // In slices: a spread of a whole session's events could pass the engine's limit on arguments.
  for (let i = 0; i < moved.length; i += 1000) await r.events.add(...moved.slice(i, i + 1000).map((t) => taskEvent(s.jobId, t)));
  return moved.length;
}
