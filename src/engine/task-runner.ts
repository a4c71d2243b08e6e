/**
 * Running one task handed over by the queue: claimed with a lease in the store (so a message
 * delivered twice runs once, and a task whose process died is claimed again later), renewed by a
 * heartbeat while its job type works, and ended with what it found in one transaction.
 */
import { isSessionLive } from '../core/status.ts';
import type { SessionState, Task } from '../core/types.ts';
import { taskEvent } from '../store/events.ts';
import { ifAffected } from '../store/later.ts';
import { onTaskEnded } from './alerts.ts';
import type { BeforeClaim, EngineContext } from './context.ts';
import type { Prepared, TaskOutcome } from './jobtypes/index.ts';
import { message, type Message } from './messages.ts';
import type { QueuedTask } from './queue.ts';
import { dispatch, finishIfDone, progressAfter, queueWithin } from './session-progress.ts';
import { moveTask, writeLog } from './session-records.ts';
import { DELIVERY_TARGET } from './jobtypes/delivery.ts';

/**
 * A read ahead is used only this fresh: a message can wait behind long tasks, and what prepare
 * read (the server, its credentials) should be about as current as when it is read at the claim.
 */
const LOOK_FRESH_MS = 5_000;
/** Reads ahead kept at most (the queue holds a few messages ahead; one it gives back may run elsewhere, its read then unused). */
const LOOKS_KEPT = 64;

/**
 * The queue holds this task until a slot frees (queue.ts, LookAhead): read what runTask reads
 * before the claim now, so the slot that takes it does not wait for those round trips. Nothing is
 * written: whether the task runs is still decided by its claim (a task cancelled meanwhile is no
 * longer PENDING and cannot be claimed).
 */
export function lookAhead(e: EngineContext, qt: QueuedTask): void {
  if (e.looks.has(qt.taskId)) return;
  if (e.looks.size >= LOOKS_KEPT) e.looks.delete(e.looks.keys().next().value!);
  // A failed read is read again by runTask, which then records or throws what it meets.
  e.looks.set(qt.taskId, readBeforeClaim(e, qt).catch(() => undefined));
}

async function readBeforeClaim(e: EngineContext, qt: QueuedTask): Promise<BeforeClaim> {
  const at = Date.now();
  const found = await e.store.tasks.withSession(qt.taskId);
  if (!found || found.task.status !== 'PENDING') return { found, prepared: {}, at };
  const { task, session } = found;
  if (session.cancelRequested || !isSessionLive(session.status) || task.attempts >= e.settings.maxAttempts) return { found, prepared: {}, at };
  // What the job type reads before the claim, and its start entry, which commits with the claim.
  let prepared: Prepared = {};
  try {
    prepared = (await e.jobTypes.get(session.serviceId)?.prepare?.({ task, session, store: e.store, clock: e.clock })) ?? {};
  } catch {
    // run() meets the same trouble again, with the task claimed, and records it as the task's end.
  }
  return { found, prepared, at };
}

