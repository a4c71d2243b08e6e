/**
 * Job types are registered, not built into the engine: a type written here, which fans out over
 * a payload list with no application server in sight, runs through the real engine on both
 * store dialects; a task's end commits while its slot runs the next task. And the migration
 * that gave tasks a general target keeps old rows' targets.
 */
import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import type { Job } from '../src/core/types.ts';
import type { JobType } from '../src/engine/jobtypes/index.ts';
import type { Message } from '../src/engine/messages.ts';
import { InProcessQueue } from '../src/engine/queue.ts';
import { Store } from '../src/store/index.ts';
import { engineTests } from './support/engines.ts';
import { waitFor } from './support/server.ts';
import { DIALECTS, postgresStore } from './support/stores.ts';

const NOTIFY_SERVICE = 'test.notification.delivery';
const NOTIFY_JOB_ID = 4242;

interface Delivery {
  to: string;
  fail?: boolean;
}

const note = (type: Message['type'], text: string): Message => ({ type, messageId: 'TEST0001', messageParams: [text], message: text });

/** One task per recipient in the job's options; a recipient marked `fail` fails. */
function deliveries(seen: Delivery[], gate?: Promise<void>): JobType {
  return {
    serviceId: NOTIFY_SERVICE,
    async plan(_r, job) {
      const list = job.options.recipients as Delivery[];
      return {
        tasks: list.map((d) => ({ name: `deliver to ${d.to}`, targetKind: 'delivery', targetId: d.to, payload: d })),
        messages: [note('INFO', `${list.length} deliveries planned`)],
      };
    },
    async join(_r, _job, _running, req) {
      // A start while running adds one late delivery, named by whoever asked.
      return { tasks: [{ name: `deliver to ${req.by}`, targetKind: 'delivery', targetId: req.by, payload: { to: req.by } }] };
    },
    async run(t) {
      await gate;
      const d = t.task.payload as Delivery;
      seen.push(d);
      if (d.fail) return { status: 'FAILED', errorCode: 'BOUNCED', message: `${d.to} bounced`, commit: (r) => t.log(r, note('ERROR', `${d.to} bounced`)) };
      return { status: 'COMPLETED', commit: (r) => t.log(r, note('INFO', `delivered to ${d.to}`)) };
    },
    async summarise(_r, _s, p) {
      return {
        statistics: [{ resourceType: 'delivery', total: p.total, success: p.completed, failed: p.failed, skipped: p.cancelled }],
        messages: [note('SUMMARY', `${p.completed} of ${p.total} delivered`)],
      };
    },
  };
}

const notifyJob = (recipients: Delivery[], serviceId = NOTIFY_SERVICE): Job => ({
  id: NOTIFY_JOB_ID, name: 'Notify', description: null, policyId: NOTIFY_JOB_ID, policyName: 'Notify', type: 'notification',
  subType: 'email', serviceId, held: false, runningSessionId: null, lastSessionId: null, triggerId: null, schedule: null,
  nextFireTime: null, options: { recipients },
});

const logsOf = async (store: Store, sessionId: number) =>
  (await store.logs.list({ where: [{ column: 'sessionId', kind: 'cmp', op: '=', value: sessionId }], order: [], limit: 1000, offset: 0 })).items;

