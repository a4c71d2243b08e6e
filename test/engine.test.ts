/**
 * The engine on both store dialects, with the real PostgreSQL collector: fan-out into tasks,
 * outcomes, cancel, the deadline, recovery after a process stopped mid-run, maintenance, and the
 * scheduler driven by a fake clock.
 */
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { postgresqlCollector } from '../src/collectors/postgresql/index.ts';
import { FakeClock, systemClock, type Clock } from '../src/core/clock.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { Engine } from '../src/engine/engine.ts';
import { InProcessQueue } from '../src/engine/queue.ts';
import { nextFireTime } from '../src/engine/schedule.ts';
import { HYPERVISOR_INVENTORY_JOB_ID, INVENTORY_JOB_ID, MAINTENANCE_JOB_ID } from '../src/engine/system-jobs.ts';
import { jobService } from '../src/services/jobs.ts';
import { Scheduler } from '../src/services/scheduler.ts';
import type { Notification } from '../src/core/notifications.ts';
import type { Store } from '../src/store/index.ts';
import { AUTH_SUPERPASS, AUTH_SUPERUSER } from './support/pg-auth-cluster.ts';
import { silentListener, type SilentListener } from './support/silent-listener.ts';
import { DIALECTS, type TestStore } from './support/stores.ts';

const secrets = SecretBox.fromKey(Buffer.alloc(32, 7));
const collectors = new Map([['postgresql', postgresqlCollector]]);

function makeEngine(store: Store, clock: Clock = systemClock, over: Partial<ConstructorParameters<typeof Engine>[0]> = {}) {
  return new Engine({ store, clock, secrets, collectors, queue: new InProcessQueue(4), taskTimeoutMs: 1500, retries: 0, retryDelayMs: 10, ...over });
}

async function addServer(store: Store, name: string, port: number, password = AUTH_SUPERPASS) {
  const ident = await store.identities.create({ name, username: AUTH_SUPERUSER, secret: secrets.seal(password), kind: 'password', type: 'system', ostype: 'LINUX', comment: null, createdAt: 1 });
  return store.appservers.create({
    name, hostAddress: '127.0.0.1', portNumber: port, applicationType: 'postgresql', osType: 'linux', identityId: ident.id,
    comment: null, useKeyAuthentication: false, maxConcurrency: 10, createdAt: 1,
  });
}

/** The scheduler as main.ts builds it: starting jobs through the jobs service. */
const schedulerOf = (store: Store, engine: Engine, clock: Clock) =>
  new Scheduler({ store, clock }, jobService({ store, engine, clock, secrets, collectors: [] }));

const logsOf = async (store: Store, sessionId: number) =>
  (await store.logs.list({ where: [{ column: 'sessionId', kind: 'cmp', op: '=', value: sessionId }], order: [], limit: 1000, offset: 0 })).items;

