/**
 * The queue port on PostgreSQL, through pg-boss: API servers publish task messages, `census
 * worker` processes on any machine take them. pg-boss only carries "run task N"; whether and
 * by whom a task runs is decided by the task's lease in Census's own tables, so a message
 * delivered twice, or re-sent by the sweeper after a worker died, still runs the task once.
 */
import PgBoss from 'pg-boss';
import type { QueuedTask, TaskHandler, TaskQueue } from './queue.ts';

export const TASK_QUEUE = 'census-task';

export interface PgBossQueueOptions {
  connectionString: string;
  /** pg-boss's own schema (default "census_queue"). */
  schema?: string;
  /** Tasks this process runs at once (workers only). */
  concurrency: number;
  /** How often an idle worker looks for messages (pg-boss polls; minimum 0.5 s). */
  pollingIntervalSeconds?: number;
}

export class PgBossQueue implements TaskQueue {
  private readonly boss: PgBoss;
  private running = new Map<string, { task: QueuedTask; controller: AbortController; done: Promise<void> }>();
  private started: Promise<void> | undefined;
  private consuming = false;

  constructor(private readonly o: PgBossQueueOptions) {
    this.boss = new PgBoss({
      connectionString: o.connectionString,
      schema: o.schema ?? 'census_queue',
      max: Math.max(2, Math.min(o.concurrency + 1, 10)),
      // Census schedules its own jobs and keeps its own state; pg-boss only moves messages.
      schedule: false,
      supervise: true,
      application_name: 'census-queue',
    });
    this.boss.on('error', (err: Error) => console.error(`census: queue error: ${err.message}`));
  }

  /** Connects, installs or migrates pg-boss's schema, and creates the task queue. */
  private ready(): Promise<void> {
    this.started ??= (async () => {
      await this.boss.start();
      if (!(await this.boss.getQueue(TASK_QUEUE))) {
        // A lost message is found by the sweeper, so pg-boss need not retry; keep finished ones an hour.
        await this.boss.createQueue(TASK_QUEUE, { name: TASK_QUEUE, retryLimit: 0, expireInSeconds: 6 * 3600, retentionMinutes: 60 });
      }
    })();
    return this.started;
  }

  async enqueue(tasks: QueuedTask[]): Promise<void> {
    if (!tasks.length) return;
    await this.ready();
    await this.boss.insert(tasks.map((t) => ({ name: TASK_QUEUE, data: t })));
  }

  start(handler: TaskHandler): void {
    this.consuming = true;
    void this.ready().then(async () => {
      // One poller per slot, each taking one message at a time: a slow task never holds up the others.
      for (let i = 0; i < this.o.concurrency && this.consuming; i++) {
        let workerId: string | undefined;
        workerId = await this.boss.work<QueuedTask>(TASK_QUEUE, { batchSize: 1, pollingIntervalSeconds: this.o.pollingIntervalSeconds ?? 0.5 }, async ([job]) => {
          if (!job || !this.consuming) return;
          // pg-boss waits out its polling interval even after a job; a slot that just finished
          // one asks for the next at once instead.
          if (workerId) this.boss.notifyWorker(workerId);
          const controller = new AbortController();
          const done = handler(job.data, controller.signal).catch((err: Error) => {
            console.error(`census: task ${job.data.taskId} handler failed: ${err.message}`);
          });
          this.running.set(job.id, { task: job.data, controller, done });
          try {
            await done;
          } finally {
            this.running.delete(job.id);
          }
        });
      }
    }, (err: Error) => console.error(`census: cannot start the task queue: ${err.message}`));
  }

  abortSession(sessionId: number): void {
    for (const r of this.running.values()) if (r.task.sessionId === sessionId) r.controller.abort();
  }

  async stop(): Promise<void> {
    this.consuming = false;
    if (!this.started) return;
    await this.started.catch(() => {});
    await this.boss.offWork(TASK_QUEUE).catch(() => {});
    for (const r of this.running.values()) r.controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.boss.stop({ graceful: false, wait: true, close: true }).catch(() => {});
  }
}
