/**
 * An idle estate's processes leave the store alone. Every process sweeps for lost work (every
 * few seconds) and looks for tasks of dead processes (every second); with no live session there
 * is nothing to find, and once a sweep has found none, a process asks again only after a job or
 * session was written (the store's `jobs` generation: on PostgreSQL heard through the change
 * feed). A process that cannot hear keeps asking. Real PostgreSQL, two Stores as two processes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import type { Job } from '../src/core/types.ts';
import { Engine } from '../src/engine/engine.ts';
import type { JobType } from '../src/engine/jobtypes/index.ts';
import { PgProcessLiveness } from '../src/engine/process-lock.ts';
import type { TaskQueue } from '../src/engine/queue.ts';
import { waitFor } from './support/server.ts';
import { PG_URL, pgSchemaForProcesses } from './support/stores.ts';

const SERVICE = 'test.idle';
const JOB_ID = 4344;
const job: Job = {
  id: JOB_ID, name: 'Idle', description: null, policyId: JOB_ID, policyName: 'Idle', type: 'test', subType: 'idle',
  serviceId: SERVICE, held: false, runningSessionId: null, lastSessionId: null, triggerId: null, schedule: null, nextFireTime: null,
  options: {},
};
/** One task, which stays PENDING: the queue below takes nothing. */
const oneTask: JobType = {
  serviceId: SERVICE,
  async plan() {
    return { tasks: [{ name: 'one', targetKind: 'test' }] };
  },
  async run() {
    return { status: 'COMPLETED' };
  },
};
const noQueue = (): TaskQueue => ({ enqueue: async () => {}, start: () => {}, abortSession: () => {}, stop: async () => {} });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function estate() {
  const { open } = await pgSchemaForProcesses(cleanups);
  /** A worker process: registered (its heartbeat rides on the sweep), with a liveness lock; sweeping every 50 ms. */
  const worker = async (o: { hears: boolean }) => {
    const store = await open();
    await store.jobs.ensure(job);
    if (o.hears) await store.listenForChanges();
    const calls = {
      live: vi.spyOn(store.sessions, 'live'),
      owners: vi.spyOn(store.tasks, 'runningOwners'),
      beats: vi.spyOn(store.workers, 'beat'),
    };
    const liveness = new PgProcessLiveness(PG_URL);
    const e = new Engine({
      store, clock: systemClock, secrets: SecretBox.fromKey(Buffer.alloc(32, 3)), collectors: new Map(), queue: noQueue(), jobTypes: [oneTask],
      sweepMs: 50, orphanCheckMs: 50, liveness, worker: { siteId: (await store.sites.all()).find((s) => s.defaultSite)!.id, version: 'test' },
    });
    cleanups.push(() => e.stop());
    await e.init();
    e.start({ runTasks: false });
    const count = (spy: { mock: { calls: unknown[] } }) => spy.mock.calls.length;
    /** What it asked the store over the next three sweeps (its heartbeats). */
    const overThreeSweeps = async () => {
      const from = { live: count(calls.live), owners: count(calls.owners), beats: count(calls.beats) };
      await waitFor(async () => (count(calls.beats) >= from.beats + 3 ? true : undefined), 'three more sweeps');
      return { live: count(calls.live) - from.live, owners: count(calls.owners) - from.owners };
    };
    return { store, e, calls, count, overThreeSweeps };
  };
  return { open, worker };
}

describe('a process while no session is live', () => {
  it('stops asking the store for lost work once a sweep found none, and asks again when a session starts elsewhere', async () => {
    const { open, worker } = await estate();
    const w = await worker({ hears: true });
    await waitFor(async () => (w.count(w.calls.live) >= 1 ? true : undefined), 'the first sweep');
    // The first sweeps may still run (the feed's first word moves the generation); then nothing.
    await waitFor(async () => {
      const asked = await w.overThreeSweeps();
      return asked.live === 0 && asked.owners === 0 ? true : undefined;
    }, 'three sweeps without a question about lost work', 10_000);
    expect(await w.overThreeSweeps()).toEqual({ live: 0, owners: 0 });

    // Another process starts a session: its row's write is heard, and both looks resume.
    const api = new Engine({
      store: await open(), clock: systemClock, secrets: SecretBox.fromKey(Buffer.alloc(32, 3)), collectors: new Map(), queue: noQueue(), jobTypes: [oneTask],
      sweepMs: 600_000,
    });
    cleanups.push(() => api.stop({ abandon: true }));
    await api.init();
    api.start({ runTasks: false });
    await api.startJob(JOB_ID, { by: 'test', trigger: 'manual' });
    const asked = await w.overThreeSweeps();
    expect(asked.live).toBeGreaterThanOrEqual(2);
    expect(asked.owners).toBeGreaterThanOrEqual(1);
    // While the session is live they go on.
    expect((await w.overThreeSweeps()).live).toBeGreaterThanOrEqual(2);
  });

  it('keeps asking when it cannot hear other processes', async () => {
    const { worker } = await estate();
    const w = await worker({ hears: false });
    await waitFor(async () => (w.count(w.calls.live) >= 1 ? true : undefined), 'the first sweep');
    const asked = await w.overThreeSweeps();
    expect(asked.live).toBeGreaterThanOrEqual(2);
    expect(asked.owners).toBeGreaterThanOrEqual(1);
  });
});
