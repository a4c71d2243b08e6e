/** Job definitions and the facts that make up a job's state (running session, hold, trigger). */
import type { Selectable } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import { jobStatus } from '../core/status.ts';
import type { DailySchedule, Job } from '../core/types.ts';
import { jobStatusEvent, type EventRepository } from './events.ts';
import { bit, bool, json, listPage, type Db } from './rows.ts';
import type { JobsTable } from './schema.ts';

export const toJob = (r: Selectable<JobsTable>): Job => ({
  ...r,
  held: bool(r.held),
  schedule: json<DailySchedule | null>(r.schedule, null),
  options: json<Record<string, unknown>>(r.options, {}),
});

/**
 * Every change of a job's status (RUNNING, IDLE, HELD) is recorded in the event journal here, in
 * the same transaction as the change, whoever makes it (engine, API, scheduler).
 */
export class JobRepository {
  constructor(
    private db: Db,
    private events: EventRepository,
  ) {}

  async get(id: number): Promise<Job | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toJob(r);
  }

  async all(): Promise<Job[]> {
    return (await this.db.selectFrom('jobs').selectAll().orderBy('id').execute()).map(toJob);
  }

  list(q: ListQuery): Promise<ListResult<Job>> {
    return listPage(this.db.selectFrom('jobs'), q, 'id', toJob);
  }

  /** Adds the system jobs a fresh database lacks; never overwrites an operator's changes. */
  async ensure(job: Job): Promise<void> {
    await this.db
      .insertInto('jobs')
      .values({ ...job, held: bit(job.held), schedule: job.schedule && JSON.stringify(job.schedule), options: JSON.stringify(job.options) })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  /** Marks the job as running this session, only if nothing runs: the guard against double starts. */
  claimRun(jobId: number, sessionId: number): Promise<boolean> {
    return this.events.within(async (db, events) => {
      const r = await db
        .updateTable('jobs')
        .set({ runningSessionId: sessionId })
        .where('id', '=', jobId)
        .where('runningSessionId', 'is', null)
        .executeTakeFirst();
      const claimed = Number(r.numUpdatedRows) === 1;
      if (claimed) await events.add(jobStatusEvent(jobId, jobStatus(sessionId, false), sessionId));
      return claimed;
    });
  }

  finishRun(jobId: number, sessionId: number): Promise<void> {
    return this.events.within(async (db, events) => {
      const r = await db
        .updateTable('jobs')
        .set({ runningSessionId: null, lastSessionId: sessionId })
        .where('id', '=', jobId)
        .where('runningSessionId', '=', sessionId)
        .returning('held')
        .executeTakeFirst();
      if (r) await events.add(jobStatusEvent(jobId, jobStatus(null, bool(r.held)), sessionId));
    });
  }

  async setLastSession(jobId: number, sessionId: number): Promise<void> {
    await this.db.updateTable('jobs').set({ lastSessionId: sessionId }).where('id', '=', jobId).execute();
  }

  setHeld(jobId: number, held: boolean): Promise<void> {
    return this.events.within(async (db, events) => {
      const r = await db
        .updateTable('jobs')
        .set({ held: bit(held) })
        .where('id', '=', jobId)
        .where('held', '<>', bit(held))
        .returning('runningSessionId')
        .executeTakeFirst();
      // Only a status clients can see changing is an event: a running job stays RUNNING, and
      // becomes HELD or IDLE when its run ends (finishRun).
      if (!r) return;
      const status = jobStatus(r.runningSessionId, held);
      if (status !== jobStatus(r.runningSessionId, !held)) await events.add(jobStatusEvent(jobId, status, null));
    });
  }

  async setSchedule(jobId: number, schedule: DailySchedule | null, nextFireTime: number | null): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ schedule: schedule && JSON.stringify(schedule), nextFireTime, triggerId: schedule ? jobId : null })
      .where('id', '=', jobId)
      .execute();
  }

  async setOptions(jobId: number, options: Record<string, unknown>): Promise<void> {
    await this.db.updateTable('jobs').set({ options: JSON.stringify(options) }).where('id', '=', jobId).execute();
  }

  /**
   * Moves a trigger from the fire time it had to the next one. Only one process wins the update,
   * so a scheduled run starts once however many servers share the database.
   */
  async advanceFireTime(jobId: number, from: number, to: number | null): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ nextFireTime: to })
      .where('id', '=', jobId)
      .where('nextFireTime', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
