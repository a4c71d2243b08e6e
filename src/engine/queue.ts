/**
 * The queue port: how the engine hands tasks to whatever runs them. The in-process queue below
 * serves the embedded default; a PostgreSQL queue (pg-boss) can take its place for scale-out
 * without the engine changing. Task state lives in the store, never only in the queue.
 */

export interface QueuedTask {
  taskId: number;
  sessionId: number;
}

export type TaskHandler = (task: QueuedTask, signal: AbortSignal) => Promise<void>;

export interface TaskQueue {
  enqueue(tasks: QueuedTask[]): Promise<void>;
  /** Begins handing queued tasks to `handler`. */
  start(handler: TaskHandler): void;
  /** Aborts tasks of one session that this process is running. */
  abortSession(sessionId: number): void;
  /** Stops taking tasks, aborts the running ones and waits for their handlers to return. */
  stop(): Promise<void>;
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