export async function runTask(e: EngineContext, qt: QueuedTask, queueSignal: AbortSignal): Promise<void> {
  const looked = e.looks.get(qt.taskId);
  e.looks.delete(qt.taskId);
  const ahead = looked && (await looked);
  const { found, prepared } = ahead && Date.now() - ahead.at < LOOK_FRESH_MS ? ahead : await readBeforeClaim(e, qt);
  if (!found || found.task.status !== 'PENDING') return;
  const { task, session } = found;
  if (session.cancelRequested || !isSessionLive(session.status)) {
    await e.store.transaction((r) => moveTask(r, session, task, ['PENDING'], { status: 'CANCELLED', end: e.clock.now(), errorCode: 'CANCELLED' }));
    await finishIfDone(e, session.id);
    return;
  }
  if (task.attempts >= e.settings.maxAttempts) return giveUp(e, session, task);
  const type = e.jobTypes.get(session.serviceId);
  if (!(await claim(e, task, session, queueSignal, prepared.start))) return;

  const controller = new AbortController();
  const onQueueAbort = () => controller.abort();
  queueSignal.addEventListener('abort', onQueueAbort, { once: true });
  e.mine.set(task.id, { sessionId: session.id, controller });
  const heartbeat = setInterval(() => void beat(e, task.id, session.id, controller), e.settings.heartbeatMs);
  heartbeat.unref();
  const owner = e.state.owner;
  const running: Task = { ...task, status: 'RUNNING', start: e.clock.now(), attempts: task.attempts + 1, owner };
  let outcome: TaskOutcome;
  try {
    if (!type) throw new Error(`no job type runs ${session.serviceId}`);
    outcome = await type.run({
      task: running, session, signal: controller.signal, store: e.store, clock: e.clock,
      log: (r, m) => writeLog(e, r, session, running.id, m),
      ...(prepared.state !== undefined ? { prepared: prepared.state } : {}),
    });
  } catch (err) {
    const reason = `internal error: ${(err as Error).message}`;
    outcome = { status: 'FAILED', errorCode: 'INTERNAL', message: (err as Error).message, commit: (r) => writeLog(e, r, session, task.id, message('ERROR', 'CNSI0102', task.name, reason)) };
  } finally {
    clearInterval(heartbeat);
    queueSignal.removeEventListener('abort', onQueueAbort);
    e.mine.delete(task.id);
  }
  // Stopping (SIGTERM) cut the task short: give it back to be run again at once elsewhere.
  if (e.state.stopping && queueSignal.aborted && outcome.status === 'CANCELLED') return e.state.abandoning ? undefined : handBack(e, session, running);
  const end = endTask(e, session, running, outcome);
  // The slot goes on to its next task while this end commits: the end's round trips and the
  // progress count overlap the next claim and collection instead of coming before them (with four
  // workers on one store they were a twentieth of each task's turn). Nothing is lost by it: the
  // task stays claimed under this process's liveness lock until the end commits (a process that
  // dies meanwhile has it run again, as before), and stop() waits for the ends still committing.
  // Not under an estate-wide limit, which counts this task as running until its end commits, so
  // the next claim would find the estate full and back off.
  if (e.settings.estateConcurrency > 0) return end;
  e.ending.add(end);
  void end
    .catch((err: Error) => console.error(`census: task ${task.id} could not record its end: ${err.message}`))
    .finally(() => e.ending.delete(end));
}

/**
 * How long a task's end waits before each new try when its transaction failed (the store
 * unreachable for a moment, a connection reset): what the task found is then recorded once the
 * store answers again, rather than lost and the task run again when its lease runs out (a minute
 * by default). A try made after an earlier one did commit finds the task ended and commits
 * nothing: the end is written only while this process holds the task.
 */
const END_RETRY_MS = [250, 1_000, 4_000];

/**
 * The task's end, what it found and its last log entries commit together, or not at all; then
 * the session's progress is counted (and, after its last task, the session closed). Nothing is
 * committed after a lost claim (lease ran out, or we were taken for dead): another process took
 * the task over.
 */
