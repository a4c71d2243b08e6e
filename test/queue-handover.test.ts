/**
 * Handing tasks to the queue is part of creating them. On PostgreSQL the pg-boss messages are
 * written in the transaction that writes the tasks: a start that commits and then dies before
 * anything else runs still has its tasks run by a worker at once (the sweeper, which would find
 * them after a minute, is set to 10 minutes here), and a start that rolls back leaves no
 * message either. On SQLite the in-process queue dies with its process, and the next start runs
 * what it left. And a session's end is seen from every process: waitForSession in a process that
 * runs no tasks returns when a worker on the same database closes the session. Two processes
 * making the task queue at once both start.
 */
import { sql } from 'kysely';
import PgBoss from 'pg-boss';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import type { Job, SessionState } from '../src/core/types.ts';
import { Engine } from '../src/engine/engine.ts';
import type { JobType } from '../src/engine/jobtypes/index.ts';
import { PgBossQueue, TASK_QUEUE } from '../src/engine/pgboss-queue.ts';
import { InProcessQueue, wakeOnTasks, type TaskQueue } from '../src/engine/queue.ts';
import { changeChannel } from '../src/store/change-feed.ts';
import { Store } from '../src/store/index.ts';
import { waitFor } from './support/server.ts';
import { createPgSchema, PG_URL, pgSchemaForProcesses, sqliteStore } from './support/stores.ts';

const SERVICE = 'test.handover';
const JOB_ID = 4343;
/** Far beyond every deadline below: nothing here may be found by the sweeper. */
const NO_SWEEP = { sweepMs: 600_000 };

const job: Job = {
  id: JOB_ID, name: 'Handover', description: null, policyId: JOB_ID, policyName: 'Handover', type: 'test', subType: 'handover',
  serviceId: SERVICE, held: false, runningSessionId: null, lastSessionId: null, triggerId: null, schedule: null, nextFireTime: null,
  options: {},
};

/** Two tasks that complete once `gate` opens. */
const handover = (gate: Promise<void> = Promise.resolve()): JobType => ({
  serviceId: SERVICE,
  async plan() {
    return { tasks: [{ name: 'one', targetKind: 'test' }, { name: 'two', targetKind: 'test' }] };
  },
  async run() {
    await gate;
    return { status: 'COMPLETED' };
  },
});

/** A queue that dies right after the start's transaction committed: its own enqueue never happens. */
function diesAfterCommit(q: TaskQueue): TaskQueue & { calls: number } {
  const dying: TaskQueue & { calls: number } = {
    calls: 0,
    async enqueue() {
      dying.calls++;
      throw new Error('the process died right after the commit');
    },
    start: (h) => q.start(h),
    abortSession: (id) => q.abortSession(id),
    stop: () => q.stop(),
  };
  if (q.enqueueWithin) dying.enqueueWithin = q.enqueueWithin.bind(q);
  return dying;
}

const secrets = SecretBox.fromKey(Buffer.alloc(32, 5));
const engines: Engine[] = [];
const cleanups: (() => Promise<void>)[] = [];

function engine(store: Store, queue: TaskQueue, types: JobType[]): Engine {
  const e = new Engine({ store, clock: systemClock, secrets, collectors: new Map(), queue, jobTypes: types, ...NO_SWEEP });
  engines.push(e);
  return e;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ abandon: true });
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** When each fetch from pg-boss's queue was made (pg-boss 10 puts fetch on each instance). */
function recordFetches(q: PgBossQueue): number[] {
  const fetches: number[] = [];
  const boss = (q as unknown as { boss: PgBoss }).boss;
  const original = boss.fetch.bind(boss);
  vi.spyOn(boss, 'fetch').mockImplementation(((...args: Parameters<PgBoss['fetch']>) => {
    fetches.push(performance.now());
    return original(...args);
  }) as PgBoss['fetch']);
  return fetches;
}