describe.each(DIALECTS)('a registered job type on %s', (_name, open) => {
  const engines = engineTests(open);

  it('fans out over its payloads, runs each task and ends with its own summary', async () => {
    const t = await engines.open();
    const seen: Delivery[] = [];
    const e = await engines.start(t.store, { jobTypes: [deliveries(seen)] });
    await t.store.jobs.ensure(notifyJob([{ to: 'ops@example.test' }, { to: 'dba@example.test', fail: true }, { to: 'sec@example.test' }]));

    const { session, started } = await e.startJob(NOTIFY_JOB_ID, { by: 'test', trigger: 'manual' });
    expect(started).toBe(true);
    expect(session).toMatchObject({ numTasks: 3, serviceId: NOTIFY_SERVICE, scope: [] });
    const ended = await e.waitForSession(session.id, 20_000);

    expect(ended.status).toBe('PARTIAL');
    expect(ended.statistics).toEqual([{ resourceType: 'delivery', total: 3, success: 2, failed: 1, skipped: 0 }]);
    expect(seen.map((d) => d.to).sort()).toEqual(['dba@example.test', 'ops@example.test', 'sec@example.test']);
    const tasks = await t.store.tasks.bySession(session.id);
    expect(tasks.map((x) => [x.targetKind, x.targetId, x.appserverId, x.status])).toEqual([
      ['delivery', 'ops@example.test', null, 'COMPLETED'],
      ['delivery', 'dba@example.test', null, 'FAILED'],
      ['delivery', 'sec@example.test', null, 'COMPLETED'],
    ]);
    expect(tasks[1]).toMatchObject({ payload: { to: 'dba@example.test', fail: true }, errorCode: 'BOUNCED', message: 'dba@example.test bounced' });

    const logs = (await logsOf(t.store, session.id)).map((l) => `${l.type} ${l.message}`);
    expect(logs[1]).toBe('INFO 3 deliveries planned'); // right after the engine's start entry
    expect(logs).toContain('ERROR dba@example.test bounced');
    // The type's summary comes before the engine's closing entry.
    expect(logs.slice(-2)[0]).toBe('SUMMARY 2 of 3 delivered');
    expect(logs.at(-1)).toMatch(/^SUMMARY Job Notify ended PARTIAL: 2 of 3 task\(s\) completed, 1 failed, 0 cancelled/);
    expect(await t.store.jobs.get(NOTIFY_JOB_ID)).toMatchObject({ runningSessionId: null, lastSessionId: session.id });
  });

  it('adds the tasks its join plans to a running session', async () => {
    const t = await engines.open();
    let open_!: () => void;
    const gate = new Promise<void>((resolve) => (open_ = resolve));
    const seen: Delivery[] = [];
    const e = await engines.start(t.store, { jobTypes: [deliveries(seen, gate)] });
    await t.store.jobs.ensure(notifyJob([{ to: 'ops@example.test' }]));

    const first = await e.startJob(NOTIFY_JOB_ID, { by: 'test', trigger: 'manual' });
    const second = await e.startJob(NOTIFY_JOB_ID, { by: 'late@example.test', trigger: 'manual' });
    expect(second).toMatchObject({ started: false, session: { id: first.session.id, numTasks: 2 } });
    open_();
    const ended = await e.waitForSession(first.session.id, 20_000);
    expect(ended).toMatchObject({ status: 'COMPLETED', numTasks: 2 });
    expect(seen.map((d) => d.to).sort()).toEqual(['late@example.test', 'ops@example.test']);
  });

  it('refuses a job whose type is not registered, and fails a task whose run throws', async () => {
    const t = await engines.open();
    const throwing: JobType = { ...deliveries([]), run: async () => { throw new Error('smtp exploded'); } };
    const e = await engines.start(t.store, { jobTypes: [throwing] });
    await t.store.jobs.ensure({ ...notifyJob([]), id: NOTIFY_JOB_ID + 1, serviceId: 'test.unknown' });
    await expect(e.startJob(NOTIFY_JOB_ID + 1, { by: 'test', trigger: 'manual' })).rejects.toThrow('Job Notify cannot be started by Census.');

    await t.store.jobs.ensure(notifyJob([{ to: 'ops@example.test' }]));
    const { session } = await e.startJob(NOTIFY_JOB_ID, { by: 'test', trigger: 'manual' });
    expect((await e.waitForSession(session.id, 20_000)).status).toBe('FAILED');
    expect((await t.store.tasks.bySession(session.id))[0]).toMatchObject({ status: 'FAILED', errorCode: 'INTERNAL', message: 'smtp exploded' });
  });

  it('migrates tasks written before targets existed: a task with a server targets it, others target nothing', async () => {
    const t = await engines.open();
    const { store } = t;
    const server = await store.appservers.create({
      name: 'db1', hostAddress: 'h', portNumber: 1, applicationType: 'postgresql', osType: 'linux', identityId: null, comment: null,
      useKeyAuthentication: false, maxConcurrency: 1, createdAt: 1,
    });
    await store.sessions.insert({
      id: 1_000_000, jobId: 1004, jobName: 'Inv', type: 'catalog', subType: 'application', serviceId: 'x', status: 'COMPLETED', start: 1,
      end: 2, lastUpdate: 2, numTasks: 2, percent: 100, results: 'COMPLETED', trigger: 'manual', cancelRequested: false, statistics: [], scope: [],
    });
    // Back to schema 6: the columns of migration 7 gone, rows written the way 0.1.0 wrote them.
    // (Migration 12's index over them goes too, and migration 12 with it: it makes its indexes if they are missing.)
    await sql`DELETE FROM census_migrations WHERE version IN (7, 12)`.execute(store.db);
    await sql`DROP INDEX tasks_target_end`.execute(store.db);
    for (const c of ['target_kind', 'target_id', 'payload']) await sql.raw(`ALTER TABLE tasks DROP COLUMN ${c}`).execute(store.db);
    await sql`INSERT INTO tasks (session_id, appserver_id, name, status, attempts) VALUES (1000000, ${server.id}, 'db1', 'COMPLETED', 1), (1000000, NULL, 'Maintenance', 'COMPLETED', 1)`.execute(store.db);

    const reopened = await Store.open({ url: t.url, ...(t.schema ? { schema: t.schema } : {}) });
    try {
      const tasks = await reopened.tasks.bySession(1_000_000);
      expect(tasks.map((x) => [x.name, x.targetKind, x.targetId, x.appserverId, x.payload])).toEqual([
        ['db1', 'appserver', String(server.id), server.id, null],
        ['Maintenance', 'none', null, null, null],
      ]);
    } finally {
      await reopened.close();
    }
  });
});