async function endTask(e: EngineContext, session: SessionState, running: Task, outcome: TaskOutcome): Promise<void> {
  const { commit } = outcome;
  const ended = { status: outcome.status, end: e.clock.now(), errorCode: outcome.errorCode ?? null, message: outcome.message ?? null };
  for (let attempt = 0; ; attempt++) {
    let finished: true | undefined;
    try {
      finished = await ifAffected(e.store.transaction(async (r) => {
        // Written with the COMMIT, and only while this process holds the task (store/later.ts).
        await r.tasks.finish(running.id, running.owner!, ended);
        await commit?.(r);
        await onTaskEnded(r, session, { ...running, ...ended }, ended.end);
        await r.events.add(taskEvent(session.jobId, { ...running, ...ended, owner: null, leaseExpires: null }));
        return true as const;
      }));
    } catch (err) {
      const wait = END_RETRY_MS[attempt];
      // A stopping process leaves the task to its lease: stop() waits for the ends still committing.
      if (wait === undefined || e.state.stopping) throw err;
      console.error(`census: task ${running.id} could not record its end (${(err as Error).message}); trying again in ${wait} ms`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      continue;
    }
    // A try that found the task ended may follow one that committed with no answer: count then too.
    if (finished || attempt > 0) await progressAfter(e, session.id);
    return;
  }
}

/** A task this stopping process began but will not finish: PENDING again, queued again, logged. */
async function handBack(e: EngineContext, session: SessionState, running: Task): Promise<void> {
  const owner = e.state.owner;
  const back = await e.store.transaction(async (r) => {
    if (!(await r.tasks.handBack(running.id, owner))) return false;
    await r.events.add(taskEvent(session.jobId, { ...running, status: 'PENDING', start: null, attempts: running.attempts - 1, owner: null, leaseExpires: null }));
    await writeLog(e, r, session, running.id, message('WARN', 'CNSJ0013', running.name, owner));
    await queueWithin(e, r, session.id, [running]);
    return true;
  });
  if (back) await dispatch(e, session.id, [running]);
}

/** Claims a task, waiting for a free slot while the estate-wide limit is reached. */
async function claim(e: EngineContext, task: Task, session: SessionState, signal: AbortSignal, start?: Message): Promise<boolean> {
  const { leaseMs, estateConcurrency } = e.settings;
  const owner = e.state.owner;
  for (let wait = 100; !signal.aborted; wait = Math.min(wait * 2, 2_000)) {
    const now = Date.now();
    // Deliveries never wait behind inventories for a slot (nor take one): a notification that a
    // long inventory failed should not queue behind that inventory's siblings.
    const limit = estateConcurrency > 0 && task.targetKind !== DELIVERY_TARGET ? estateConcurrency : undefined;
    const r = await ifAffected(e.store.transaction(async (tx) => {
      if (limit !== undefined) await tx.lock(4242002);
      const c = await tx.tasks.claim(task.id, owner, now, now + leaseMs, limit);
      // Written only if the claim commits: all three go in the transaction's last round trip.
      if (!c.full) {
        await tx.events.add(taskEvent(session.jobId, {
          ...task, status: 'RUNNING', start: now, end: null, attempts: task.attempts + 1, owner, leaseExpires: now + leaseMs,
        }));
        if (start) await writeLog(e, tx, session, task.id, start);
      }
      return c;
    }));
    // Undefined: someone else has it, or it is no longer PENDING (cancelled); nothing was written.
    if (!r) return false;
    if (!r.full) return true;
    await new Promise((resolve) => setTimeout(resolve, wait + Math.random() * wait));
  }
  return false;
}

/** Renews this task's lease, and aborts it when its session was cancelled from any process. */
async function beat(e: EngineContext, taskId: number, sessionId: number, controller: AbortController): Promise<void> {
  try {
    const held = await e.store.tasks.renew([taskId], e.state.owner, Date.now() + e.settings.leaseMs);
    const s = await e.store.sessions.getState(sessionId);
    if (!held.length || !s || s.cancelRequested) controller.abort();
  } catch {
    // The next beat tries again; the lease is long enough to miss a few.
  }
}

/** A task whose processes kept dying: fail it rather than take down process after process. */
async function giveUp(e: EngineContext, session: SessionState, task: Task): Promise<void> {
  const reason = `gave up after ${task.attempts} attempts: the process running it stopped each time`;
  await e.store.transaction(async (r) => {
    const ended = { status: 'FAILED' as const, end: e.clock.now(), errorCode: 'INTERRUPTED', message: reason };
    if (await moveTask(r, session, task, ['PENDING'], ended)) {
      await writeLog(e, r, session, task.id, message('ERROR', 'CNSI0102', task.name, reason));
      await onTaskEnded(r, session, { ...task, ...ended }, ended.end);
    }
  });
  await finishIfDone(e, session.id);
}