describe.each(DIALECTS)('engine on %s', (_name, open) => {
  let t: TestStore;
  let engines: Engine[] = [];
  let hang: SilentListener | undefined;
  const port = inject('pgAuthPort');

  afterEach(async () => {
    for (const e of engines) await e.stop();
    engines = [];
    await hang?.close();
    hang = undefined;
    await t?.cleanup();
  });

  const started = async (store: Store, clock?: Clock, over?: Partial<ConstructorParameters<typeof Engine>[0]>) => {
    const e = makeEngine(store, clock, over);
    engines.push(e);
    await e.init();
    e.start();
    return e;
  };

  it('runs one task per server and ends COMPLETED, PARTIAL or FAILED from their outcomes', async () => {
    t = await open();
    const engine = await started(t.store);
    await addServer(t.store, 'good', port);
    const r1 = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    expect((await engine.waitForSession(r1.session.id)).status).toBe('COMPLETED');

    const bad = await addServer(t.store, 'bad', port, 'wrong');
    const r2 = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    expect(r2.session.numTasks).toBe(2);
    const s2 = await engine.waitForSession(r2.session.id);
    expect(s2.status).toBe('PARTIAL');
    expect(s2.statistics[0]).toEqual({ resourceType: 'appserver', total: 2, success: 1, failed: 1, skipped: 0 });

    const r3 = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'appserver', appserverIds: [bad.id] });
    expect((await engine.waitForSession(r3.session.id)).status).toBe('FAILED');
    const job = await t.store.jobs.get(INVENTORY_JOB_ID);
    expect(job).toMatchObject({ runningSessionId: null, lastSessionId: r3.session.id });
    const summary = (await logsOf(t.store, r3.session.id)).filter((l) => l.type === 'SUMMARY');
    expect(summary).toHaveLength(1);
    expect(summary[0]!.message).toContain('FAILED');
  });

  it('retries a refused connection with back-off, but never a wrong password', async () => {
    t = await open();
    const engine = await started(t.store, systemClock, { retries: 2, retryDelayMs: 20 });
    const closed = await silentListener();
    const refusedPort = closed.port;
    await closed.close(); // nothing listens there now
    await addServer(t.store, 'refuses', refusedPort);
    await addServer(t.store, 'wrong-password', port, 'nope');
    const { session } = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    expect((await engine.waitForSession(session.id)).status).toBe('FAILED');
    const logs = await logsOf(t.store, session.id);
    const tasks = await t.store.tasks.bySession(session.id);
    const idOf = (name: string) => tasks.find((x) => x.name === name)!.id;
    const retries = (name: string) => logs.filter((l) => l.messageId === 'CNSI0103' && l.taskId === idOf(name));
    expect(retries('refuses').map((l) => l.messageParams[2])).toEqual(['20', '40']);
    expect(retries('wrong-password')).toHaveLength(0);
    expect(tasks.find((x) => x.name === 'refuses')?.errorCode).toBe('REFUSED');
    const refusedError = logs.find((l) => l.type === 'ERROR' && l.taskId === idOf('refuses'));
    expect(refusedError?.message).toMatch(/refused/i);
    expect(refusedError?.message).toContain('refuses');
  });

  it('fails a server that never answers at the deadline without holding up the others', async () => {
    t = await open();
    hang = await silentListener();
    const engine = await started(t.store);
    await addServer(t.store, 'hangs', hang.port);
    await addServer(t.store, 'good', port);
    const t0 = Date.now();
    const { session } = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    const done = await engine.waitForSession(session.id, 15_000);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(done.status).toBe('PARTIAL');
    const tasks = await t.store.tasks.bySession(session.id);
    expect(tasks.find((x) => x.name === 'hangs')).toMatchObject({ status: 'FAILED', errorCode: 'TIMEOUT' });
    expect(tasks.find((x) => x.name === 'good')?.status).toBe('COMPLETED');
  });

  it('cancels a running session: running tasks are aborted and the session ends CANCELLED', async () => {
    t = await open();
    hang = await silentListener();
    const engine = await started(t.store, systemClock, { taskTimeoutMs: 60_000 });
    await addServer(t.store, 'hangs', hang.port);
    const { session } = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    await expect.poll(async () => (await t.store.tasks.bySession(session.id))[0]?.status, { timeout: 5000 }).toBe('RUNNING');
    const cancelling = await engine.cancelSession(session.id, 'tester');
    expect(['CANCELLING', 'CANCELLED']).toContain(cancelling.status);
    const done = await engine.waitForSession(session.id, 10_000);
    expect(done.status).toBe('CANCELLED');
    expect((await t.store.jobs.get(INVENTORY_JOB_ID))?.runningSessionId).toBeNull();
    expect((await logsOf(t.store, session.id)).some((l) => l.messageId === 'CNSJ0004' && l.message.includes('tester'))).toBe(true);
  });

  it('cancels the pending tasks of a session at once, each with its task event', async () => {
    t = await open();
    hang = await silentListener();
    // One task at a time: the first hangs RUNNING, the other three wait PENDING.
    const engine = await started(t.store, systemClock, { taskTimeoutMs: 60_000, queue: new InProcessQueue(1) });
    for (const name of ['h1', 'h2', 'h3', 'h4']) await addServer(t.store, name, hang.port);
    const { session } = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    await expect.poll(async () => (await t.store.tasks.bySession(session.id)).map((x) => x.status).sort().join(), { timeout: 5000 }).toBe('PENDING,PENDING,PENDING,RUNNING');
    const seq = await t.store.events.latest();
    await engine.cancelSession(session.id, 'tester');
    const done = await engine.waitForSession(session.id, 10_000);
    expect(done.status).toBe('CANCELLED');
    const tasks = await t.store.tasks.bySession(session.id);
    expect(tasks.map((x) => [x.status, x.errorCode])).toEqual(tasks.map(() => ['CANCELLED', 'CANCELLED']));
    const cancelledEvents = (await t.store.events.after(seq, { sessionId: session.id, types: ['task.updated'] }))
      .map((ev) => ev.data as { taskId: string; status: string }).filter((d) => d.status === 'CANCELLED');
    expect(cancelledEvents.map((d) => d.taskId).sort()).toEqual(tasks.map((x) => String(x.id)).sort());
  });

  it('resumes at start-up a session that a stopped process left running, running only unfinished tasks', async () => {
    t = await open();
    hang = await silentListener();
    const first = await started(t.store, systemClock, { taskTimeoutMs: 60_000 });
    await addServer(t.store, 'good', port);
    await addServer(t.store, 'hangs', hang.port);
    const { session } = await first.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    await expect.poll(async () => (await t.store.tasks.bySession(session.id)).map((x) => x.status).sort().join(), { timeout: 10_000 }).toBe('COMPLETED,RUNNING');
    await first.stop({ abandon: true }); // as if killed: the running task is abandoned, not recorded
    expect((await t.store.sessions.get(session.id))?.status).toBe('RUNNING');
    expect((await t.store.jobs.get(INVENTORY_JOB_ID))?.runningSessionId).toBe(session.id);

    const second = makeEngine(t.store, systemClock, { taskTimeoutMs: 1500 }); // the next process
    engines.push(second);
    await second.init({ exclusive: true });
    second.start();
    const done = await second.waitForSession(session.id, 15_000);
    expect(done.status).toBe('PARTIAL'); // the hung server times out on its second attempt
    const tasks = await t.store.tasks.bySession(session.id);
    expect(tasks.find((x) => x.name === 'good')).toMatchObject({ status: 'COMPLETED', attempts: 1 }); // not run again
    expect(tasks.find((x) => x.name === 'hangs')).toMatchObject({ status: 'FAILED', errorCode: 'TIMEOUT', attempts: 2 });
    expect((await t.store.jobs.get(INVENTORY_JOB_ID))?.runningSessionId).toBeNull();
    const why = (await logsOf(t.store, session.id)).find((l) => l.messageId === 'CNSJ0005');
    expect(why?.message).toMatch(/stopped while it was running; its 1 unfinished task\(s\) run again/);
  });

  it('runs a task again when the process holding it stops renewing its lease', async () => {
    t = await open();
    hang = await silentListener();
    const a = await started(t.store, systemClock, { taskTimeoutMs: 60_000, leaseMs: 800, heartbeatMs: 200, processName: 'worker-a' });
    await addServer(t.store, 'hangs', hang.port);
    const { session } = await a.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    await expect.poll(async () => (await t.store.tasks.bySession(session.id))[0]?.owner, { timeout: 5000 }).toBe('worker-a');
    await a.stop({ abandon: true }); // no more heartbeats from worker-a: as if it were killed
    const b = makeEngine(t.store, systemClock, { taskTimeoutMs: 1000, leaseMs: 800, heartbeatMs: 200, sweepMs: 200, processName: 'worker-b' });
    engines.push(b);
    await b.init({ exclusive: false }); // other processes may be alive: wait for the lease
    b.start();
    const done = await b.waitForSession(session.id, 15_000);
    expect(done.status).toBe('FAILED');
    const task = (await t.store.tasks.bySession(session.id))[0]!;
    expect(task.attempts).toBe(2);
    const said = (await logsOf(t.store, session.id)).find((l) => l.messageId === 'CNSJ0007');
    expect(said?.message).toContain('worker-a');
  });

  it('keeps to the estate-wide limit across processes sharing the database', async () => {
    t = await open();
    const queues = [new InProcessQueue(2), new InProcessQueue(2), new InProcessQueue(2)];
    const all = queues.map((queue, i) => makeEngine(t.store, systemClock, { queue, estateConcurrency: 2, processName: `p${i}` }));
    engines.push(...all);
    for (const e of all) await e.init({ exclusive: false });
    for (let i = 0; i < 6; i++) await addServer(t.store, `pg-${i}`, port);
    const blocker = new pg.Client({ host: '127.0.0.1', port, user: AUTH_SUPERUSER, password: AUTH_SUPERPASS, database: 'postgres' });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE');
    try {
      // Every engine takes queue messages, but only two tasks may hold a claim at once.
      const { session } = await all[0]!.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
      for (const e of all) e.start();
      const tasks = await t.store.tasks.bySession(session.id);
      await Promise.all(queues.slice(1).map((q, i) => q.enqueue(tasks.slice(i * 2, i * 2 + 2).map((x) => ({ taskId: x.id, sessionId: session.id })))));
      await expect.poll(() => queues.reduce((n, q) => n + q.size.running, 0), { timeout: 5000 }).toBe(6);
      await expect.poll(async () => (await t.store.tasks.bySession(session.id)).filter((x) => x.status === 'RUNNING').length, { timeout: 5000 }).toBe(2);
      let peak = 0;
      const watch = setInterval(() => void t.store.tasks.countByStatus(session.id).then((c) => (peak = Math.max(peak, c.RUNNING ?? 0))), 20);
      await blocker.query('COMMIT');
      const done = await all[0]!.waitForSession(session.id, 20_000);
      clearInterval(watch);
      expect(done.status).toBe('COMPLETED');
      expect(peak).toBeLessThanOrEqual(2);
    } finally {
      await blocker.end().catch(() => {});
    }
  });

  it('adds a server registered during a run to that run instead of starting another', async () => {
    t = await open();
    hang = await silentListener();
    const engine = await started(t.store, systemClock, { taskTimeoutMs: 60_000 });
    await addServer(t.store, 'hangs', hang.port);
    const { session } = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    const good = await addServer(t.store, 'good', port);
    const joined = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'registration', appserverIds: [good.id] });
    expect(joined.started).toBe(false);
    expect(joined.session.id).toBe(session.id);
    expect(joined.session.numTasks).toBe(2);
    await expect.poll(async () => (await t.store.tasks.bySession(session.id)).find((x) => x.name === 'good')?.status, { timeout: 10_000 }).toBe('COMPLETED');
    await engine.cancelSession(session.id, 'test');
    expect((await engine.waitForSession(session.id)).status).toBe('CANCELLED');
  });

  it('maintenance removes ended sessions and their logs past the retention period, and idle logins', async () => {
    t = await open();
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    const engine = await started(t.store, clock);
    const day = 86_400_000;
    const old = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    await engine.waitForSession(old.session.id);
    clock.advance(31 * day);
    const recent = await engine.startJob(INVENTORY_JOB_ID, { by: 'test', trigger: 'manual' });
    await engine.waitForSession(recent.session.id);
    const user = await t.store.users.create('u', 'h', clock.now());
    await t.store.loginSessions.create({ id: 'a'.repeat(32), userId: user.id, createdAt: clock.now() - 2 * 3_600_000, lastAccess: clock.now() - 3_600_000 });
    expect((await logsOf(t.store, old.session.id)).length).toBeGreaterThan(0);

    const m = await engine.startJob(MAINTENANCE_JOB_ID, { by: 'test', trigger: 'manual' });
    expect((await engine.waitForSession(m.session.id)).status).toBe('COMPLETED');
    expect(await t.store.sessions.get(old.session.id)).toBeUndefined();
    expect(await logsOf(t.store, old.session.id)).toHaveLength(0);
    expect(await t.store.sessions.get(recent.session.id)).toBeDefined();
    expect(await t.store.loginSessions.get('a'.repeat(32))).toBeUndefined();
    const said = (await logsOf(t.store, m.session.id)).find((l) => l.messageId === 'CNSM0200');
    expect(said?.messageParams.slice(0, 1)).toEqual(['1']);
  });

  it('maintenance removes alerts cleared and notifications sent before the retention period, and keeps counting their attempts', async () => {
    t = await open();
    const day = 86_400_000;
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    const engine = await started(t.store, clock);
    const s = t.store;
    const raise = (key: string) => s.alerts.raise({ kind: 'server.failing', key, severity: 'ERROR', message: key, objects: [] }, clock.now());
    /** A notification fanned out to one webhook delivery with one attempt; `waiting` leaves the delivery PENDING. */
    const sent = async (name: string, waiting = false) => {
      const n = await s.notifications.add({ type: 'session.ended', data: { name } }, clock.now());
      await s.notifications.markDispatched([n.id], clock.now());
      await s.notifications.addDeliveries([{ notificationId: n.id, channel: 'webhook', targetId: null, target: name, nextAttemptAt: clock.now(), giveUpAt: clock.now() + 400 * day }], clock.now());
      const [d] = await s.notifications.queueDue(clock.now(), 10);
      // A retry far ahead, so the engine's own dispatcher leaves it waiting through the test.
      await s.notifications.recordAttempt(d!.id, { attempt: { at: clock.now(), durationMs: 5, ok: !waiting, statusCode: waiting ? 503 : 200, response: null, error: waiting ? 'HTTP 503' : null },
        status: waiting ? 'PENDING' : 'DELIVERED', ...(waiting ? { nextAttemptAt: clock.now() + 365 * day } : {}) });
      return n;
    };
    await raise('appserver:1');
    await s.alerts.clear('appserver:1', clock.now());
    await raise('appserver:2'); // still open: stays whatever its age
    const oldSent = await sent('old');
    const oldWaiting = await sent('old, still retrying', true);
    const oldUnsent = await s.notifications.add({ type: 'session.ended', data: {} }, clock.now());
    const attempts = await s.metrics.deliveryAttempts();
    clock.advance(31 * day);
    await raise('appserver:3');
    await s.alerts.clear('appserver:3', clock.now()); // cleared within the period: stays
    const recentSent = await sent('recent');
    // Raising and clearing alerts wrote notifications too, which the engine may fan out meanwhile.
    const ids = Array.from({ length: recentSent.id }, (_, i) => i + 1);
    const before = new Map<number, Notification | undefined>();
    for (const id of ids) before.set(id, await s.notifications.get(id));

    const m = await engine.startJob(MAINTENANCE_JOB_ID, { by: 'test', trigger: 'manual' });
    expect((await engine.waitForSession(m.session.id)).status).toBe('COMPLETED');
    const keys = async () => (await s.alerts.list({ where: [], order: [{ column: 'id', direction: 'asc' }], limit: 100, offset: 0 })).items.map((a) => `${a.key} ${a.status}`);
    expect(await keys()).toEqual(['appserver:2 ACTIVE', 'appserver:3 CLEARED']);
    expect(await s.notifications.get(oldSent.id)).toBeUndefined();
    const deliveries = await s.notifications.listDeliveries({ where: [], order: [{ column: 'id', direction: 'asc' }], limit: 100, offset: 0 });
    expect(deliveries.items.map((d) => d.target)).toEqual(['old, still retrying', 'recent']);
    expect(await s.notifications.get(oldWaiting.id)).toBeDefined();
    let removed = 0;
    for (const id of ids) {
      const was = before.get(id);
      const now = await s.notifications.get(id);
      if (!was) continue;
      // Kept: written within the period, or not yet fanned out when maintenance looked.
      if (was.createdAt >= clock.now() - 30 * day || was.dispatchedAt === null) expect(now, `notification ${id}`).toBeDefined();
      if (!now) removed++;
    }
    expect(await s.notifications.get(oldUnsent.id)).toBeDefined();
    // The removed delivery's attempt still counts: census_delivery_attempts_total never goes down.
    const after = await s.metrics.deliveryAttempts();
    const n = (xs: typeof after, ok: boolean) => xs.find((x) => x.channel === 'webhook' && x.ok === ok)?.n ?? 0;
    expect([n(after, true), n(after, false)]).toEqual([n(attempts, true) + 1, n(attempts, false)]);
    const said = (await logsOf(t.store, m.session.id)).find((l) => l.messageId === 'CNSM0203');
    expect(said?.messageParams.slice(0, 2)).toEqual(['1', String(removed)]);
    expect(removed).toBeGreaterThanOrEqual(1);
  });

  it('fires a due trigger once, moves it to the next day, and skips a held job', async () => {
    t = await open();
    const clock = new FakeClock(Date.UTC(2026, 2, 27, 12, 0));
    const engine = await started(t.store, clock);
    const scheduler = schedulerOf(t.store, engine, clock);
    const schedule = { time: '02:30', timezone: 'Europe/Berlin' };
    const first = nextFireTime(schedule, clock.now());
    expect(new Date(first).toISOString()).toBe('2026-03-28T01:30:00.000Z'); // CET, UTC+1
    await t.store.jobs.setSchedule(INVENTORY_JOB_ID, schedule, first);
    await t.store.jobs.setSchedule(MAINTENANCE_JOB_ID, null, null);
    await t.store.jobs.setSchedule(HYPERVISOR_INVENTORY_JOB_ID, null, null);

    expect(await scheduler.tick()).toEqual([]);
    clock.set(first);
    expect(await scheduler.tick()).toEqual([INVENTORY_JOB_ID]);
    expect(await scheduler.tick()).toEqual([]); // once
    const job = await t.store.jobs.get(INVENTORY_JOB_ID);
    // 02:30 does not exist in Berlin on 29 March (clocks jump 02:00 → 03:00): it fires at 03:00 CEST.
    expect(new Date(job!.nextFireTime!).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    const s = await t.store.sessions.get(job!.runningSessionId ?? job!.lastSessionId!);
    expect(s?.trigger).toBe('schedule');
    // The scheduler starts jobs as the system actor 'scheduler', logged as before.
    const startEntry = (await logsOf(t.store, s!.id)).find((l) => l.messageId === 'CNSJ0001');
    expect(startEntry?.messageParams).toContain('scheduler (schedule)');

    await t.store.jobs.setHeld(INVENTORY_JOB_ID, true);
    clock.set(job!.nextFireTime!);
    expect(await scheduler.tick()).toEqual([]);
    const held = await t.store.jobs.get(INVENTORY_JOB_ID);
    expect(held!.nextFireTime).toBeGreaterThan(clock.now()); // moved on, did not fire
  });
});

