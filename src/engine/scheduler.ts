/**
 * Fires jobs whose trigger time has come. Each due trigger is first moved to its next fire time
 * with a compare-and-set in the store, so one process wins and the job starts once however many
 * servers share the database. A held job's trigger moves on without starting anything. A fire
 * time missed while Census was down fires once at the next tick, not once per missed day.
 */
import type { Clock } from '../core/clock.ts';
import type { Store } from '../store/index.ts';
import type { Engine } from './engine.ts';
import { nextFireTime } from './schedule.ts';

const MAX_WAIT_MS = 30_000;

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(
    private store: Store,
    private engine: Engine,
    private clock: Clock,
  ) {}

  /** Starts every due job once; returns the ids of those it started. */
  async tick(): Promise<number[]> {
    const now = this.clock.now();
    const fired: number[] = [];
    for (const job of await this.store.jobs.all()) {
      if (!job.schedule || job.nextFireTime === null || job.nextFireTime > now) continue;
      const next = nextFireTime(job.schedule, now);
      if (!(await this.store.jobs.advanceFireTime(job.id, job.nextFireTime, next))) continue;
      if (job.held) continue;
      await this.engine.startJob(job.id, { by: 'scheduler', trigger: 'schedule' });
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
    const jobs = await this.store.jobs.all().catch(() => []);
    const due = jobs.filter((j) => j.schedule && j.nextFireTime !== null).map((j) => j.nextFireTime!);
    const wait = Math.max(0, Math.min(MAX_WAIT_MS, ...due.map((t) => t - this.clock.now())));
    this.timer = setTimeout(() => void this.loop(), wait + 5);
    this.timer.unref();
  }
}
