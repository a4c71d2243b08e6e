/**
 * Fires jobs whose trigger time has come. Each due trigger is first moved to its next fire time
 * with a compare-and-set in the store, so one process wins and the job starts once however many
 * servers share the database. A held job's trigger moves on without starting anything. A fire
 * time missed while Census was down fires once at the next tick, not once per missed day.
 *
 * It lives with the services, not the engine: starting a job on a trigger is a use case like a
 * user's start, and it goes through the jobs service as the system actor 'scheduler'.
 */
import { systemActor } from '../core/actor.ts';
import { nextFireTime } from '../engine/schedule.ts';
import type { ServiceContext } from './context.ts';
import type { JobService } from './jobs.ts';

const MAX_WAIT_MS = 30_000;
const SCHEDULER = systemActor('scheduler');

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(
    private ctx: Pick<ServiceContext, 'store' | 'clock'>,
    private jobs: Pick<JobService, 'start'>,
  ) {}

  /** Starts every due job once; returns the ids of those it started. */
  async tick(): Promise<number[]> {
    const { store, clock } = this.ctx;
    const now = clock.now();
    const fired: number[] = [];
    for (const job of await store.jobs.all()) {
      if (!job.schedule || job.nextFireTime === null || job.nextFireTime > now) continue;
      const next = nextFireTime(job.schedule, now);
      if (!(await store.jobs.advanceFireTime(job.id, job.nextFireTime, next))) continue;
      if (job.held) continue;
      await this.jobs.start(SCHEDULER, job.id, 'schedule');
      fired.push(job.id);
    }
    return fired;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tick();
    } catch (err) {
      console.error('census: scheduler tick failed:', (err as Error).message);
    }
    if (this.stopped) return;
    const { store, clock } = this.ctx;
    const jobs = await store.jobs.all().catch(() => []);
    const due = jobs.filter((j) => j.schedule && j.nextFireTime !== null).map((j) => j.nextFireTime!);
    const wait = Math.max(0, Math.min(MAX_WAIT_MS, ...due.map((t) => t - clock.now())));
    this.timer = setTimeout(() => void this.loop(), wait + 5);
    this.timer.unref();
  }
}