describe.each(DIALECTS)('scheduler across processes on %s', (_name, open) => {
  it('fires a due trigger once however many schedulers tick at once', async () => {
    const t = await open();
    try {
      const clock = new FakeClock(Date.UTC(2026, 5, 1, 12));
      const engines = [0, 1, 2].map((i) => makeEngine(t.store, clock, { processName: `s${i}` }));
      for (const e of engines) await e.init({ exclusive: false });
      const schedule = { time: '13:00', timezone: 'UTC' };
      await t.store.jobs.setSchedule(INVENTORY_JOB_ID, schedule, nextFireTime(schedule, clock.now()));
      await t.store.jobs.setSchedule(MAINTENANCE_JOB_ID, null, null);
      clock.advance(3_600_000);
      const fired = await Promise.all(engines.map((e) => schedulerOf(t.store, e, clock).tick()));
      expect(fired.flat()).toEqual([INVENTORY_JOB_ID]);
      expect((await t.store.sessions.list({ where: [], order: [], limit: 10, offset: 0 })).total).toBe(1);
    } finally {
      await t.cleanup();
    }
  });
});

describe('in-process queue', () => {
  it('never runs more tasks at once than its concurrency', async () => {
    const q = new InProcessQueue(3);
    let now = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    q.start(async () => {
      now++;
      peak = Math.max(peak, now);
      await new Promise<void>((r) => releases.push(r));
      now--;
    });
    await q.enqueue(Array.from({ length: 10 }, (_, i) => ({ taskId: i, sessionId: 1 })));
    let finished = 0;
    while (finished < 10) {
      await expect.poll(() => releases.length).toBeGreaterThan(0);
      releases.shift()!();
      finished++;
    }
    await expect.poll(() => q.size.running).toBe(0);
    expect(peak).toBe(3);
  });
});
