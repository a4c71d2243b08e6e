/** Job definitions and the facts that make up a job's state (running session, hold, trigger). */
import type { Selectable } from 'kysely';
import type { ListQuery, ListResult } from '../core/query.ts';
import type { DailySchedule, Job } from '../core/types.ts';
import { bit, bool, json, listPage, type Db } from './rows.ts';
import type { JobsTable } from './schema.ts';

export const toJob = (r: Selectable<JobsTable>): Job => ({
  ...r,
  held: bool(r.held),
  schedule: json<DailySchedule | null>(r.schedule, null),
  options: json<Record<string, unknown>>(r.options, {}),
});

export class JobRepository {
  constructor(private db: Db) {}

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
  async claimRun(jobId: number, sessionId: number): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ runningSessionId: sessionId })
      .where('id', '=', jobId)
      .where('runningSessionId', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async finishRun(jobId: number, sessionId: number): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ runningSessionId: null, lastSessionId: sessionId })
      .where('id', '=', jobId)
      .where('runningSessionId', '=', sessionId)
      .execute();
  }

  async setLastSession(jobId: number, sessionId: number): Promise<void> {
    await this.db.updateTable('jobs').set({ lastSessionId: sessionId }).where('id', '=', jobId).execute();
  }

  async setHeld(jobId: number, held: boolean): Promise<void> {
    await this.db.updateTable('jobs').set({ held: bit(held) }).where('id', '=', jobId).execute();
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