/** One PostgreSQL schema, opened as two processes would: each its own Store and pg-boss. */
async function twoProcesses() {
  const { schema, open } = await pgSchemaForProcesses(cleanups);
  // Each tells what it puts in the queue on the schema's change channel, as main.ts has it.
  const queue = (concurrency: number, pollingIntervalSeconds = 0.5, heardPollMs?: number) =>
    new PgBossQueue({ connectionString: PG_URL, schema: `${schema}_queue`, concurrency, pollingIntervalSeconds, tell: changeChannel(schema), ...(heardPollMs ? { heardPollMs } : {}) });
  const messages = async (store: Store) =>
    Number((await sql<{ n: string }>`SELECT COUNT(*) AS n FROM ${sql.raw(`${schema}_queue`)}.job WHERE name = 'census-task'`.execute(store.db)).rows[0]!.n);
  return { open, queue, messages };
}

/**
 * An API process that runs no tasks and a worker process on the two processes' schema, both
 * started, the handover job known to both.
 */
async function apiAndWorker(pg: Awaited<ReturnType<typeof twoProcesses>>, o: { apiQueue: TaskQueue; workerQueue: TaskQueue; types: JobType[] }) {
  const apiStore = await pg.open();
  const workerStore = await pg.open();
  await apiStore.jobs.ensure(job);
  const api = engine(apiStore, o.apiQueue, o.types);
  await api.init();
  api.start({ runTasks: false });
  const worker = engine(workerStore, o.workerQueue, o.types);
  await worker.init();
  worker.start();
  return { apiStore, workerStore, api, worker };
}

const runningSession = async (store: Store): Promise<number> => (await store.jobs.get(JOB_ID))!.runningSessionId!;

