/** The in-process queue (SQLite's): what a cancel leaves it to do. */
import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../src/engine/queue.ts';

describe('InProcessQueue', () => {
  it("drops a cancelled session's waiting tasks and aborts its running one, and runs the other sessions' tasks", async () => {
    const q = new InProcessQueue(1);
    const seen: number[] = [];
    const aborted: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lastDone!: () => void;
    const last = new Promise<void>((resolve) => (lastDone = resolve));
    q.start(async (task, signal) => {
      seen.push(task.taskId);
      if (task.taskId === 1) {
        await gate;
        if (signal.aborted) aborted.push(task.taskId);
      }
      if (task.taskId === 10) lastDone();
    });
    await q.enqueue([{ taskId: 1, sessionId: 7 }, { taskId: 2, sessionId: 7 }, { taskId: 3, sessionId: 7 }, { taskId: 10, sessionId: 8 }]);
    expect(q.size).toEqual({ waiting: 3, running: 1 });
    q.abortSession(7);
    expect(q.size).toEqual({ waiting: 1, running: 1 });
    release();
    await last;
    expect(seen).toEqual([1, 10]);
    expect(aborted).toEqual([1]);
    await q.stop();
  });
});
