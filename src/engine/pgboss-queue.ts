/**
 * The queue port on PostgreSQL, through pg-boss: API servers publish task messages, `census
 * worker` processes on any machine take them. pg-boss only carries "run task N"; whether and
 * by whom a task runs is decided by the task's lease in Census's own tables, so a message
 * delivered twice, or re-sent by the sweeper after a worker died, still runs the task once.
 *
 * The messages are written in Census's own transaction (`enqueueWithin`: pg-boss's insert with
 * its `db` option bound to that transaction's connection), so a task and its message commit
 * together: no crash can leave a PENDING task that no message will ever run. That needs pg-boss's
 * schema in the same database as Census's tables (main.ts gives both the same URL).
 *
 * What pg-boss does for us, and what it does not (docs/architecture.md, "Census's lease and
 * pg-boss's"): a handler that fails (the database was unreachable while it read the task) gets
 * the message again after pg-boss's back-off; pg-boss's expiry stays far beyond any task, because
 * it cannot tell a slow task from a dead worker: Census's heartbeat lease does that.
 */
import PgBoss from 'pg-boss';
import type { Repositories } from '../store/index.ts';
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
        // Retries are set on each message (below), so queues made by older versions get them too.
        // Expiry: far beyond any task; keep finished messages an hour.
        await this.boss.createQueue(TASK_QUEUE, { name: TASK_QUEUE, retryLimit: 0, expireInSeconds: 6 * 3600, retentionMinutes: 60 });
      }
    })();
    return this.started;
  }

  /**
   * One message per task. A handler that throws (it could not reach the database) is retried by
   * pg-boss, 1 s, 2 s, 4 s … later, rather than left to the sweeper's minute; running a message
   * again is harmless, since only the task's claim decides whether it runs.
   */
  private messages(tasks: QueuedTask[]): PgBoss.JobInsert<QueuedTask>[] {
    return tasks.map((t) => ({ name: TASK_QUEUE, data: t, retryLimit: 5, retryDelay: 1, retryBackoff: true }));
  }

  async enqueue(tasks: QueuedTask[]): Promise<void> {
    if (!tasks.length) return;
    await this.ready();
    await this.boss.insert(this.messages(tasks));
  }

  async enqueueWithin(tx: Repositories, tasks: QueuedTask[]): Promise<void> {
    if (!tasks.length) return;
    // pg-boss's schema and queue must exist before its insert runs in our transaction (once per process).
    await this.ready();
    await this.boss.insert(this.messages(tasks), { db: { executeSql: (text, values) => tx.executeSql(text, values) } });
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
          const run = handler(job.data, controller.signal);
          this.running.set(job.id, { task: job.data, controller, done: run.then(() => {}, () => {}) });
          try {
            await run;
          } catch (err) {
            // Thrown on to pg-boss, which fails the message and sends it again after its back-off.
            console.error(`census: task ${job.data.taskId} handler failed: ${(err as Error).message}`);
            throw err;
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
