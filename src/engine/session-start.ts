/**
 * Starting a job: its type plans the tasks, and the session, the job's run claim and the tasks
 * are written in one transaction, with the tasks' queue messages where the queue is in the same
 * database (pg-boss). A start while the job runs joins that run (and may add tasks to it, when
 * the job type says so).
 */
import { invalid, notFound } from '../core/errors.ts';
import type { Job, JobSession, Task } from '../core/types.ts';
import { sessionEvent } from '../store/events.ts';
import type { Repositories } from '../store/index.ts';
import type { EngineContext } from './context.ts';
import type { JobType, Plan, StartRequest } from './jobtypes/index.ts';
import { message } from './messages.ts';
import { dispatch, queueWithin } from './session-progress.ts';
import { writeLog } from './session-records.ts';

export interface StartResult {
  session: JobSession;
  /** False when the job was already running and this request joined that run. */
  started: boolean;
}

export async function startJob(e: EngineContext, jobId: number, req: StartRequest): Promise<StartResult> {
  const job = await e.store.jobs.get(jobId);
  if (!job) throw notFound('Job', jobId);
  const type = e.jobTypes.get(job.serviceId);
  if (!type) throw invalid(`Job ${job.name} cannot be started by Census.`);
  const planned = await e.store.transaction(async (r) => {
    const current = await r.jobs.get(jobId);
    if (current?.runningSessionId != null) return joinRunning(e, r, type, current, req);
    const now = e.clock.now();
    const plan = await type.plan(r, job, req);
    const session = await r.sessions.insert({
      id: now, jobId: job.id, jobName: job.name, type: job.type, subType: job.subType, serviceId: job.serviceId,
      status: 'RUNNING', start: now, end: null, lastUpdate: now, numTasks: plan.tasks.length, percent: 0,
      results: 'Started', trigger: req.trigger, cancelRequested: false, statistics: [], scope: plan.scope ?? [],
    });
    await r.events.add(sessionEvent('session.started', session));
    if (!(await r.jobs.claimRun(job.id, session.id))) throw new LostRace();
    const created = await insertTasks(r, session.id, plan);
    await queueWithin(e, r, session.id, created);
    await writeLog(e, r, session, null, message('INFO', 'CNSJ0001', job.name, job.id, session.id, `${req.by} (${req.trigger})`));
    for (const m of plan.messages ?? []) await writeLog(e, r, session, null, m);
    return { session, tasks: created, started: true };
  }).catch(async (err) => {
    if (!(err instanceof LostRace)) throw err;
    // Another request started the job between our read and our claim: join that run.
    const current = await e.store.jobs.get(jobId);
    const running = current?.runningSessionId != null ? await e.store.sessions.get(current.runningSessionId) : undefined;
    if (!running) throw err;
    return { session: running, tasks: [] as Task[], started: false };
  });
  // On pg-boss the tasks' messages committed with them; the in-process queue takes them now.
  await dispatch(e, planned.session.id, planned.tasks);
  if (planned.started) e.emit('session-started', planned.session);
  return { session: planned.session, started: planned.started };
}

/** A start while the job runs starts nothing new; its type may add tasks to the running session. */
async function joinRunning(e: EngineContext, r: Repositories, type: JobType, job: Job, req: StartRequest) {
  const session = (await r.sessions.get(job.runningSessionId!))!;
  const unchanged = { session, tasks: [] as Task[], started: false };
  if (!type.join || session.cancelRequested) return unchanged;
  const plan = await type.join(r, job, session, req);
  if (!plan.tasks.length) return unchanged;
  const created = await insertTasks(r, session.id, plan);
  await queueWithin(e, r, session.id, created);
  const numTasks = session.numTasks + created.length;
  const lastUpdate = e.clock.now();
  await r.sessions.update(session.id, { numTasks, lastUpdate });
  await r.events.add(sessionEvent('session.updated', { ...session, numTasks, lastUpdate }));
  for (const m of plan.messages ?? []) await writeLog(e, r, session, null, m);
  return { session: { ...session, numTasks }, tasks: created, started: false };
}

/** Writes the planned tasks PENDING; the caller queues them in the same transaction (queueWithin). */
function insertTasks(r: Repositories, sessionId: number, plan: Plan): Promise<Task[]> {
  return r.tasks.insertMany(plan.tasks.map((t) => ({
    sessionId, name: t.name, targetKind: t.targetKind, targetId: t.targetId ?? null, payload: t.payload ?? null,
    status: 'PENDING', start: null, end: null, attempts: 0, errorCode: null, message: null, owner: null, leaseExpires: null, queuedAt: null,
  })));
}

class LostRace extends Error {}
