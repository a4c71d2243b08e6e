/**
 * The queue port: how the engine hands tasks to whatever runs them. The in-process queue below
 * serves the embedded default; a PostgreSQL queue (pg-boss) can take its place for scale-out
 * without the engine changing. Task state lives in the store, never only in the queue.
 *
 * Handing over is atomic with creating the task where it can be: a queue whose messages live in
 * the store's own database (pg-boss) writes them in the transaction that made the tasks PENDING
 * (`enqueueWithin`), so a crash just after that commit cannot leave a task without a message.
 * The in-process queue cannot, and need not: it lives and dies with the one process that uses
 * it (SQLite), and that process's next start queues every PENDING task of a live session again
 * (recovery.ts, resume). session-progress.ts calls the one or the other.
 */
import type { Repositories } from '../store/index.ts';
import type { ChangeFeed } from '../store/change-feed.ts';

export interface QueuedTask {
  taskId: number;
  sessionId: number;
  /** Only workers of this site take it (engine/site-routing.ts); absent: any worker. */
  siteId?: number;
}

export type TaskHandler = (task: QueuedTask, signal: AbortSignal) => Promise<void>;

/**
 * Told of each task the queue takes for this process, as it takes it (pg-boss fetches ahead of its
 * slots): the engine reads what the task needs before its claim then, so a slot that frees does
 * not wait for those reads (task-runner.ts, lookAhead).
 */
export type LookAhead = (task: QueuedTask) => void;

export interface TaskQueue {
  /** Hands tasks over, on its own (after the transaction that made them PENDING committed). */
  enqueue(tasks: QueuedTask[]): Promise<void>;
  /**
   * Writes the tasks' messages in `tx`, the transaction that made them PENDING: they commit with
   * the tasks or not at all. Only a queue kept in the store's own database has it; the engine
   * calls enqueue() after the commit for any other.
   */
  enqueueWithin?(tx: Repositories, tasks: QueuedTask[]): Promise<void>;
  /**
   * True when the queue hands a task only to workers of its `siteId` (pg-boss, one queue per
   * site). The in-process queue has one worker, its own process, which takes every site's tasks.
   */
  readonly bySite?: boolean;
  /** Begins handing queued tasks to `handler`; `lookAhead` hears of each as the queue takes it, before a slot runs it. */
  start(handler: TaskHandler, lookAhead?: LookAhead): void;
  /**
   * Aborts tasks of one session that this process is running, once the session's cancel has
   * committed; a queue may also drop the session's tasks it holds waiting (they are CANCELLED).
   */
  abortSession(sessionId: number): void;
  /**
   * Messages may have come from another process (a session started there): a queue that polls
   * looks at once instead of at its next poll. The in-process queue needs no telling.
   */
  wakeIdle?(): void;
  /**
   * While `hearing()` is true, wakeIdle() comes for every message any process puts in the queue:
   * a queue that polls may poll seldom then.
   */
  hearWakes?(hearing: () => boolean): void;
  /**
   * Told whether another worker on this machine started before this one (engine.ts, at each
   * heartbeat): a queue whose slots can hold back may take tasks only while the machine has idle CPU.
   */
  shareHost?(follower: boolean): void;
  /** The machine's CPU share (0–1) under which a queue that can hold back takes tasks while told it follows (shareHost). */
  readonly sharedHostCpu?: number;
  /** Stops taking tasks, aborts the running ones and waits for their handlers to return. */
  stop(): Promise<void>;
}

/**
 * Whether a queue can hold back for an earlier worker on its machine: it takes the news
 * (shareHost) and its share is under 1 (`--shared-cpu 100`: as if alone). The engine reads the
 * site's workers at each heartbeat only for such a queue.
 */
export function holdsBack(queue: Pick<TaskQueue, 'shareHost' | 'sharedHostCpu'>): boolean {
  return queue.shareHost !== undefined && (queue.sharedHostCpu ?? 0) < 1;
}

/** Runs tasks in this process, at most `concurrency` at a time, in the order they came. */
export class InProcessQueue implements TaskQueue {
  private waiting: QueuedTask[] = [];
  private running = new Map<number, { task: QueuedTask; controller: AbortController; done: Promise<void> }>();
  private handler: TaskHandler | null = null;
  private stopped = false;

  constructor(private concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('concurrency must be a whole number ≥ 1');
  }

  async enqueue(tasks: QueuedTask[]): Promise<void> {
    this.waiting.push(...tasks);
    this.pump();
  }

  start(handler: TaskHandler): void {
    this.handler = handler;
    this.stopped = false;
    this.pump();
  }

  abortSession(sessionId: number): void {
    for (const r of this.running.values()) if (r.task.sessionId === sessionId) r.controller.abort();
    // The cancel moved every PENDING task of the session to CANCELLED: each of these would only
    // read its task to find that out (10,000 reads after cancelling a 10,000-server session).
    this.waiting = this.waiting.filter((t) => t.sessionId !== sessionId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting = [];
    for (const r of this.running.values()) r.controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running.size };
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler || this.stopped) return;
    while (this.running.size < this.concurrency && this.waiting.length) {
      const task = this.waiting.shift()!;
      const controller = new AbortController();
      const done = handler(task, controller.signal)
        .catch(() => {
          // The handler records its own failures in the store; nothing may escape into the loop.
        })
        .finally(() => {
          this.running.delete(task.taskId);
          this.pump();
        });
      this.running.set(task.taskId, { task, controller, done });
    }
  }
}

/**
 * On PostgreSQL messages another process puts in the queue (a session started there, a task
 * given back) are heard at once (store/change-feed.ts, `tasks`: the queue tells them in the
 * transaction that writes them), and this process's idle slots fetch them then, not at their
 * next poll; while the feed hears, they poll only as a safety net.
 */
export function wakeOnTasks(feed: Pick<ChangeFeed, 'onChange' | 'hearing'> | undefined, queue: TaskQueue): void {
  if (!feed) return;
  feed.onChange((scope) => {
    if (scope === 'tasks') queue.wakeIdle?.();
  });
  queue.hearWakes?.(() => feed.hearing());
}