describe('a start that dies right after its commit', () => {
  it('on PostgreSQL: a worker runs its tasks at once, from the messages that committed with them', async () => {
    const pg = await twoProcesses();
    const dying = diesAfterCommit(pg.queue(1));
    const { apiStore, workerStore, api, worker } = await apiAndWorker(pg, { apiQueue: dying, workerQueue: pg.queue(2), types: [handover()] });

    // Whatever the start says after its commit, the commit is all that counts.
    await api.startJob(JOB_ID, { by: 'test', trigger: 'manual' }).catch(() => undefined);
    const sessionId = await runningSession(apiStore);
    expect(await pg.messages(apiStore)).toBe(2);
    const ended = await worker.waitForSession(sessionId, 15_000);
    expect(ended.status).toBe('COMPLETED');
    expect((await workerStore.tasks.bySession(sessionId)).map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(dying.calls).toBe(0);
  });

  it('on PostgreSQL: a start that rolls back leaves no message behind', async () => {
    const pg = await twoProcesses();
    const store = await pg.open();
    await store.jobs.ensure(job);
    const api = engine(store, pg.queue(1), [handover()]);
    await api.init();
    // The start's log entry is written after its tasks and their messages: refusing it rolls all back.
    await sql.raw(`CREATE FUNCTION refuse_logs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no commit this time'; END $$;
        CREATE TRIGGER refuse_logs BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION refuse_logs()`).execute(store.db);
    await expect(api.startJob(JOB_ID, { by: 'test', trigger: 'manual' })).rejects.toThrow(/no commit this time/);
    expect(await pg.messages(store)).toBe(0);
    expect(Number((await sql<{ n: string }>`SELECT COUNT(*) AS n FROM tasks`.execute(store.db)).rows[0]!.n)).toBe(0);
    expect((await store.jobs.get(JOB_ID))!.runningSessionId).toBeNull();
  });

  it('on SQLite: the next start of the process runs the tasks its in-process queue lost', async () => {
    const t = await sqliteStore();
    cleanups.push(t.cleanup);
    await t.store.jobs.ensure(job);
    const first = engine(t.store, diesAfterCommit(new InProcessQueue(2)), [handover()]);
    await first.init({ exclusive: true });
    first.start();
    await expect(first.startJob(JOB_ID, { by: 'test', trigger: 'manual' })).rejects.toThrow(/died right after the commit/);
    const sessionId = await runningSession(t.store);
    await first.stop({ abandon: true });

    const second = engine(t.store, new InProcessQueue(2), [handover()]);
    await second.init({ exclusive: true });
    second.start();
    const ended = await second.waitForSession(sessionId, 15_000);
    expect(ended.status).toBe('COMPLETED');
  });
});

describe('waiting for a session on PostgreSQL', () => {
  it('returns in a process that runs no tasks when a worker process closes the session', async () => {
    const pg = await twoProcesses();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { apiStore, api, worker } = await apiAndWorker(pg, { apiQueue: pg.queue(1), workerQueue: pg.queue(2), types: [handover(gate)] });
    const closedHere: SessionState[] = [];
    const closedThere: SessionState[] = [];
    api.on('session-ended', (s: SessionState) => closedHere.push(s));
    worker.on('session-ended', (s: SessionState) => closedThere.push(s));

    const { session } = await api.startJob(JOB_ID, { by: 'test', trigger: 'manual' });
    let result: SessionState | Error | undefined;
    const waiting = api.waitForSession(session.id, 15_000).then((s) => (result = s), (err: Error) => (result = err));
    // Both tasks are running in the worker, held at the gate: the session is live.
    await waitFor(async () => ((await apiStore.tasks.bySession(session.id)).every((t) => t.status === 'RUNNING') ? true : undefined), 'both tasks to run');
    expect(result).toBeUndefined();
    open();
    await waiting;
    expect(result).toMatchObject({ id: session.id, status: 'COMPLETED' });
    // The worker closed it; the waiting process learnt it from the store, not from its own events.
    expect(closedThere.map((s) => s.id)).toEqual([session.id]);
    expect(closedHere).toEqual([]);
  });
});

describe("a worker's idle slots on PostgreSQL", () => {
  it('take a session started by another process when its messages are told, not at their next poll', async () => {
    const pg = await twoProcesses();
    // Polling every two minutes: only the wake can bring the tasks within the wait below.
    const slow = pg.queue(2, 120);
    const { apiStore, workerStore, api } = await apiAndWorker(pg, { apiQueue: pg.queue(1), workerQueue: slow, types: [handover()] });
    wakeOnTasks(await workerStore.listenForChanges(), slow);
    // Both slots found the queue empty and wait out their interval.
    await waitFor(async () => (slow.idleSlots === 2 ? true : undefined), 'both slots to be idle');

    const { session } = await api.startJob(JOB_ID, { by: 'test', trigger: 'manual' });
    const ended = await api.waitForSession(session.id, 15_000);
    expect(ended.status).toBe('COMPLETED');
    expect((await apiStore.tasks.bySession(session.id)).map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it('take messages another process puts in the queue, or gives back to it, when told', async () => {
    const pg = await twoProcesses();
    const other = pg.queue(1);
    // Polling every two minutes: only being told can bring the messages within the waits below.
    const idle = pg.queue(1, 120, 120_000);
    cleanups.push(() => other.stop(), () => idle.stop());
    const feed = await (await pg.open()).listenForChanges();
    wakeOnTasks(feed, idle);
    const ran: number[] = [];
    idle.start(async (t) => void ran.push(t.taskId));
    await waitFor(async () => (idle.idleSlots === 1 ? true : undefined), 'the slot to be idle');

    // Put in outside a transaction (enqueue).
    await other.enqueue([{ taskId: 1, sessionId: 1 }]);
    await waitFor(async () => (ran.includes(1) ? true : undefined), 'the told message to run', 15_000);

    // Given back: taken by the other process (as a fetch ahead would), then released.
    await waitFor(async () => (idle.idleSlots === 1 ? true : undefined), 'the slot to be idle again');
    const boss = (other as unknown as { boss: PgBoss }).boss;
    const hold = async () => {
      for (;;) {
        const [job] = await boss.fetch(TASK_QUEUE);
        if (job) return job;
      }
    };
    const insert = boss.insert.bind(boss);
    await insert([{ name: TASK_QUEUE, data: { taskId: 2, sessionId: 1 } }]); // untold: pg-boss's own insert
    const held = await hold();
    await (other as unknown as { release(queue: string, ids: string[]): Promise<void> }).release(TASK_QUEUE, [held.id]);
    await waitFor(async () => (ran.includes(2) ? true : undefined), 'the message given back to run', 15_000);
    expect(ran).toEqual([1, 2]);
  });

  it('take a message told while they were looking at the queue, not at their next poll', async () => {
    const pg = await twoProcesses();
    const other = pg.queue(1);
    // Polling every two minutes: only the tell heard mid-fetch can bring the message within the wait below.
    const idle = pg.queue(1, 120, 120_000);
    cleanups.push(() => other.stop(), () => idle.stop());
    wakeOnTasks(await (await pg.open()).listenForChanges(), idle);
    const boss = (idle as unknown as { boss: PgBoss }).boss;
    const fetch = boss.fetch.bind(boss);
    let trap = false;
    const told = vi.spyOn(idle, 'wakeIdle');
    // The trapped fetch finds the queue empty; the message is put in and told before it returns.
    vi.spyOn(boss, 'fetch').mockImplementation((async (...args: Parameters<PgBoss['fetch']>) => {
      const found = await fetch(...args);
      if (!trap) return found;
      trap = false;
      expect(found).toEqual([]);
      const heard = told.mock.calls.length;
      await other.enqueue([{ taskId: 7, sessionId: 1 }]);
      await waitFor(async () => (told.mock.calls.length > heard ? true : undefined), 'the tell to be heard');
      return found;
    }) as PgBoss['fetch']);
    const ran: number[] = [];
    idle.start(async (t) => void ran.push(t.taskId));
    await waitFor(async () => (idle.idleSlots === 1 ? true : undefined), 'the slot to be idle');
    trap = true;
    idle.wakeIdle();
    await waitFor(async () => (ran.includes(7) ? true : undefined), 'the message told mid-fetch to run', 15_000);
  });

  it('poll only as a safety net while they are told of every message', async () => {
    const { queue } = await twoProcesses();
    const q = queue(2, 0.5, 1_000);
    cleanups.push(() => q.stop());
    const fetches = recordFetches(q);
    q.hearWakes(() => true);
    q.start(async () => {});
    await waitFor(async () => (q.idleSlots === 2 ? true : undefined), 'both slots to be idle');
    const from = fetches.length;
    await waitFor(async () => (fetches.length >= from + 4 ? true : undefined), 'four more looks at the queue', 15_000);
    // A worker fetches from two queues at most (its site's, then any worker's): one look is up to
    // two fetches, a few milliseconds apart; looks are a safety-net interval (1 s here) apart.
    const looks = fetches.slice(from).filter((at, i, all) => i === 0 || at - all[i - 1]! > 100);
    expect(looks.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < looks.length; i++) expect(looks[i]! - looks[i - 1]!).toBeGreaterThan(900);
  });

  it('look at the queue together, one fetch a polling interval, though their tasks ended at different times', async () => {
    const { queue } = await twoProcesses();
    const q = queue(4);
    cleanups.push(() => q.stop());
    const fetches = recordFetches(q);
    const ends: (() => void)[] = [];
    const gates = Array.from({ length: 4 }, (_, i) => new Promise<void>((resolve) => (ends[i] = resolve)));
    let started = 0;
    q.start(async (t) => {
      started++;
      await gates[t.taskId - 1];
    });
    await q.enqueue(Array.from({ length: 4 }, (_, i) => ({ taskId: i + 1, sessionId: 1 })));
    await waitFor(async () => (started === 4 ? true : undefined), 'all four slots to run a task');
    // The tasks end one at a time, each slot finding the queue empty before the next ends: each
    // goes idle at a moment of its own.
    for (const end of ends) {
      const before = fetches.length;
      end();
      await waitFor(async () => (fetches.length > before ? true : undefined), 'the freed slot to look at the queue');
    }
    await waitFor(async () => (q.idleSlots === 4 ? true : undefined), 'all four slots to be idle');
    const from = fetches.length;
    await waitFor(async () => (fetches.length >= from + 4 ? true : undefined), 'four more looks at the queue', 10_000);
    // One look a polling interval (0.5 s here), not one per slot a few milliseconds apart.
    const gaps = fetches.slice(from + 1, from + 4).map((at, i) => at - fetches[from + i]!);
    expect(gaps).toHaveLength(3);
    for (const gap of gaps) expect(gap).toBeGreaterThan(400);
  });
});

describe('two processes making the task queue at once', () => {
  it('both start, also when PostgreSQL picks one of them as a deadlock victim', async () => {
    // Making a queue attaches a partition to pg-boss's job table: two processes doing it at once
    // deadlocked now and then (3 of 15 fresh schemas, measured), and the victim failed its start.
    for (let i = 0; i < 12; i++) {
      const { schema, drop } = await createPgSchema();
      const queues = [0, 1].map(() => new PgBossQueue({ connectionString: PG_URL, schema: `${schema}_queue`, concurrency: 1 }));
      try {
        const results = await Promise.allSettled(queues.map((q, n) => q.enqueue([{ taskId: n + 1, sessionId: 1 }])));
        expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok']);
      } finally {
        for (const q of queues) await q.stop();
        await drop();
      }
    }
  });
});

describe('messages a worker took ahead of its slots', () => {
  it('are offered again when it stops before running them, and run once elsewhere', async () => {
    const { queue } = await twoProcesses();
    const first = queue(4);
    const second = queue(2);
    cleanups.push(() => first.stop(), () => second.stop());
    await first.enqueue(Array.from({ length: 12 }, (_, i) => ({ taskId: i + 1, sessionId: 1 })));
    // The first message handed over ends at once; the others wait for the stop. The slot that
    // ended fetches again, runs one of what it fetched and keeps the rest ahead.
    const ranFirst: number[] = [];
    first.start(async (t, signal) => {
      ranFirst.push(t.taskId);
      if (ranFirst.length === 1) return;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    });
    await waitFor(async () => (ranFirst.length === 5 ? true : undefined), 'the first worker to hold five messages');
    await first.stop();
    const ranSecond: number[] = [];
    second.start(async (t) => {
      ranSecond.push(t.taskId);
    });
    await waitFor(async () => (ranSecond.length === 7 ? true : undefined), 'the second worker to run the other seven');
    expect(ranFirst).toHaveLength(5);
    expect([...ranFirst, ...ranSecond].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });
});

describe('messages a worker fetches ahead of need', () => {
  it('are fetched while every slot is busy, and each is looked at before a slot takes it', async () => {
    const { queue } = await twoProcesses();
    const q = queue(2);
    cleanups.push(() => q.stop());
    const seen: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Tasks 1 and 2 end at once (the worker learns how long its tasks take); the rest wait at the gate.
    q.start(async (t) => {
      seen.push(`run ${t.taskId}`);
      if (t.taskId > 2) await gate;
    }, (t) => seen.push(`look ${t.taskId}`));
    await q.enqueue([{ taskId: 1, sessionId: 1 }, { taskId: 2, sessionId: 1 }]);
    await waitFor(async () => (seen.includes('run 1') && seen.includes('run 2') ? true : undefined), 'the first two to run');
    await q.enqueue(Array.from({ length: 7 }, (_, i) => ({ taskId: i + 3, sessionId: 1 })));
    // Both slots hold a task at the gate; the next two were fetched meanwhile and looked at.
    const gated = (what: string) => seen.filter((s) => s.startsWith(what) && Number(s.split(' ')[1]) > 2).length;
    await waitFor(async () => (gated('look') === 4 ? true : undefined), 'two messages fetched ahead while both slots are busy');
    expect(gated('run')).toBe(2);
    open();
    await waitFor(async () => (gated('run') === 7 ? true : undefined), 'all seven to run');
    for (let id = 1; id <= 9; id++) {
      expect(seen.indexOf(`look ${id}`), `task ${id} looked at`).toBeGreaterThanOrEqual(0);
      expect(seen.indexOf(`look ${id}`), `task ${id} looked at before it ran`).toBeLessThan(seen.indexOf(`run ${id}`));
    }
  });

  it('are fetched shortly before the running task is due to end, once the tasks\' times are known', async () => {
    const { queue } = await twoProcesses();
    const q = queue(1);
    cleanups.push(() => q.stop());
    await q.enqueue(Array.from({ length: 4 }, (_, i) => ({ taskId: i + 1, sessionId: 1 })));
    const started = new Map<number, number>();
    const looked = new Map<number, number>();
    // Each task works 400 ms: the second and later fetches wait until about 300 ms into the task.
    q.start(async (t) => {
      started.set(t.taskId, performance.now());
      await new Promise((resolve) => setTimeout(resolve, 400));
    }, (t) => looked.set(t.taskId, performance.now()));
    await waitFor(async () => (started.size === 4 ? true : undefined), 'all four to start');
    // pg-boss hands messages of one insert over in no set order: the order is the starts'.
    const order = [...started.keys()];
    const lookedInto = (k: number) => looked.get(order[k + 1]!)! - started.get(order[k]!)!;
    // While no task had ended, nothing told when the slot would free: the next message was fetched when it did.
    expect(lookedInto(0)).toBeGreaterThanOrEqual(395);
    // Once known, the next message is fetched late in the running task, before it ends.
    for (const k of [1, 2]) {
      expect(lookedInto(k)).toBeGreaterThanOrEqual(200);
      expect(lookedInto(k)).toBeLessThan(400);
    }
  });

  it('go back to the queue for another worker when the running task runs far past its time', async () => {
    const { queue } = await twoProcesses();
    const first = queue(1);
    const second = queue(1);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Cleanups run last first: the gate opens before the stops wait for the task at it.
    cleanups.push(() => first.stop(), () => second.stop(), async () => open());
    const ranFirst: number[] = [];
    const lookedFirst: number[] = [];
    // Task 1 ends at once (the first worker learns its tasks are quick); task 2 then hangs at the gate.
    first.start(async (t) => {
      ranFirst.push(t.taskId);
      if (t.taskId !== 1) await gate;
    }, (t) => lookedFirst.push(t.taskId));
    await first.enqueue([{ taskId: 1, sessionId: 1 }]);
    await waitFor(async () => (ranFirst.length === 1 ? true : undefined), 'the first task to run');
    await first.enqueue([{ taskId: 2, sessionId: 1 }, { taskId: 3, sessionId: 1 }]);
    // The first worker runs one of the two and fetches the other ahead; its task hangs, so it gives that back.
    await waitFor(async () => (ranFirst.length === 2 && lookedFirst.length === 3 ? true : undefined), 'one running, one fetched ahead');
    const ranSecond: number[] = [];
    second.start(async (t) => {
      ranSecond.push(t.taskId);
    });
    await waitFor(async () => (ranSecond.length === 1 ? true : undefined), 'the second worker to run the one held ahead');
    expect([ranFirst[1], ranSecond[0]].sort()).toEqual([2, 3]);
  });

  it('do not run when their session is cancelled after they were read ahead', async () => {
    const pg = await twoProcesses();
    const prepared: string[] = [];
    const ran: string[] = [];
    let gate = Promise.resolve();
    const six: JobType = {
      serviceId: SERVICE,
      async plan() {
        return { tasks: Array.from({ length: 6 }, (_, i) => ({ name: `t${i + 1}`, targetKind: 'test' })) };
      },
      async prepare(t) {
        prepared.push(`${t.task.sessionId} ${t.task.name}`);
        return {};
      },
      async run(t) {
        ran.push(`${t.task.sessionId} ${t.task.name}`);
        await gate;
        return { status: t.signal.aborted ? 'CANCELLED' : 'COMPLETED' };
      },
    };
    const { apiStore, api } = await apiAndWorker(pg, { apiQueue: pg.queue(1), workerQueue: pg.queue(2), types: [six] });
    // A first session with the gate open: the worker learns how long its tasks take.
    const first = await api.startJob(JOB_ID, { by: 'test', trigger: 'manual' });
    expect((await api.waitForSession(first.session.id, 15_000)).status).toBe('COMPLETED');
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    const { session } = await api.startJob(JOB_ID, { by: 'test', trigger: 'manual' });
    const of = (list: string[]) => list.filter((s) => s.startsWith(`${session.id} `));
    // Two tasks run at the gate, and two more were read ahead (prepared) while the session was live.
    await waitFor(async () => (of(ran).length === 2 && of(prepared).length === 4 ? true : undefined), 'two running and two read ahead');
    await api.cancelSession(session.id, 'test');
    open();
    const ended = await api.waitForSession(session.id, 15_000);
    expect(ended.status).toBe('CANCELLED');
    // The two read ahead found the session live then; their claim, not that read, decided.
    expect(of(ran)).toHaveLength(2);
    const tasks = await apiStore.tasks.bySession(session.id);
    expect(tasks.filter((t) => t.status === 'CANCELLED').length).toBeGreaterThanOrEqual(4);
    expect(tasks.filter((t) => t.start !== null && !of(ran).includes(`${session.id} ${t.name}`))).toEqual([]);
  });
});
