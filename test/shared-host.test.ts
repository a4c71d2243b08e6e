/**
 * Workers that share a machine (docs/operations.md, "Several workers on one machine"). On one
 * machine, one worker can keep the cores busy by itself, and each added worker process brings its
 * own CPU for the same tasks: so a worker started after another of the same site on the same
 * machine takes tasks only while the machine's CPUs have room (`--shared-cpu`, default 75 %).
 *
 * Real PostgreSQL and pg-boss; the machine's CPU share is a stand-in here (the tests cannot make
 * the machine busy or idle at will), given through the queue's `busyShare` option.
 */
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { Engine } from '../src/engine/engine.ts';
import { cpuTimes, machineBusyShare } from '../src/engine/host-cpu.ts';
import { PgBossQueue } from '../src/engine/pgboss-queue.ts';
import type { QueuedTask, TaskQueue } from '../src/engine/queue.ts';
import { waitFor } from './support/server.ts';
import { createPgSchema, PG_URL, pgSchemaForProcesses } from './support/stores.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("the machine's CPU busy share", () => {
  it('is the busy part of all time since the last reading, read again once a window (500 ms) has passed', () => {
    let now = 0;
    let counters = { busy: 1_000, all: 2_000 };
    const share = machineBusyShare(() => now, () => counters);
    now = 500;
    counters = { busy: 1_090, all: 2_100 };
    expect(share()).toBeCloseTo(0.9);
    // Within the window: the last figure, the counters not read again.
    now = 900;
    counters = { busy: 1_090, all: 2_200 };
    expect(share()).toBeCloseTo(0.9);
    now = 1_000;
    expect(share()).toBeCloseTo(0);
  });

  it("reads this machine's counters: busy and all time grow, busy never more than all", () => {
    const a = cpuTimes();
    // Work enough for the kernel's counters (10 ms ticks) to move.
    let x = 0;
    while (cpuTimes().busy === a.busy) x += Math.sqrt(x + 1);
    const b = cpuTimes();
    expect(b.all).toBeGreaterThan(a.all);
    expect(b.busy).toBeGreaterThan(a.busy);
    expect(b.busy - a.busy).toBeLessThanOrEqual(b.all - a.all);
  });
});

describe('a worker started after another on the same machine', () => {
  /** A queue on a fresh pg-boss schema, with a stand-in for the machine's CPU share. */
  async function queues() {
    const { schema, drop } = await createPgSchema();
    cleanups.push(drop);
    let busy = 1;
    const looks = { n: 0 };
    const make = (o: { sharedHostCpu?: number } = {}) => {
      const q = new PgBossQueue({
        connectionString: PG_URL, schema: `${schema}_queue`, concurrency: 2, pollingIntervalSeconds: 0.5, ...o,
        busyShare: () => {
          looks.n++;
          return busy;
        },
      });
      cleanups.push(() => q.stop());
      return q;
    };
    return { make, setBusy: (b: number) => (busy = b), looks };
  }

  /** Starts a queue whose handler records each task it takes and holds it until released. */
  function taking(q: PgBossQueue) {
    const taken: number[] = [];
    const held: (() => void)[] = [];
    q.start(async (t: QueuedTask, signal) => {
      taken.push(t.taskId);
      await new Promise<void>((resolve) => {
        held.push(resolve);
        signal.addEventListener('abort', () => resolve());
      });
    });
    return { taken, release: () => held.splice(0).forEach((r) => r()) };
  }

  it('takes no task while the machine is busy, and takes them once it has room', async () => {
    const { make, setBusy, looks } = await queues();
    const later = make();
    later.shareHost(true);
    const mine = taking(later);
    await later.enqueue([1, 2].map((taskId) => ({ taskId, sessionId: 1 })));
    // It looks at the machine again and again (every 100 ms) and leaves the messages in the queue.
    await waitFor(async () => (looks.n >= 5 ? true : undefined), 'five looks at the busy machine', 5_000);
    expect(mine.taken).toEqual([]);
    setBusy(0.5);
    await waitFor(async () => (mine.taken.length === 2 ? true : undefined), 'both tasks taken once the machine has room', 5_000);
    mine.release();
  });

  it('leaves the tasks to the first worker, which takes them however busy the machine is', async () => {
    const { make, looks } = await queues();
    const first = make();
    first.shareHost(false);
    const later = make();
    later.shareHost(true);
    const firstTook = taking(first);
    const laterTook = taking(later);
    await first.enqueue([1, 2, 3].map((taskId) => ({ taskId, sessionId: 1 })));
    await waitFor(async () => (firstTook.taken.length === 2 ? true : undefined), 'the first worker to fill its two slots');
    const from = looks.n;
    await waitFor(async () => (looks.n >= from + 3 ? true : undefined), 'three more looks at the busy machine', 5_000);
    expect(laterTook.taken).toEqual([]);
    // The third waits for the first worker's slot, not for the later one.
    firstTook.release();
    await waitFor(async () => (firstTook.taken.length === 3 ? true : undefined), 'the first worker to take the third');
    expect(laterTook.taken).toEqual([]);
    firstTook.release();
  });

  it('takes tasks as if alone with --shared-cpu 100, and when no earlier worker runs', async () => {
    const { make, looks } = await queues();
    const alone = make({ sharedHostCpu: 1 });
    alone.shareHost(true);
    const a = taking(alone);
    await alone.enqueue([{ taskId: 1, sessionId: 1 }]);
    await waitFor(async () => (a.taken.length === 1 ? true : undefined), 'the task taken on a busy machine');
    a.release();
    await alone.stop();
    const first = make();
    first.shareHost(true);
    first.shareHost(false); // the earlier worker stopped
    const f = taking(first);
    await first.enqueue([{ taskId: 2, sessionId: 1 }]);
    await waitFor(async () => (f.taken.length === 1 ? true : undefined), 'the task taken by the worker now first');
    expect(looks.n).toBe(0);
    f.release();
  });
});

