/**
 * A running session's percent is counted at most once per progressIntervalMs while its tasks
 * end (a 10,000-task session's counts took a tenth of a server's time), yet its close is never
 * held back, and a count owed at a pause is paid by a timer. Real engine, both store dialects.
 */
import { describe, expect, it } from 'vitest';
import type { Job } from '../src/core/types.ts';
import type { JobType } from '../src/engine/jobtypes/index.ts';
import type { Store } from '../src/store/index.ts';
import { engineTests } from './support/engines.ts';
import { DIALECTS } from './support/stores.ts';

const SERVICE = 'test.progress.steps';
const JOB_ID = 4343;
const TASKS = 10;

/** Ten tasks; task i ends when release(i) is called. */
function gatedSteps(): { type: JobType; release: (i: number) => void } {
  const gates = Array.from({ length: TASKS }, () => {
    let open!: () => void;
    const p = new Promise<void>((resolve) => (open = resolve));
    return { p, open };
  });
  return {
    release: (i) => gates[i]!.open(),
    type: {
      serviceId: SERVICE,
      async plan() {
        return { tasks: gates.map((_, i) => ({ name: `step ${i}`, targetKind: 'step', targetId: String(i), payload: { i } })) };
      },
      async run(t) {
        await gates[(t.task.payload as { i: number }).i]!.p;
        return { status: 'COMPLETED' };
      },
    },
  };
}

const job: Job = {
  id: JOB_ID, name: 'Steps', description: null, policyId: JOB_ID, policyName: 'Steps', type: 'test', subType: 'steps',
  serviceId: SERVICE, held: false, runningSessionId: null, lastSessionId: null, triggerId: null, schedule: null, nextFireTime: null, options: {},
};

/** Waits for `check` to hold, polling, up to a deadline. */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const percentOf = async (store: Store, id: number) => (await store.sessions.getState(id))!.percent;
const ended = async (store: Store, id: number) => (await store.tasks.bySession(id)).filter((x) => x.status === 'COMPLETED').length;

describe.each(DIALECTS)('session progress on %s', (_name, open) => {
  const engines = engineTests(open);

  const start = async (progressIntervalMs: number, concurrency = TASKS, sweepMs = 600_000) => {
    const { store } = await engines.open();
    const steps = gatedSteps();
    // The sweeper closes sessions too: kept out of the way (but in its own test), so only a task's end can close one.
    const engine = await engines.start(store, { jobTypes: [steps.type], concurrency, progressIntervalMs, sweepMs });
    await store.jobs.ensure(job);
    const { session } = await engine.startJob(JOB_ID, { by: 'test', trigger: 'manual' });
    return { store, e: engine, release: steps.release, id: session.id };
  };

  // With all ten running at once, a task's end finds its siblings still running in this process;
  // one at a time, it finds the rest PENDING, which only the store can tell.
  it.each([TASKS, 1])('counts at the first end, owes the counts within the interval, and closes at the last end at once (%i at a time)', async (concurrency) => {
    const { store, e, release, id } = await start(60_000, concurrency);
    release(0);
    await until('the first count', async () => (await percentOf(store, id)) === 10);
    for (let i = 1; i < TASKS - 1; i++) release(i);
    await until('nine ended tasks', async () => (await ended(store, id)) === TASKS - 1);
    release(TASKS - 1);
    // The interval is a minute: only a close that is never held back ends within the wait.
    const closed = await e.waitForSession(id, 5_000);
    expect(closed).toMatchObject({ status: 'COMPLETED', percent: 100 });
    // One percent update (the first end's); the eight ends within the interval counted nothing.
    const updates = await store.events.after(0, { sessionId: id, types: ['session.updated'] });
    expect(updates.map((u) => (u.data as { percent: number }).percent)).toEqual([10]);
  });

  it('pays a count owed at a pause without waiting for another end', async () => {
    const { store, release, id } = await start(300);
    release(0);
    await until('the first count', async () => (await percentOf(store, id)) === 10);
    for (let i = 1; i < 5; i++) release(i);
    await until('five ended tasks', async () => (await ended(store, id)) === 5);
    // No task ends after these: only the owed count's timer can move the percent to 50.
    await until('the owed count', async () => (await percentOf(store, id)) === 50);
    for (let i = 5; i < TASKS; i++) release(i);
  });

  it('the sweeper closes a session whose tasks ended without a count, and counts none that has a task open', async () => {
    const { store, e, release, id } = await start(60_000, TASKS, 50);
    try {
      await until('ten running tasks', async () => (await store.tasks.bySession(id)).every((x) => x.status === 'RUNNING'));
      // Ends committed by a process that died before its count: the tasks' rows and nothing else.
      const endInStore = async (n: number) => {
        for (const x of (await store.tasks.bySession(id)).filter((y) => y.status === 'RUNNING').slice(0, n)) {
          // Outside a transaction the end is written at once; it throws NotAffected unless it took effect.
          await expect(store.tasks.finish(x.id, x.owner!, { status: 'COMPLETED', end: Date.now(), errorCode: null, message: null })).resolves.toBeUndefined();
        }
      };
      await endInStore(5);
      // Two sweeps begun after those ends: a session with open tasks is not counted by them (its
      // percent is the count's alone; before, every sweep of every process counted it).
      let sweeps = 0;
      const live = store.sessions.live.bind(store.sessions);
      store.sessions.live = () => {
        sweeps++;
        return live();
      };
      await until('two sweeps', async () => sweeps >= 2);
      expect(await percentOf(store, id)).toBe(0);
      // The last ends, again without a count: the sweeper is what closes the session.
      await endInStore(TASKS);
      expect(await e.waitForSession(id, 5_000)).toMatchObject({ status: 'COMPLETED', percent: 100 });
    } finally {
      for (let i = 0; i < TASKS; i++) release(i);
    }
  });

  it('counts at every end with an interval of 0', async () => {
    const { store, e, release, id } = await start(0);
    for (let i = 0; i < TASKS; i++) {
      release(i);
      await until(`${i + 1} ended tasks counted`, async () => (await percentOf(store, id)) === (i + 1) * 10 || (await store.sessions.getState(id))!.status !== 'RUNNING');
    }
    await e.waitForSession(id, 10_000);
    const updates = await store.events.after(0, { sessionId: id, types: ['session.updated'] });
    expect(updates.map((u) => (u.data as { percent: number }).percent)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });
});