describe("a task's end on PostgreSQL", () => {
  const engines = engineTests(postgresStore);

  it('commits while its slot runs the next task, and stop() waits for it', async () => {
    const t = await engines.open();
    const seen: Delivery[] = [];
    let releaseEnd!: () => void;
    const endHeld = new Promise<void>((resolve) => (releaseEnd = resolve));
    const type = deliveries(seen);
    const plainRun = type.run.bind(type);
    // The first task's end waits inside its transaction until released.
    type.run = async (x) => {
      const out = await plainRun(x);
      if ((x.task.payload as Delivery).to !== 'first@example.test') return out;
      return { ...out, commit: async (r) => { await endHeld; await out.commit?.(r); } };
    };
    const queue = new InProcessQueue(1);
    let queueStopped = false;
    const stopQueue = queue.stop.bind(queue);
    queue.stop = async () => {
      await stopQueue();
      queueStopped = true;
    };
    const e = await engines.start(t.store, { jobTypes: [type], queue });
    await t.store.jobs.ensure(notifyJob([{ to: 'first@example.test' }, { to: 'second@example.test' }]));
    const { session } = await e.startJob(NOTIFY_JOB_ID, { by: 'test', trigger: 'manual' });

    // One slot, and the second task ran to its end while the first one's end had not committed.
    const statuses = async () => (await t.store.tasks.bySession(session.id)).map((x) => x.status);
    await waitFor(async () => ((await statuses())[1] === 'COMPLETED' ? true : undefined), 'the second task to end');
    expect(seen.map((d) => d.to)).toEqual(['first@example.test', 'second@example.test']);
    expect(await statuses()).toEqual(['RUNNING', 'COMPLETED']);

    // Once the queue has stopped, stop() still waits for the end that is committing.
    let stopped = false;
    const stopping = e.stop().then(() => void (stopped = true));
    try {
      await waitFor(async () => (queueStopped ? true : undefined), 'the queue to stop');
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(stopped).toBe(false);
    } finally {
      releaseEnd();
    }
    await stopping;
    expect(await statuses()).toEqual(['COMPLETED', 'COMPLETED']);
    // The held end was the session's last: its count closed the session.
    expect((await t.store.sessions.getState(session.id))?.status).toBe('COMPLETED');
  });

  it('is tried again when its transaction fails, so what the task did is recorded without waiting out its lease', async () => {
    const t = await engines.open();
    const seen: Delivery[] = [];
    const type = deliveries(seen);
    const plainRun = type.run.bind(type);
    // The end's first transaction fails, as on a connection reset; the later ones commit.
    let tries = 0;
    type.run = async (x) => {
      const out = await plainRun(x);
      return {
        ...out, commit: async (r) => {
          if (++tries === 1) throw new Error('Connection terminated unexpectedly');
          await out.commit?.(r);
        },
      };
    };
    const errors: string[] = [];
    const logged = vi.spyOn(console, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
    try {
      // The default lease is a minute: an end recorded within seconds was tried again, not taken back.
      const e = await engines.start(t.store, { jobTypes: [type], queue: new InProcessQueue(1) });
      await t.store.jobs.ensure(notifyJob([{ to: 'only@example.test' }]));
      const { session } = await e.startJob(NOTIFY_JOB_ID, { by: 'test', trigger: 'manual' });
      await waitFor(async () => ((await t.store.sessions.getState(session.id))?.status === 'COMPLETED' ? true : undefined), 'the session to complete', 5_000);
      const [task] = await t.store.tasks.bySession(session.id);
      expect(task).toMatchObject({ status: 'COMPLETED', attempts: 1, owner: null });
      expect(seen.map((d) => d.to)).toEqual(['only@example.test']);
      expect(tries).toBe(2);
      expect(errors.filter((m) => m.includes('could not record its end (Connection terminated unexpectedly); trying again in 250 ms'))).toHaveLength(1);
    } finally {
      logged.mockRestore();
    }
  });
});