describe('which worker is first on its machine', () => {
  /** A queue that records what the engine tells it of its machine. */
  function listening(): TaskQueue & { told: boolean[] } {
    const told: boolean[] = [];
    return {
      told, shareHost: (follower: boolean) => void told.push(follower),
      enqueue: async () => {}, start: () => {}, abortSession: () => {}, stop: async () => {},
    };
  }

  /** A store for worker engines (heartbeat every 100 ms), each stopped after the test unless stopped before. */
  async function workerEngines() {
    const store = await (await pgSchemaForProcesses(cleanups)).open();
    const engines = new Set<Engine>();
    cleanups.push(async () => {
      for (const e of engines) await e.stop();
    });
    const primary = (await store.sites.all()).find((s) => s.defaultSite)!.id;
    const start = async <Q extends TaskQueue>(siteId: number, queue: Q) => {
      const e = new Engine({
        store, clock: systemClock, secrets: SecretBox.fromKey(Buffer.alloc(32, 7)), collectors: new Map(), queue, jobTypes: [],
        sweepMs: 100, worker: { siteId, version: 'test' },
      });
      engines.add(e);
      await e.init();
      e.start({ runTasks: false });
      return { e, queue };
    };
    const stop = async (e: Engine) => {
      await e.stop();
      engines.delete(e);
    };
    return { store, primary, start, stop };
  }

  it('the earliest live worker of its site on the host; a later one becomes first once it stops', async () => {
    const { store, primary, start, stop } = await workerEngines();
    const east = await store.sites.create({ name: 'East', description: '', defaultSite: false, allowAnyWorker: false, createdAt: Date.now() });
    const first = await start(primary, listening());
    const second = await start(primary, listening());
    const otherSite = await start(east.id, listening());
    expect(first.queue.told[0]).toBe(false);
    expect(second.queue.told[0]).toBe(true);
    // A worker of another site takes other tasks: it is first among its own site's.
    expect(otherSite.queue.told[0]).toBe(false);
    expect((await store.workers.all()).every((w) => w.name === hostname())).toBe(true);

    await stop(first.e);
    const heard = second.queue.told.length;
    await waitFor(async () => (second.queue.told.length > heard && second.queue.told.at(-1) === false ? true : undefined), 'the second to hear it is first now', 5_000);
  });

  it('is not asked for a worker that takes tasks as if alone (--shared-cpu 100)', async () => {
    const { store, primary, start } = await workerEngines();
    await start(primary, listening());
    const { e, queue: alone } = await start(primary, { ...listening(), sharedHostCpu: 1 });
    const seen = async () => (await store.workers.all()).find((w) => w.id === e.worker)!.lastSeenAt;
    const registered = await seen();
    // Two heartbeats later it has still been told nothing: the site's workers were not read for it.
    await waitFor(async () => ((await seen()) > registered ? true : undefined), 'a heartbeat', 5_000);
    const once = await seen();
    await waitFor(async () => ((await seen()) > once ? true : undefined), 'another heartbeat', 5_000);
    expect(alone.told).toEqual([]);
  });
});
