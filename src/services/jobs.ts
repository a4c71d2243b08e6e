/**
 * Jobs: reading them with the sessions the wire shows, starting and cancelling a run, holding and
 * releasing the schedule, and the daily trigger. Both jobs are system jobs: they can be run and
 * scheduled, never deleted. The scheduler and the first start call these as system actors.
 */
import type { Actor } from '../core/actor.ts';
import { forbidden, invalid, notAllowed, notFound } from '../core/errors.ts';
import { validateMissedRun } from '../core/missed-run.ts';
import { HYPERVISOR_INVENTORY_JOB_ID, INVENTORY_JOB_ID } from '../engine/system-jobs.ts';
import type { Job, SessionState } from '../core/types.ts';
import type { StartResult } from '../engine/engine.ts';
import { nextFireTime, validateSchedule } from '../engine/schedule.ts';
import type { ServiceContext } from './context.ts';

/** A job with the session it is running, if any, and the last one that ended. */
export interface JobView {
  job: Job;
  running: SessionState | undefined;
  ended: SessionState | undefined;
}

/**
 * A daily trigger as a caller gives it: `time` "HH:MM" (null removes the trigger), `timezone` an
 * IANA name (default UTC); `missedRun` the missed-run policy (core/missed-run.ts). Either may be
 * left out to keep what the job has.
 */
export interface TriggerInput {
  time?: unknown;
  timezone?: unknown;
  missedRun?: unknown;
}

export function jobService(ctx: ServiceContext) {
  const { store, engine, clock } = ctx;

  async function get(_actor: Actor, id: number): Promise<Job> {
    const job = await store.jobs.get(id);
    if (!job) throw notFound('Job', id);
    return job;
  }

  async function viewOf(job: Job): Promise<JobView> {
    const running = job.runningSessionId !== null ? await store.sessions.getState(job.runningSessionId) : undefined;
    const ended = job.lastSessionId !== null ? await store.sessions.getState(job.lastSessionId) : undefined;
    return { job, running, ended };
  }

  return {
    get,

    async view(actor: Actor, id: number): Promise<JobView> {
      return viewOf(await get(actor, id));
    },

    async list(_actor: Actor): Promise<JobView[]> {
      return Promise.all((await store.jobs.all()).map(viewOf));
    },

    /**
     * A number that changes whenever jobs or their sessions change (in any process: on
     * PostgreSQL through the store's change feed), for caching what a read answered; undefined
     * when nothing may be cached now (PostgreSQL without a hearing listener).
     */
    generation(): number | undefined {
      return store.cacheGeneration('jobs');
    },

    /**
     * Starts a session, or joins the one running. `trigger` says why: 'manual', 'schedule', 'catch-up',
     * 'first-start', 'registration', 'appserver'; `appserverIds` limits an inventory to those servers.
     */
    async start(actor: Actor, id: number, trigger = 'manual', appserverIds?: number[]): Promise<StartResult> {
      const scope = actor.access.scope('policy.run');
      if (scope === 'all') return engine.startJob(id, { by: actor.name, trigger, ...(appserverIds ? { appserverIds } : {}) });
      // A user whose policy.run is limited to resource groups runs the inventory of their servers
      // (or hypervisors) only: SPP's system job, narrowed the way ?action=inventory narrows it to one server.
      const job = await get(actor, id);
      if (job.id !== INVENTORY_JOB_ID && job.id !== HYPERVISOR_INVENTORY_JOB_ID) throw forbidden(`${actor.name} may run ${job.name} only with policy.run on All Resources.`, 'job.run-scope');
      const mine = (appserverIds ?? (await store.appservers.all()).map((a) => a.id)).filter((a) => scope.has(a));
      return engine.startJob(id, { by: actor.name, trigger, appserverIds: mine });
    },

    /** Cancels the running session; a job that is not running is left as it is. */
    async cancel(actor: Actor, id: number): Promise<void> {
      const job = await get(actor, id);
      if (job.runningSessionId !== null) await engine.cancelSession(job.runningSessionId, actor.name);
    },

    /** While held, the trigger moves on each day without starting anything. */
    async hold(actor: Actor, id: number): Promise<void> {
      await get(actor, id);
      await store.jobs.setHeld(id, true);
    },

    async release(actor: Actor, id: number): Promise<void> {
      await get(actor, id);
      await store.jobs.setHeld(id, false);
    },

    /**
     * Sets the daily trigger, or removes it (`time` null), and/or the missed-run policy; answers
     * the job as it now is. Everything is checked before anything is written.
     */
    async setTrigger(actor: Actor, id: number, trigger: TriggerInput): Promise<Job> {
      const job = await get(actor, id);
      // An object is no zone name (and String() of `{"toString": 1}` would throw).
      if (trigger.timezone !== null && typeof trigger.timezone === 'object') {
        throw invalid('"timezone" must be an IANA time zone name such as "Europe/Berlin".', 'job.trigger');
      }
      if (trigger.time === undefined && trigger.missedRun === undefined) {
        throw invalid('Give "time" ("HH:MM", or null to remove the trigger) and/or "missedRun" ("run-once" or "skip").', 'job.trigger');
      }
      const schedule = trigger.time === undefined || trigger.time === null ? null : validateSchedule(trigger);
      const missedRun = trigger.missedRun === undefined ? undefined : validateMissedRun(trigger.missedRun);
      await store.transaction(async (r) => {
        if (trigger.time === null) await r.jobs.setSchedule(id, null, null);
        else if (schedule) await r.jobs.setSchedule(id, schedule, nextFireTime(schedule, clock.now()));
        // The other options (maintenance's retention) stay as they are now.
        if (missedRun !== undefined) await r.jobs.setOptions(id, { ...((await r.jobs.get(id))?.options ?? job.options), missedRun });
      });
      return get(actor, id);
    },

    /** Refused: Census's jobs are system jobs. */
    async delete(actor: Actor, id: number): Promise<never> {
      const job = await get(actor, id);
      throw notAllowed(`${job.name} is a system job and cannot be deleted.`, 'job.system');
    },
  };
}

export type JobService = ReturnType<typeof jobService>;
